"""HammingGASampler's settings: declared once, checked once, at the constructor.

``PARAMETER_CONSTRAINTS`` is the one table of the constructor's arguments and their hints (a
test holds it to the signature). The paper's rates and the two ablation switches become the
default strategy objects; a caller who passes a strategy passes its rates to it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optuna_hamming import ga
from optuna_hamming.ga._params import (
    Boolean,
    Constraint,
    Instance,
    Integer,
    OrNone,
    Strategy,
    checked,
    probability,
)
from optuna_hamming.ga.breeding import default_split
from optuna_hamming.ga.surrogate import SurrogateScreening
from optuna_hamming.sampler.child_generation import (
    ChildGenerationStrategy,
    PaperGeneration,
    ScreenedGeneration,
    flatten_strategy,
)
from optuna_hamming.sampler.search_space import GenomeSpace

MAX_SEED = 2**62

PARAMETER_CONSTRAINTS: dict[str, Constraint] = {
    "population_size": Integer(
        2, None, "Pass population_size=30 (the paper's value) or another int >= 2."
    ),
    "retain": probability(0.4, "retain"),
    "select": probability(0.5, "select"),
    "mutate": probability(0.2, "mutate"),
    "crossover_split": OrNone(
        Integer(0, None, "Pass the number of leading parameters in part A, or None for half.")
    ),
    "float_bits": Integer(
        1, 30, "Pass e.g. float_bits=8 for 256 grid points per continuous float."
    ),
    "skip_duplicates": Boolean(),
    "max_redraws": Integer(1, None, "Pass e.g. max_redraws=100."),
    "seed": OrNone(Integer(0, MAX_SEED - 1, "Pass a non-negative int or None.")),
    "hamming_gate": Boolean(),
    "forced_mutation": Boolean(),
    "selection": OrNone(
        Strategy("Pass e.g. optuna_hamming.ga.HammingGateSelection(retain=0.4, select=0.5).")
    ),
    "mutation": OrNone(Strategy("Pass e.g. optuna_hamming.ga.ForcedMutation(rate=0.2).")),
    "screening": OrNone(
        Instance(SurrogateScreening, "Pass e.g. optuna_hamming.SurrogateScreening(), or None.")
    ),
    "child_generation": OrNone(
        Instance(
            ChildGenerationStrategy,
            "Pass e.g. optuna_hamming.sampler.PaperGeneration(), or None for the paper's.",
        )
    ),
}

# The ablation switches say what a strategy object says (the paper's mode of each is the
# default): kept for older code, they warn.
_DEPRECATED_SWITCHES = {
    "hamming_gate": "selection=optuna_hamming.ga.UngatedSelection(retain, select)",
    "forced_mutation": "mutation=optuna_hamming.ga.PlainMutation(rate)",
}

# What a strategy object takes over from the keyword arguments (their defaults are the
# default strategies' own values, which a test holds to the signature).
_OWNED_BY = {
    "selection": {"retain": "retain", "select": "select", "hamming_gate": None},
    "mutation": {"mutate": "rate", "forced_mutation": None},
}


@dataclass(frozen=True)
class Settings:
    population_size: int
    crossover_split: int | None
    float_bits: int
    skip_duplicates: bool
    max_redraws: int
    selection: ga.SelectionStrategy
    mutation: ga.MutationStrategy
    child_generation: ChildGenerationStrategy = dataclasses.field(default_factory=PaperGeneration)

    @property
    def initial_size(self) -> int:
        """Generation 0's random genomes (the population, unless the strategy says)."""
        return self.child_generation.initial_size(self.population_size)

    def split_for(self, space: GenomeSpace) -> int:
        n = len(space.names)
        if self.crossover_split is None:
            return default_split(n)
        return min(self.crossover_split, n)

    def as_params(self) -> dict[str, Any]:
        """Flat, loggable settings: strategies as their class name plus their fields."""
        flat: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name == "child_generation":
                flat.update(self.child_generation.params())
            elif item.name in _OWNED_BY:
                flatten_strategy(flat, item.name, value)
            else:
                flat[item.name] = value
        return flat


def strategy_name(strategy: object) -> str:
    """A strategy as the generation summaries record it: its repr, or its class name where
    the repr is ``object``'s (an address, which would differ from run to run)."""
    if type(strategy).__repr__ is object.__repr__:
        return type(strategy).__qualname__
    return repr(strategy)


def checked_settings(arguments: Mapping[str, object]) -> tuple[Settings, int | None]:
    """The settings and seed of HammingGASampler's constructor arguments, each checked."""
    values = checked(PARAMETER_CONSTRAINTS, arguments)
    defaults = {"selection": ga.HammingGateSelection(), "mutation": ga.ForcedMutation()}
    for strategy, owned in _OWNED_BY.items():
        if values[strategy] is None:
            continue
        default = defaults[strategy]
        for argument, field_name in owned.items():
            paper = getattr(default, field_name) if field_name else True
            if values[argument] != paper:
                raise ValueError(
                    f"`{argument}={values[argument]!r}` and `{strategy}=` were both passed; "
                    f"the strategy decides: pass its settings to it, e.g. "
                    f"{strategy}={_example(strategy, argument)}"
                )
    for switch, replacement in _DEPRECATED_SWITCHES.items():
        if values[switch] is False:
            warnings.warn(
                f"`{switch}=False` is deprecated and will be removed: it says what "
                f"`{replacement}` says; pass that instead.",
                FutureWarning,
                stacklevel=3,
            )
    selection = values["selection"]
    if selection is None:
        gated = values["hamming_gate"]
        selection = (ga.HammingGateSelection if gated else ga.UngatedSelection)(
            retain=values["retain"], select=values["select"]
        )
    mutation = values["mutation"]
    if mutation is None:
        forced = values["forced_mutation"]
        mutation = (ga.ForcedMutation if forced else ga.PlainMutation)(rate=values["mutate"])
    child_generation = values["child_generation"]
    if values["screening"] is not None:
        if child_generation is not None:
            raise ValueError(
                "`screening=` and `child_generation=` were both passed, and a sampler makes "
                "its children one way: `screening=` is the accelerated mode's, "
                "`child_generation=` a strategy of your own. Pass one of them."
            )
        child_generation = ScreenedGeneration(values["screening"])
    settings = Settings(
        population_size=values["population_size"],
        crossover_split=values["crossover_split"],
        float_bits=values["float_bits"],
        skip_duplicates=values["skip_duplicates"],
        max_redraws=values["max_redraws"],
        selection=selection,
        mutation=mutation,
        child_generation=child_generation or PaperGeneration(),
    )
    return settings, values["seed"]


def _example(strategy: str, argument: str) -> str:
    examples = {
        ("selection", "hamming_gate"): "UngatedSelection(retain=0.4, select=0.5)",
        ("mutation", "forced_mutation"): "PlainMutation(rate=0.2)",
        ("mutation", "mutate"): "ForcedMutation(rate=...)",
    }
    return examples.get((strategy, argument), f"HammingGateSelection({argument}=...)")
