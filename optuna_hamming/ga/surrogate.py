"""The model that ranks candidate children: the numpy half of the accelerated mode (layer 1).

:class:`SurrogateScreening` holds what the accelerated mode screens with (how many candidates
of each kind, the model, the acquisition, generation 0's design) and
:func:`screened_children` applies it to arrays: the genomes evaluated so far and their
fitness in, the children to train out. The Optuna side (which trials count as evaluated,
where the plan is stored) is the sampler's strategy,
:class:`optuna_hamming.sampler.child_generation.ScreenedGeneration`, which calls this.

:class:`ForestSurrogate` is the default model: scikit-learn's extra trees, imported when the
mode is chosen. Other rankers (a Hamming-kernel GP, an ensemble) plug in through the
:class:`optuna_hamming.ga.screening.Surrogate` protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from optuna_hamming.ga import screening as ga_screening
from optuna_hamming.ga._params import Boolean, Constraint, Integer, Real, checked
from optuna_hamming.ga.breeding import Child, MutationStrategy
from optuna_hamming.ga.genome import GenomeLayout, IntArray
from optuna_hamming.ga.screening import FloatArray, Surrogate

# The model's predictions are ranked after rounding to float32: fits on two machines can
# differ in the last bits of a float64, which then reorders candidates far less often (not
# never: two predictions either side of a float32 boundary still can).
RANK_DTYPE = np.float32


@dataclass(frozen=True)
class ForestSurrogate:
    """Extra trees (scikit-learn) over gene features: the mean and the spread of the trees'
    predictions. Cheap at these sizes (about 10 ms for 600 genomes) and happy with
    categorical one-hot columns and ordered grid positions alike."""

    n_trees: int = 12
    min_samples_leaf: int = 1
    # A share of the gene columns per split, as random forests do: 0.6 measured better
    # than 1.0 at 30-300 evaluations on 30 seeds of the 12 tables (docs/results.md).
    max_features: float = 0.6

    def __post_init__(self) -> None:
        checked(
            {
                "n_trees": Integer(2, None, "Pass e.g. n_trees=12."),
                "min_samples_leaf": Integer(1, None, "Pass e.g. min_samples_leaf=1."),
                "max_features": Real(0.01, 1.0, "Pass a fraction in [0.01, 1], e.g. 1.0."),
            },
            {
                "n_trees": self.n_trees,
                "min_samples_leaf": self.min_samples_leaf,
                "max_features": self.max_features,
            },
        )
        # scikit-learn takes over a second to import: pay it when the mode is chosen, not
        # inside the first generation close (where a worker would stall on it).
        import sklearn.tree  # noqa: F401

    def fit_predict(
        self, features: FloatArray, values: FloatArray, candidates: FloatArray, *, seed: int
    ) -> tuple[FloatArray, FloatArray]:
        from sklearn import config_context  # type: ignore[attr-defined]
        from sklearn.tree import ExtraTreeRegressor

        # What ExtraTreesRegressor(n_estimators=n_trees, random_state=seed) fits, tree by
        # tree: the same seeds in the same order and the same float32 inputs, so the same
        # trees, without the forest's per-tree cloning and input checks (which cost more
        # than the trees at these sizes). The parameters were checked once, in __post_init__:
        # scikit-learn's per-fit validation of them was a third of the fit time.
        states = np.random.RandomState(seed)
        rows = np.ascontiguousarray(features, dtype=np.float32)
        targets = np.ascontiguousarray(values, dtype=np.float64).reshape(-1, 1)
        queries = np.ascontiguousarray(candidates, dtype=np.float32)
        # One RandomState reseeded per tree is the RandomState(seed) that an int seed would
        # make, without building a new one (70 us) per tree.
        tree_state = np.random.RandomState()
        per_tree = []
        with config_context(skip_parameter_validation=True):
            for _ in range(self.n_trees):
                tree_state.seed(states.randint(np.iinfo(np.int32).max))
                tree = ExtraTreeRegressor(  # type: ignore[no-untyped-call]
                    min_samples_leaf=self.min_samples_leaf,
                    max_features=self.max_features,
                    random_state=tree_state,
                )
                tree.fit(rows, targets, check_input=False)
                per_tree.append(tree.tree_.predict(queries).reshape(len(queries)))
        stacked = np.stack(per_tree)
        return stacked.mean(axis=0), stacked.std(axis=0)


def upper_bound(mean: FloatArray, spread: FloatArray, optimism: float) -> FloatArray:
    """The optimistic prediction ``mean + optimism * spread`` (a UCB with a small weight: the
    trees' spread is wide far from the data, so a large one explores like random search)."""
    return mean + optimism * spread


ACQUISITIONS: dict[str, Callable[[FloatArray, FloatArray, float, float], FloatArray]] = {
    "ei": lambda mean, spread, best, optimism: ga_screening.expected_improvement(
        mean, spread, best
    ),
    "mean": lambda mean, spread, best, optimism: mean,
    "ucb": lambda mean, spread, best, optimism: upper_bound(mean, spread, optimism),
}

INITIAL_DESIGNS = ("random", "latin")

_CONSTRAINTS: dict[str, Constraint] = {
    "initial": Integer(2, None, "Pass e.g. initial=10 random genomes in generation 0."),
    "children": Integer(1, None, "Pass e.g. children=4 trained children per generation."),
    "bred": Integer(0, None, "Pass e.g. bred=64 candidates from the GA's operators."),
    "local": Integer(0, None, "Pass e.g. local=3 parents whose neighbours are candidates."),
    "random": Integer(0, None, "Pass e.g. random=32 random candidates."),
    "perturbed": Integer(0, None, "Pass e.g. perturbed=128 nearby genomes of the best."),
    "pairs": Integer(0, None, "Pass e.g. pairs=1 parent whose two-gene neighbours are candidates."),
    "density": Integer(0, None, "Pass e.g. density=64 draws from the best genomes' density."),
    "explore": Real(0.0, 1.0, "Pass a share in [0, 1], e.g. explore=0.2."),
    "optimism": Real(0.0, 10.0, "Pass a weight of the trees' spread, e.g. optimism=0.2."),
    "explore_carried": Boolean("Pass explore_carried=True or False."),
}


@dataclass(frozen=True)
class SurrogateScreening:
    """Screen Algorithm 1's children with a model; train ``children`` per generation.

    Args:
        initial: Random genomes in generation 0 (the paper: ``population_size``).
        children: Children trained per generation; the population is the carried parents
            plus these.
        bred: Candidates bred with the GA's selection, crossover and mutation strategy.
        local: The best parents whose one-gene neighbours are all candidates.
        random: Random genomes among the candidates.
        perturbed: Nearby genomes of the ``local`` best parents among the candidates (a few
            genes moved by one or two grid steps, or to another category).
        pairs: The best parents whose two-gene neighbours (every pair of genes moved to
            any other values) are all candidates: moves that need two genes at once.
        density: Candidates drawn gene by gene from where the best tenth of the archive
            (at most 25 genomes, TPE's split) is: TPE's density of good points
            (:func:`optuna_hamming.ga.screening.density_sample`), far-off mixes of the good
            values that no parent's neighbourhood holds.
        explore: Share of the trained children drawn at random among the bred candidates
            rather than chosen by the model.
        model: The surrogate; anything with ``fit_predict`` (see
            :class:`optuna_hamming.ga.screening.Surrogate`).
        acquisition: How candidates are ranked: ``"ucb"`` (the default), the predicted
            fitness plus ``optimism`` times the trees' spread; ``"mean"``, the predicted
            fitness alone; or ``"ei"``, expected improvement over the best genome with the
            trees' spread (it measured worst of the three at 30-300 evaluations).
        optimism: The spread's weight in ``"ucb"``.
        initial_design: How generation 0's ``initial`` genomes are drawn: ``"random"`` (the
            paper's way, the default) or ``"latin"``, a Latin hypercube that puts one genome
            in each of ``initial`` equal slices of every gene's choices
            (:mod:`optuna_hamming.ga.design`). Enqueued trials keep their values.
        explore_carried: Keep the ``explore`` share over the generations rather than round it
            per generation (:func:`optuna_hamming.ga.screening.explore_count`): with
            ``children=2`` and ``explore=0.2`` two children in five generations are explored
            instead of none.

    The defaults are the configuration measured in ``docs/results.md`` ("The accelerated
    mode").
    """

    initial: int = 10
    children: int = 4
    bred: int = 64
    local: int = 3
    random: int = 32
    perturbed: int = 128
    pairs: int = 0
    density: int = 0
    explore: float = 0.2
    model: Surrogate = field(default_factory=ForestSurrogate)
    acquisition: str = "ucb"
    optimism: float = 0.2
    explore_carried: bool = False
    initial_design: str = "random"

    @classmethod
    def lean(cls, **overrides: Any) -> SurrogateScreening:
        """Two children a generation with the explored share carried, four trees and half the
        bred and nearby candidates. On 60 seeds it was not chosen on, ahead of the defaults at
        30 and 100 evaluations and for the top 1 %, one task behind at 50, level at 300, at
        about TPE's time inside the sampler in memory (``docs/results.md``, "On seeds the
        defaults were not chosen on")."""
        settings: dict[str, Any] = {
            "children": 2,
            "explore_carried": True,
            "model": ForestSurrogate(n_trees=4),
            "perturbed": 64,
            "bred": 32,
        }
        settings.update(overrides)
        return cls(**settings)

    def __post_init__(self) -> None:
        checked(_CONSTRAINTS, {name: getattr(self, name) for name in _CONSTRAINTS})
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(
                f"`acquisition` must be one of {sorted(ACQUISITIONS)}, got "
                f"{self.acquisition!r}: pass acquisition='ucb'."
            )
        if self.initial_design not in INITIAL_DESIGNS:
            raise ValueError(
                f"`initial_design` must be one of {list(INITIAL_DESIGNS)}, got "
                f"{self.initial_design!r}: pass initial_design='random' or 'latin'."
            )
        if not callable(getattr(self.model, "fit_predict", None)):
            raise TypeError(
                f"`model` must have a fit_predict method, got {self.model!r}: pass e.g. "
                "ForestSurrogate()."
            )


class ScreeningReport(TypedDict):
    """What the screening saw at one generation close (stored in the generation summary)."""

    model: str
    trained_on: int
    candidates: int
    predicted: list[float]
    by_model: list[bool]


@dataclass(frozen=True)
class ScreenedChild:
    child: Child
    # {"by": "model" | "explore" | "reserve", "predicted": the model's mean, "spread": its
    # spread}
    screened: dict[str, Any]


def screened_children(
    screening: SurrogateScreening,
    known: IntArray,
    scores: FloatArray,
    parent_genomes: Sequence[IntArray],
    ranked_parents: Sequence[int],
    layout: GenomeLayout,
    *,
    ordered: Sequence[bool],
    split: int,
    mutation: MutationStrategy,
    sign: float,
    rng: np.random.Generator,
    generation: int = 0,
    reserve: int = 0,
) -> tuple[list[ScreenedChild], ScreeningReport, list[ScreenedChild]] | None:
    """The children to train, what the screening saw and up to ``reserve`` next-best
    candidates (by the acquisition, best first, none of them chosen), or None when no
    candidate is left (every genome near the parents evaluated: the caller falls back to the
    paper's rule). The reserve draws no random number: the children are the same whatever
    its size.

    ``known`` are the distinct evaluated genomes (one per row) and ``scores`` their fitness
    times ``sign`` (larger is better); ``ordered`` says which genes are grids.
    """
    elite = known[:0]
    if screening.density:
        elite = known[np.argsort(-scores, kind="stable")[: ga_screening.elite_count(len(scores))]]
    pool = ga_screening.candidate_pool(
        parent_genomes,
        ranked_parents,
        layout,
        n_bred=screening.bred,
        n_local=screening.local,
        n_random=screening.random,
        n_perturbed=screening.perturbed,
        n_pairs=screening.pairs,
        n_density=screening.density,
        elite=elite,
        ordered=ordered,
        split=split,
        mutation=mutation,
        rng=rng,
        is_evaluated=ga_screening.evaluated_test(known),
    )
    if not pool or not len(scores):
        return None
    candidates = np.array([c.genome for c in pool], dtype=np.int64)
    mean, spread = screening.model.fit_predict(
        ga_screening.gene_features(known, layout, ordered),
        scores,
        ga_screening.gene_features(candidates, layout, ordered),
        seed=int(rng.integers(2**31)),
    )
    mean = np.asarray(mean, dtype=np.float64).astype(RANK_DTYPE).astype(np.float64)
    spread = np.asarray(spread, dtype=np.float64).astype(RANK_DTYPE).astype(np.float64)
    acquisition = ACQUISITIONS[screening.acquisition](
        mean, spread, float(scores.max()), screening.optimism
    )
    explorable = [
        i for i, child in enumerate(pool) if child.origin not in ga_screening.SCREENING_ORIGINS
    ]
    decision = ga_screening.screen(
        acquisition.astype(RANK_DTYPE),
        explorable,
        screening.children,
        explore=screening.explore,
        rng=rng,
        # Counted on the children the pool can give, as screen() counts its own default.
        n_explore=ga_screening.explore_count(
            screening.explore,
            min(screening.children, len(pool)),
            generation,
            carried=screening.explore_carried,
        ),
    )
    chosen = []
    for index, by_model in zip(decision.chosen, decision.by_model, strict=True):
        chosen.append(
            ScreenedChild(
                pool[index],
                {
                    "by": "model" if by_model else "explore",
                    "predicted": sign * float(mean[index]),
                    "spread": float(spread[index]),
                },
            )
        )
    report: ScreeningReport = {
        "model": type(screening.model).__name__,
        "trained_on": len(known),
        "candidates": len(pool),
        "predicted": [c.screened["predicted"] for c in chosen],
        "by_model": [c.screened["by"] == "model" for c in chosen],
    }
    taken = set(decision.chosen)
    order = np.argsort(-acquisition.astype(RANK_DTYPE), kind="stable")
    ranked = [int(i) for i in order if int(i) not in taken][:reserve]
    kept = [
        ScreenedChild(
            pool[i],
            {"by": "reserve", "predicted": sign * float(mean[i]), "spread": float(spread[i])},
        )
        for i in ranked
    ]
    return chosen, report, kept
