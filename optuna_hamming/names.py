"""The named configurations, each spelled here once (layer 1: imports nothing).

Names are stored with studies (the CLI's study config) and written into result tables, so
they outlive the code that reads them; everything in the package, the experiments, the
benchmarks and the tests refers to them by these constants. What each name builds is in
:mod:`optuna_hamming.sampler.configurations`. This module imports nothing, so that the
CLI's argument parser can offer the names and ``--help`` stays instant.
"""

from __future__ import annotations

# The CLI's --sampler choices.
PAPER = "paper"  # HammingGASampler(): Algorithm 1 as published
ACCELERATED = "accelerated"  # recommended_sampler(): the product's recommended sampler
SAMPLERS = (PAPER, ACCELERATED)
RECOMMENDED = "recommended"
# Names a sampler went by before, and what they stand for now (deprecated, they warn).
SAMPLER_ALIASES = {RECOMMENDED: ACCELERATED}

# The CLI's --preset choices (optuna_hamming.vision.presets): the paper's configuration of
# the whole search, and the one docs/results.md measures best.
PRESETS = (PAPER, RECOMMENDED)

# The accelerated mode's screenings.
SCREENING_DEFAULTS = "defaults"  # SurrogateScreening()
LEAN = "lean"  # SurrogateScreening.lean()
LEAN_LATIN = "lean-latin"  # SurrogateScreening.lean(initial_design="latin")
RECOMMENDED_SCREENING = LEAN_LATIN  # what recommended_sampler() screens with
SCREENING_NAMES = (SCREENING_DEFAULTS, LEAN, LEAN_LATIN)

# Every configuration name (a test holds the package to spelling them only here).
CONFIGURATIONS = (*SAMPLERS, *SAMPLER_ALIASES, *SCREENING_NAMES)

# The CLI's --imbalance choices (another option that happens to share a spelling).
IMBALANCE_PAPER = "paper"  # the classes subsampled to the paper's Table II proportions
IMBALANCE_NONE = "none"  # every image
IMBALANCES = (IMBALANCE_PAPER, IMBALANCE_NONE)

# The CLI's --views choices: the augmented view sets (optuna_hamming.vision.views.VIEW_SETS),
# and "auto", which chooses one of them by cross-validation (vision.view_choice).
VIEWS_NONE = "none"  # the images alone, as the paper
VIEWS_FLIP = "flip"
VIEWS_SHIFTS = "shifts"
VIEWS_FLIP_SHIFTS = "flip-shifts"
VIEW_SET_NAMES = (VIEWS_NONE, VIEWS_FLIP, VIEWS_SHIFTS, VIEWS_FLIP_SHIFTS)
VIEWS_AUTO = "auto"

# The CLI's --layers choices: what the backbone hands the heads (vision.backbones.layer_taps).
LAYERS_POOLED = "pooled"  # the last feature map, mean-pooled (the paper's features)
LAYERS_MULTI = "multi-layer"  # + its max pooling and a middle block's mean pooling
LAYER_CHOICES = (LAYERS_POOLED, LAYERS_MULTI)

# The CLI's --normalise choices (vision.normalisation).
NORMALISE_NONE = "none"  # the features as the backbone gives them (the paper)
NORMALISE_STANDARD = "standard"  # zero mean, unit variance over train + validation
NORMALISE_CHOICES = (NORMALISE_NONE, NORMALISE_STANDARD)
