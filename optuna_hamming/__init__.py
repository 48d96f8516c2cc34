"""optuna-hamming: the Hamming-distance genetic algorithm of the paper as an Optuna sampler.

The package's folders are its layers; each imports only from the ones above it in this list:

1. ``ga/``: the genetic algorithm in pure numpy;
2. ``sampler/``, ``storages/``, ``paper``: Optuna (the sampler, storage helpers, the paper's
   search space and a synthetic benchmark);
3. ``data/``, ``vision/``: datasets and Keras 3 (backbones, features, heads, objective);
4. ``tracking/``: MLflow and plots;
5. ``cli/``: the command line and the demo, composing the above.

``from optuna_hamming import HammingGASampler`` imports Optuna (never Keras or MLflow); the
package itself imports nothing, so that ``optuna_hamming.ga`` stays importable without Optuna.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna_hamming.sampler import (
        ForestSurrogate,
        HammingGASampler,
        SurrogateScreening,
        recommended_sampler,
    )

__all__ = ["ForestSurrogate", "HammingGASampler", "SurrogateScreening", "recommended_sampler"]
_LAZY = frozenset(__all__)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # PEP 562: the sampler (and Optuna with it) is imported on first use.
    if name in _LAZY:
        from optuna_hamming import sampler

        return getattr(sampler, name)
    raise AttributeError(f"module 'optuna_hamming' has no attribute {name!r}")
