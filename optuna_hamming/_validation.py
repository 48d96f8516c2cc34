"""Argument checks at the public boundary, with messages that say what to pass instead."""

from __future__ import annotations

import math

import numpy as np

from optuna_hamming.generations import Settings


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


def checked_settings(
    *,
    population_size: object,
    retain: object,
    select: object,
    mutate: object,
    crossover_split: object,
    float_bits: object,
    skip_duplicates: object,
    max_redraws: object,
    hamming_gate: object,
    forced_mutation: object,
) -> Settings:
    """HammingGASampler's settings from its constructor's arguments, each checked."""
    population = _check_int(
        "population_size",
        population_size,
        low=2,
        high=None,
        hint="Pass population_size=30 (the paper's value) or another int >= 2.",
    )
    rates = {
        name: _check_number(
            name,
            value,
            low=0.0,
            high=1.0,
            hint=f"Pass a probability, e.g. {name}={default} (the paper's value).",
        )
        for name, value, default in (
            ("retain", retain, 0.4),
            ("select", select, 0.5),
            ("mutate", mutate, 0.2),
        )
    }
    split = None
    if crossover_split is not None:
        split = _check_int(
            "crossover_split",
            crossover_split,
            low=0,
            high=None,
            hint="Pass the number of leading parameters in part A, or None for half.",
        )
    bits = _check_int(
        "float_bits",
        float_bits,
        low=1,
        high=30,
        hint="Pass e.g. float_bits=8 for 256 grid points per continuous float.",
    )
    redraws = _check_int(
        "max_redraws", max_redraws, low=1, high=None, hint="Pass e.g. max_redraws=100."
    )
    flags = {}
    for flag, value in (
        ("skip_duplicates", skip_duplicates),
        ("hamming_gate", hamming_gate),
        ("forced_mutation", forced_mutation),
    ):
        if not isinstance(value, bool):
            raise TypeError(f"`{flag}` must be True or False, got {value!r}.")
        flags[flag] = value
    return Settings(
        population_size=population,
        retain=rates["retain"],
        select=rates["select"],
        mutate=rates["mutate"],
        crossover_split=split,
        float_bits=bits,
        max_redraws=redraws,
        **flags,
    )
