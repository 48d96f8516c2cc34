"""Layer 2: the paper's GA as an Optuna sampler (Optuna, no Keras, no MLflow).

:class:`HammingGASampler` is a thin shell over :mod:`optuna_hamming.ga`; its private modules
keep the storage bookkeeping: the search space as genes (``_search_space``), generation plans
(``_plan``), closing a generation (``_closing``), the archive (``_archive``), each trial's
claim on a child (``_claims``), the per-process cache of a study's state (``_state``) and the
settings table (``_settings``). :mod:`.attributes` is public: the keys and attribute names the
sampler writes and the typed generation summary, for everything that reads a study back.
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

__all__ = [
    "ForcedMutation",
    "GenerationSummary",
    "GenomeSpace",
    "HammingGASampler",
    "HammingGateSelection",
    "MutationStrategy",
    "PlainMutation",
    "SelectionStrategy",
    "Settings",
    "UngatedSelection",
    "fitness_of",
    "read_generations",
]
