"""HammingGASampler's settings: one constraint table, strategies, and the old keywords."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import textwrap
import warnings
from collections.abc import Sequence

import numpy as np
import optuna
import pytest

from optuna_hamming import HammingGASampler, SurrogateScreening, ga
from optuna_hamming.ga.genome import IntArray
from optuna_hamming.paper import synthetic_objective
from optuna_hamming.sampler import PaperGeneration
from optuna_hamming.sampler.attributes import GENE_ATTR, ORIGIN_ATTR
from optuna_hamming.sampler.settings import PARAMETER_CONSTRAINTS


def test_the_constraint_table_is_the_signature() -> None:
    signature = inspect.signature(HammingGASampler.__init__)
    assert list(PARAMETER_CONSTRAINTS) == [p for p in signature.parameters if p != "self"]


def test_the_rate_defaults_are_the_default_strategies() -> None:
    defaults = {
        p.name: p.default for p in inspect.signature(HammingGASampler.__init__).parameters.values()
    }
    selection, mutation = ga.HammingGateSelection(), ga.ForcedMutation()
    assert (defaults["retain"], defaults["select"]) == (selection.retain, selection.select)
    assert defaults["mutate"] == mutation.rate
    settings = HammingGASampler().settings
    assert settings.selection == selection and settings.mutation == mutation


@pytest.mark.filterwarnings("ignore:`hamming_gate=False` is deprecated:FutureWarning")
@pytest.mark.filterwarnings("ignore:`forced_mutation=False` is deprecated:FutureWarning")
@pytest.mark.parametrize(
    ("keywords", "strategies"),
    [
        ({"hamming_gate": False}, {"selection": ga.UngatedSelection()}),
        ({"forced_mutation": False}, {"mutation": ga.PlainMutation()}),
        ({"retain": 0.2, "select": 0.9}, {"selection": ga.HammingGateSelection(0.2, 0.9)}),
        ({"mutate": 0.5}, {"mutation": ga.ForcedMutation(0.5)}),
    ],
)
def test_the_old_keywords_are_the_strategies(
    keywords: dict[str, object], strategies: dict[str, object]
) -> None:
    def trials(**options: object) -> list[tuple[dict[str, object], str]]:
        sampler = HammingGASampler(population_size=6, seed=3, **options)  # type: ignore[arg-type]
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(synthetic_objective, n_trials=40)
        return [(t.params, t.user_attrs[ORIGIN_ATTR]) for t in study.trials]

    assert trials(**keywords) == trials(**strategies)


# Studies recorded with the code before the strategies (commit 2401ab6: flags threaded through
# evolution.py): sha256 of [neurons, layers, activation, optimizer, ga.origin, ga.gene] per trial
# of 90 trials on the synthetic objective, population 6, seed 3.
RECORDED_BEFORE_STRATEGIES = [
    ({}, "af9722dcb600053d"),
    ({"hamming_gate": False}, "7f0f664a6d211f6d"),
    ({"forced_mutation": False}, "d3c249f17d15ef59"),
    ({"skip_duplicates": True}, "1b37a5946686188a"),
    ({"retain": 0.2, "select": 0.9, "mutate": 0.5}, "ce3c1be0536f3186"),
]


@pytest.mark.filterwarnings("ignore:`hamming_gate=False` is deprecated:FutureWarning")
@pytest.mark.filterwarnings("ignore:`forced_mutation=False` is deprecated:FutureWarning")
@pytest.mark.parametrize(("options", "recorded"), RECORDED_BEFORE_STRATEGIES)
def test_the_strategies_draw_what_the_flags_drew(options: dict[str, object], recorded: str) -> None:
    sampler = HammingGASampler(population_size=6, seed=3, **options)  # type: ignore[arg-type]
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(synthetic_objective, n_trials=90)
    rows = [
        [*(t.params[k] for k in ("neurons", "layers", "activation", "optimizer")),
         t.user_attrs[ORIGIN_ATTR], t.user_attrs[GENE_ATTR]]
        for t in study.trials
    ]  # fmt: skip
    assert hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16] == recorded


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"retain": 0.3, "selection": ga.HammingGateSelection()}, "`retain=0.3` and `selection=`"),
        ({"hamming_gate": False, "selection": ga.HammingGateSelection()}, "UngatedSelection"),
        ({"mutate": 0.5, "mutation": ga.ForcedMutation()}, "`mutate=0.5` and `mutation=`"),
        ({"forced_mutation": False, "mutation": ga.ForcedMutation()}, "PlainMutation"),
    ],
)
def test_a_strategy_and_a_rate_it_owns_are_refused(options: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        HammingGASampler(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ga.HammingGateSelection(retain=1.5), "`retain` must be in"),
        (lambda: ga.UngatedSelection(select=-0.1), "`select` must be in"),
        (lambda: ga.ForcedMutation(rate=float("nan")), "`rate` must be in"),
        (lambda: HammingGASampler(selection="paper"), "`selection` must be a strategy"),  # type: ignore[arg-type]
        (
            lambda: HammingGASampler(selection=ga.UngatedSelection),
            r"pass UngatedSelection\(\.\.\.\)",
        ),  # type: ignore[arg-type]
    ],
)
def test_strategies_check_their_arguments(build: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        build()  # type: ignore[operator]


class KeepTheBest:
    """A strategy of the user's own: only the single best individual breeds."""

    def __call__(
        self,
        fitness: Sequence[float],
        genomes: IntArray,
        layout: ga.GenomeLayout,
        *,
        maximize: bool,
        rng: np.random.Generator,
        max_parents: int | None = None,
    ) -> ga.Selection:
        order = tuple(int(i) for i in ga.grade(fitness, maximize=maximize))
        return ga.Selection(order, order[:1], (), 0.0, 0, 0)


