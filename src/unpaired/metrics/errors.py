"""Errors of the evaluation code; the command line prints each as one ``error:`` line."""

from __future__ import annotations

INSTALL_HINT = "pip install 'unpaired[metrics]'"


class EvalError(ValueError):
    """A user mistake in an evaluation (a folder, an option); the message names it."""


class MetricsUnavailable(EvalError):
    """The Inception network for FID/KID is not installed (the ``metrics`` extra)."""
