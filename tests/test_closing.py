"""Which children a generation closes with: the same for every worker, whatever it sees."""

from __future__ import annotations

import datetime as dt
from itertools import permutations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming import HammingGASampler, recommended_sampler
from optuna_hamming.sampler._claims import first_index
from optuna_hamming.sampler._closing import closing_members
from optuna_hamming.sampler._plan import Plan
from optuna_hamming.sampler.attributes import (
    CHILD_KEY,
    SCREENED_ATTR,
    claim_key,
    genome_claim_key,
    plan_key,
)
from optuna_hamming.storages.claims import claim as take_claim
from tests.helpers import check_ga_history, paper_objective

T0 = dt.datetime(2026, 1, 1)


def claim(number: int, state: TrialState, finished_at: float | None = None) -> FrozenTrial:
    """A trial holding a child; ``finished_at`` in seconds after T0."""
    complete = state.is_finished()
    return FrozenTrial(
        number=number,
        state=state,
        value=0.5 + number / 100 if state == TrialState.COMPLETE else None,
        values=None,
        datetime_start=T0,
        datetime_complete=T0 + dt.timedelta(seconds=finished_at or number) if complete else None,
        params={"x": 0.1},
        distributions={"x": FloatDistribution(0, 1)},
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=number,
    )


RUNNING, COMPLETE, FAIL = TrialState.RUNNING, TrialState.COMPLETE, TrialState.FAIL


def numbers(members: list[FrozenTrial] | None) -> list[int] | None:
    return None if members is None else [t.number for t in members]


def test_a_running_child_before_the_needed_ones_holds_the_generation_open() -> None:
    # Children 0, 1, 2 and 4 finished, 3 still trains: with 4 needed, the members are
    # 0-3 once 3 finishes, never 0, 1, 2, 4 (which a worker seeing 3 finished would not pick).
    seen_early = [claim(0, COMPLETE), claim(1, COMPLETE), claim(2, COMPLETE), claim(3, RUNNING)]
    seen_early.append(claim(4, COMPLETE))
    assert closing_members(seen_early, 4) is None
    seen_late = [*seen_early[:3], claim(3, COMPLETE, 5.5), seen_early[4]]
    assert numbers(closing_members(seen_late, 4)) == [0, 1, 2, 3]


def test_running_children_after_the_members_do_not_matter() -> None:
    claims = [claim(0, COMPLETE), claim(1, COMPLETE), claim(2, RUNNING), claim(3, RUNNING)]
    assert numbers(closing_members(claims, 2)) == [0, 1]


def test_failed_children_are_replaced_by_the_next_in_order() -> None:
    claims = [claim(0, COMPLETE), claim(1, FAIL), claim(2, COMPLETE), claim(3, COMPLETE)]
    assert numbers(closing_members(claims, 3)) == [0, 2, 3]
    assert closing_members(claims[:3], 3) is None


def test_a_child_overtaken_by_a_whole_generation_is_passed_over() -> None:
    # Child 1's worker died: once `needed` (2) later children finished, the generation
    # closes without it, and a worker that later sees it finished agrees.
    dead = claim(1, RUNNING)
    claims = [claim(0, COMPLETE), dead, claim(2, COMPLETE, 2), claim(3, COMPLETE, 3)]
    assert closing_members(claims[:3], 2) is None
    assert numbers(closing_members(claims, 2)) == [0, 2]
    claims[1] = claim(1, COMPLETE, 9)
    assert numbers(closing_members(claims, 2)) == [0, 2]
    # Finished before the second overtaker: a member in every view where it is seen finished.
    claims[1] = claim(1, COMPLETE, 2.5)
    assert numbers(closing_members(claims, 2)) == [0, 1]


