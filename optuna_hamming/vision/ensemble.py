"""A final model of several heads: greedy ensemble selection (Caruana et al., 2004) (layer 3).

The library is the study's distinct genomes scored by cross-validation (``fitness="cv"``),
each with the out-of-fold probabilities of its best trial. Starting from nothing, each of up
to ``size`` steps adds, with replacement, the member whose addition gives the highest macro
F1 of the averaged probabilities, and the best step's picks are kept; a member picked ``c``
times of ``n`` weighs ``c / n``. Out-of-fold predictions come from weights never fitted on
those examples, so the choice is far less the winner's curse than choosing on the search's
own validation split would be. (Each fold's held-out part also decides that fold's early
stopping, as the paper's validation split does, so out-of-fold scores stay a little
optimistic.)

The members are then retrained on train + validation (each for its folds' typical epoch
count) and their softmax outputs averaged by weight in one Keras model: an ``Average`` over
the heads, a head of weight ``c`` entering it ``c`` times, so that the exported ``.keras``
file holds only stock layers and reloads with ``safe_mode=True`` anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import optuna
from sklearn.metrics import f1_score

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.vision.final_model import FinalModel, test_report
from optuna_hamming.vision.fitness import OOF_ATTR, decode_probabilities
from optuna_hamming.vision.heads import SEED_MODULUS, HeadGenome
from optuna_hamming.vision.linear_member import (
    LINEAR_MEMBER,
    fit_logistic_regression,
    linear_head,
    linear_oof,
)
from optuna_hamming.vision.scoring import predict_image_probabilities
from optuna_hamming.vision.training import fit_head

HEAD_MEMBER = "head"  # Candidate.kind of a study's trial


class EnsembleError(ValueError):
    """No ensemble can be chosen from the study as asked; the message names the fix."""


@dataclass(frozen=True)
class Candidate:
    """A distinct genome of the study: its best trial, fitness and out-of-fold probabilities."""

    trial: int  # -1 for a member that is not a trial (the linear member)
    params: dict[str, Any]
    value: float
    epochs: int
    oof: npt.NDArray[np.float32] = field(repr=False)
    kind: str = HEAD_MEMBER  # or LINEAR_MEMBER

    @property
    def is_head(self) -> bool:
        return self.kind == HEAD_MEMBER


@dataclass(frozen=True)
class Member:
    candidate: Candidate
    count: int  # times greedy selection picked it; its weight is count / size

    @property
    def genome(self) -> HeadGenome:
        if not self.candidate.is_head:
            raise TypeError(f"the {self.candidate.kind} member has no head genome")
        return HeadGenome.from_params(self.candidate.params)

    def describe(self) -> str:
        if self.candidate.is_head:
            return f"{self.count}x {self.genome.describe()}"
        C = self.candidate.params["C"]
        return f"{self.count}x {self.candidate.kind} C={C:g}"


def linear_candidate(features: FeatureSet, splits: Splits, *, folds: int, seed: int) -> Candidate:
    """The linear member as a candidate of a study searched with ``folds``-fold CV from
    ``seed`` (:func:`optuna_hamming.vision.linear_member.linear_oof`)."""
    C, value, oof = linear_oof(features, splits, folds=folds, seed=seed)
    return Candidate(-1, {"C": C}, value, 0, oof, LINEAR_MEMBER)


def candidates_of(study: optuna.Study) -> list[Candidate]:
    """The study's distinct genomes, best trial each, by fitness (best first)."""
    best: dict[tuple[Any, ...], optuna.trial.FrozenTrial] = {}
    complete = (optuna.trial.TrialState.COMPLETE,)
    for trial in study.get_trials(deepcopy=False, states=complete):
        if OOF_ATTR not in trial.user_attrs or trial.value is None:
            continue
        key = tuple(sorted(trial.params.items()))
        kept = best.get(key)
        if kept is None or trial.value > kept.value:  # type: ignore[operator]
            best[key] = trial
    if not best:
        raise EnsembleError(
            f"study {study.study_name!r} has no finished trial with out-of-fold predictions: "
            "an ensemble is chosen on them, so search with fitness='cv' (--fitness cv)"
        )
    ranked = sorted(best.values(), key=lambda t: (-float(t.value), t.number))  # type: ignore[arg-type]
    return [
        Candidate(
            t.number,
            dict(t.params),
            float(t.value),  # type: ignore[arg-type]
            int(t.user_attrs.get("best_epoch", 1)),
            decode_probabilities(t.user_attrs[OOF_ATTR]),
        )
        for t in ranked
    ]


