"""Models on the Hugging Face Hub: ``hf://owner/name`` as a model folder (placeholder)."""

from __future__ import annotations

from pathlib import Path

PREFIX = "hf://"


def is_hub(path: object) -> bool:
    """Whether ``path`` names a Hub repository (``hf://owner/name[@revision]``)."""
    return isinstance(path, str) and path.startswith(PREFIX)


def resolve(path: str) -> Path:
    """The local folder of ``hf://owner/name`` (downloaded or from the cache)."""
    raise NotImplementedError
