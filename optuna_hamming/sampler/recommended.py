"""The configuration README recommends, as one call."""

from __future__ import annotations

from typing import Any

from optuna_hamming.sampler._sampler import HammingGASampler
from optuna_hamming.sampler.screening import SurrogateScreening


def recommended_settings() -> dict[str, Any]:
    """The keyword arguments of :func:`recommended_sampler` before overrides (a new dict)."""
    # SurrogateScreening.lean() with a Latin-hypercube generation 0, not SurrogateScreening():
    # on 90 seeds where neither lean configuration's settings were chosen it was ahead of
    # the defaults at 30-100 evaluations and for the top 1 %, level at 300, and ahead of lean
    # for the top 1 % (docs/results.md, "A Latin-hypercube generation 0").
    return {
        "skip_duplicates": True,
        "screening": SurrogateScreening.lean(initial_design="latin"),
    }


def recommended_sampler(seed: int | None = None, **overrides: Any) -> HammingGASampler:
    """A :class:`HammingGASampler` in the accelerated mode README recommends.

    The paper's selection and operators, with the duplicate-free archive and
    :meth:`SurrogateScreening.lean` (two children a generation) with
    ``initial_design="latin"`` (see ``docs/results.md``, "The accelerated mode", for the
    numbers behind it). ``overrides`` are any of
    HammingGASampler's keyword arguments and replace the recommended ones, e.g.
    ``recommended_sampler(seed=0, population_size=20)`` or, for the four-children defaults,
    ``recommended_sampler(screening=SurrogateScreening())``.
    """
    settings = recommended_settings()
    settings.update(overrides)
    return HammingGASampler(seed=seed, **settings)
