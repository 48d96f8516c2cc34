"""Layer 2: the paper's GA as an Optuna sampler (Optuna, no Keras, no MLflow).

:class:`HammingGASampler` is a thin shell over :mod:`optuna_hamming.ga`: selection and
mutation are strategies of layer 1, and the making of each generation's children is a
:class:`ChildGenerationStrategy` (:mod:`.child_generation`): the paper's
:class:`PaperGeneration` by default, or the accelerated mode's screened generation that
``screening=SurrogateScreening()`` builds. A study keeps the settings it was started with
(:meth:`HammingGASampler.settings_for`).

Public modules: :mod:`.attributes`, the keys and attribute names the sampler writes and the
typed generation summary, for everything that reads a study back; :mod:`.configurations`,
what each named configuration builds, :func:`recommended_sampler` among them;
:mod:`.settings`, the constructor's table of arguments and the :class:`Settings` they make;
:mod:`.search_space`, a study's parameters as genes (:class:`GenomeSpace`); :mod:`.archive`,
the best fitness per genome (:func:`fitness_of`). Private ones keep the storage bookkeeping:
generation plans (``_plan``), closing a generation (``_closing``), each trial's claim on a
child (``_claims``), the per-process cache of a study's state (``_state``) and the settings a
study stores (``_stored_settings``).
"""

from optuna_hamming.ga.surrogate import ForestSurrogate, SurrogateScreening
from optuna_hamming.sampler._sampler import HammingGASampler
from optuna_hamming.sampler._stored_settings import SettingsMismatchError
from optuna_hamming.sampler.archive import fitness_of
from optuna_hamming.sampler.attributes import GenerationSummary, read_generations
from optuna_hamming.sampler.child_generation import (
    BreedingContext,
    Brood,
    ChildGenerationStrategy,
    PaperGeneration,
)
from optuna_hamming.sampler.configurations import recommended_sampler
from optuna_hamming.sampler.search_space import GenomeSpace
from optuna_hamming.sampler.settings import Settings

__all__ = [
    "BreedingContext",
    "Brood",
    "ChildGenerationStrategy",
    "ForestSurrogate",
    "GenerationSummary",
    "GenomeSpace",
    "HammingGASampler",
    "PaperGeneration",
    "Settings",
    "SettingsMismatchError",
    "SurrogateScreening",
    "fitness_of",
    "read_generations",
    "recommended_sampler",
]
