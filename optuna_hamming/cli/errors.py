"""Errors the CLI reports as one line and an exit code, without a traceback."""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake in the command line or its environment; the message says how to fix it."""


class Interrupted(Exception):
    """Ctrl-C: what was done is kept, and the message says how to continue."""
