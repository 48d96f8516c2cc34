"""Many heads trained as one compiled JAX program (``--heads-per-program``).

A head of the paper's space is too small to fill a GPU: trained alone, each step is a few
tiny matrix products and the time goes to dispatch. Here the heads of a batch (a generation's
children, a study's ``ask()`` batch, a CV trial's folds) train side by side in one jitted
epoch: a ``lax.scan`` over the mini-batches whose body steps every head, each with its own
architecture, optimizer (Keras defaults, through ``stateless_apply``), dropout stream and
mini-batch order.

Each head follows :func:`optuna_hamming.vision.training.train_head` step for step: the same
initial weights (``build_head`` with the same seed), the same batch order (a
:class:`~optuna_hamming.vision.training.ShuffledBatches` of its own, re-permuted after every
epoch), Keras' ``EarlyStopping(monitor="val_loss", patience, restore_best_weights=True)`` rule
on its own validation loss (the mean of per-batch means, as ``fit`` reports it), and its
result built as ``train_head`` builds it (``training_result``) from its best epoch. A stopped
head keeps its weights (masked) until half the program has stopped; the rest are then
regrouped into a smaller program, so stopped heads stop costing compute after at most
``log2(heads)`` recompilations.

JAX only: the program is a JAX ``scan``. The other backends train heads one by one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from optuna_hamming.vision.heads import HeadGenome, build_head
from optuna_hamming.vision.scoring import mean_over_views, score
from optuna_hamming.vision.training import (
    DataSplit,
    ShuffledBatches,
    TrainingResult,
    training_result,
)

# Called after every epoch of every running head: (task index, epoch, validation macro F1);
# True stops that head (a pruner's verdict).
EpochHook = Callable[[int, int, float], bool]


class BatchedTrainingError(RuntimeError):
    """The batched trainer cannot run here; the message says what to change."""


@dataclass(frozen=True)
class HeadTask:
    """One head to train: its genes, its seed (initial weights, dropout, batch order) and
    the index of its :class:`DataSplit`."""

    genome: HeadGenome
    seed: int
    split: int = 0


@dataclass
class HeadOutcome:
    """What a head's training gives: the result ``train_head`` would, and the validation
    probabilities of its best epoch (the out-of-fold predictions of a CV fold)."""

    result: TrainingResult
    probabilities: npt.NDArray[np.float32]


@dataclass
class _Head:
    number: int  # the task's index in train_heads_together's list (what on_epoch names)
    task: HeadTask
    model: keras.Model
    state: tuple[list[Any], list[Any], list[Any]]
    batches: ShuffledBatches  # its batch order, as train_head's
    losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    val_f1: list[float] = field(default_factory=list)
    best: float = math.inf
    best_epoch: int = 0
    best_probabilities: npt.NDArray[np.float32] | None = None
    wait: int = 0
    running: bool = True
    pruned: bool = False
    seconds: float = 0.0


def train_heads_together(
    tasks: Sequence[HeadTask],
    splits: Sequence[DataSplit],
    *,
    n_classes: int,
    max_epochs: int = 200,
    patience: int = 5,
    batch_size: int = 32,
    on_epoch: EpochHook | None = None,
) -> list[HeadOutcome]:
    """Train ``tasks`` (in programs of the heads that share a split) and return their
    outcomes in task order."""
    if keras.backend.backend() != "jax":
        raise BatchedTrainingError(
            f"heads train together only on the JAX backend (this is {keras.backend.backend()}):"
            " set KERAS_BACKEND=jax (pip install jax), or train one head per program"
        )
    outcomes: dict[int, HeadOutcome] = {}
    for split_index, split in enumerate(splits):
        members = [i for i, t in enumerate(tasks) if t.split == split_index]
        if members:
            trained = _train_group(
                [tasks[i] for i in members], members, split, n_classes, max_epochs,
                patience, batch_size, on_epoch,
            )  # fmt: skip
            outcomes.update(zip(members, trained, strict=True))
    missing = [i for i in range(len(tasks)) if i not in outcomes]
    if missing:
        raise ValueError(f"tasks {missing} name a split beyond the {len(splits)} given")
    return [outcomes[i] for i in range(len(tasks))]


def _train_group(
    tasks: list[HeadTask],
    numbers: list[int],
    split: DataSplit,
    n_classes: int,
    max_epochs: int,
    patience: int,
    batch_size: int,
    on_epoch: EpochHook | None,
) -> list[HeadOutcome]:
    import jax.numpy as jnp

    n_features = split.X_train.shape[1]
    heads = []
    for number, task in zip(numbers, tasks, strict=True):
        model = build_head(
            task.genome, n_features=n_features, n_classes=n_classes, seed=task.seed,
            jit_compile=False,
        )  # fmt: skip
        model.optimizer.build(model.trainable_variables)
        state = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables],
        )
        batches = ShuffledBatches(split.X_train, split.y_train, batch_size, task.seed)
        # fit() peeks at the first batch and then calls the dataset's on_epoch_end before
        # epoch 1, so ShuffledBatches trains its first epoch on its second permutation.
        batches.on_epoch_end()
        heads.append(_Head(number, task, model, state, batches))
    X, y = jnp.asarray(split.X_train), jnp.asarray(split.y_train)
    X_val = jnp.asarray(split.X_val)
    program: _Program | None = None
    for epoch in range(max_epochs):
        running = [h for h in heads if h.running]
        if not running:
            break
        if program is None or len(running) * 2 <= len(program.heads):
            program = _Program(running)  # regroup: the stopped heads leave the program
        started = time.perf_counter()
        losses, probabilities = program.run_epoch(X, y, X_val, batch_size)
        seconds = (time.perf_counter() - started) / max(1, len(running))
        for k, head in enumerate(program.heads):
            if not head.running:
                continue
            head.seconds += seconds
            _end_epoch(head, epoch, losses[:, k], probabilities[k], split, patience, batch_size)
            if on_epoch is not None and on_epoch(head.number, epoch, head.val_f1[-1]):
                head.running, head.pruned = False, True
        for head in running:
            head.batches.on_epoch_end()
    del program
    outcomes = []
    for head in heads:
        assert head.best_probabilities is not None
        result = training_result(
            split.y_val,
            np.argmax(head.best_probabilities, axis=-1),
            losses=head.losses,
            val_losses=head.val_losses,
            val_macro_f1=head.val_f1,
            seconds=head.seconds,
            pruned=head.pruned,
        )
        outcomes.append(HeadOutcome(result, head.best_probabilities))
    return outcomes


def _end_epoch(
    head: _Head,
    epoch: int,
    batch_losses: npt.NDArray[np.float32],
    probabilities: npt.NDArray[np.float32],
    split: DataSplit,
    patience: int,
    batch_size: int,
) -> None:
    """Keras' epoch end for one head: the logged losses, the reporter's F1, EarlyStopping."""
    # fit's loss: the batch means weighted by batch size (its Mean tracker's sample weight).
    n = len(split.y_train)
    sizes = np.full(len(batch_losses), batch_size, dtype=np.float64)
    sizes[-1] = n - batch_size * (len(batch_losses) - 1)
    head.losses.append(float(np.sum(batch_losses * sizes) / n))
    # evaluate's val_loss: the same weighting, so the mean over validation rows.
    labels = split.y_val_rows
    per_row = -np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0))
    val_loss = float(np.mean(per_row))
    head.val_losses.append(val_loss)
    # Each image scored by the mean of its views' rows (test-time augmentation).
    probabilities = mean_over_views(probabilities, split.n_views)
    head.val_f1.append(score(split.y_val, np.argmax(probabilities, axis=-1)).macro_f1)
    # keras.callbacks.EarlyStopping.on_epoch_end, with restore_best_weights=True.
    if head.best_probabilities is None:
        head.best_probabilities, head.best_epoch = probabilities, epoch
    head.wait += 1
    if val_loss < head.best:
        head.best, head.best_epoch, head.best_probabilities = val_loss, epoch, probabilities
        head.wait = 0
        return
    if head.wait >= patience and epoch > 0:
        head.running = False


class _Program:
    """One compiled epoch (and one validation pass) for a fixed set of heads."""

    def __init__(self, heads: list[_Head]) -> None:
        import jax

        self.heads = heads
        models = [h.model for h in heads]

        def step(states: list[Any], active: Any, X: Any, y: Any, rows: Any) -> Any:
            new_states, losses = [], []
            for k, model in enumerate(models):
                trainable, non_trainable, optimizer_vars = states[k]

                def loss_of(tv: Any, ntv: Any, model: keras.Model = model, k: int = k) -> Any:
                    probabilities, ntv = model.stateless_call(tv, ntv, X[rows[k]], training=True)
                    loss = keras.losses.sparse_categorical_crossentropy(y[rows[k]], probabilities)
                    return keras.ops.mean(loss), ntv

                (loss, non_trainable_next), grads = jax.value_and_grad(loss_of, has_aux=True)(
                    trainable, non_trainable
                )
                trainable_next, optimizer_next = model.optimizer.stateless_apply(
                    optimizer_vars, grads, trainable
                )
                keep = active[k]  # a stopped head's state stays as it was
                new_states.append(
                    tuple(
                        [jax.numpy.where(keep, a, b) for a, b in zip(new, old, strict=True)]
                        for new, old in (
                            (trainable_next, trainable),
                            (non_trainable_next, non_trainable),
                            (optimizer_next, optimizer_vars),
                        )
                    )
                )
                losses.append(loss)
            return new_states, jax.numpy.stack(losses)

        def epoch(states: list[Any], active: Any, X: Any, y: Any, full: Any, last: Any) -> Any:
            def body(carry: Any, rows: Any) -> Any:
                return step(carry, active, X, y, rows)

            states, losses = jax.lax.scan(body, states, full)
            if last is not None:
                states, last_losses = step(states, active, X, y, last)
                losses = jax.numpy.concatenate([losses, last_losses[None]], axis=0)
            return states, losses

        def evaluate(states: list[Any], X_val: Any) -> Any:
            return jax.numpy.stack(
                [
                    model.stateless_call(s[0], s[1], X_val, training=False)[0]
                    for model, s in zip(models, states, strict=True)
                ]
            )

        self._epoch = jax.jit(epoch)
        self._evaluate = jax.jit(evaluate)

    def run_epoch(
        self, X: Any, y: Any, X_val: Any, batch_size: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """One epoch of every head, then the validation probabilities of each:
        (steps, heads) batch losses and (heads, validation rows, classes)."""
        import jax.numpy as jnp

        n = len(self.heads[0].batches.order)
        full_steps = n // batch_size
        orders = np.stack([h.batches.order for h in self.heads])  # (heads, n)
        steps = orders[:, : full_steps * batch_size].reshape(len(self.heads), full_steps, -1)
        full = jnp.asarray(np.transpose(steps, (1, 0, 2)))  # (steps, heads, batch)
        last = orders[:, full_steps * batch_size :]
        last_rows = jnp.asarray(last) if last.shape[1] else None
        active = jnp.asarray([h.running for h in self.heads])
        states = [h.state for h in self.heads]
        states, losses = self._epoch(states, active, X, y, full, last_rows)
        for head, state in zip(self.heads, states, strict=True):
            head.state = tuple(state)
        probabilities = self._evaluate(states, X_val)
        return np.asarray(losses), np.asarray(probabilities, dtype=np.float32)
