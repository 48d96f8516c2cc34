"""The configuration README recommends, as one call."""

from __future__ import annotations

from typing import Any

from optuna_hamming.sampler._sampler import HammingGASampler
from optuna_hamming.sampler.screening import SurrogateScreening


def recommended_settings() -> dict[str, Any]:
    """The keyword arguments of :func:`recommended_sampler` before overrides (a new dict)."""
    return {"skip_duplicates": True, "screening": SurrogateScreening()}


def recommended_sampler(seed: int | None = None, **overrides: Any) -> HammingGASampler:
    """A :class:`HammingGASampler` in the accelerated mode README recommends.

    The paper's selection and operators, with the duplicate-free archive and
    :class:`SurrogateScreening` (see ``docs/results.md``, "The accelerated mode", for the
    numbers behind it). ``overrides`` are any of HammingGASampler's keyword arguments and
    replace the recommended ones, e.g. ``recommended_sampler(seed=0, population_size=20)``.
    """
    settings = recommended_settings()
    settings.update(overrides)
    return HammingGASampler(seed=seed, **settings)
