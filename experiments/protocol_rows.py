"""The CSV of experiments/paper_protocol.py: its columns, and which rows count as done.

A row is done for a (dataset, backbone, seed, method) only if it was made with the settings
this invocation would use for that method: each row carries them in ``settings`` (the
arguments the method reads, as ``name=value`` pairs), so a run with, say, ``--population 20``
trains its own rows beside the population-12 ones instead of taking them as its own, and the
tables are drawn from the rows of one set of settings.
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from optuna_hamming.names import RECOMMENDED, VIEW_SET_NAMES, VIEWS_NONE

Row = dict[str, str]

FIELDS = (
    "dataset", "backbone", "seed", "method", "genome", "test_macro_f1", "test_weighted_f1",
    "test_accuracy", "validation_macro_f1", "trials", "generations", "fitness", "final",
    "seconds", "settings",
)  # fmt: skip
# The columns before ``settings`` existed (2026-12-03), and the settings all those rows were
# made with: the script's defaults, which the tables' header has recorded since the rerun.
LEGACY_FIELDS = FIELDS[:-1]
LEGACY_SETTINGS = argparse.Namespace(
    population=12, generations=3, max_epochs=200, patience=5, folds=3, ensemble_size=10
)

_TRAINING = ("max_epochs", "patience")
_SEARCH = ("population", "generations", *_TRAINING)
# The arguments each method reads (logistic regression reads none of them).
SETTINGS_READ: dict[str, tuple[str, ...]] = {
    "default-head": _TRAINING,
    "logistic-regression": (),
    "hamming-ga": _SEARCH,
    "tpe-head": _SEARCH,  # its budget is the GA's trained heads
    "recommended-v1": (*_SEARCH, "folds", "ensemble_size"),
    "cv-best": (*_SEARCH, "folds", "ensemble_size"),  # recommended-v1's study
    # The new preset: its own folds, ensemble and views (recorded by preset_settings).
    "recommended": _SEARCH,
}
for _view_set in VIEW_SET_NAMES:  # paper_protocol.VIEW_VARIANTS
    if _view_set != VIEWS_NONE:
        SETTINGS_READ[f"default-head-{_view_set}"] = _TRAINING
        SETTINGS_READ[f"logistic-regression-{_view_set}"] = ()
# Rows written before the preset existed named recommended-v1 "recommended".
RENAMED = {"recommended": "recommended-v1"}


def preset_settings() -> str:
    """What ``--preset recommended`` sets, as ``name=value`` pairs (its row's settings)."""
    from optuna_hamming.vision.presets import preset  # builds samplers: loaded when asked

    values = preset(RECOMMENDED).values()
    return " ".join(f"{name}={values[name]}" for name in sorted(values))


def settings_of(method: str, args: argparse.Namespace) -> str:
    """The settings that make ``method``'s row, e.g. ``max_epochs=200 patience=5``."""
    read = " ".join(f"{name}={getattr(args, name)}" for name in SETTINGS_READ[method])
    if method == RECOMMENDED:
        return f"{read} {preset_settings()}"
    return read


def key_of(row: Row) -> tuple[str, str, str, str, str]:
    return row["dataset"], row["backbone"], row["seed"], row["method"], row["settings"]


def read_rows(path: Path) -> list[Row]:
    """The CSV's rows, a row written before the ``settings`` column with the legacy ones."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        # A "recommended" row made before the preset (its settings name no sampler) is
        # recommended-v1's.
        if row["method"] in RENAMED and "sampler=" not in (row.get("settings") or ""):
            row["method"] = RENAMED[row["method"]]
        if not row.get("settings"):
            row["settings"] = settings_of(row["method"], LEGACY_SETTINGS)
    return rows


def prepare_csv(path: Path) -> str | None:
    """Make ``path`` ready for appending: a legacy CSV is rewritten with the ``settings``
    column (atomically: a copy, then a rename). Returns what is wrong with any other header."""
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        header = tuple(next(csv.reader(handle), []))
    if header == FIELDS:
        return None
    if header != LEGACY_FIELDS:
        return (
            f"{path} has the columns {', '.join(header)}, not this script's "
            f"{', '.join(FIELDS)}: pass another --out (rows are appended)"
        )
    rows = read_rows(path)
    upgraded = path.with_suffix(".csv.upgrading")
    with upgraded.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(upgraded, path)
    return None


def current_rows(rows: list[Row], args: argparse.Namespace) -> list[Row]:
    """The rows made with this invocation's settings: the ones its tables are drawn from."""
    return [r for r in rows if r["settings"] == settings_of(r["method"], args)]
