"""Declared parameter constraints, checked once at the public boundary (layer 1).

In the manner of scikit-learn's ``_parameter_constraints``: each public constructor declares a
table ``{argument: Constraint}`` and checks its arguments against it in one call. A constraint
carries its own hint, so the message names the argument, what was passed and what to pass
instead (the paper's value where there is one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Integer:
    """An int (numpy ints too, never a bool) in ``[low, high]``; ``high=None`` is unbounded."""

    low: int
    high: int | None
    hint: str

    def check(self, name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"`{name}` must be an int, got {type(value).__name__}. {self.hint}")
        if value < self.low or (self.high is not None and value > self.high):
            bound = f">= {self.low}" if self.high is None else f"in [{self.low}, {self.high}]"
            raise ValueError(f"`{name}` must be {bound}, got {value!r}. {self.hint}")
        return int(value)


@dataclass(frozen=True)
class Real:
    """A finite number in ``[low, high]`` (ints accepted, bools refused)."""

    low: float
    high: float
    hint: str

    def check(self, name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"`{name}` must be a number, got {type(value).__name__}. {self.hint}")
        number = float(value)
        if math.isnan(number) or not self.low <= number <= self.high:
            raise ValueError(
                f"`{name}` must be in [{self.low}, {self.high}], got {value!r}. {self.hint}"
            )
        return number


@dataclass(frozen=True)
class Boolean:
    hint: str = ""

    def check(self, name: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"`{name}` must be True or False, got {value!r}. {self.hint}".strip())
        return value


@dataclass(frozen=True)
class OrNone:
    """``None``, or a value that ``inner`` accepts."""

    inner: Integer | Real | Boolean | Strategy | Instance

    def check(self, name: str, value: object) -> Any:
        return None if value is None else self.inner.check(name, value)


def probability(paper_value: float, name: str) -> Real:
    """A rate in [0, 1] whose hint gives the paper's value."""
    return Real(0.0, 1.0, f"Pass a probability, e.g. {name}={paper_value} (the paper's value).")


def checked(
    constraints: Mapping[str, Constraint], arguments: Mapping[str, object]
) -> dict[str, Any]:
    """Every argument checked against its constraint, in the table's order.

    The table and the arguments must name the same parameters: a table that drifted from the
    signature is a bug here, not the user's, so it raises ``RuntimeError``.
    """
    if set(constraints) != set(arguments):
        missing = sorted(set(arguments) ^ set(constraints))
        raise RuntimeError(f"the constraint table and the arguments differ on {missing}")
    return {
        name: constraint.check(name, arguments[name]) for name, constraint in constraints.items()
    }


@dataclass(frozen=True)
class Strategy:
    """A callable object: a selection or mutation strategy of :mod:`optuna_hamming.ga`."""

    hint: str

    def check(self, name: str, value: object) -> Any:
        if isinstance(value, type):
            raise TypeError(
                f"`{name}` must be a strategy object, got the class {value.__name__}: "
                f"pass {value.__name__}(...), an instance. {self.hint}"
            )
        if not callable(value):
            raise TypeError(f"`{name}` must be a strategy object, got {value!r}. {self.hint}")
        return value


@dataclass(frozen=True)
class Instance:
    """An instance of ``kind`` (a strategy configuration such as a screening)."""

    kind: type
    hint: str

    def check(self, name: str, value: object) -> Any:
        if not isinstance(value, self.kind):
            got = f"the class {value.__name__}" if isinstance(value, type) else repr(value)
            raise TypeError(
                f"`{name}` must be a {self.kind.__name__} instance, got {got}. {self.hint}"
            )
        return value


Constraint = Integer | Real | Boolean | Strategy | Instance | OrNone
