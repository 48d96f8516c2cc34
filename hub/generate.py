"""Generate the OptunaHub registry package of ``HammingGASampler`` (``make optunahub``).

Why this exists: OptunaHub loads a sampler from a folder of the optuna/optunahub-registry
repository, and that folder must stand on its own: it cannot depend on this project, which is
not published. Rather than keep a second copy of the sampler in the repository, this script
builds the folder from the one source: the GA core and the sampler layer (``ga/``, ``names.py``,
``sampler/``, ``storages/``) are copied with every import of the project rewritten to a
relative one, and README, example and requirements come from ``hub/templates/``.

    python hub/generate.py --out build/optunahub/package

writes ``build/optunahub/package/samplers/hamming_ga/``, ready to copy into the registry's
``package/samplers/``. Anything it cannot rewrite safely (an ``import <project>...`` statement,
an import of a part of the project that is not copied, a third-party import no requirement
covers) stops it with an error rather than producing a package that fails on a user's machine.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
REPO = HUB_DIR.parent
TEMPLATES = HUB_DIR / "templates"
SOURCE_NAME = "optuna_hamming"
SOURCE = REPO / SOURCE_NAME
HUB_NAME = "hamming_ga"
CATEGORY = "samplers"
# The parts copied into the hub package, under the same names: subpackages, and names.py (the
# named configurations, which sampler/configurations.py reads).
SUBPACKAGES = ("ga", "sampler", "storages", "names")
TEMPLATE_FILES = ("README.md", "example.py", "requirements.txt")
# Every third-party top-level module the copied code may import, and what provides it on a
# user's machine. A requirement name means requirements.txt must list it.
THIRD_PARTY: dict[str, str | None] = {
    "optuna": None,  # the registry's optuna_versions
    "sqlalchemy": None,  # a dependency of optuna (storages/reconnect.py)
    "redis": None,  # optional, imported lazily for journal-redis storages only
    "numpy": "numpy",
    "sklearn": "scikit-learn",  # ForestSurrogate of SurrogateScreening, imported lazily
}
_FROM_SOURCE = re.compile(rb"from[ \t]+" + SOURCE_NAME.encode() + rb"(\.[\w.]+)?[ \t]+import\b")
_MENTION = re.compile(rf"\b{SOURCE_NAME}\b")
_PLACEHOLDER = re.compile(r"\{(optuna_version|version|example)\}")


class GenerationError(RuntimeError):
    """The package cannot be generated faithfully from the source as it stands."""


def _module_constant(path: Path, name: str) -> object:
    """The literal assigned to ``name`` at the top level of ``path``, read without importing."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                assert node.value is not None
                return ast.literal_eval(node.value)
    raise GenerationError(f"{path}: no top-level {name} = <literal>")


def source_version() -> str:
    """``optuna_hamming.__version__``, parsed from the source (importing would pull Optuna)."""
    version = _module_constant(SOURCE / "__init__.py", "__version__")
    if not isinstance(version, str):
        raise GenerationError(f"__version__ is {version!r}, not a string")
    return version


def exported_names() -> list[str]:
    """The project's public names (its top-level ``__all__``), which the hub package exports."""
    names = _module_constant(SOURCE / "__init__.py", "__all__")
    sampler_names = _module_constant(SOURCE / "sampler" / "__init__.py", "__all__")
    if not isinstance(names, list | tuple) or not isinstance(sampler_names, list | tuple):
        raise GenerationError("__all__ is not a list of names")
    missing = sorted(set(names) - set(sampler_names))
    if missing:
        raise GenerationError(f"{missing} are exported by the project but not by sampler/")
    return [str(name) for name in names]


def relative_module(package: Sequence[str], target: str) -> str:
    """The relative module (``.``, ``..ga``, ``._plan``) that names absolute ``target`` from
    inside ``package`` (the dotted parts of the package the importing file belongs to)."""
    parts = target.split(".")
    common = 0
    while common < min(len(parts), len(package)) and parts[common] == package[common]:
        common += 1
    if common == 0:
        raise GenerationError(f"{target} is not inside {'.'.join(package)}")
    return "." * (len(package) - common + 1) + ".".join(parts[common:])


