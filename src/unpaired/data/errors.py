"""User-facing data errors, shared by the dataset, the medical readers and the command line.

Each message is one line naming the folder, file or option, so ``unpaired`` prints it as a
single ``error:`` line.
"""

from __future__ import annotations

from ..errors import UnpairedError

__all__ = ["DataError", "MissingExtra"]

MEDICAL_INSTALL = "pip install 'unpaired[medical]'"


class DataError(UnpairedError):
    """A problem with the user's images; the message names the folder or file."""


class MissingExtra(DataError):
    """An optional dependency (an extra) is not installed; the message says how to get it."""


def medical_extra(action: str) -> MissingExtra:
    """``reading DICOM needs the medical extra: pip install 'unpaired[medical]'``."""
    return MissingExtra(f"{action} needs the medical extra: {MEDICAL_INSTALL}")
