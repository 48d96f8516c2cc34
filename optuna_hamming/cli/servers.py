"""``optuna-hamming dashboard`` and ``ui``: the two web UIs, bound to 127.0.0.1 unless
``--host`` says otherwise."""

from __future__ import annotations

import argparse
import subprocess
import sys

from optuna_hamming.cli.common import open_storage, study_name_in
from optuna_hamming.cli.errors import UserError


def run_dashboard(args: argparse.Namespace) -> int:
    import optuna_dashboard

    storage = open_storage(args.storage)
    if args.study_name is not None:
        study_name_in(storage, args.study_name, args.storage)  # a clear error for a typo
    print(f"optuna-dashboard for {args.storage} on http://{args.host}:{args.port} (Ctrl-C stops)")
    try:
        optuna_dashboard.run_server(storage, host=args.host, port=args.port)
    except OSError as error:
        raise UserError(
            f"cannot listen on {args.host}:{args.port} ({error}); pass another --port or --host"
        ) from None
    return 0


def run_ui(args: argparse.Namespace) -> int:
    from optuna_hamming.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(args.tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise UserError(f"{uri} is a server already: open it in a browser")
    print(f"MLflow UI for {uri} on http://{args.host}:{args.port} (Ctrl-C stops)")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    return subprocess.call(command)
