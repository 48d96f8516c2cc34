"""The accelerated mode's candidate children and the rule that picks among them (layer 1).

Algorithm 1 trains every child it breeds. With a budget of 50-300 trained heads most of those
children are ones a model fitted on the genomes evaluated so far could have told apart from
better ones, so the accelerated mode breeds many candidates and trains only a few:

1. :func:`candidate_pool`: candidates from Algorithm 1's own operators (crossover of the two
   parts, mutation, forced mutation, through the same mutation strategy), plus every
   one-gene neighbour of the best parents, nearby genomes of them (:func:`perturbation`)
   and a few random genomes (SMAC's local search around the incumbents plus random
   challengers), distinct and not evaluated before;
2. :func:`gene_features`: genomes as model inputs (a grid gene as its position on the grid,
   so the model sees the order; a categorical gene one-hot);
3. a :class:`Surrogate` predicts each candidate's fitness with a spread (the default model, a
   scikit-learn forest, and the whole pipeline are in :mod:`optuna_hamming.ga.surrogate`);
4. :func:`screen`: the candidates to train: the best by the acquisition (the predicted
   fitness, or :func:`expected_improvement`), and a share drawn at random among the bred
   ones, so the model's blind spots still get children.

Every random choice goes through the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from optuna_hamming.ga.breeding import Child, MutationStrategy, breed, random_genome
from optuna_hamming.ga.genome import ABSENT, GenomeLayout, IntArray

FloatArray = npt.NDArray[np.float64]

ORIGIN_MUTATION = "mutation"  # a one-gene neighbour of a parent (local search)
ORIGIN_RANDOM = "random"  # a random challenger
ORIGIN_DENSITY = "density"  # drawn gene by gene from where the best genomes are (TPE's l(x))
# The screening's own candidates, made by no operator of Algorithm 1: never the explored share.
SCREENING_ORIGINS = (ORIGIN_MUTATION, ORIGIN_RANDOM, ORIGIN_DENSITY)


class Surrogate(Protocol):
    """Predicts fitness (larger is better) from gene features, with a spread per prediction.

    ``fit_predict`` must be a pure function of its arguments (``seed`` included), so that two
    workers that close a generation alike screen alike.
    """

    def fit_predict(
        self, features: FloatArray, values: FloatArray, candidates: FloatArray, *, seed: int
    ) -> tuple[FloatArray, FloatArray]: ...


def gene_features(genomes: IntArray, layout: GenomeLayout, ordered: Sequence[bool]) -> FloatArray:
    """Model inputs: an ordered gene as its grid position in [0, 1] (-1 when absent), an
    unordered one as one-hot columns (all zero when absent). Single-choice genes are left out."""
    population = np.asarray(genomes, dtype=np.int64).reshape(-1, layout.n_genes)
    columns: list[FloatArray] = []
    for j, (n, is_ordered) in enumerate(zip(layout.cardinalities, ordered, strict=True)):
        if n < 2:
            continue
        gene = population[:, j]
        if is_ordered:
            columns.append(np.where(gene == ABSENT, -1.0, gene / (n - 1))[:, None])
        else:
            columns.append((gene[:, None] == np.arange(n)[None, :]).astype(np.float64))
    if not columns:
        return np.zeros((population.shape[0], 1))
    return np.concatenate(columns, axis=1)


def neighbours(genome: IntArray, layout: GenomeLayout) -> list[IntArray]:
    """Every genome that differs from ``genome`` in exactly one present gene, gene by gene
    (an absent gene is one the objective did not ask for: giving it a value would most
    likely give the same trial again)."""
    found = []
    for j, n in enumerate(layout.cardinalities):
        if genome[j] == ABSENT:
            continue
        for value in range(n):
            if value != genome[j]:
                other = np.array(genome, dtype=np.int64, copy=True)
                other[j] = value
                found.append(other)
    return found


def pair_neighbours(genome: IntArray, layout: GenomeLayout) -> list[IntArray]:
    """Every genome that differs from ``genome`` in exactly two present genes, pair by pair:
    the moves one-gene neighbours cannot make, where two genes only pay off together (a
    smaller batch with a smaller learning rate)."""
    present = [j for j, n in enumerate(layout.cardinalities) if n >= 2 and genome[j] != ABSENT]
    found = []
    for j, k in itertools.combinations(present, 2):
        values = itertools.product(range(layout.cardinalities[j]), range(layout.cardinalities[k]))
        for first, second in values:
            if first != genome[j] and second != genome[k]:
                other = np.array(genome, dtype=np.int64, copy=True)
                other[j], other[k] = first, second
                found.append(other)
    return found


def perturbation(
    genome: IntArray,
    layout: GenomeLayout,
    ordered: Sequence[bool],
    rng: np.random.Generator,
    *,
    max_step: int = 2,
) -> IntArray:
    """A nearby genome: each present gene changes with probability ``2 / n_genes`` (at least
    one does), an ordered gene by a step of 1 to ``max_step`` up or down on its grid
    (clipped), an unordered one to another value. Absent genes stay absent."""
    child = np.array(genome, dtype=np.int64, copy=True)
    mutable = [j for j, n in enumerate(layout.cardinalities) if n >= 2 and child[j] != ABSENT]
    if not mutable:
        return child
    # One draw of len(mutable) floats: the same stream as one draw per gene, in one call.
    draws = rng.random(len(mutable))
    changed = [j for j, u in zip(mutable, draws, strict=True) if u < 2.0 / len(mutable)]
    if not changed:
        changed = [mutable[int(rng.integers(len(mutable)))]]
    for j in changed:
        n = layout.cardinalities[j]
        current = int(child[j])
        if ordered[j]:
            step = int(rng.integers(1, max_step + 1)) * (1 if rng.random() < 0.5 else -1)
            value = min(max(current + step, 0), n - 1)
            if value == current:
                value = min(max(current - step, 0), n - 1)
            child[j] = value
        else:
            value = int(rng.integers(n - 1))
            child[j] = value + 1 if value >= current else value
    return child


def elite_count(n_evaluated: int) -> int:
    """How many of the best genomes make the density: TPE's default split,
    ``min(ceil(0.1 * n), 25)``, and at least one."""
    return max(1, min(math.ceil(0.1 * n_evaluated), 25))


def density_sample(
    elite: Sequence[IntArray] | IntArray,
    layout: GenomeLayout,
    ordered: Sequence[bool],
    rng: np.random.Generator,
    n: int,
    *,
    prior: float = 1.0,
    bandwidth: float = 1.0,
) -> list[IntArray]:
    """``n`` genomes drawn gene by gene from where the ``elite`` genomes are: TPE's "good"
    density l(x), univariate. A gene's distribution is a uniform prior of weight ``prior``
    plus one unit of weight per elite genome that has the gene: on its value for an
    unordered gene, spread over the grid by a Gaussian of ``bandwidth`` grid steps for an
    ordered one. The genes are drawn independently, so the draws mix the elite's good
    values (a crossover of every elite at once, which the model then screens)."""
    if not prior > 0:
        # A gene no elite genome has would have no weight at all.
        raise ValueError(f"`prior` must be positive, got {prior!r}: pass e.g. prior=1.0.")
    columns = []
    for j, n_values in enumerate(layout.cardinalities):
        grid = np.arange(n_values, dtype=np.float64)
        weights = np.full(n_values, prior / n_values)
        for genome in elite:
            value = int(genome[j])
            if value == ABSENT:
                continue
            if ordered[j]:
                kernel = np.exp(-0.5 * ((grid - value) / bandwidth) ** 2)
                weights += kernel / kernel.sum()
            else:
                weights[value] += 1.0
        columns.append(rng.choice(n_values, size=n, p=weights / weights.sum()))
    if not columns:
        return []
    return list(np.stack(columns, axis=1).astype(np.int64))


def evaluated_test(evaluated: Sequence[IntArray] | IntArray) -> Callable[[IntArray], bool]:
    """Whether a candidate would repeat an evaluated genome: it agrees with one on every gene
    that genome has. In a conditional space a genome lacks the genes its objective did not
    ask for; a candidate with values there gets the same trial (the objective asks for the
    same genes, the values that decide them being equal)."""
    if not len(evaluated):
        return lambda candidate: False
    rows = np.asarray(evaluated, dtype=np.int64).reshape(len(evaluated), -1)
    present = rows != ABSENT
    # One set per pattern of present genes (a single one where no parameter is conditional),
    # its keys sliced from one byte string: numpy calls per genome (a mask, an index, a
    # tobytes) cost a close as much as building the pool.
    if present.all():
        patterns, which = present[:1], np.zeros(len(rows), dtype=np.int64)
    else:
        patterns, which = np.unique(present, axis=0, return_inverse=True)
    masks = []
    for k, mask in enumerate(patterns):
        values = np.ascontiguousarray(rows[which.reshape(-1) == k][:, mask])
        width = values.shape[1] * values.itemsize
        joined = values.tobytes()
        keys = {joined[i : i + width] for i in range(0, len(joined), width)} if width else {b""}
        masks.append((mask, keys))

    def is_evaluated(candidate: IntArray) -> bool:
        return any(candidate[mask].tobytes() in values for mask, values in masks)

    return is_evaluated


def candidate_pool(
    parent_genomes: Sequence[IntArray],
    ranked_parents: Sequence[int],
    layout: GenomeLayout,
    *,
    n_bred: int,
    n_local: int,
    n_random: int,
    n_perturbed: int = 0,
    n_pairs: int = 0,
    n_density: int = 0,
    elite: Sequence[IntArray] | IntArray = (),
    ordered: Sequence[bool] = (),
    split: int,
    mutation: MutationStrategy,
    rng: np.random.Generator,
    is_evaluated: Callable[[IntArray], bool],
) -> list[Child]:
    """Distinct, unevaluated candidates: ``n_bred`` children of Algorithm 1's operators, then
    the one-gene neighbours of the ``n_local`` best parents (``ranked_parents``: parent
    indices, best first), ``n_perturbed`` perturbations of them (``ordered`` says which
    genes are ordered), the two-gene neighbours of the ``n_pairs`` best parents, ``n_density``
    draws from the ``elite`` genomes' density (:func:`density_sample`), then ``n_random``
    random genomes. A genome made twice keeps its first origin."""
    made = breed(parent_genomes, n_bred, layout, split=split, mutation=mutation, rng=rng)
    for parent in ranked_parents[:n_local]:
        made += [
            Child(genome, ORIGIN_MUTATION, parent, parent)
            for genome in neighbours(parent_genomes[parent], layout)
        ]
    top = list(ranked_parents[: max(n_local, 1)])
    for _ in range(n_perturbed if top else 0):
        parent = top[int(rng.integers(len(top)))]
        genome = perturbation(parent_genomes[parent], layout, ordered, rng)
        made.append(Child(genome, ORIGIN_MUTATION, parent, parent))
    for parent in ranked_parents[:n_pairs]:
        made += [
            Child(genome, ORIGIN_MUTATION, parent, parent)
            for genome in pair_neighbours(parent_genomes[parent], layout)
        ]
    if n_density and len(elite):
        made += [
            Child(genome, ORIGIN_DENSITY, -1, -1)
            for genome in density_sample(elite, layout, ordered, rng, n_density)
        ]
    made += [Child(random_genome(layout, rng), ORIGIN_RANDOM, -1, -1) for _ in range(n_random)]
    seen: set[bytes] = set()
    pool = []
    for child in made:
        key = child.genome.tobytes()
        if key in seen or is_evaluated(child.genome):
            continue
        seen.add(key)
        pool.append(child)
    return pool


def expected_improvement(mean: FloatArray, spread: FloatArray, best: float) -> FloatArray:
    """EI over ``best`` for a normal prediction (maximising); the mean's excess where the
    spread is zero."""
    excess = mean - best
    safe = np.where(spread > 0, spread, 1.0)
    z = excess / safe
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return np.where(spread > 0, excess * cdf + spread * pdf, np.maximum(excess, 0.0))


@dataclass(frozen=True)
class Screened:
    """Which candidates to train (indices into the pool), and whether the model chose each."""

    chosen: tuple[int, ...]
    by_model: tuple[bool, ...]


def explore_count(explore: float, n: int, generation: int, *, carried: bool) -> int:
    """How many of a generation's ``n`` children are drawn at random: ``round(explore * n)``,
    or, ``carried``, the share kept over the generations so far (``floor(explore * n * (g + 1))
    - floor(explore * n * g)``), so that a share under one child a generation (0.2 of 2
    children) still explores every few generations instead of never."""
    if not carried:
        return round(explore * n)
    # The small tolerance keeps exact multiples (0.2 * 5 * 4) from flooring one short.
    return math.floor(explore * n * (generation + 1) + 1e-9) - math.floor(
        explore * n * generation + 1e-9
    )


def screen(
    acquisition: FloatArray,
    explorable: Sequence[int],
    n: int,
    *,
    explore: float,
    rng: np.random.Generator,
    n_explore: int | None = None,
) -> Screened:
    """The ``n`` candidates to train: the highest ``acquisition`` (ties: pool order) but for
    ``round(explore * n)`` drawn uniformly from ``explorable`` (pool indices the model is not
    trusted to judge, the bred children); where fewer are explorable, the next highest take
    their places (``n_explore``, when given, replaces ``round(explore * n)``). Fewer in all
    only when the pool is smaller than ``n``."""
    n = min(n, len(acquisition))
    n_explore = min(round(explore * n) if n_explore is None else n_explore, n, len(explorable))
    order = [int(i) for i in np.argsort(-np.asarray(acquisition, dtype=np.float64), kind="stable")]
    chosen = order[: n - n_explore]
    taken = set(chosen)
    left = [i for i in explorable if i not in taken]
    explored: list[int] = []
    if left and n_explore:
        picks = rng.choice(len(left), size=min(n_explore, len(left)), replace=False)
        explored = [left[int(p)] for p in picks]
    # Fewer explorable candidates than the share: the model fills the rest, after them.
    topped = [i for i in order if i not in taken and i not in explored][
        : n - len(chosen) - len(explored)
    ]
    by_model = (True,) * len(chosen) + (False,) * len(explored) + (True,) * len(topped)
    return Screened(tuple(chosen + explored + topped), by_model)
