"""What several commands print: the generation table."""

from __future__ import annotations

import optuna

from optuna_hamming import HammingGASampler


def print_generation_table(study: optuna.Study) -> None:
    generations = HammingGASampler.generations(study)
    if not generations:
        print("no generation has closed yet")
        return
    print(
        f"{'gen':>3} {'members':>7} {'best':>6} {'mean retained':>13} {'H min':>5} "
        f"{'H max':>5} {'signif.':>7} {'admitted':>8} {'forced':>6}"
    )
    for g, s in generations.items():
        print(
            f"{g:>3} {len(s['members']):>7} {s['best']:>6.3f} {s['mean_retained']:>13.3f} "
            f"{s['hamming_min']:>5} {s['hamming_max']:>5} {s['significant']:>7.1f} "
            f"{len(s['selected']):>8} {s['forced_mutations']:>6}"
        )
