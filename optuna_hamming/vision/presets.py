"""Presets: every choice of a search, named once, for the CLI and Python alike (layer 3).

``paper`` is the paper's configuration (Algorithm 1, one validation split, the best genome
retrained, the images alone) and stays the default. ``recommended`` is what
docs/results.md measures best: the accelerated sampler (``recommended_sampler()``), K-fold
CV fitness, the greedy ensemble as the final model with a logistic regression among its
candidates (:mod:`optuna_hamming.vision.linear_member`), features of more than one layer
(:mod:`optuna_hamming.vision.backbones.layer_taps`) standardised
(:mod:`optuna_hamming.vision.normalisation`), and augmented views chosen for the
user's data by cross-validation (:mod:`optuna_hamming.vision.view_choice`).

    from optuna_hamming.vision.presets import preset
    chosen = preset("recommended")
    study = optuna.create_study(direction="maximize", sampler=chosen.sampler(seed=0))
    objective = HeadObjective(features, splits, fitness=chosen.fitness, folds=chosen.folds)

Explicit CLI flags override a preset's values; ``values()`` is what it sets, recorded by
``show`` and on the MLflow parent run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from optuna_hamming.names import (
    ACCELERATED,
    LAYERS_MULTI,
    LAYERS_POOLED,
    NORMALISE_NONE,
    NORMALISE_STANDARD,
    PAPER,
    PRESETS,
    RECOMMENDED,
    VIEWS_AUTO,
    VIEWS_NONE,
)
from optuna_hamming.sampler import HammingGASampler
from optuna_hamming.sampler.configurations import sampler_named


@dataclass(frozen=True)
class Preset:
    """The values a preset sets; the CLI flag of each field has the same name."""

    name: str
    sampler_name: str  # --sampler
    fitness: str  # --fitness
    folds: int  # --folds
    final: str  # --final
    ensemble_size: int  # --ensemble-size
    views: str  # --views: a set of VIEW_SETS, or "auto" (chosen by CV)
    linear_member: str  # --linear-member: "yes" lets the ensemble pick logistic regression
    layers: str  # --layers: "pooled" (the paper's features) or "multi-layer"
    normalise: str  # --normalise: "none" or "standard"

    def values(self) -> dict[str, Any]:
        """Every value the preset sets, by CLI option name (``sampler`` for the sampler)."""
        values = asdict(self)
        values.pop("name")
        values["sampler"] = values.pop("sampler_name")
        return values

    def sampler(self, seed: int | None = None, **kwargs: Any) -> HammingGASampler:
        """The preset's sampler (``population_size`` and the like pass through)."""
        return sampler_named(self.sampler_name, seed=seed, **kwargs)


_PRESETS = {
    PAPER: Preset(
        PAPER, PAPER, "holdout", 5, "best", 10, VIEWS_NONE, "no", LAYERS_POOLED, NORMALISE_NONE
    ),
    RECOMMENDED: Preset(
        RECOMMENDED,
        ACCELERATED,
        "cv",
        3,
        "ensemble",
        10,
        VIEWS_AUTO,
        "yes",
        LAYERS_MULTI,
        NORMALISE_STANDARD,
    ),
}
assert tuple(_PRESETS) == PRESETS


def preset(name: str) -> Preset:
    """The preset ``name`` (``paper`` or ``recommended``); an unknown name is refused."""
    try:
        return _PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}") from None
