"""Errors of the evaluation code; the command line prints each as one ``error:`` line."""

from __future__ import annotations

from ..errors import UnpairedError

INSTALL_HINT = "pip install 'unpaired[metrics]'"


class EvalError(UnpairedError):
    """A user mistake in an evaluation (a folder, an option); the message names it."""


class MetricsUnavailable(EvalError):
    """The Inception network for FID/KID is not installed (the ``metrics`` extra)."""
