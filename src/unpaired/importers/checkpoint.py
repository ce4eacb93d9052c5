"""Read another project's checkpoint safely: ``torch.load(weights_only=True)`` and nothing else.

A ``.pth`` file is a pickle; unpickling arbitrary objects runs code the file names, so a file
downloaded from somewhere could do anything on load. Only tensors, numbers, strings and plain
containers are read here: a file that pickles a class, a function or a whole model is refused
with one line saying so, never loaded another way.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointImportError

__all__ = ["load_checkpoint", "sha256_of", "strip_module_prefix"]

# torch names the offending object in its message: "Unsupported global: GLOBAL pkg.Class".
_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_checkpoint(path: str | Path) -> Any:
    """The object stored in ``path`` (CPU tensors), loaded with ``weights_only=True``.

    A DataParallel ``module.`` prefix is stripped from the keys of a state dict (and of the
    state dicts a dict holds, e.g. MUNIT's ``{"a": ..., "b": ...}``). A missing file, a folder,
    a file that is not a PyTorch checkpoint and one that needs pickle code execution raise a
    one-line :class:`CheckpointImportError` naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointImportError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointImportError(f"{path}: is a folder, not a checkpoint file")
    try:
        with warnings.catch_warnings():
            # "Detected pickle protocol 4 ..." and the like: noise for a file we refuse anyway.
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        if found:
            raise CheckpointImportError(
                f"{path}: needs pickle code execution to load (it stores the Python object "
                f"{found.group(1)}, not only tensors); refused for safety: load it where you "
                "trust it and torch.save(its state_dict()) instead"
            ) from None
        raise CheckpointImportError(
            f"{path}: not a PyTorch checkpoint (the weights-only loader cannot read it)"
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError, AttributeError, IndexError) as exc:
        reason = " ".join(str(exc).split())[:100] or type(exc).__name__
        if isinstance(exc, EOFError):
            reason = "empty or cut short"
        elif isinstance(exc, KeyError):  # torch's legacy reader met an unknown leading byte
            reason = "not written by torch.save"
        raise CheckpointImportError(f"{path}: not a PyTorch checkpoint ({reason})") from None
    except OSError as exc:
        raise CheckpointImportError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return strip_module_prefix(obj)


def strip_module_prefix(obj: Any) -> Any:
    """``{"module.model.1.weight": t}`` -> ``{"model.1.weight": t}`` when every key of a
    tensor mapping carries the prefix (a DataParallel or DDP wrapper was saved); mappings of
    such mappings are stripped each. Anything else is returned as it is."""
    if not isinstance(obj, Mapping) or not obj:
        return obj
    values = list(obj.values())
    if all(isinstance(v, torch.Tensor) for v in values):
        keys = list(obj)
        if all(isinstance(k, str) and k.startswith("module.") for k in keys):
            return {k[len("module.") :]: v for k, v in obj.items()}
        return dict(obj)
    if all(isinstance(v, Mapping) for v in values):
        return {k: strip_module_prefix(v) for k, v in obj.items()}
    return obj


def sha256_of(path: str | Path) -> str:
    """The SHA-256 (hex) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
