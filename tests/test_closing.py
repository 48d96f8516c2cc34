"""Which children a generation closes with: the same for every worker, whatever it sees."""

from __future__ import annotations

import datetime as dt
from itertools import permutations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from optuna_hamming import HammingGASampler
from optuna_hamming.sampler._claims import claims_seen, first_index, moved_index
from optuna_hamming.sampler._closing import closing_members
from optuna_hamming.sampler.attributes import CHILD_KEY
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


def test_rivals_for_one_child_move_apart_past_every_taken_child() -> None:
    trials = [
        claimed(3, 1, 0),
        claimed(5, 1, 2),
        claimed(6, 1, 2),
        claimed(7, 0, 2),  # another generation
        claimed(8, 1, 4, FAIL),  # a failed child still holds its index
    ]
    taken, rivals = claims_seen(trials, 1, own_number=9, own_index=2)
    assert taken == {0, 2, 4} and rivals == [5, 6]
    # Trial 9 ranks after both rivals; trial 4 would rank first.
    assert moved_index(taken, 2, 9, rivals) == 7
    assert moved_index(taken, 2, 4, rivals) == 5
    assert claims_seen(trials, 1, own_number=3, own_index=0) == ({2, 4}, [])
