"""Layer 2: the paper's GA as an Optuna sampler (Optuna, no Keras, no MLflow).

:class:`HammingGASampler` is a thin shell over :mod:`optuna_hamming.ga`; its private modules
keep the storage bookkeeping: the search space as genes (``_search_space``), generation plans
(``_plan``), closing a generation (``_closing``), the archive (``_archive``), each trial's
claim on a child (``_claims``), the per-process cache of a study's state (``_state``) and the
settings table (``_settings``). Public: :mod:`.attributes`, the keys and attribute names the
sampler writes and the typed generation summary, for everything that reads a study back;
:mod:`.screening`, the accelerated mode; :mod:`.recommended`, what README recommends.
"""

from optuna_hamming.ga import (
    ForcedMutation,
    HammingGateSelection,
    MutationStrategy,
    PlainMutation,
    SelectionStrategy,
    UngatedSelection,
)
from optuna_hamming.sampler._archive import fitness_of
from optuna_hamming.sampler._sampler import HammingGASampler
from optuna_hamming.sampler._search_space import GenomeSpace
from optuna_hamming.sampler._settings import Settings
from optuna_hamming.sampler.attributes import GenerationSummary, read_generations
from optuna_hamming.sampler.recommended import recommended_sampler
from optuna_hamming.sampler.screening import ForestSurrogate, SurrogateScreening

__all__ = [
    "ForcedMutation",
    "ForestSurrogate",
    "GenerationSummary",
    "GenomeSpace",
    "HammingGASampler",
    "HammingGateSelection",
    "MutationStrategy",
    "PlainMutation",
    "SelectionStrategy",
    "Settings",
    "SurrogateScreening",
    "UngatedSelection",
    "fitness_of",
    "read_generations",
    "recommended_sampler",
]
