"""`make optunahub`: the generated OptunaHub package follows the registry's layout, stands
alone (it runs where ``optuna_hamming`` cannot be imported) and passes Optuna's sampler suites.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "optuna_hamming"
PACKAGE = "samplers/hamming_ga"
SUBPACKAGES = ("ga", "sampler", "storages")
EXPORTED = ["ForestSurrogate", "HammingGASampler", "SurrogateScreening", "recommended_sampler"]

# Run first in every child process: from then on any import of the project fails, so the hub
# package is shown to work on a machine where only it and its requirements are installed (the
# project is installed editable in the venv, hence a finder rather than a clean environment).
BLOCKER = """
import importlib.abc
import sys

assert "optuna_hamming" not in sys.modules, "the project was imported before the blocker"


class _BlockProject(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "optuna_hamming" or name.startswith("optuna_hamming."):
            raise ModuleNotFoundError(f"{name} is blocked: the hub package stands alone", name=name)
        return None


sys.meta_path.insert(0, _BlockProject())
try:
    import optuna_hamming  # noqa: F401
except ImportError:
    pass
else:
    raise AssertionError("optuna_hamming is still importable")
"""


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hub_generate", REPO / "hub" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tmp folder holding ``package/samplers/hamming_ga`` as ``generate`` wrote it."""
    root = tmp_path_factory.mktemp("hub")
    package_dir = generator.generate(root / "package")
    assert package_dir == root / "package" / "samplers" / "hamming_ga"
    return root


def _package_dir(registry: Path) -> Path:
    return registry / "package" / "samplers" / "hamming_ga"


def _front_matter(readme: str) -> tuple[dict[str, object], str]:
    match = re.match(r"---\n(.*?)\n---\n", readme, re.DOTALL)
    assert match, "README.md does not start with YAML front matter"
    return yaml.safe_load(match.group(1)), readme[match.end() :]


def _child_env() -> dict[str, str]:
    """The environment without PYTHONPATH, and no bytecode written into the package."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_package_has_the_registry_layout(registry: Path) -> None:
    package_dir = _package_dir(registry)
    for name in ("__init__.py", "README.md", "LICENSE", "example.py", "requirements.txt"):
        assert (package_dir / name).is_file(), name
    assert (package_dir / "LICENSE").read_text() == (REPO / "LICENSE").read_text()
    assert (package_dir / "requirements.txt").read_text().split() == [
        "numpy>=2.0",
        "scikit-learn>=1.4",
    ]

    readme = (package_dir / "README.md").read_text()
    meta, body = _front_matter(readme)
    assert set(meta) == {"author", "title", "description", "tags", "optuna_versions", "license"}
    for key in ("author", "title", "description", "license"):
        assert isinstance(meta[key], str) and meta[key], key
    assert meta["license"] == "MIT License"
    tags = meta["tags"]
    assert isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
    assert "sampler" in tags
    assert meta["optuna_versions"] == [importlib.metadata.version("optuna")]
    headings = re.findall(r"^## (.+)$", body, re.MULTILINE)
    assert headings == ["Abstract", "Class or Function Names", "Installation", "Example", "Others"]
    assert (
        "pip install -r https://hub.optuna.org/package/samplers/hamming_ga/requirements.txt" in body
    )
    assert f"optuna-hamming {generator.source_version()}" in body
    assert not re.search(r"\{(optuna_version|version|example)\}", readme)
    for name in EXPORTED:
        assert f"- `{name}`" in body
    # The README's example is example.py itself.
    example = (package_dir / "example.py").read_text()
    assert f"```python\n{example.rstrip()}\n```" in body
    assert 'optunahub.load_module("samplers/hamming_ga")' in example

    init = ast.parse((package_dir / "__init__.py").read_text())
    exported = [
        ast.literal_eval(node.value)
        for node in init.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__"
    ]
    assert exported == [EXPORTED]


def test_package_copies_the_sampler_with_relative_imports(registry: Path) -> None:
    package_dir = _package_dir(registry)
    for subpackage in SUBPACKAGES:
        source = {p.relative_to(SOURCE) for p in (SOURCE / subpackage).rglob("*.py")}
        copied = {p.relative_to(package_dir) for p in (package_dir / subpackage).rglob("*.py")}
        assert copied == source
    for path in package_dir.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert node.module.split(".")[0] not in {"optuna_hamming", "hamming_ga"}, path
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] not in {"optuna_hamming", "hamming_ga"}
    closing = (package_dir / "sampler" / "_closing.py").read_text()
    assert "\nfrom .. import ga\n" in (package_dir / "sampler" / "settings.py").read_text()
    assert "\nfrom ._plan import Plan, PlannedChild, generation_rng\n" in closing
    assert (
        "\nfrom ..names import (\n" in (package_dir / "sampler" / "configurations.py").read_text()
    )
    assert "\nfrom .genome import ABSENT" in (package_dir / "ga" / "breeding.py").read_text()
    assert (
        "\nfrom ..storages import set_trial_attrs, study_system_attrs\n"
        in (package_dir / "sampler" / "_sampler.py").read_text()
    )


def test_no_file_mentions_the_project_package(registry: Path) -> None:
    files = [path for path in _package_dir(registry).rglob("*") if path.is_file()]
    assert len(files) > 20
    for path in files:
        assert b"optuna_hamming" not in path.read_bytes(), path


def test_generator_rewrites_every_form_and_refuses_what_it_cannot() -> None:
    source = textwrap.dedent(
        """\
        from typing import TYPE_CHECKING

        from optuna_hamming import ga
        from optuna_hamming.ga.genome import Gene
        from optuna_hamming.sampler._plan import Plan  # the plan

        if TYPE_CHECKING:
            from optuna_hamming.storages import set_trial_attrs


        def lazy():
            from optuna_hamming.sampler.child_generation import (
                PaperGeneration,
            )
            return PaperGeneration
        """
    )
    rewritten = generator.rewrite_imports(source, ("optuna_hamming", "sampler"), "x.py")
    assert rewritten == (
        source.replace("from optuna_hamming import ga", "from .. import ga")
        .replace("from optuna_hamming.ga.genome", "from ..ga.genome")
        .replace("from optuna_hamming.sampler._plan", "from ._plan")
        .replace("from optuna_hamming.storages", "from ..storages")
        .replace("from optuna_hamming.sampler.child_generation", "from .child_generation")
    )
    in_ga = generator.rewrite_imports(
        "from optuna_hamming.ga.genome import Gene\n", ("optuna_hamming", "ga"), "x.py"
    )
    assert in_ga == "from .genome import Gene\n"
    for bad in (
        "import optuna_hamming.ga\n",
        "def f():\n    import optuna_hamming\n",
        "from optuna_hamming.tracking import plots\n",
        "from optuna_hamming import HammingGASampler\n",
        "from optuna_hamming import paper\n",
    ):
        with pytest.raises(generator.GenerationError):
            generator.rewrite_imports(bad, ("optuna_hamming", "sampler"), "x.py")
    assert generator.rewrite_mentions("see :mod:`optuna_hamming.ga`") == "see :mod:`hamming_ga.ga`"


def test_generator_checks_the_imports_of_what_it_wrote(tmp_path: Path) -> None:
    package_dir = tmp_path / "hamming_ga"
    (package_dir / "sampler").mkdir(parents=True)
    (package_dir / "__init__.py").write_text("from .sampler import x\n")
    module = package_dir / "sampler" / "__init__.py"
    requirements = "numpy>=2.0\nscikit-learn>=1.4\n"

    module.write_text("import json\nimport numpy\nfrom ..sampler import y\n")
    generator._check_relative_imports(package_dir)
    generator._check_third_party(package_dir, requirements)
    for text, check in (
        ("from ..missing import y\n", "relative"),
        ("from ... import y\n", "relative"),
        ("import requests\n", "third-party"),
        ("def f():\n    from sklearn.ensemble import ExtraTreesRegressor\n", "numpy only"),
    ):
        module.write_text(text)
        with pytest.raises(generator.GenerationError):
            if check == "relative":
                generator._check_relative_imports(package_dir)
            else:
                generator._check_third_party(
                    package_dir, "numpy>=2.0\n" if check == "numpy only" else requirements
                )


def _run_child(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=540,
    )


STUDY_CHECK = """
import contextlib
import io
import json
import runpy

import optuna
import optunahub

optuna.logging.set_verbosity(optuna.logging.WARNING)
root = sys.argv[1]
hub = optunahub.load_local_module(package="samplers/hamming_ga", registry_root=root)


def objective(trial):
    width = trial.suggest_categorical("width", [16, 32, 64, 128])
    layers = trial.suggest_int("layers", 1, 4)
    activation = trial.suggest_categorical("activation", ["relu", "tanh", "sigmoid"])
    return -abs(layers - 3) - (width != 64) - 0.5 * (activation != "tanh")


def run(sampler, n_trials=40):
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return study


first = run(hub.HammingGASampler(population_size=6, seed=0))
again = run(hub.HammingGASampler(population_size=6, seed=0))
other = run(hub.HammingGASampler(population_size=6, seed=1))
screened = run(
    hub.recommended_sampler(
        seed=0, population_size=6, screening=hub.SurrogateScreening(initial=6, children=4)
    ),
    n_trials=30,
)

# example.py as a user runs it, with load_module (GitHub) pointed at the generated folder.
optunahub.load_module = lambda package, **kwargs: optunahub.load_local_module(
    package=package, registry_root=root
)
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    runpy.run_path(root + "/samplers/hamming_ga/example.py", run_name="__main__")

print(json.dumps({
    "sampler_module": type(first.sampler).__module__,
    "project_modules": sorted(m for m in sys.modules if m.split(".")[0] == "optuna_hamming"),
    "states": sorted({t.state.name for t in first.trials}),
    "values": [t.value for t in first.trials],
    "best": first.best_value,
    "generations": len(hub.HammingGASampler.generations(first)),
    "params": [t.params for t in first.trials],
    "params_again": [t.params for t in again.trials],
    "params_other": [t.params for t in other.trials],
    "screened_states": sorted({t.state.name for t in screened.trials}),
    "screened": sum("ga.screened" in t.user_attrs for t in screened.trials),
    "example": printed.getvalue(),
}))
"""


def test_hub_module_runs_a_seeded_study_without_the_project(registry: Path) -> None:
    script = registry / "check_study.py"
    script.write_text(BLOCKER + STUDY_CHECK)
    done = _run_child([str(script), str(registry / "package")], cwd=registry)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["sampler_module"].startswith("optunahub_registry.package.samplers.hamming_ga.")
    assert result["project_modules"] == []
    assert result["states"] == ["COMPLETE"]
    assert len(result["params"]) == 40
    # 48 genomes, optimum 0 (layers 3, width 64, tanh); 40 trials of a GA get within one step.
    assert result["best"] == max(result["values"]) >= -1.0
    assert result["generations"] >= 3
    assert result["params"] == result["params_again"]
    assert result["params"] != result["params_other"]
    assert result["screened_states"] == ["COMPLETE"]
    assert result["screened"] > 0
    assert "best:" in result["example"]
    assert "generation 0:" in result["example"]


SUITE = """
from collections.abc import Callable

import optunahub
import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase, SingleOnlySamplerTestCase

hub = optunahub.load_local_module(package="samplers/hamming_ga", registry_root={root!r})


def test_the_sampler_is_the_hub_copy() -> None:
    assert hub.HammingGASampler.__module__.startswith("optunahub_registry.package.")
    assert not any(name.split(".")[0] == "optuna_hamming" for name in sys.modules)


class TestHubHammingGASampler(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: hub.HammingGASampler(population_size=4, seed=0)


class TestHubHammingGASamplerWithArchive(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: hub.HammingGASampler(population_size=4, seed=0, skip_duplicates=True)


class TestHubRecommendedSampler(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: hub.recommended_sampler(
            seed=0, population_size=4, screening=hub.SurrogateScreening(initial=3, children=2)
        )
"""


def test_hub_module_passes_optunas_sampler_suites(registry: Path) -> None:
    """tests/test_optuna_suite.py's three configurations, on the hub package's classes."""
    suite = registry / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(BLOCKER)
    (suite / "pytest.ini").write_text(
        "[pytest]\nfilterwarnings =\n    ignore::optuna.exceptions.ExperimentalWarning\n"
    )
    (suite / "test_hub_suite.py").write_text(
        "import sys\n" + SUITE.format(root=str(registry / "package"))
    )
    done = _run_child(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_hub_suite.py"], cwd=suite
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, (done.stdout[-6000:], done.stderr[-2000:])
    assert re.search(r"\d+ passed", summary), summary
    assert not re.search(r"failed|error", summary), summary
