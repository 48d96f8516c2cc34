"""XLA's compiled training steps kept on disk, so that heads of an architecture seen before
skip compilation.

On JAX every new head traces and compiles its own train, test and predict steps. For the
paper's small heads that compilation is about half of a trial
(``benchmarks/results/compilation_cache.md``: 7.96 s per head without the cache, 3.66 s when
the cache holds the architecture, medians over 12 heads). The search space has only
7 x 4 x 4 x 7 architectures, and a study (or a genome table) meets the same ones again with
other seeds, in other workers and in later runs, so JAX's persistent compilation cache turns
most compilations into a file read. The compiled program is identical; only its source changes.

TensorFlow and PyTorch heads run without XLA here (``vision.heads.build_head``), so this only
acts on JAX.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import keras

from optuna_hamming.vision.cache import default_cache_dir

#: Set to ``0`` to leave JAX's compilation cache alone (``OPTUNA_HAMMING_JAX_CACHE=0``).
ENV_SWITCH = "OPTUNA_HAMMING_JAX_CACHE"


def use_jax_compilation_cache(directory: str | Path | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``directory`` and return it.

    ``None`` uses ``<project cache>/jax-compilation`` (see ``default_cache_dir``). Nothing
    changes, and the configured directory (or None) is returned, when the backend is not JAX,
    when ``OPTUNA_HAMMING_JAX_CACHE=0``, or when the user already chose a cache directory
    (``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``): their choice stands.
    """
    if keras.backend.backend() != "jax":
        return None
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    # jax.config is untyped: read and write it through typed names.
    configured: str | None = getattr(jax.config, "jax_compilation_cache_dir", None)
    update: Callable[[str, object], None] = jax.config.update
    if configured:
        return Path(configured)
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    path = Path(directory) if directory is not None else default_cache_dir() / "jax-compilation"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(
            f"cannot create the JAX compilation cache {path}: {error.strerror}; pass a writable "
            f"directory, set OPTUNA_HAMMING_CACHE, or set {ENV_SWITCH}=0 to train without it"
        ) from error
    # Heads compile in well under JAX's default one-second threshold, and their executables
    # are small; cache them all.
    update("jax_persistent_cache_min_compile_time_secs", 0.0)
    update("jax_persistent_cache_min_entry_size_bytes", -1)
    compilation_cache.set_cache_dir(str(path))
    # JAX decides once, at its first compilation, whether a cache is in use; a backbone may
    # already have been compiled without one. Resetting makes the next compilation look again.
    compilation_cache.reset_cache()
    return path
