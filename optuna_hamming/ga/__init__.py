"""Layer 1: the paper's genetic algorithm in pure numpy (no Optuna, no Keras).

One generation of Algorithm 1 (SPEC section 3):

1. grade (best first), 2. Hamming distances H of the graded population and
``Significant = (max H - min H) / 2``, 3. retain the top ``int(retain * size)``,
4. admit each other individual, best first, when ``random() < select`` and its distance to
every parent so far is greater than Significant (:mod:`.selection`), 5. breed children from
random pairs of parents: crossover of part A and part B, then mutation with probability
``mutate``; a pair with equal genomes gives a forced mutation of the male
(:mod:`.breeding`), 6. next population = parents + children.

:mod:`.genome` holds genes, bit strings and Hamming distances; :mod:`.selection` steps 1-4;
:mod:`.breeding` step 5; :mod:`.screening` the accelerated mode's candidates and the model
protocol, :mod:`.surrogate` its settings and default model, the ranking of candidates;
:mod:`.design` a Latin-hypercube generation 0.
Every operator is a small function or strategy object that takes a
``numpy.random.Generator``.
"""

from optuna_hamming.ga.breeding import (
    Child,
    ForcedMutation,
    MutationStrategy,
    PlainMutation,
    breed,
    crossover,
    mutate,
)
from optuna_hamming.ga.genome import (
    CategoricalGene,
    Gene,
    GenomeLayout,
    GridGene,
    hamming_matrix,
)
from optuna_hamming.ga.screening import Surrogate
from optuna_hamming.ga.selection import (
    HammingGateSelection,
    Selection,
    SelectionStrategy,
    UngatedSelection,
    grade,
    retain_count,
    significance,
)
from optuna_hamming.ga.surrogate import ForestSurrogate, SurrogateScreening

# What a user calls: the paper's operators and strategies, genes, and the accelerated mode's
# settings. The helpers the sampler uses (origins, the archive-aware breeding, the candidate
# pool) are imported from their modules.
__all__ = [
    "CategoricalGene",
    "Child",
    "ForcedMutation",
    "ForestSurrogate",
    "Gene",
    "GenomeLayout",
    "GridGene",
    "HammingGateSelection",
    "MutationStrategy",
    "PlainMutation",
    "Selection",
    "SelectionStrategy",
    "Surrogate",
    "SurrogateScreening",
    "UngatedSelection",
    "breed",
    "crossover",
    "grade",
    "hamming_matrix",
    "mutate",
    "retain_count",
    "significance",
]
