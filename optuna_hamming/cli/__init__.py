"""``optuna-hamming``: the command line (layer 5). It only composes the layers below.

optuna-hamming search     # features, the GA study, the final model, all logged to MLflow
optuna-hamming show       # a study's generation table and best genomes
optuna-hamming report     # the paper's figures and Optuna's plots, as PNG files
optuna-hamming dashboard  # optuna-dashboard on 127.0.0.1 for the study's storage
optuna-hamming ui         # the MLflow UI on 127.0.0.1 for the tracking database
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from optuna_hamming.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, UserError
from optuna_hamming.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
        return code
    except UserError as error:
        print(f"optuna-hamming {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as stop:
        print(f"\noptuna-hamming {args.command}: interrupted. {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"\noptuna-hamming {args.command}: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED


__all__ = ["main"]