def greedy_selection(
    probabilities: Sequence[npt.NDArray[np.float32]], labels: npt.ArrayLike, size: int
) -> list[int]:
    """How many times each model is picked by up to ``size`` greedy steps with replacement.

    Each step adds the model that maximises the macro F1 of the running average; ties go to
    the earlier model (pass them best first). As in Caruana et al., the picks returned are
    those of the best step (the first, on ties), so more steps never score below fewer."""
    if size < 1:
        raise EnsembleError(f"`ensemble_size` must be >= 1, got {size}; 10 is usual")
    y = np.asarray(labels)
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])
    counts = [0] * len(stacked)
    total = np.zeros_like(stacked[0])
    best_score, best_counts = -1.0, list(counts)
    for _ in range(size):
        scores = [
            f1_score(y, np.argmax(total + candidate, axis=-1), average="macro", zero_division=0)
            for candidate in stacked
        ]
        chosen = int(np.argmax(scores))  # first of the best
        counts[chosen] += 1
        total += stacked[chosen]
        if scores[chosen] > best_score:
            best_score, best_counts = float(scores[chosen]), list(counts)
    return best_counts


def select_members(
    study: optuna.Study,
    labels: npt.ArrayLike,
    size: int,
    extra: Sequence[Candidate] = (),
) -> tuple[list[Member], float]:
    """The ensemble of ``size`` picks over ``study``'s distinct genomes (and the ``extra``
    candidates, such as :func:`linear_candidate`, after them), and its out-of-fold macro
    F1. ``labels`` are those the predictions are of: train + validation, in index order
    (``features.y[splits.train_and_validation]``)."""
    candidates = [*candidates_of(study), *extra]
    labels = np.asarray(labels)
    wrong = [c for c in candidates if c.oof.shape[0] != len(labels)]
    if wrong:
        raise EnsembleError(
            f"trial {wrong[0].trial}'s out-of-fold predictions are of {wrong[0].oof.shape[0]} "
            f"examples, not the {len(labels)} of train + validation: the study was searched "
            "on other data or splits; pass the features and seed it was searched with"
        )
    counts = greedy_selection([c.oof for c in candidates], labels, size)
    members = [Member(c, n) for c, n in zip(candidates, counts, strict=True) if n > 0]
    average = sum(m.count * m.candidate.oof for m in members) / sum(counts)
    oof = float(f1_score(labels, np.argmax(average, axis=-1), average="macro", zero_division=0))
    return members, oof


def averaged_heads(
    heads: Sequence[keras.Model], counts: Sequence[int], n_features: int
) -> keras.Model:
    """One model from features to the count-weighted mean of the heads' probabilities."""
    if len(heads) == 1:
        return heads[0]
    inputs = keras.Input((n_features,), name="features")
    # Each head runs once; its output enters the average once per pick.
    outputs = [out for head, n in zip(heads, counts, strict=True) for out in [head(inputs)] * n]
    return keras.Model(inputs, keras.layers.Average(name="average")(outputs), name="ensemble")


@dataclass
class FinalEnsemble(FinalModel):
    members: list[Member] = field(default_factory=list)
    oof_macro_f1: float = 0.0


def train_final_ensemble(
    members: Sequence[Member],
    features: FeatureSet,
    splits: Splits,
    *,
    oof_macro_f1: float,
    batch_size: int = 32,
    seed: int = 0,
) -> FinalEnsemble:
    """Retrain every member on train + validation (every view of it), average them, score
    the mean on test (each image by the mean over its views)."""
    X = features.X
    fit_idx = splits.train_and_validation
    heads = []
    for i, member in enumerate(members):
        member_seed = (seed * 1000 + i) % SEED_MODULUS
        if member.candidate.kind == LINEAR_MEMBER:
            regression = fit_logistic_regression(
                features.rows(fit_idx),
                features.row_labels(fit_idx),
                member.candidate.params["C"],
                seed,
            )
            heads.append(linear_head(regression, len(features.class_names), f"linear_{i}"))
            continue
        head = fit_head(
            member.genome,
            features.rows(fit_idx),
            features.row_labels(fit_idx),
            n_classes=len(features.class_names),
            epochs=member.candidate.epochs,
            batch_size=batch_size,
            seed=member_seed,
            name=f"head_{i}_trial_{member.candidate.trial}",
        )
        heads.append(head)
    model = averaged_heads(heads, [m.count for m in members], X.shape[1])
    probabilities = predict_image_probabilities(model, features.rows(splits.test), features.n_views)
    scores, report, confusion = test_report(features, splits, np.argmax(probabilities, axis=-1))
    # The genome reported for the ensemble: its heaviest head (none if the linear member
    # alone was picked).
    head_members = [m for m in members if m.candidate.is_head]
    heaviest = max(head_members or members, key=lambda m: m.count)
    return FinalEnsemble(
        model,
        heaviest.genome if heaviest.candidate.is_head else None,
        scores,
        report,
        confusion,
        heaviest.candidate.epochs,
        members=list(members),
        oof_macro_f1=oof_macro_f1,
    )
