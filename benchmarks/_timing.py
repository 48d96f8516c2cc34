"""A sampler wrapper that charges the time spent inside any sampler to the trial it served."""

from __future__ import annotations

import platform
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState


class TimedSampler(BaseSampler):
    """Delegates every call to ``inner`` and adds its duration to ``seconds[trial.number]``."""

    def __init__(self, inner: BaseSampler) -> None:
        self.inner = inner
        self.seconds: dict[int, float] = defaultdict(float)

    def _timed(self, number: int, call: Any, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.seconds[number] += time.perf_counter() - start

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._timed(  # type: ignore[no-any-return]
            trial.number, self.inner.infer_relative_search_space, study, trial
        )

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._timed(  # type: ignore[no-any-return]
            trial.number, self.inner.sample_relative, study, trial, search_space
        )

    def sample_independent(
        self, study: Study, trial: FrozenTrial, name: str, distribution: BaseDistribution
    ) -> Any:
        return self._timed(
            trial.number, self.inner.sample_independent, study, trial, name, distribution
        )

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._timed(trial.number, self.inner.before_trial, study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._timed(trial.number, self.inner.after_trial, study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


def machine() -> str:
    """CPU model, core count, Python and library versions: the machine a number came from."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Optuna {optuna.__version__}"
    )
