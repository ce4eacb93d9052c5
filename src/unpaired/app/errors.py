"""The app's user errors: one line that the page shows (and the command line prints)."""

from __future__ import annotations

from ..errors import UnpairedError

__all__ = ["INSTALL_HINT", "AppError"]

INSTALL_HINT = 'pip install "unpaired[app]"'


class AppError(UnpairedError):
    """An option, upload or request the app cannot serve; the message names it."""
