"""The publishing error; the command line prints it as one ``error:`` line."""

from __future__ import annotations

from ..errors import UnpairedError


class PublishError(UnpairedError):
    """A folder that cannot be published, or a bad publishing option (the message names it)."""
