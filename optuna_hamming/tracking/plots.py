"""The paper's figures and Optuna's standard plots of a study, as matplotlib figures.

* ``retained_fitness_figure``: Figures 2 and 3, the fitness of the retained individuals of
  every generation (dots) and their mean (line);
* ``generation_scatter_figure``: Figures 4-8, every individual of one generation in 3D, with
  x = the part-A genome code, y = the part-B code (each part's bits read as a binary number)
  and z = fitness;
* ``study_figures``: those for the first, a middle and the last generation, plus Optuna's
  optimisation history and parameter importances.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import optuna
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.trial import TrialState

from optuna_hamming.ga.breeding import default_split
from optuna_hamming.sampler.attributes import GenerationSummary, read_generations
from optuna_hamming.sampler.search_space import GenomeSpace


def retained_fitness_figure(
    generations: Mapping[int, GenerationSummary], *, title: str = "", metric: str = "macro F1"
) -> Figure:
    # Figure() rather than pyplot: no global state, no display needed, safe in threads.
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    xs, ys, means = [], [], []
    for g, summary in generations.items():
        fitness = dict(zip(summary["members"], summary["fitness"], strict=True))
        retained = [fitness[n] for n in summary["retained"] if n in fitness]
        xs += [g] * len(retained)
        ys += retained
        means.append((g, float(summary["mean_retained"])))
    axes.scatter(xs, ys, s=18, alpha=0.6, label="retained individuals")
    if means:
        axes.plot(*zip(*means, strict=True), color="C3", marker="o", label="mean of the retained")
    axes.set_xlabel("generation")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "generation 2.5" ticks
    axes.set_ylabel(f"fitness ({metric})")
    axes.set_title(title or "Fitness of the retained individuals per generation")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def part_codes(gene: str, part_a_bits: int) -> tuple[int, int]:
    """A genome bit string read as two binary numbers: part A, then part B ('-' reads 0)."""
    bits = gene.replace("-", "0")
    a, b = bits[:part_a_bits], bits[part_a_bits:]
    return int(a, 2) if a else 0, int(b, 2) if b else 0


def generation_scatter_figure(
    summary: GenerationSummary, generation: int, *, part_a_bits: int, metric: str = "macro F1"
) -> Figure:
    figure = Figure(figsize=(7, 6))
    axes = figure.add_subplot(projection="3d")
    codes = [part_codes(gene, part_a_bits) for gene in summary["genes"]]
    xs, ys = [c[0] for c in codes], [c[1] for c in codes]
    axes.scatter(xs, ys, summary["fitness"], c=summary["fitness"], cmap="viridis", s=30)
    axes.set_xlabel("part A code")
    axes.set_ylabel("part B code")
    axes.set_zlabel(f"fitness ({metric})")
    axes.set_title(f"Generation {generation}: {len(codes)} individuals")
    figure.tight_layout()
    return figure


def part_a_bits_of(
    study: optuna.Study, *, float_bits: int = 8, crossover_split: int | None = None
) -> int:
    """Bits of part A in the study's genome (the genes before the crossover split)."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    space = GenomeSpace.from_trials(trials, float_bits)
    bits = space.layout.bits
    split = default_split(len(bits)) if crossover_split is None else crossover_split
    return int(sum(bits[:split]))


def study_figures(
    study: optuna.Study, *, float_bits: int = 8, crossover_split: int | None = None
) -> dict[str, Figure]:
    """File name -> figure, for every figure the study has data for."""
    figures: dict[str, Figure] = {}
    generations = read_generations(study)
    if generations:
        figures["retained_fitness.png"] = retained_fitness_figure(
            generations, title=f"{study.study_name}: fitness of the retained individuals"
        )
        numbers = sorted(generations)
        chosen = sorted({numbers[0], numbers[len(numbers) // 2], numbers[-1]})
        a_bits = part_a_bits_of(study, float_bits=float_bits, crossover_split=crossover_split)
        for g in chosen:
            figures[f"generation_{g}_scatter.png"] = generation_scatter_figure(
                generations[g], g, part_a_bits=a_bits
            )
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    with warnings.catch_warnings():  # both are "experimental" since Optuna 2.2
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if completed:
            history = optuna.visualization.matplotlib.plot_optimization_history(study)
            figures["optimization_history.png"] = _figure_of(history)
        if len(completed) >= 2 and len({t.value for t in completed}) > 1:
            try:
                importances = optuna.visualization.matplotlib.plot_param_importances(study)
                figures["param_importances.png"] = _figure_of(importances)
            except (ValueError, RuntimeError):
                pass  # a single distinct parameter set, or too few trials: nothing to rank
    return figures


def _figure_of(axes: Any) -> Figure:
    figure = axes.get_figure(root=True)
    assert isinstance(figure, Figure)
    return figure


def save_figures(figures: Mapping[str, Figure], directory: str | Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = directory / name
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)  # Optuna's plots come from pyplot; ours are not registered there
        paths.append(path)
    return paths
