"""The folders are the layers: each module imports only from its own layer or those below."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "optuna_hamming"

# Layer of each top-level piece of the package (README "Layout").
LAYERS = {
    "ga": 1,
    "sampler": 2,
    "storages": 2,
    "paper": 2,
    "data": 3,
    "vision": 3,
    "tracking": 4,
    "cli": 5,
}


def piece_of(module: str) -> str | None:
    """``optuna_hamming.sampler._state`` -> ``sampler``; the package root -> None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "optuna_hamming" and len(parts) > 1 else None


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(p for p in relative.parts if p != "__init__")
        found.append((name, path))
    return found


def imported(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_every_piece_has_a_layer() -> None:
    pieces = {piece_of(name) for name, _ in modules()} - {None}
    assert pieces == set(LAYERS), "a new folder needs its layer in LAYERS and in README"


@pytest.mark.parametrize(("module", "path"), modules(), ids=[name for name, _ in modules()])
def test_no_module_imports_a_layer_above_its_own(module: str, path: Path) -> None:
    piece = piece_of(module)
    own = LAYERS[piece] if piece is not None else 2  # the root exports the sampler
    for name in imported(path):
        target = piece_of(name)
        if target is not None:
            assert LAYERS[target] <= own, f"{module} (layer {own}) imports {name}"


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("optuna_hamming.ga", ("optuna", "keras", "mlflow", "sklearn")),
        ("optuna_hamming", ("keras", "mlflow", "tensorflow")),
        ("optuna_hamming.sampler", ("keras", "mlflow", "tensorflow")),
        ("optuna_hamming.storages", ("keras", "mlflow", "tensorflow")),
        ("optuna_hamming.paper", ("keras", "mlflow", "tensorflow")),
        ("optuna_hamming.data", ("keras", "mlflow", "tensorflow")),
        ("optuna_hamming.vision", ("mlflow",)),
    ],
)
def test_a_layer_imports_without_the_ones_above(module: str, absent: tuple[str, ...]) -> None:
    probe = f"import sys, {module}; print(sorted(set({absent!r}) & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", f"importing {module} pulled in {result.stdout}"


def test_no_module_is_over_about_400_lines() -> None:
    long = {name: n for name, path in modules() if (n := len(path.read_text().splitlines())) > 420}
    assert not long, long
