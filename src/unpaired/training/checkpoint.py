"""One training-state file per checkpoint, written atomically and read with weights_only=True.

The file holds everything needed to rebuild and resume the run: the resolved config, the
networks, both optimizers, the schedulers, the image pools, every RNG state, and the position
(step, epoch, batch within the epoch); and ``checksum``: the SHA-256 of that payload (every key,
number, string and tensor byte, in order), verified on load, so a flipped byte is an error
naming the file instead of a silently different run. Checkpoints written before checksums
(unpaired 0.1) have none and load as before.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UnpairedError
from ..fs import atomic_write

FORMAT_VERSION = 1


class CheckpointError(UnpairedError):
    """A checkpoint that cannot be used; the message names the file."""


# Free space (bytes) besides the payload's size below which a failed write means a full disk.
_MARGIN = 16 * 1024 * 1024


def payload_digest(state: Any) -> str:
    """SHA-256 of a checkpoint's payload: keys, types, numbers, strings and tensor bytes, in
    order. The same after a save and load round trip; any changed value changes it."""
    h = hashlib.sha256()
    _feed(h, state)
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(obj.shape)}:".encode())
        if t.numel():
            h.update(t.view(torch.uint8).numpy().data)
    elif isinstance(obj, dict):
        h.update(f"d{len(obj)}:".encode())
        for key, value in obj.items():
            _feed(h, key)
            _feed(h, value)
    elif isinstance(obj, (list, tuple)):
        h.update(f"{'l' if isinstance(obj, list) else 't'}{len(obj)}:".encode())
        for value in obj:
            _feed(h, value)
    elif isinstance(obj, bool) or obj is None:
        h.update(f"b{obj}:".encode())
    elif isinstance(obj, int):
        h.update(f"i{obj}:".encode())
    elif isinstance(obj, float):
        h.update(f"f{obj.hex()}:".encode())
    elif isinstance(obj, str):
        data = obj.encode("utf-8", "surrogatepass")
        h.update(f"s{len(data)}:".encode())
        h.update(data)
    elif isinstance(obj, bytes):
        h.update(f"y{len(obj)}:".encode())
        h.update(obj)
    else:
        h.update(f"o{type(obj).__name__}{obj!r}:".encode())


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically, with the
    SHA-256 of its payload.

    A failed write leaves the previous file as it was. A full disk is an ``OSError`` (ENOSPC)
    naming ``path``, also where ``torch.save`` reports it only as a ``RuntimeError`` of its zip
    writer.
    """
    state = {"format_version": FORMAT_VERSION, **state}
    state.pop("checksum", None)
    state["checksum"] = {"sha256": payload_digest(state)}
    try:
        atomic_write(path, lambda tmp: torch.save(state, tmp))  # an OSError names ``path``
    except RuntimeError as exc:  # torch's zip writer: "[enforce fail at inline_container.cc]"
        if _disk_full(path.parent, _tensor_bytes(state)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        first = (str(exc).splitlines() or [""])[0][:200]
        raise CheckpointError(f"checkpoint {path} could not be written ({first})") from None


def _disk_full(folder: Path, needed: int) -> bool:
    """Whether ``folder``'s file system has less room than a payload of ``needed`` bytes."""
    try:
        return shutil.disk_usage(folder).free < needed + _MARGIN
    except OSError:
        return False


def _tensor_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` (no code runs at load)."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} is not an unpaired training checkpoint")
    checksum = state.pop("checksum", None)  # None: written before checksums (unpaired 0.1)
    if checksum is not None:
        expected = checksum.get("sha256") if isinstance(checksum, dict) else None
        if expected != payload_digest(state):
            raise CheckpointError(
                f"checkpoint {path} is corrupted (its SHA-256 checksum does not match its "
                "contents); resume from an older copy (checkpoints/epoch_*.pt) or start over"
            )
    return state


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) RNG states, in weights_only-loadable types."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    npst = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            npst["keys"].numpy().astype(np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
