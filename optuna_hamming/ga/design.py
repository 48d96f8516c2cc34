"""Generation 0's genomes as a Latin hypercube rather than drawn at random.

The paper draws generation 0 at random. With a model screening the children from the first
generation on, how well those few genomes cover each gene's values decides what the model
can learn first: a Latin hypercube of n genomes cuts every gene's choices into n equal
slices and puts exactly one genome in each, so that ten genomes see all ten values of a
ten-valued gene where ten random draws see about six and a half.
"""

from __future__ import annotations

import zlib

import numpy as np

# Tells the design's streams apart from every other stream seeded with the study's seed.
_DESIGN_STREAM = 0x1A71


def latin_slice(seed: int, gene: str, index: int, n_slices: int) -> int:
    """The slice of ``gene``'s choices that genome ``index`` of ``n_slices`` takes.

    Each gene has its own permutation of the slices, seeded by the study's seed and the
    gene's name (not its position, which a conditional space does not fix), so that every
    worker gives a genome index the same slice and the genes' slices are independent.
    """
    if not 0 <= index < n_slices:
        raise ValueError(f"index must be in [0, {n_slices}), got {index}")
    key = zlib.crc32(gene.encode())
    stream = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, _DESIGN_STREAM, key]))
    )
    return int(stream.permutation(n_slices)[index])


def latin_choice(n_choices: int, position: int, n_slices: int, rng: np.random.Generator) -> int:
    """A choice drawn uniformly from slice ``position`` of ``n_slices`` equal slices of
    ``[0, n_choices)``: over the slices, every choice is as likely as the others, as in a
    random draw. One number is drawn from ``rng``."""
    if not 0 <= position < n_slices:
        raise ValueError(f"position must be in [0, {n_slices}), got {position}")
    point = (position + rng.random()) * n_choices / n_slices
    return min(n_choices - 1, int(point))
