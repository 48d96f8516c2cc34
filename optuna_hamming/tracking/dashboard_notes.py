"""The genetic history where optuna-dashboard shows it: a note per trial, a note per study.

* **Trial note:** the genome in bits and in words, how the GA made it (origin and parents,
  with their scores), what the screening predicted, and a link to the trial's MLflow run.
* **Study note:** the generation table (best, mean retained, Hamming range, admitted through
  the gate, forced mutations): the dashboard shows it above the study's charts.

Notes are the dashboard's own (``optuna_dashboard.save_note``'s storage format: study system
attributes), so any dashboard of the study's storage shows them, with no artifact store.
:class:`DashboardNotes` is an Optuna callback that writes both as trials finish.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from optuna_dashboard._note import get_note_from_system_attrs, save_note_with_version

from optuna_hamming.ga.breeding import (
    ORIGIN_CROSSOVER,
    ORIGIN_CROSSOVER_MUTATION,
    ORIGIN_FORCED_MUTATION,
    ORIGIN_INITIAL,
    ORIGIN_RANDOM_UNEVALUATED,
)
from optuna_hamming.ga.screening import ORIGIN_DENSITY, ORIGIN_MUTATION, ORIGIN_RANDOM
from optuna_hamming.sampler.attributes import (
    GENE_ATTR,
    GENERATION_ATTR,
    ORIGIN_ATTR,
    ORIGIN_ENQUEUED,
    ORIGIN_RETRIED,
    PARENTS_ATTR,
    SCREENED_ATTR,
    GenerationSummary,
    read_generations,
)
from optuna_hamming.tracking._names import RUN_ID_ATTR

# How each ga.origin reads in a note; {parents} is filled with the parents' trial numbers.
ORIGIN_WORDS: Mapping[str, str] = {
    ORIGIN_INITIAL: "a random genome of the first generation",
    ORIGIN_CROSSOVER: "crossover of {parents}: the first half of one parent's bits, the "
    "second half of the other's",
    ORIGIN_CROSSOVER_MUTATION: "crossover of {parents}, then mutation",
    ORIGIN_FORCED_MUTATION: "forced mutation of {parents}: the crossover repeated a genome "
    "already trained, so bits were flipped until it was new",
    ORIGIN_RANDOM_UNEVALUATED: "a random genome not trained before (the gate admitted too few "
    "parents to breed from)",
    ORIGIN_MUTATION: "a one-gene mutation of {parents} (the screening's local search)",
    ORIGIN_RANDOM: "a random challenger of the screening",
    ORIGIN_DENSITY: "a draw from where the best genomes so far are (the screening's density)",
    ORIGIN_ENQUEUED: "enqueued by hand (study.enqueue_trial)",
    ORIGIN_RETRIED: "a retry of a trial whose worker died",
}
# The table's last line; a worker reads it back to tell whether its own table is newer (the
# dashboard shows HTML comments as text, so the count is a sentence).
_GENERATIONS_MARK = re.compile(r"^_(\d+) closed generations?, ", re.MULTILINE)


def trial_note(
    trial: FrozenTrial,
    scores: Mapping[int, float | None] | None = None,
    run_url: str | None = None,
) -> str:
    """The Markdown note of ``trial``; ``scores`` maps trial numbers to values (for the
    parents), ``run_url`` is the trial's run in the MLflow UI."""
    attrs = trial.user_attrs
    lines = [f"### Trial {trial.number}"]
    if GENERATION_ATTR in attrs:
        lines[0] += f", generation {attrs[GENERATION_ATTR]}"
    genome = ", ".join(f"{name} = {value}" for name, value in trial.params.items())
    if GENE_ATTR in attrs:
        lines.append(f"**Genome** `{attrs[GENE_ATTR]}`: {genome}")
    elif genome:
        lines.append(f"**Genome**: {genome}")
    origin = attrs.get(ORIGIN_ATTR)
    if isinstance(origin, str):
        parents = [int(p) for p in attrs.get(PARENTS_ATTR) or [] if isinstance(p, int)]
        words = ORIGIN_WORDS.get(origin, origin).format(parents=_parents(parents, scores or {}))
        lines.append(f"**Made by** {words}.")
    screened = attrs.get(SCREENED_ATTR)
    if isinstance(screened, dict) and "predicted" in screened:
        by = "the model" if screened.get("by") == "model" else "exploration"
        lines.append(
            f"**Screening:** chosen by {by}; predicted {float(screened['predicted']):.3f}"
            f" ± {float(screened.get('spread', 0.0)):.3f}."
        )
    if trial.state == TrialState.COMPLETE and trial.value is not None:
        lines.append(f"**Score** {trial.value:.4f}")
    else:
        lines.append(f"**State** {trial.state.name}")
    if run_url is not None:
        lines.append(f"**MLflow run:** [{run_url}]({run_url})")
    return "\n\n".join(lines) + "\n"


