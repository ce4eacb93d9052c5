"""The error of ``unpaired import``."""

from __future__ import annotations

from ..errors import UnpairedError


class CheckpointImportError(UnpairedError):
    """A checkpoint that cannot be turned into a model folder; the message names the file and
    what is wrong (e.g. the first key that maps to nothing)."""
