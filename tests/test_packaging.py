"""The package as a user gets it: ``python -m build`` makes an sdist and a wheel, and the
wheel installed into a clean venv gives a working CLI and import, at the one version."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import optuna_hamming

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "optuna_hamming.__version__"
    }


@pytest.mark.slow
def test_the_built_wheel_installs_into_a_clean_venv_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # No build isolation: the backend (setuptools>=77) is a dev dependency, so nothing is
    # downloaded; the build reads the version from optuna_hamming/__init__.py.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    version = optuna_hamming.__version__
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    assert [w.name for w in wheels] == [f"optuna_hamming-{version}-py3-none-any.whl"]
    assert [s.name for s in sdists] == [f"optuna_hamming-{version}.tar.gz"]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The stack (optuna, keras, mlflow, ...) is this interpreter's, not downloaded again: a
    # plain path line adds its site-packages without running its .pth files, so the editable
    # install of this checkout stays out and the wheel is what gets imported.
    stack = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "stack.pth").write_text("\n".join(stack) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed", wheels[0]],
        check=True,
        env=env,
        cwd=tmp_path,
    )
    imported = subprocess.run(
        [
            python,
            "-c",
            "import optuna_hamming; from optuna_hamming import HammingGASampler; "
            "print(optuna_hamming.__file__); print(optuna_hamming.__version__); "
            "print(HammingGASampler(seed=0).__class__.__name__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # not the checkout, whose folder would shadow the installed package
    ).stdout.split()
    assert Path(imported[0]).is_relative_to(Path(purelib))
    assert imported[1:] == [version, "HammingGASampler"]

    cli = venv / "bin" / "optuna-hamming"
    helped = subprocess.run(
        [cli, "--help"], check=True, capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert "search" in helped.stdout and "usage: optuna-hamming" in helped.stdout
    searched = subprocess.run(
        [cli, "search", "--help"], check=True, capture_output=True, text=True, env=env
    )
    assert "--population" in searched.stdout