def _parents(parents: list[int], scores: Mapping[int, float | None]) -> str:
    if not parents:
        return "its parents"
    named = []
    for number in parents:
        score = scores.get(number)
        named.append(f"trial {number}" + (f" ({score:.3f})" if score is not None else ""))
    return " and ".join(named)


def generation_table(generations: Mapping[int, GenerationSummary]) -> str:
    """The study note: one Markdown row per closed generation."""
    rows = [
        "### Generations of the Hamming GA",
        "",
        "| gen | members | best | mean retained | Hamming min | Hamming max | admitted "
        "| forced mutations |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for g, s in generations.items():
        rows.append(
            f"| {g} | {len(s['members'])} | {s['best']:.4f} | {s['mean_retained']:.4f} "
            f"| {s['hamming_min']} | {s['hamming_max']} | {len(s['selected'])} "
            f"| {s['forced_mutations']} |"
        )
    plural = "" if len(generations) == 1 else "s"
    rows += ["", f"_{len(generations)} closed generation{plural}, written as each closes._"]
    return "\n".join(rows) + "\n"


def read_note(study: optuna.Study, trial: FrozenTrial | None = None) -> str:
    """The dashboard note of ``study`` (or of ``trial``), "" when none was written."""
    attrs = study._storage.get_study_system_attrs(study._study_id)
    trial_id = None if trial is None else trial._trial_id
    return str(get_note_from_system_attrs(attrs, trial_id)["body"])


def _save(study: optuna.Study, trial_id: int | None, body: str) -> None:
    attrs = study._storage.get_study_system_attrs(study._study_id)
    note = get_note_from_system_attrs(attrs, trial_id)
    if note["body"] == body:
        return
    save_note_with_version(
        study._storage, study._study_id, trial_id, int(note["version"]) + 1, body
    )


class DashboardNotes:
    """Optuna callback: write each finished trial's note and, when a generation has closed,
    the study's generation table.

    Args:
        run_url: Maps an MLflow run id to its page, e.g. ``StudyTracker.run_url``; None
            leaves the link out. The run id is the one the tracker's wrapped objective stores
            on the trial, else the one ``run_ids`` (``StudyTracker.logged_runs``) has for it.
    """

    def __init__(self, run_url: Any = None, run_ids: Mapping[int, str] | None = None) -> None:
        self.run_url = run_url
        self.run_ids = run_ids if run_ids is not None else {}

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        write_notes(study, trial, self.run_url, self.run_ids.get(trial.number))


def write_notes(
    study: optuna.Study, trial: FrozenTrial, run_url: Any = None, run_id: str | None = None
) -> None:
    """Write ``trial``'s note and, if it grew, the study's generation table."""
    # The parents alone, not every trial: this runs once per finished trial.
    storage, scores = study._storage, {}
    for number in set(trial.user_attrs.get(PARENTS_ATTR) or []):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
        scores[number] = storage.get_trial(trial_id).value
    run_id = trial.system_attrs.get(RUN_ID_ATTR, run_id)
    url = run_url(run_id) if run_url is not None and isinstance(run_id, str) else None
    _save(study, trial._trial_id, trial_note(trial, scores, url))
    generations = read_generations(study)
    if generations:
        # Workers of a study all write this note: one that read fewer closed generations
        # than the note already shows leaves it.
        shown = _GENERATIONS_MARK.search(read_note(study))
        if shown is None or int(shown.group(1)) < len(generations):
            _save(study, None, generation_table(generations))
