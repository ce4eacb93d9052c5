"""The user-error base class.

Every mistake a user can make (a bad option, a missing folder, an unreadable file, a model
folder that does not fit) raises a subclass of :class:`UnpairedError` whose message is one
line naming the option or file and what is wrong. The command line catches this base class
alone and prints ``error: <message>``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["UnpairedError"]


class UnpairedError(ValueError):
    """A user-facing mistake; ``str(exc)`` is one line naming the option or file.

    It derives from :class:`ValueError` so that code written against the older, separate error
    classes (all ``ValueError`` subclasses) keeps catching them.
    """
