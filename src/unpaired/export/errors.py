"""The export's user error."""

from __future__ import annotations

from ..errors import UnpairedError

__all__ = ["ExportError"]


class ExportError(UnpairedError):
    """An export that cannot be done (missing extra, existing output, unknown format)."""
