"""JAX's persistent compilation cache: heads of a known architecture load their steps from disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import optuna
import pytest

from optuna_hamming.data import FeatureSet, stratified_splits
from optuna_hamming.vision.compilation_cache import use_jax_compilation_cache
from optuna_hamming.vision.objective import HeadObjective

pytestmark = pytest.mark.keras

on_jax = pytest.mark.skipif(keras.backend.backend() != "jax", reason="a JAX-only cache")
GENOME = {"neurons": 32, "layers": 2, "activation": "relu", "optimizer": "adam"}


@pytest.fixture
def pristine_jax_cache() -> Iterator[None]:
    """Each test starts and ends with no cache directory configured (JAX's config is global)."""
    if keras.backend.backend() != "jax":
        yield
        return
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    compilation_cache.reset_cache()
    yield
    jax.config.update("jax_compilation_cache_dir", before)
    compilation_cache.reset_cache()


@pytest.fixture(scope="module")
def blobs() -> FeatureSet:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    X = (rng.normal(size=(120, 16)) + y[:, None]).astype(np.float32)
    return FeatureSet(X, y, ("a", "b", "c"), "blobs")


def entries(directory: Path) -> set[str]:
    return {p.name for p in directory.rglob("*") if p.is_file()}


def train(objective: HeadObjective, number: int) -> float:
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(GENOME)
    for _ in range(number):  # trial.number sets the training seed
        study.enqueue_trial(GENOME)
    study.optimize(objective, n_trials=number + 1)
    return float(study.trials[-1].value)  # type: ignore[arg-type]


@on_jax
@pytest.mark.usefixtures("pristine_jax_cache")
def test_a_known_architecture_compiles_from_the_cache(blobs: FeatureSet, tmp_path: Path) -> None:
    splits = stratified_splits(blobs.y, seed=0)
    cache = tmp_path / "xla"
    assert use_jax_compilation_cache(cache) == cache and cache.is_dir()
    objective = HeadObjective(blobs, splits, max_epochs=3, patience=1)
    first_value = train(objective, 0)
    written = entries(cache)
    assert written, "the first head's compiled steps are on disk"
    # Same architecture, other training seeds: every step is read back, none compiled anew.
    train(objective, 2)
    assert entries(cache) == written
    # The cache changes where the program comes from, not what it computes.
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()
    try:
        assert train(objective, 0) == pytest.approx(first_value, abs=1e-9)
    finally:
        jax.config.update("jax_enable_compilation_cache", True)


@on_jax
@pytest.mark.usefixtures("pristine_jax_cache")
def test_the_objective_leaves_jax_config_alone(blobs: FeatureSet) -> None:
    """Building and running an objective changes no global configuration: turning the cache
    on is the caller's decision (the CLI makes it)."""
    import jax

    before = jax.config.jax_compilation_cache_dir
    objective = HeadObjective(blobs, stratified_splits(blobs.y, seed=0), max_epochs=2)
    train(objective, 0)
    assert jax.config.jax_compilation_cache_dir == before


@on_jax
@pytest.mark.usefixtures("pristine_jax_cache")
def test_a_users_cache_directory_stands(tmp_path: Path) -> None:
    import jax

    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "theirs"))
    assert use_jax_compilation_cache(tmp_path / "ours") == tmp_path / "theirs"
    assert not (tmp_path / "ours").exists()


@on_jax
@pytest.mark.usefixtures("pristine_jax_cache")
def test_the_switch_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTUNA_HAMMING_JAX_CACHE", "0")
    assert use_jax_compilation_cache(tmp_path / "xla") is None
    assert not (tmp_path / "xla").exists()


@on_jax
@pytest.mark.usefixtures("pristine_jax_cache")
def test_an_unwritable_directory_names_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="OPTUNA_HAMMING_JAX_CACHE=0"):
        use_jax_compilation_cache(blocker / "xla")


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="other backends only")
def test_other_backends_are_left_alone(tmp_path: Path) -> None:
    assert use_jax_compilation_cache(tmp_path / "xla") is None
    assert not (tmp_path / "xla").exists()
