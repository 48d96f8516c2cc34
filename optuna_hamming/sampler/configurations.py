"""What each named configuration of :mod:`optuna_hamming.names` builds.

* the CLI's ``--sampler`` choices (:func:`sampler_named`): ``PAPER``, Algorithm 1 as
  published, and ``ACCELERATED``, :func:`recommended_sampler`, the product's recommended
  sampler;
* the screenings of the accelerated mode (:data:`SCREENINGS`): ``SCREENING_DEFAULTS``
  (``SurrogateScreening()``), ``LEAN`` and ``LEAN_LATIN``, the one :func:`recommended_sampler`
  uses (``RECOMMENDED_SCREENING``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from optuna_hamming.ga.surrogate import SurrogateScreening
from optuna_hamming.names import (
    ACCELERATED,
    LEAN,
    LEAN_LATIN,
    PAPER,
    RECOMMENDED_SCREENING,
    SAMPLERS,
    SCREENING_DEFAULTS,
)
from optuna_hamming.sampler._sampler import HammingGASampler

SCREENINGS: dict[str, Callable[[], SurrogateScreening]] = {
    SCREENING_DEFAULTS: SurrogateScreening,
    LEAN: SurrogateScreening.lean,
    LEAN_LATIN: lambda: SurrogateScreening.lean(initial_design="latin"),
}
# RECOMMENDED_SCREENING is SurrogateScreening.lean() with a Latin-hypercube generation 0, not
# SurrogateScreening(): on 90 seeds where neither lean configuration's settings were chosen it
# was ahead of the defaults at 30-100 evaluations and for the top 1 %, level at 300, and ahead
# of lean for the top 1 % (docs/results.md, "A Latin-hypercube generation 0").


def recommended_settings() -> dict[str, Any]:
    """The keyword arguments of :func:`recommended_sampler` before overrides (a new dict)."""
    return {"skip_duplicates": True, "screening": SCREENINGS[RECOMMENDED_SCREENING]()}


def recommended_sampler(seed: int | None = None, **overrides: Any) -> HammingGASampler:
    """The product's recommended sampler: :class:`HammingGASampler` in the accelerated mode.

    The paper's selection and operators, with the duplicate-free archive and
    :meth:`SurrogateScreening.lean` (two children a generation) with
    ``initial_design="latin"`` (see ``docs/results.md``, "The accelerated mode", for the
    numbers behind it). ``overrides`` are any of HammingGASampler's keyword arguments and
    replace the recommended ones, e.g. ``recommended_sampler(seed=0, population_size=20)`` or,
    for the four-children defaults, ``recommended_sampler(screening=SurrogateScreening())``.
    """
    settings = recommended_settings()
    settings.update(overrides)
    return HammingGASampler(seed=seed, **settings)


def sampler_named(name: str, **kwargs: Any) -> HammingGASampler:
    """The sampler a ``--sampler`` name stands for, with HammingGASampler's ``kwargs``."""
    if name == PAPER:
        return HammingGASampler(**kwargs)
    if name == ACCELERATED:
        return recommended_sampler(**kwargs)
    raise ValueError(f"unknown sampler {name!r}: pass one of {', '.join(SAMPLERS)}")
