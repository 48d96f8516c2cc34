"""Argument checks at the public boundary, with messages that say what to pass instead."""

from __future__ import annotations

import math

import numpy as np


def _check_number(name: str, value: object, *, low: float, high: float, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number, got {type(value).__name__}. {hint}")
    if not (low <= float(value) <= high) or math.isnan(float(value)):
        raise ValueError(f"`{name}` must be in [{low}, {high}], got {value!r}. {hint}")
    return float(value)


def _check_int(name: str, value: object, *, low: int, high: int | None, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__}. {hint}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"`{name}` must be {bound}, got {value!r}. {hint}")
    return int(value)
