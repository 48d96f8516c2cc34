"""Layer 1: the paper's genetic algorithm in pure numpy (no Optuna, no Keras).

One generation of Algorithm 1 (SPEC section 3):

1. grade (best first), 2. Hamming distances H of the graded population and
``Significant = (max H - min H) / 2``, 3. retain the top ``int(retain * size)``,
4. admit each other individual, best first, when ``random() < select`` and its distance to
every parent so far is greater than Significant (:mod:`.selection`), 5. breed children from
random pairs of parents: crossover of part A and part B, then mutation with probability
``mutate``; a pair with equal genomes gives a forced mutation of the male
(:mod:`.breeding`), 6. next population = parents + children.

:mod:`.genome` holds genes, bit strings and Hamming distances; :mod:`.screening` the
accelerated mode's candidates and model; :mod:`.design` a Latin-hypercube generation 0.
Every operator is a small function or strategy object that takes a
``numpy.random.Generator``.
"""

from optuna_hamming.ga.breeding import (
    ORIGIN_CROSSOVER,
    ORIGIN_CROSSOVER_MUTATION,
    ORIGIN_FORCED_MUTATION,
    ORIGIN_INITIAL,
    ORIGIN_RANDOM_UNEVALUATED,
    BreedingOperators,
    Child,
    ForcedMutation,
    MutationStrategy,
    PlainMutation,
    breed,
    breed_one,
    breed_skipping_duplicates,
    crossover,
    default_split,
    mutate,
    random_genome,
    random_unseen_genome,
    space_size,
)
from optuna_hamming.ga.genome import (
    ABSENT,
    CategoricalGene,
    Gene,
    GenomeLayout,
    GridGene,
    IntArray,
    bits_for,
    hamming_matrix,
    resolvable_points,
    upper_distances,
)
from optuna_hamming.ga.selection import (
    HammingGateSelection,
    Selection,
    SelectionStrategy,
    UngatedSelection,
    grade,
    retain_count,
    significance,
)

__all__ = [
    "ABSENT",
    "ORIGIN_CROSSOVER",
    "ORIGIN_CROSSOVER_MUTATION",
    "ORIGIN_FORCED_MUTATION",
    "ORIGIN_INITIAL",
    "ORIGIN_RANDOM_UNEVALUATED",
    "BreedingOperators",
    "CategoricalGene",
    "Child",
    "ForcedMutation",
    "Gene",
    "GenomeLayout",
    "GridGene",
    "HammingGateSelection",
    "IntArray",
    "MutationStrategy",
    "PlainMutation",
    "Selection",
    "SelectionStrategy",
    "UngatedSelection",
    "bits_for",
    "breed",
    "breed_one",
    "breed_skipping_duplicates",
    "crossover",
    "default_split",
    "grade",
    "hamming_matrix",
    "mutate",
    "random_genome",
    "random_unseen_genome",
    "resolvable_points",
    "retain_count",
    "significance",
    "space_size",
    "upper_distances",
]
