"""Layer 3: Keras 3 (backend-agnostic, ``keras.ops``) from images to a trained head.

* :mod:`.backbones`: pre-trained CNNs by name (``keras.applications`` and the offline ports);
* :mod:`.views`: augmented views of an image (mirror, shifts), in extraction and in the graph;
* :mod:`.features`: features of a dataset (and of its views) through a backbone, cached on
  disk by content;
* :mod:`.heads`: the paper's head (SPEC 5);
* :mod:`.training`: the one training core: one head fitted on arrays (``train_head`` with
  early stopping, ``fit_head`` for a fixed epoch count), its batches and its result;
* :mod:`.scoring`: a head's predictions and their macro F1, weighted F1 and accuracy;
* :mod:`.fitness`: how the search scores a head: the paper's holdout, or stratified K-fold
  CV; the rows and seeds of every trial;
* :mod:`.objective`: the Optuna objective that trains one head per trial;
* :mod:`.trial_attrs`: the user attributes a head's trial carries;
* :mod:`.batched`, :mod:`.batched_study`: many heads as one JAX program, and a study run so;
* :mod:`.final_model`: the wait for other workers' last heads, then the best genome
  retrained, scored on test, exported as one ``.keras``;
* :mod:`.ensemble`: or several genomes, chosen greedily on out-of-fold predictions, averaged;
* :mod:`.compilation_cache`: JAX's persistent compilation cache, turned on by the caller;
* :mod:`.cache`: where the project cache lives.
"""

from optuna_hamming.vision.backbones import DEFAULT_BACKBONE, Backbone, build_backbone
from optuna_hamming.vision.cache import default_cache_dir
from optuna_hamming.vision.compilation_cache import use_jax_compilation_cache
from optuna_hamming.vision.ensemble import FinalEnsemble, select_members, train_final_ensemble
from optuna_hamming.vision.features import (
    ExtractionReport,
    features_for,
    features_from,
    view_features_for,
)
from optuna_hamming.vision.final_model import (
    FinalModel,
    await_running_trials,
    export_image_classifier,
    image_classifier,
    train_final_model,
)
from optuna_hamming.vision.heads import HeadGenome, build_head
from optuna_hamming.vision.objective import HeadObjective
from optuna_hamming.vision.scoring import HeadScores
from optuna_hamming.vision.training import train_head
from optuna_hamming.vision.views import VIEW_SETS

__all__ = [
    "DEFAULT_BACKBONE",
    "VIEW_SETS",
    "Backbone",
    "ExtractionReport",
    "FinalEnsemble",
    "FinalModel",
    "HeadGenome",
    "HeadObjective",
    "HeadScores",
    "await_running_trials",
    "build_backbone",
    "build_head",
    "default_cache_dir",
    "export_image_classifier",
    "features_for",
    "features_from",
    "image_classifier",
    "select_members",
    "train_final_ensemble",
    "train_final_model",
    "train_head",
    "use_jax_compilation_cache",
    "view_features_for",
]
