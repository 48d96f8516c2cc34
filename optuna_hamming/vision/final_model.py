"""The final model: the best genome retrained, scored on test, and exported (layer 3).

:func:`await_running_trials` waits, in a study several workers share, for the heads other
workers are still training, so that the best trial is final before the model is chosen;
:func:`train_final_model` retrains a genome on train + validation and scores it on the held-out
test split; :func:`image_classifier` joins resizing, the backbone and the head into one model
from raw images to class probabilities, and :func:`export_image_classifier` saves it as one
``.keras`` file that reloads with ``safe_mode=True``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import optuna
from optuna.trial import TrialState
from sklearn.metrics import classification_report, confusion_matrix

from optuna_hamming.data.datasets import FeatureSet
from optuna_hamming.data.splits import Splits
from optuna_hamming.storages import heartbeat_grace, trials_with_heartbeat
from optuna_hamming.vision.heads import HeadGenome
from optuna_hamming.vision.scoring import HeadScores, predict_classes, score
from optuna_hamming.vision.training import fit_head
from optuna_hamming.vision.views import IDENTITY, ImageView


@dataclass
class FinalModel:
    head: keras.Model
    genome: HeadGenome | None  # None for an ensemble of the linear member alone
    test: HeadScores
    report: dict[str, Any]
    confusion: list[list[int]]
    epochs: int


def await_running_trials(
    study: optuna.Study,
    poll: float = 1.0,
    *,
    on_wait: Callable[[int], None] | None = None,
) -> int:
    """Wait until the trials running now (other workers' last heads) have finished; return
    how many there were. ``on_wait`` is told that count first, when there are any.

    A worker that reaches the target first would otherwise plan the final model while
    another worker's last head can still become the best trial, and that worker would then
    build a second final model. Trials started after the wait began belong to workers with
    a further target and are not waited for. Without heartbeats a dead worker's trial would
    look running for ever, so only storages with a heartbeat wait (others return 0 at once):
    they fail stale trials as Optuna's own optimize loop does, and give up after the grace
    period on a trial that never recorded a heartbeat (its worker died before the first one,
    which Optuna never finds stale). ``poll`` is the seconds between looks at the storage.

    Each worker of a shared study, once its own search is done::

        storage = optuna.storages.RDBStorage("sqlite:///optuna.db", heartbeat_interval=60)
        study = optuna.load_study(study_name="heads", storage=storage)
        study.optimize(HeadObjective(features, splits), n_trials=100)
        await_running_trials(study, on_wait=lambda n: print(f"waiting for {n} trial(s)"))
        best = study.best_trial  # no running head can replace it now
        final = train_final_model(
            HeadGenome.from_params(best.params), features, splits,
            epochs=best.user_attrs["best_epoch"],
        )
    """
    grace = heartbeat_grace(study._storage)
    if grace is None:
        return 0
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    waiting = {t.number: t._trial_id for t in running}
    count = len(waiting)
    if waiting and on_wait is not None:
        on_wait(count)
    started = time.monotonic()
    while waiting:
        time.sleep(poll)
        optuna.storages.fail_stale_trials(study)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        still = {t.number for t in running}
        waiting = {n: i for n, i in waiting.items() if n in still}
        if waiting and time.monotonic() - started > grace:
            beating = trials_with_heartbeat(study._storage, waiting.values())
            waiting = {n: i for n, i in waiting.items() if i in beating}
    return count


def train_final_model(
    genome: HeadGenome,
    features: FeatureSet,
    splits: Splits,
    *,
    epochs: int,
    batch_size: int = 32,
    seed: int = 0,
) -> FinalModel:
    """Retrain ``genome`` on train + validation for ``epochs`` (the search's best epoch count,
    since no validation data is left to stop on), then score it on the held-out test split.
    With augmented views it trains on every view and scores each test image by the mean of
    its views' probabilities."""
    fit_idx = splits.train_and_validation
    model = fit_head(
        genome,
        features.rows(fit_idx),
        features.row_labels(fit_idx),
        n_classes=len(features.class_names),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    predicted = predict_classes(model, features.rows(splits.test), features.n_views)
    scores, report, confusion = test_report(features, splits, predicted)
    return FinalModel(model, genome, scores, report, confusion, max(1, epochs))


def test_report(
    features: FeatureSet, splits: Splits, predicted: npt.NDArray[np.int64]
) -> tuple[HeadScores, dict[str, Any], list[list[int]]]:
    """Scores, classification report and confusion matrix of test-split labels."""
    y_test = features.y[splits.test]
    labels = list(range(len(features.class_names)))
    report = classification_report(
        y_test,
        predicted,
        labels=labels,
        target_names=list(features.class_names),
        output_dict=True,
        zero_division=0,
    )
    matrix = confusion_matrix(y_test, predicted, labels=labels)
    return score(y_test, predicted), report, matrix.tolist()


def image_classifier(
    backbone_model: keras.Model,
    head: keras.Model,
    image_size: tuple[int, int],
    views: Sequence[str] = (IDENTITY,),
) -> keras.Model:
    """One model from raw RGB images (0-255) of any size to class probabilities: resizing,
    then for each of ``views`` (the ones the head was trained on) the view, the backbone
    with its preprocessing and the head, and the mean of the views' probabilities: the
    test-time augmentation the search scored, inside the graph."""
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Resizing(*image_size, name="resize")(inputs)
    outputs = [
        head(backbone_model(x if view == IDENTITY else ImageView(view, name=f"view_{view}")(x)))
        for view in views
    ]
    if len(outputs) == 1:
        probabilities = outputs[0]
    else:
        probabilities = keras.layers.Average(name="mean_over_views")(outputs)
    return keras.Model(inputs, probabilities, name="image_classifier")


def export_image_classifier(
    backbone_model: keras.Model,
    head: keras.Model,
    image_size: tuple[int, int],
    path: str | Path,
    views: Sequence[str] = (IDENTITY,),
) -> Path:
    """Save :func:`image_classifier` as one ``.keras`` file."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save the final model as a .keras file, got {path.name}")
    classifier = image_classifier(backbone_model, head, image_size, views)
    path.parent.mkdir(parents=True, exist_ok=True)
    classifier.save(path)
    return path
