"""optuna-hamming: the Hamming-distance genetic algorithm of the paper as an Optuna sampler.

Layer 1 (``genome``, ``evolution``) is pure numpy; layer 2 (``search_space``,
``generations``, ``sampler``) adds Optuna. Importing this package imports Optuna but never
Keras or MLflow.
"""

from optuna_hamming.sampler import HammingGASampler

__all__ = ["HammingGASampler"]
__version__ = "0.1.0"