def _walk_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def rewrite_imports(text: str, package: Sequence[str], where: str) -> str:
    """``text`` with each ``from optuna_hamming... import`` (at any depth: lazy imports in
    functions, ``TYPE_CHECKING`` blocks) made relative; raises on what it cannot rewrite."""
    copied = set(SUBPACKAGES)
    lines = text.encode("utf-8").splitlines(keepends=True)
    for node in _walk_imports(ast.parse(text, filename=where)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == SOURCE_NAME:
                    raise GenerationError(
                        f"{where}:{node.lineno}: `import {alias.name}` cannot be made relative;"
                        f" write `from {SOURCE_NAME}... import ...`"
                    )
            continue
        if node.level or node.module is None or node.module.split(".")[0] != SOURCE_NAME:
            continue
        parts = node.module.split(".")
        if len(parts) == 1:
            not_copied = sorted(a.name for a in node.names if a.name not in copied)
        else:
            not_copied = [] if parts[1] in copied else [parts[1]]
        if not_copied:
            raise GenerationError(
                f"{where}:{node.lineno}: imports {', '.join(not_copied)} of {SOURCE_NAME}, "
                f"which the hub package does not copy (it copies {', '.join(SUBPACKAGES)})"
            )
        index = node.lineno - 1
        line = lines[index]
        match = _FROM_SOURCE.match(line, node.col_offset)
        if match is None:
            raise GenerationError(f"{where}:{node.lineno}: cannot rewrite {line.strip()!r}")
        relative = relative_module(package, node.module).encode()
        lines[index] = (
            line[: match.start()] + b"from " + relative + b" import" + line[match.end() :]
        )
    return b"".join(lines).decode("utf-8")


def rewrite_mentions(text: str) -> str:
    """Docstrings, comments and messages: the project's package name becomes the hub's."""
    return _MENTION.sub(HUB_NAME, text)


def _check_relative_imports(package_dir: Path) -> None:
    """Every relative import of the generated package names a module inside it (for
    ``from .. import ga``: each imported name is a module there)."""
    for path in sorted(package_dir.rglob("*.py")):
        for node in _walk_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            folder = path.parents[node.level - 1]
            if package_dir not in (folder, *folder.parents):
                raise GenerationError(f"{path}:{node.lineno}: relative import leaves the package")
            if node.module:
                targets = [folder.joinpath(*node.module.split("."))]
            else:
                targets = [folder / alias.name for alias in node.names]
            for target in targets:
                if (
                    not (target / "__init__.py").is_file()
                    and not target.with_suffix(".py").is_file()
                ):
                    raise GenerationError(
                        f"{path}:{node.lineno}: {target.relative_to(package_dir)} is not a module "
                        "of the package"
                    )


def _check_third_party(package_dir: Path, requirements: str) -> None:
    """Each absolute import of the copied code is the standard library or a known dependency
    that is declared (example.py also imports optunahub, which loads the package)."""
    listed = {
        re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0].lower()
        for line in requirements.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    code = [path for path in sorted(package_dir.rglob("*.py")) if path.name != "example.py"]
    for path in code:
        for node in _walk_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level or node.module is None:
                    continue
                modules = [node.module]
            else:
                modules = [alias.name for alias in node.names]
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__":
                    continue
                if top not in THIRD_PARTY:
                    raise GenerationError(
                        f"{path}:{node.lineno}: imports {top}, which hub/generate.py does not "
                        "know: add it to THIRD_PARTY (and to requirements.txt if needed)"
                    )
                requirement = THIRD_PARTY[top]
                if requirement is not None and requirement.lower() not in listed:
                    raise GenerationError(
                        f"{path}:{node.lineno}: imports {top}, but requirements.txt does not "
                        f"list {requirement}"
                    )


def render(template: str, values: dict[str, str]) -> str:
    """``template`` with its ``{optuna_version}``, ``{version}`` and ``{example}`` filled (other
    braces, as in code, are left alone)."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _init_text(names: Sequence[str], version: str) -> str:
    """The package's ``__init__.py``: the project's public names, re-exported."""
    imported = "".join(f"    {name},\n" for name in names)
    listed = "".join(f'    "{name}",\n' for name in names)
    return (
        '"""The Hamming-distance genetic algorithm as an Optuna sampler (OptunaHub package).\n\n'
        f"Generated from optuna-hamming {version}; see README.md.\n"
        '"""\n\n'
        f"from .sampler import (\n{imported})\n\n"
        f"__all__ = [\n{listed}]\n"
    )


def generate(out_root: Path) -> Path:
    """Write the registry package under ``out_root`` (a registry's ``package/`` folder) and
    return its directory, ``out_root/samplers/hamming_ga``, replacing an earlier one."""
    package_dir = Path(out_root) / CATEGORY / HUB_NAME
    if package_dir.exists():
        shutil.rmtree(package_dir)
    package_dir.mkdir(parents=True)
    for subpackage in SUBPACKAGES:
        source_dir = SOURCE / subpackage
        module = SOURCE / f"{subpackage}.py"
        for path in sorted(source_dir.rglob("*")) if source_dir.is_dir() else [module]:
            relative = path.relative_to(SOURCE)
            if "__pycache__" in relative.parts or path.is_dir():
                continue
            if path.suffix != ".py":
                raise GenerationError(f"{path}: only Python files are copied; add a rule for it")
            package = (SOURCE_NAME, *relative.parent.parts)
            text = rewrite_imports(path.read_text(encoding="utf-8"), package, str(path))
            destination = package_dir / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(rewrite_mentions(text), encoding="utf-8")

    version = source_version()
    (package_dir / "__init__.py").write_text(
        _init_text(exported_names(), version), encoding="utf-8"
    )
    templates = {name: (TEMPLATES / name).read_text(encoding="utf-8") for name in TEMPLATE_FILES}
    values = {
        "optuna_version": importlib.metadata.version("optuna"),
        "version": version,
        "example": templates["example.py"].rstrip("\n"),
    }
    for name, template in templates.items():
        (package_dir / name).write_text(render(template, values), encoding="utf-8")
    shutil.copyfile(REPO / "LICENSE", package_dir / "LICENSE")

    _check_relative_imports(package_dir)
    _check_third_party(package_dir, templates["requirements.txt"])
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and SOURCE_NAME in path.read_text(encoding="utf-8"):
            raise GenerationError(f"{path} still mentions {SOURCE_NAME}")
    return package_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "build" / "optunahub" / "package",
        help="the registry's package/ folder to write into [build/optunahub/package]",
    )
    args = parser.parse_args(argv)
    try:
        package_dir = generate(args.out)
    except GenerationError as error:
        print(f"hub/generate.py: {error}", file=sys.stderr)
        return 1
    print(f"wrote {package_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