def test_every_order_of_finishing_gives_one_set_of_members() -> None:
    # Four workers see the same five children finish in every possible order; whatever
    # prefix of that order a worker has seen, it closes with the same members or waits.
    for order in permutations(range(5)):
        finished_at = {child: float(t + 1) for t, child in enumerate(order)}
        closed = set()
        for seen in range(6):
            done = set(order[:seen])
            claims = [
                claim(c, COMPLETE, finished_at[c]) if c in done else claim(c, RUNNING)
                for c in range(5)
            ]
            members = numbers(closing_members(claims, 3))
            if members is not None:
                closed.add(tuple(members))
        assert len(closed) == 1, (order, closed)


def test_four_threads_leave_consistent_generations() -> None:
    study = optuna.create_study(
        direction="maximize", sampler=HammingGASampler(population_size=6, seed=3)
    )
    study.optimize(paper_objective, n_trials=120, n_jobs=4)
    assert check_ga_history(study, 6) >= 10


def claimed(number: int, generation: int, index: int, state: TrialState = RUNNING) -> FrozenTrial:
    trial = claim(number, state)
    trial.system_attrs[CHILD_KEY] = [generation, index]
    return trial


def test_a_new_trial_leaves_the_lowest_free_children_to_older_unclaimed_trials() -> None:
    assert first_index(set(), 0) == 0
    assert first_index({0, 1, 3}, 0) == 2
    assert first_index({0, 1, 3}, 1) == 4  # trial ahead takes 2
    assert first_index({0, 1, 3}, 2) == 5  # two ahead take 2 and 4


def six_genes(trial: optuna.Trial) -> float:
    xs = [trial.suggest_categorical(f"x{i}", list(range(6))) for i in range(6)]
    return -sum((x - 2 - i % 3) ** 2 for i, x in enumerate(xs))


def test_a_trial_passes_over_a_child_or_a_genome_another_worker_claimed() -> None:
    """The atomic claims decide: child 0 claimed by another worker's trial, so the next
    trial trains child 1; the genome of the reserve's best claimed too (a worker training it
    elsewhere), so the trial after it passes over index 2 and trains the reserve's second."""
    sampler = recommended_sampler(seed=4)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(six_genes, n_trials=10)  # generation 0 (Latin hypercube of 10)
    assert sampler.close_finished_generations(study) == 1
    stored = study._storage.get_study_system_attrs(study._study_id)[plan_key(1)]
    plan = Plan.from_json(stored, float_bits=8)
    assert plan.space is not None and len(plan.children) == 2 and len(plan.reserve) > 2
    storage, study_id = study._storage, study._study_id
    assert take_claim(storage, study_id, claim_key(1, 0), 900) == 900
    gene = plan.space.bitstring(plan.reserve[0].genome)
    assert take_claim(storage, study_id, genome_claim_key(gene), 901) == 901
    first, second = (study._storage.get_trial(study.ask()._trial_id) for _ in range(2))
    assert first.system_attrs[CHILD_KEY] == [1, 1]
    assert first.user_attrs["ga.gene"] == plan.space.bitstring(plan.children[1].genome)
    assert second.system_attrs[CHILD_KEY] == [1, 3]
    assert second.user_attrs["ga.gene"] == plan.space.bitstring(plan.reserve[1].genome)
    assert second.user_attrs[SCREENED_ATTR]["by"] == "reserve"
    held = storage.get_study_system_attrs(study_id)
    assert held[claim_key(1, 2)] == second.number  # the index it passed over stays taken


def test_recommended_sampler_in_eight_threads_trains_no_genome_twice() -> None:
    study = optuna.create_study(direction="maximize", sampler=recommended_sampler(seed=0))
    study.optimize(six_genes, n_trials=160, n_jobs=8)
    trials = study.get_trials(deepcopy=False, states=(COMPLETE,))
    genomes = [tuple(sorted(t.params.items())) for t in trials]
    assert len(trials) == 160 and len(set(genomes)) == 160
    later = [t for t in trials if t.user_attrs["ga.generation"] > 0]
    assert later and all(SCREENED_ATTR in t.user_attrs for t in later)
