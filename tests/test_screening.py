"""The accelerated mode in the sampler: its contracts (reproducibility, resume, workers that
agree on every plan) and what it records (the operators themselves:
test_screening_operators.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from optuna_hamming import (
    ForestSurrogate,
    HammingGASampler,
    SurrogateScreening,
    recommended_sampler,
)
from optuna_hamming.ga import HammingGateSelection
from optuna_hamming.names import ACCELERATED, RECOMMENDED_SCREENING
from optuna_hamming.sampler.attributes import (
    CHILD_KEY,
    GENE_ATTR,
    GENERATION_ATTR,
    ORIGIN_ATTR,
    ORIGINS,
    SCREENED_ATTR,
)
from optuna_hamming.sampler.child_generation import ScreenedGeneration
from optuna_hamming.sampler.configurations import SCREENINGS
from tests.helpers import (
    history,
    make_storage,
    paper_objective,
    run_paper_study,
    storage_spec,
)

ROOT = Path(__file__).resolve().parents[1]


# -- layer 2: the sampler in the accelerated mode ---------------------------------------------


def _screened_study(n_trials: int, seed: int = 0, **overrides: Any) -> optuna.Study:
    study = optuna.create_study(
        direction="maximize", sampler=recommended_sampler(seed=seed, **overrides)
    )
    study.optimize(paper_objective, n_trials=n_trials)
    return study


def test_carried_exploration_trains_explored_children_with_two_children_a_generation() -> None:
    def explored(carried: bool) -> int:
        screening = SurrogateScreening(initial=6, children=2, explore_carried=carried)
        study = _screened_study(40, population_size=8, screening=screening)
        return sum(
            1 for t in study.trials if t.user_attrs.get(SCREENED_ATTR, {}).get("by") == "explore"
        )

    # 17 generations of 2 children: none explored when rounded, 0.4 a generation carried.
    assert explored(False) == 0
    assert 4 <= explored(True) <= 7


def test_screening_trains_initial_then_children_per_generation_and_records_predictions() -> None:
    screening = SurrogateScreening(initial=6, children=4)
    study = _screened_study(30, population_size=8, screening=screening)
    summaries = HammingGASampler.generations(study)
    assert len(summaries[0]["members"]) == 6
    by_number = {t.number: t for t in study.trials}
    for g, summary in summaries.items():
        report = summary["screening"]
        assert report["model"] == "ForestSurrogate" and report["trained_on"] >= 6
        trained = [
            t for t in study.trials if t.system_attrs[CHILD_KEY][0] == g + 1
        ]  # children of the plan this close wrote, in child order
        trained.sort(key=lambda t: t.system_attrs[CHILD_KEY][1])
        for index, trial in enumerate(trained[: len(report["predicted"])]):
            screened = trial.user_attrs[SCREENED_ATTR]
            assert screened["predicted"] == report["predicted"][index]
            assert (screened["by"] == "model") == report["by_model"][index]
        if g + 1 in summaries:
            assert len(summaries[g + 1]["members"]) - len(
                summary["retained"] + summary["selected"]
            ) == len(report["predicted"])
    assert all(t.user_attrs[ORIGIN_ATTR] in ORIGINS for t in study.trials)
    assert sum(1 for t in study.trials if SCREENED_ATTR in t.user_attrs) == 30 - 6
    # skip_duplicates and the pool's filter: no genome is trained twice.
    genes = [t.user_attrs[GENE_ATTR] for t in by_number.values()]
    assert len(genes) == len(set(genes))


def test_screening_beats_the_paper_on_the_synthetic_head_at_a_small_budget() -> None:
    # Not a benchmark (docs/results.md has those): a sanity check that the model steers.
    screened = [_screened_study(40, seed=s).best_value for s in range(3)]
    paper = [run_paper_study(None, 40, seed=s, population_size=30).best_value for s in range(3)]
    assert np.mean(screened) > np.mean(paper)


def test_seeded_screened_study_is_reproducible_bit_for_bit() -> None:
    a, b, c = _screened_study(60, seed=5), _screened_study(60, seed=5), _screened_study(60, seed=6)
    assert history(a) == history(b)
    assert a.user_attrs == b.user_attrs
    assert history(a) != history(c)


def test_stopped_screened_study_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    def run(url: str, n: int) -> None:
        study = optuna.create_study(
            storage=url,
            study_name="s",
            direction="maximize",
            sampler=recommended_sampler(seed=4),
            load_if_exists=True,
        )
        study.optimize(paper_objective, n_trials=n)

    run(f"sqlite:///{tmp_path}/whole.db", 61)
    for n in (13, 1, 30, 17):  # stop mid-generation, with fresh sampler objects each time
        run(f"sqlite:///{tmp_path}/parts.db", n)
    whole, parts = (
        optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/{name}.db")
        for name in ("whole", "parts")
    )
    assert history(parts) == history(whole)
    assert parts.user_attrs == whole.user_attrs


def _plans_agree(study: optuna.Study) -> int:
    """Every child of a screened plan was trained as the plan its summary records, and every
    trial after generation 0 is a screened candidate (a planned child, or one of the plan's
    reserve for the workers beyond its children); returns how many children were checked."""
    summaries = HammingGASampler.generations(study)
    checked = 0
    for trial in study.get_trials(deepcopy=False):
        generation, index = trial.system_attrs[CHILD_KEY]
        if generation > 0:
            assert trial.user_attrs[SCREENED_ATTR]["by"] in ("model", "explore", "reserve")
        report = summaries.get(generation - 1, {}).get("screening")
        if report is None or index >= len(report["predicted"]):
            continue  # generation 0, or a child of the reserve
        assert trial.user_attrs[SCREENED_ATTR]["predicted"] == report["predicted"][index]
        checked += 1
    return checked


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_threads_agree_on_every_screened_plan(kind: str, tmp_path: Path) -> None:
    study = optuna.create_study(
        storage=make_storage(storage_spec(kind, tmp_path)),
        direction="maximize",
        sampler=recommended_sampler(seed=0, population_size=8),
    )
    study.optimize(paper_objective, n_trials=60, n_jobs=4)
    assert len(HammingGASampler.generations(study)) >= 4
    # Planned children whose genome a worker of the previous generation trained from its
    # reserve are passed over (no genome twice): fewer than the 2 a generation are checked.
    assert _plans_agree(study) >= 8


def test_three_processes_agree_on_every_screened_plan(tmp_path: Path) -> None:
    spec = storage_spec("sqlite", tmp_path)
    name = f"screened-{uuid.uuid4().hex}"
    optuna.create_study(study_name=name, storage=spec, direction="maximize")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.worker", spec, name, "20", "0.01", "8", ACCELERATED],
            cwd=ROOT,
        )
        for _ in range(3)
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0]
    study = optuna.load_study(study_name=name, storage=spec)
    assert len(HammingGASampler.generations(study)) >= 4
    # Planned children whose genome a worker of the previous generation trained from its
    # reserve are passed over (no genome twice): fewer than the 2 a generation are checked.
    assert _plans_agree(study) >= 8


def test_conditional_and_continuous_spaces_and_enqueued_trials() -> None:
    def objective(trial: optuna.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        if kind == "a":
            return float(trial.suggest_int("depth", 0, 7))
        return trial.suggest_float("rate", 0.0, 10.0)

    study = optuna.create_study(direction="maximize", sampler=recommended_sampler(seed=1))
    study.enqueue_trial({"kind": "b", "rate": 9.5})
    study.optimize(objective, n_trials=50)
    assert study.trials[0].user_attrs[ORIGIN_ATTR] == "enqueued"
    summaries = HammingGASampler.generations(study)
    assert len(summaries) >= 4 and all("screening" in s for s in summaries.values())
    later = [t for t in study.trials if t.user_attrs[GENERATION_ATTR] > 0]
    assert any("-" in t.user_attrs[GENE_ATTR] for t in later)
    assert study.best_value >= 9.5
    # Candidates that differ from an evaluated genome only in genes it lacks are not
    # trained (before that fix, 36 of 60 parameter sets here were distinct). Repeats left:
    # generation 0's random genomes, and children lacking a gene the objective then asks
    # for, which gets a random value (as in the paper's mode): 3 of 50 with this seed and
    # SurrogateScreening(), 1 with recommended_sampler()'s lean screening and Latin design.
    trained = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(trained)) >= len(trained) - 3


def test_lean_screening_is_the_measured_configuration_and_takes_overrides() -> None:
    assert SurrogateScreening.lean() == SurrogateScreening(
        children=2, explore_carried=True, model=ForestSurrogate(n_trees=4), perturbed=64,
        bred=32,
    )  # fmt: skip
    assert SurrogateScreening.lean(pairs=1, children=3) == SurrogateScreening(
        children=3, explore_carried=True, model=ForestSurrogate(n_trees=4), perturbed=64,
        bred=32, pairs=1,
    )  # fmt: skip
    with pytest.raises(ValueError, match="children=4"):
        SurrogateScreening.lean(children=0)
    # Two children a generation after the 10 initial genomes, every one of them screened,
    # the carried share (0.4 a generation) exploring two of the first five generations' ten.
    study = _screened_study(20, screening=SurrogateScreening.lean())
    reports = [s["screening"] for s in HammingGASampler.generations(study).values()]
    assert [len(r["predicted"]) for r in reports][:5] == [2, 2, 2, 2, 2]
    assert [r["model"] for r in reports][:5] == ["ForestSurrogate"] * 5
    screened = [t.user_attrs[SCREENED_ATTR] for t in study.trials[10:]]
    assert [s["by"] for s in screened].count("explore") == 2


def test_density_draws_are_trained_and_named_when_asked() -> None:
    # Every other candidate left out: the model can only choose among the density's draws
    # (and, for the explored share, the bred ones).
    screening = SurrogateScreening(density=32, local=0, perturbed=0, random=0, bred=4)
    study = _screened_study(40, screening=screening)
    origins = [t.user_attrs[ORIGIN_ATTR] for t in study.trials[10:]]
    assert origins.count("density") >= 15 and set(origins) <= set(ORIGINS)
    by_model = [
        t.user_attrs[SCREENED_ATTR]["by"] == "model"
        for t in study.trials[10:]
        if t.user_attrs[ORIGIN_ATTR] == "density"
    ]
    assert all(by_model)  # drawn, not bred: never the explored share


def test_recommended_sampler_takes_overrides() -> None:
    sampler = recommended_sampler(seed=3, population_size=12, skip_duplicates=False)
    assert sampler.population_size == 12 and not sampler.settings.skip_duplicates
    assert sampler.settings.child_generation == ScreenedGeneration(
        SCREENINGS[RECOMMENDED_SCREENING]()
    )
    params = sampler.settings.as_params()
    assert params["screening"] == "SurrogateScreening"
    assert params["screening.model"] == "ForestSurrogate"
    assert params["screening.model.n_trees"] == 4
    # What README recommends: the lean screening, the archive on.
    default = recommended_sampler(seed=3).settings
    assert default.child_generation == ScreenedGeneration(SCREENINGS[RECOMMENDED_SCREENING]())
    assert default.skip_duplicates


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: SurrogateScreening(children=0), ValueError, "children=4"),
        (lambda: SurrogateScreening(explore=1.5), ValueError, "explore=0.2"),
        (lambda: SurrogateScreening(acquisition="pi"), ValueError, "acquisition='ucb'"),
        (lambda: SurrogateScreening(optimism=-1.0), ValueError, "optimism=0.2"),
        (lambda: SurrogateScreening(explore_carried=1), TypeError, "explore_carried=True"),
        (lambda: SurrogateScreening(pairs=-1), ValueError, "pairs=1"),
        (lambda: SurrogateScreening(density=-1), ValueError, "density=64"),
        (lambda: SurrogateScreening(model=object()), TypeError, "ForestSurrogate()"),
        (lambda: ForestSurrogate(n_trees=1), ValueError, "n_trees=12"),
        (lambda: HammingGASampler(screening=SurrogateScreening), TypeError, "SurrogateScreening"),
        (lambda: HammingGASampler(screening=HammingGateSelection()), TypeError, "or None"),
    ],
)
def test_bad_screening_arguments_name_the_fix(make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()
