"""A trial's fitness, and the paper's archive: the best fitness ever seen per genome."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming.sampler.attributes import GENE_ATTR
from optuna_hamming.sampler.search_space import GenomeSpace


def fitness_of(trial: FrozenTrial) -> float | None:
    """A trial's fitness: its value, a PRUNED trial's last reported value, else None (FAIL)."""
    if trial.state == TrialState.COMPLETE:
        value = trial.value
    elif trial.state == TrialState.PRUNED and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    else:
        return None
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def build_archive(
    trials: Sequence[FrozenTrial], space: GenomeSpace, *, maximize: bool
) -> dict[bytes, tuple[float, int]]:
    """Best fitness and its trial number for every genome evaluated so far (the paper's archive)."""
    archive: dict[bytes, tuple[float, int]] = {}
    keys = _genome_keys(space)
    for trial in trials:
        value = fitness_of(trial)
        if value is None:
            continue
        params = tuple(sorted(trial.params.items()))
        key = keys.get(params)
        if key is None:
            key = keys[params] = space.encode(trial.params).tobytes()
        known = archive.get(key)
        if known is None or (value > known[0] if maximize else value < known[0]):
            archive[key] = (value, trial.number)
    return archive


@functools.lru_cache(maxsize=8)
def _genome_keys(space: GenomeSpace) -> dict[tuple[tuple[str, Any], ...], bytes]:
    """Genome bytes by parameter set, per space (equal spaces share one memo).

    The archive re-reads every trial at each generation close; encoding them all again made
    the closes quadratic in the study's length (two thirds of the time of a 600-trial
    study on a tabular task).
    """
    return {}


def read_archive(study: Study) -> dict[str, float]:
    """Best fitness per ``ga.gene`` bit string over all finished trials."""
    maximize = study.direction == StudyDirection.MAXIMIZE
    best: dict[str, float] = {}
    for trial in study.get_trials(deepcopy=False):
        gene = trial.user_attrs.get(GENE_ATTR)
        value = fitness_of(trial)
        if gene is None or value is None:
            continue
        known = best.get(gene)
        if known is None or (value > known if maximize else value < known):
            best[gene] = value
    return best
