"""A study keeps the sampler settings it was started with.

The first worker that opens a study stores its sampler's configuration as the study system
attribute ``hamming_ga:settings`` (:data:`~optuna_hamming.sampler.attributes.SETTINGS_KEY`):
population size, gene encoding, the archive rule and every strategy with its fields. A later
sampler, in any process, from Python or the CLI, whose configuration differs continues the
study with the stored one and logs a warning naming each difference, because a study whose
generations were bred under two configurations compares nothing, and because every worker of a
study must compute the same plans.

Only a stored strategy of a class this package defines can be rebuilt. A study started with a
strategy of the user's own whose fields differ now raises :class:`SettingsMismatchError`
naming the differences: nothing can continue it faithfully except that strategy itself.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

from optuna_hamming import ga
from optuna_hamming.ga.surrogate import ForestSurrogate, SurrogateScreening
from optuna_hamming.sampler.child_generation import PaperGeneration, ScreenedGeneration
from optuna_hamming.sampler.settings import Settings, strategy_name

_logger = logging.getLogger("optuna_hamming.sampler")

CLASS_FIELD = "class"
# What a stored configuration may name, and so rebuild: this package's strategies only (a
# name read from storage never imports anything).
REBUILDABLE: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        ga.HammingGateSelection,
        ga.UngatedSelection,
        ga.ForcedMutation,
        ga.PlainMutation,
        PaperGeneration,
        ScreenedGeneration,
        SurrogateScreening,
        ForestSurrogate,
    )
}


class SettingsMismatchError(ValueError):
    """A study's stored settings differ from the sampler's and cannot be rebuilt here."""


def settings_to_json(settings: Settings) -> dict[str, Any]:
    """The settings as the JSON object a study stores (strategies as class and fields)."""
    encoded = _encode(settings)
    assert isinstance(encoded, dict)
    encoded.pop(CLASS_FIELD)
    # Tuples become lists and so on: compare what storage would hand back.
    return dict(json.loads(json.dumps(encoded)))


def settings_from_json(data: Mapping[str, Any]) -> Settings | None:
    """The settings a study stored, or None where a class is not rebuildable here."""
    try:
        fields = {name: _decode(value) for name, value in data.items()}
        return Settings(**fields)
    except (KeyError, TypeError, ValueError):
        return None


def differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``name=stored (this sampler: current)`` for each leaf that differs, dotted through
    strategies; where a strategy's class differs, that line alone (its fields are another
    class's, so listing them would only repeat it)."""
    flat_stored, flat_current = _flat(stored), _flat(current)
    changed = sorted(
        name
        for name in set(flat_stored) | set(flat_current)
        if flat_stored.get(name) != flat_current.get(name)
    )
    suffix = f".{CLASS_FIELD}"
    replaced = [name[: -len(CLASS_FIELD)] for name in changed if name.endswith(suffix)]
    return [
        f"{name}={flat_stored.get(name)!r} (this sampler: {flat_current.get(name)!r})"
        for name in changed
        if not any(
            name.startswith(prefix) and name != f"{prefix}{CLASS_FIELD}" for prefix in replaced
        )
    ]


def study_settings(
    stored: Mapping[str, Any] | None, settings: Settings, study_name: str
) -> Settings:
    """The settings a worker runs ``study_name`` with: the stored ones (warning about each
    difference from ``settings``) or, for a study that stored none yet, ``settings``."""
    if stored is None:
        return settings
    changed = differences(stored, settings_to_json(settings))
    if not changed:
        return settings
    rebuilt = settings_from_json(stored)
    if rebuilt is None:
        raise SettingsMismatchError(
            f"study {study_name!r} was started with other sampler settings: "
            f"{'; '.join(changed)}. Its strategies are not this package's, so they cannot be "
            "rebuilt from storage: continue it with a sampler configured as it was, or start "
            "a new study (another study_name) for the new settings."
        )
    _logger.warning(
        "study %r keeps the sampler settings it was started with: %s. This worker continues "
        "with the stored settings; start a new study to use other ones.",
        study_name,
        "; ".join(changed),
    )
    return rebuilt


def _encode(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        encoded: dict[str, Any] = {CLASS_FIELD: type(value).__name__}
        for item in dataclasses.fields(value):
            encoded[item.name] = _encode(getattr(value, item.name))
        return encoded
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    # A strategy of the user's own that is not a dataclass: its name is all storage holds.
    return {CLASS_FIELD: type(value).__qualname__, "repr": strategy_name(value)}


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and CLASS_FIELD in value:
        cls = REBUILDABLE[value[CLASS_FIELD]]
        return cls(**{k: _decode(v) for k, v in value.items() if k != CLASS_FIELD})
    return value


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flat(value, f"{key}."))
        else:
            flat[key] = value
    return flat
