"""Everything the sampler writes into a study's storage: keys, names and the typed summary.

The one place these strings live; the sampler, tracking, plots, the CLI and the tests import
them from here. Two kinds (SPEC section 4):

* **system attributes** (``hamming_ga:*``) are the sampler's own state: the study seed, the
  plan of each generation, each trial's claim on a child;
* **user attributes** (``ga.*``) are for people (optuna-dashboard shows them) and tracking:
  each trial's generation, gene, origin and parents, and a :class:`GenerationSummary` per
  closed generation under ``ga.generation.<g>``.

The summary is stored as the JSON object Optuna keeps; :func:`read_generations` reads the
summaries that existing study databases hold, and fields added later are optional keys, so
old studies keep reading.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, TypedDict

from optuna.study import Study

if TYPE_CHECKING:
    # Only in annotations (strings here), so that the OptunaHub copy imports on Python 3.10,
    # which the registry checks with and whose typing lacks NotRequired.
    from typing import NotRequired

from optuna_hamming.ga.breeding import (
    ORIGIN_CROSSOVER,
    ORIGIN_CROSSOVER_MUTATION,
    ORIGIN_FORCED_MUTATION,
    ORIGIN_INITIAL,
    ORIGIN_RANDOM_UNEVALUATED,
)
from optuna_hamming.ga.screening import SCREENING_ORIGINS
from optuna_hamming.ga.surrogate import ScreeningReport

# -- study system attributes ---------------------------------------------------------------
SEED_KEY = "hamming_ga:seed"
# The sampler's configuration, stored by the first worker: a study keeps its settings.
SETTINGS_KEY = "hamming_ga:settings"
PLAN_KEY_PREFIX = "hamming_ga:plan:"
# A plan whose generation is two behind the newest is replaced by this marker, so reading
# the study's system attributes stays cheap however long the study runs.
COMPACTED = "compacted"
# Atomic claims (optuna_hamming.storages.claims), each held by one trial number for good:
# child ``index`` of generation ``g``, and (with the archive rule) a genome.
CLAIM_KEY_PREFIX = "hamming_ga:claim:"
CLOSE_KEY_PREFIX = "hamming_ga:close:"  # the worker that closes generation ``g``
GENOME_CLAIM_PREFIX = "hamming_ga:genome:"
# Longer bit strings are claimed by their digest (RDB keys hold 512 characters).
MAX_CLAIMED_BITS = 256


def claim_prefix(generation: int) -> str:
    """The start of every child claim of ``generation``."""
    return f"{CLAIM_KEY_PREFIX}{generation}:"


def claim_key(generation: int, index: int) -> str:
    return f"{claim_prefix(generation)}{index}"


def close_key(generation: int) -> str:
    return f"{CLOSE_KEY_PREFIX}{generation}"


def genome_claim_key(gene: str) -> str:
    """The claim on a genome (its ``ga.gene`` bit string)."""
    if len(gene) > MAX_CLAIMED_BITS:
        gene = "sha256:" + hashlib.sha256(gene.encode()).hexdigest()
    return f"{GENOME_CLAIM_PREFIX}{gene}"


# -- trial system attributes ---------------------------------------------------------------
CHILD_KEY = "hamming_ga:child"  # [generation, child index]
# Set by Optuna's RetryHeartbeatStaleTrialCallback on the copy of a trial whose worker died.
RETRY_OF_KEY = "failed_trial"

# -- trial user attributes -----------------------------------------------------------------
GENERATION_ATTR = "ga.generation"
GENE_ATTR = "ga.gene"
ORIGIN_ATTR = "ga.origin"
PARENTS_ATTR = "ga.parents"
# Set on the children the screening (accelerated mode) trained: {"by": "model" | "explore",
# "predicted": the model's mean fitness, "spread": the trees' standard deviation}.
SCREENED_ATTR = "ga.screened"
TRIAL_ATTRS = (GENERATION_ATTR, GENE_ATTR, ORIGIN_ATTR, PARENTS_ATTR)

# Values of ``ga.origin``: the GA's own (layer 1) and the sampler's.
ORIGIN_ENQUEUED = "enqueued"
ORIGIN_RETRIED = "retried"
ORIGINS = (
    ORIGIN_INITIAL,
    ORIGIN_CROSSOVER,
    ORIGIN_CROSSOVER_MUTATION,
    ORIGIN_FORCED_MUTATION,
    ORIGIN_RANDOM_UNEVALUATED,
    *SCREENING_ORIGINS,
    ORIGIN_ENQUEUED,
    ORIGIN_RETRIED,
)

# -- study user attributes -----------------------------------------------------------------
SUMMARY_PREFIX = "ga.generation."


def plan_key(generation: int) -> str:
    return f"{PLAN_KEY_PREFIX}{generation}"


def summary_key(generation: int) -> str:
    return f"{SUMMARY_PREFIX}{generation}"


# What the screening decided at a close: the model, the genomes it was fitted on, the
# candidates it ranked, and its predicted fitness of each trained child (child order).
ScreeningSummary = ScreeningReport


class GenerationSummary(TypedDict):
    """The study user attribute ``ga.generation.<g>``: what closing generation ``g`` decided.

    ``members``, ``fitness`` and ``genes`` are parallel lists (carried parents included);
    ``retained`` and ``selected`` (admitted through the Hamming gate) are trial numbers.
    """

    members: list[int]
    fitness: list[float]
    retained: list[int]
    selected: list[int]
    significant: float
    hamming_min: int
    hamming_max: int
    best: float
    mean_retained: float
    genes: list[str]
    next_children: int
    next_archived: int
    forced_mutations: int
    # Fields added after the first studies were stored go below as NotRequired.
    selection: NotRequired[str]
    mutation: NotRequired[str]
    screening: NotRequired[ScreeningSummary]


def read_generations(study: Study) -> dict[int, GenerationSummary]:
    """The ``ga.generation.<g>`` summaries of a study, by generation number."""
    found: dict[int, GenerationSummary] = {}
    for key, value in study.user_attrs.items():
        suffix = key[len(SUMMARY_PREFIX) :]
        if key.startswith(SUMMARY_PREFIX) and suffix.isdigit() and isinstance(value, dict):
            found[int(suffix)] = _as_summary(value)
    return dict(sorted(found.items()))


def _as_summary(stored: dict[str, Any]) -> GenerationSummary:
    # Optuna hands back the JSON object as it was written; the TypedDict is its declared shape.
    summary: GenerationSummary = stored  # type: ignore[assignment]
    return summary
