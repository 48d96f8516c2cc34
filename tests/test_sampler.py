"""HammingGASampler inside Optuna: attributes, every distribution, the paper's operators end
to end, reproducibility and resumption (in-memory and sqlite storages)."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.samplers import PartialFixedSampler
from optuna.trial import TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.sampler import fitness_of
from optuna_hamming.sampler.attributes import GENE_ATTR, GENERATION_ATTR, ORIGIN_ATTR, PARENTS_ATTR
from optuna_hamming.sampler.search_space import GenomeSpace
from tests.helpers import check_ga_history, history, paper_objective, run_paper_study


def test_readme_snippet_gives_trials_with_genetic_history() -> None:
    study = optuna.create_study(direction="maximize", sampler=HammingGASampler(seed=0))
    study.optimize(paper_objective, n_trials=90)
    first = study.trials[0].user_attrs
    assert first[GENERATION_ATTR] == 0 and first[ORIGIN_ATTR] == "initial"
    assert first[PARENTS_ATTR] == [] and len(first[GENE_ATTR]) == 10
    later = study.trials[-1].user_attrs
    assert later[GENERATION_ATTR] >= 1
    assert later[ORIGIN_ATTR] in {"crossover", "crossover+mutation", "forced_mutation"}
    assert len(later[PARENTS_ATTR]) == 2
    assert check_ga_history(study, 30) >= 2


def test_gene_is_the_params_in_suggestion_order_not_alphabetical() -> None:
    def objective(trial: optuna.Trial) -> float:
        zeta = trial.suggest_categorical("zeta", ["p", "q", "r", "s"])
        alpha = trial.suggest_int("alpha", 0, 7)
        return alpha + (zeta == "s")

    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=6, seed=1)
    )
    study.optimize(objective, n_trials=40)
    for trial in study.trials:
        zeta = ["p", "q", "r", "s"].index(trial.params["zeta"])
        assert trial.user_attrs[GENE_ATTR] == format(zeta, "02b") + format(
            trial.params["alpha"], "03b"
        )


def _split_params(trial: optuna.trial.FrozenTrial, names: list[str]) -> list[Any]:
    return [trial.params.get(n) for n in names]


def test_children_are_exactly_crossovers_and_single_mutations_of_their_parents() -> None:
    study = run_paper_study(None, 200, population_size=10, seed=5)
    names = ["neurons", "layers", "activation", "optimizer"]
    by_number = {t.number: t for t in study.trials}
    seen = {"crossover": 0, "crossover+mutation": 0, "forced_mutation": 0}
    for trial in study.trials:
        origin = trial.user_attrs[ORIGIN_ATTR]
        if origin == "initial":
            continue
        male, female = (by_number[n] for n in trial.user_attrs[PARENTS_ATTR])
        cross = _split_params(male, names)[:2] + _split_params(female, names)[2:]
        mine = _split_params(trial, names)
        differing = sum(a != b for a, b in zip(mine, cross, strict=True))
        if origin == "crossover":
            assert mine == cross
        elif origin == "crossover+mutation":
            assert differing == 1
        else:
            assert male.user_attrs[GENE_ATTR] == female.user_attrs[GENE_ATTR]
            assert sum(a != b for a, b in zip(mine, _split_params(male, names), strict=True)) == 1
        seen[origin] += 1
    assert all(count > 0 for count in seen.values()), seen


def test_generation_sizes_follow_the_selection() -> None:
    study = run_paper_study(None, 300, population_size=12, seed=2)
    summaries = HammingGASampler.generations(study)
    for g, summary in summaries.items():
        if g + 1 not in summaries:
            break
        parents = len(summary["retained"]) + len(summary["selected"])
        children = [t for t in study.trials if t.user_attrs[GENERATION_ATTR] == g + 1]
        assert len(children) == 12 - parents == summary["next_children"]
        assert summary["significant"] == (summary["hamming_max"] - summary["hamming_min"]) / 2


def test_seeded_study_is_reproducible_bit_for_bit() -> None:
    a = run_paper_study(None, 150, seed=11, population_size=10)
    b = run_paper_study(None, 150, seed=11, population_size=10)
    c = run_paper_study(None, 150, seed=12, population_size=10)
    assert history(a) == history(b)
    assert a.user_attrs == b.user_attrs
    assert history(a) != history(c)


def test_stopped_study_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    whole = run_paper_study(f"sqlite:///{tmp_path}/whole.db", 130, seed=4, study_name="s")
    url = f"sqlite:///{tmp_path}/parts.db"
    for n in (37, 1, 50, 42):  # stop mid-generation, with fresh sampler objects each time
        run_paper_study(url, n, seed=4, study_name="s")
    parts = optuna.load_study(study_name="s", storage=url)
    assert history(parts) == history(whole)
    assert parts.user_attrs == whole.user_attrs


def test_every_distribution_kind_round_trips_through_the_genome() -> None:
    def objective(trial: optuna.Trial) -> float:
        c = trial.suggest_categorical("c", [None, True, "x", 2.5])
        i = trial.suggest_int("i", -3, 9, step=3)
        il = trial.suggest_int("il", 1, 1000, log=True)
        fs = trial.suggest_float("fs", 0.0, 1.0, step=0.25)
        fl = trial.suggest_float("fl", 1e-5, 1e-1, log=True)
        f = trial.suggest_float("f", -2.0, 2.0)
        return float(i + math.log(il) + fs - math.log10(fl) + f + (c is True))

    sampler = HammingGASampler(population_size=8, seed=0, float_bits=6)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=120)
    space = GenomeSpace.from_trials(study.trials, float_bits=6)
    assert space.names == ("c", "i", "il", "fs", "fl", "f")
    for trial in study.trials:
        genome = space.encode(trial.params)
        assert (genome >= 0).all()
        # Every value, continuous floats included, is a grid point of its gene.
        assert space.decode(genome) == trial.params
        assert trial.user_attrs[GENE_ATTR] == space.bitstring(genome)
    check_ga_history(study, 8)


def test_conditional_parameters_are_absent_genes() -> None:
    def objective(trial: optuna.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        if kind == "a":
            return float(trial.suggest_int("depth", 0, 7))
        return trial.suggest_float("rate", 0.0, 10.0)

    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=8, seed=3)
    )
    study.optimize(objective, n_trials=100)
    genes = [t.user_attrs[GENE_ATTR] for t in study.trials if t.user_attrs[GENERATION_ATTR] > 0]
    assert any("-" in gene for gene in genes)
    assert check_ga_history(study, 8) >= 3
    assert study.best_value >= 7.0


def test_dynamic_ranges_stay_valid() -> None:
    def objective(trial: optuna.Trial) -> float:
        high = 3 + trial.number // 15
        return float(trial.suggest_int("n", 0, high) + trial.suggest_int("m", 0, 3))

    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=6, seed=0)
    )
    study.optimize(objective, n_trials=90)
    assert all(0 <= t.params["n"] <= 3 + t.number // 15 for t in study.trials)
    check_ga_history(study, 6)


def test_partially_fixed_parameters() -> None:
    sampler = PartialFixedSampler({"layers": 2}, HammingGASampler(population_size=8, seed=0))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(paper_objective, n_trials=80)
    assert {t.params["layers"] for t in study.trials} == {2}
    assert check_ga_history(study, 8) >= 3


def test_enqueued_trials_join_the_population() -> None:
    sampler = HammingGASampler(population_size=8, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    best = {"neurons": 1024, "layers": 2, "activation": "sigmoid", "optimizer": "adamax"}
    study.enqueue_trial(best)
    study.optimize(paper_objective, n_trials=20)
    study.enqueue_trial({"neurons": 32})  # partial: the rest comes from the GA
    study.optimize(paper_objective, n_trials=40)
    first = study.trials[0]
    assert first.params == best and first.user_attrs[ORIGIN_ATTR] == "enqueued"
    assert first.user_attrs[GENE_ATTR] == "1100111101"
    summaries = HammingGASampler.generations(study)
    assert 0 in summaries[0]["members"] and 0 in summaries[0]["retained"]
    partial = study.trials[20]
    assert partial.params["neurons"] == 32 and partial.user_attrs[ORIGIN_ATTR] == "enqueued"
    g = partial.user_attrs[GENERATION_ATTR]
    assert g >= 1 and 20 in summaries[g]["members"]
    check_ga_history(study, 8)


def test_failed_and_nan_trials_are_not_members() -> None:
    def objective(trial: optuna.Trial) -> float:
        params = {
            "neurons": trial.suggest_categorical("neurons", [32, 64, 128, 256]),
            "layers": trial.suggest_int("layers", 1, 4),
        }
        if params["neurons"] == 64:
            return float("nan")
        if params["neurons"] == 128:
            raise RuntimeError("out of memory")
        return params["neurons"] / params["layers"]

    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=6, seed=0)
    )
    study.optimize(objective, n_trials=100, catch=(RuntimeError,))
    failed = {t.number for t in study.trials if t.state == TrialState.FAIL}
    assert failed
    summaries = HammingGASampler.generations(study)
    assert len(summaries) >= 4
    for summary in summaries.values():
        assert not failed & set(summary["members"])
    check_ga_history(study, 6)


def test_pruned_trials_are_members_with_their_last_value() -> None:
    def objective(trial: optuna.Trial) -> float:
        value = paper_objective(trial)
        trial.report(value / 2, 0)
        trial.report(value / 3, 1)
        if trial.params["layers"] > 2:
            raise optuna.TrialPruned()
        return value

    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=8, seed=0)
    )
    study.optimize(objective, n_trials=60)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned
    members = {n for s in HammingGASampler.generations(study).values() for n in s["members"]}
    assert members & {t.number for t in pruned}
    for t in pruned:
        assert fitness_of(t) == t.intermediate_values[1]
    check_ga_history(study, 8)


def test_minimize_retains_the_lowest_values() -> None:
    sampler = HammingGASampler(population_size=10, seed=0)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(paper_objective, n_trials=80)
    for summary in HammingGASampler.generations(study).values():
        values = sorted(summary["fitness"])
        retained = [summary["fitness"][summary["members"].index(n)] for n in summary["retained"]]
        assert sorted(retained) == values[: len(retained)]
    check_ga_history(study, 10)


def test_multi_objective_study_gets_a_clear_error_and_no_running_trial() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=HammingGASampler())
    with pytest.raises(ValueError, match="NSGAIISampler"):
        study.optimize(lambda t: (1.0, 2.0), n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.FAIL]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"population_size": 1}, ValueError, "population_size.*>= 2"),
        ({"population_size": 2.5}, TypeError, "population_size.*int"),
        ({"retain": 1.5}, ValueError, r"retain.*\[0.0, 1.0\].*retain=0.4"),
        ({"select": -0.1}, ValueError, "select=0.5"),
        ({"mutate": float("nan")}, ValueError, "mutate"),
        ({"mutate": "0.2"}, TypeError, "mutate.*number"),
        ({"float_bits": 0}, ValueError, "float_bits"),
        ({"crossover_split": -1}, ValueError, "crossover_split"),
        ({"max_redraws": 0}, ValueError, "max_redraws"),
        ({"skip_duplicates": "yes"}, TypeError, "skip_duplicates"),
        ({"seed": -3}, ValueError, "seed"),
    ],
)
def test_bad_arguments_name_the_fix(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        HammingGASampler(**kwargs)


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        HammingGASampler(30)  # type: ignore[misc]


def test_skip_duplicates_trains_every_child_genome_once() -> None:
    study = run_paper_study(None, 250, population_size=10, seed=0, skip_duplicates=True)
    seen: set[str] = set()
    for trial in study.trials:
        gene = trial.user_attrs[GENE_ATTR]
        if trial.user_attrs[GENERATION_ATTR] > 0:
            assert gene not in seen, trial.number
        seen.add(gene)
    summaries = HammingGASampler.generations(study)
    assert sum(s["next_archived"] for s in summaries.values()) > 0
    check_ga_history(study, 10)


def test_skip_duplicates_survives_an_exhausted_space() -> None:
    def objective(trial: optuna.Trial) -> float:
        return float(trial.suggest_int("a", 0, 1) + trial.suggest_int("b", 0, 2))

    study = optuna.create_study(
        direction="maximize",
        sampler=HammingGASampler(population_size=4, seed=0, skip_duplicates=True),
    )
    study.optimize(objective, n_trials=40)
    assert len({t.user_attrs[GENE_ATTR] for t in study.trials}) == 6
    assert len(study.trials) == 40


def test_archive_keeps_the_best_fitness_per_genome() -> None:
    rng = np.random.default_rng(0)

    def noisy(trial: optuna.Trial) -> float:
        return paper_objective(trial) + float(rng.normal(0, 0.05))

    sampler = HammingGASampler(population_size=10, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(noisy, n_trials=120)
    expected: dict[str, float] = {}
    for t in study.trials:
        gene = t.user_attrs[GENE_ATTR]
        expected[gene] = max(expected.get(gene, -math.inf), t.value)
    assert sampler.archive(study) == expected
    assert len(expected) < 120  # the paper's GA revisits genomes


def test_sampler_pickles_for_process_pools() -> None:
    import pickle

    sampler = HammingGASampler(population_size=5, seed=1)
    study = optuna.create_study(sampler=sampler, study_name=uuid.uuid4().hex)
    study.optimize(paper_objective, n_trials=7)
    clone = pickle.loads(pickle.dumps(sampler))
    assert clone.population_size == 5
