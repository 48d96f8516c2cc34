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
    "names": 1,
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


def package_edges() -> set[tuple[str, str]]:
    """Every import of one package module by another: deferred imports, ``TYPE_CHECKING``
    ones and a package's ``__init__`` included (``from a import b`` imports module ``a.b``
    where there is one, else ``a``)."""
    names = {name for name, _ in modules()}

    def resolve(target: str) -> str | None:
        while target and target not in names:
            target = target.rpartition(".")[0]
        return target or None

    edges = set()
    for name, path in modules():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in names else base
                    for alias in node.names
                ]
            for target in targets:
                found = resolve(target) if target.startswith("optuna_hamming") else None
                if found is not None and found != name:
                    edges.add((name, found))
    return edges


def a_cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    """One import cycle of ``edges`` (as a path that returns to its start), or None."""
    after: dict[str, list[str]] = {}
    for source, target in sorted(edges):
        after.setdefault(source, []).append(target)
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for target in after.get(node, []):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for node in sorted(after):
        if node not in done and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_a_cycle_is_found_where_there_is_one() -> None:
    edges = {("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}
    assert a_cycle(edges) == ["a", "b", "c", "a"]
    assert a_cycle(edges - {("c", "a")}) is None


def test_no_import_cycle_among_the_package_modules() -> None:
    edges = package_edges()
    assert ("optuna_hamming.cli.search", "optuna_hamming.cli.defaults") in edges  # it sees
    assert a_cycle(edges) is None, " -> ".join(a_cycle(edges) or [])


def test_no_private_name_is_imported_across_modules() -> None:
    crossing = [
        f"{name} imports {alias.name} from {node.module}"
        for name, path in modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("optuna_hamming")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not crossing, crossing


def test_each_configuration_name_is_spelled_once() -> None:
    from optuna_hamming import names

    spelled = set(names.CONFIGURATIONS)
    assert {"paper", "lean-latin"} <= spelled  # the issue's own examples
    elsewhere = [
        f"{name}:{node.lineno} spells {node.value!r}"
        for name, path in modules()
        if name != "optuna_hamming.names"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in spelled
    ]
    assert not elsewhere, f"use the constant of optuna_hamming.names: {elsewhere}"