def test_a_strategy_of_ones_own_plugs_in() -> None:
    sampler = HammingGASampler(population_size=5, seed=0, selection=KeepTheBest())
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(synthetic_objective, n_trials=30)
    generations = HammingGASampler.generations(study)
    assert generations and all(
        len(g["retained"]) == 1 and not g["selected"] for g in generations.values()
    )
    # No repr of its own: recorded by class name, not by a run-dependent address.
    assert all(g["selection"] == "KeepTheBest" for g in generations.values())


def test_settings_log_as_flat_parameters() -> None:
    params = HammingGASampler(mutation=ga.PlainMutation(0.3)).settings.as_params()
    assert params["selection"] == "HammingGateSelection" and params["selection.retain"] == 0.4
    assert params["mutation"] == "PlainMutation" and params["mutation.rate"] == 0.3
    assert params["population_size"] == 30


def test_the_docstring_example_runs() -> None:
    doc = inspect.getdoc(HammingGASampler) or ""
    block = doc.split(".. code-block:: python", 1)[1].split("\nArgs:", 1)[0]
    code = textwrap.dedent(block)
    namespace: dict[str, object] = {}
    exec(compile(code, "HammingGASampler docstring", "exec"), namespace)
    study = namespace["study"]
    assert isinstance(study, optuna.Study) and len(study.trials) == 60


@pytest.mark.parametrize(
    ("switch", "strategy"),
    [("hamming_gate", "UngatedSelection(retain, select)"), ("forced_mutation", "PlainMutation")],
)
def test_the_ablation_switches_are_deprecated_and_name_the_strategy(
    switch: str, strategy: str
) -> None:
    with pytest.warns(
        FutureWarning, match=rf"`{switch}=False` is deprecated.*{re.escape(strategy)}"
    ):
        HammingGASampler(**{switch: False})  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HammingGASampler(**{switch: True})  # type: ignore[arg-type]  # the default: silent


def test_screening_and_a_child_generation_strategy_of_ones_own_are_refused_together() -> None:
    with pytest.raises(ValueError, match="`screening=` and `child_generation=` were both"):
        HammingGASampler(screening=SurrogateScreening(), child_generation=PaperGeneration())
