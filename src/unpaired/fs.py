"""File safety, used by every writer: atomic writes, temporary names, never an input overwritten.

* :func:`atomic_write` calls a writer on a hidden temporary file next to the target, syncs it
  and renames it over the target, so a crash or a full disk never leaves a half-written file
  and the previous version survives until the new one is complete.
* :func:`temporary_name` is the hidden, unique name such a write uses (same extension, so
  writers that pick the format from the suffix still work).
* :func:`is_within` and :func:`same_file` compare resolved real paths (symlinks included), for
  the checks that refuse to write over an input.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "atomic_folder",
    "atomic_write",
    "describe_os_error",
    "is_within",
    "same_file",
    "temporary_name",
]


def temporary_name(path: Path) -> Path:
    """A hidden, unique name next to ``path`` with the same extension."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    return path.with_name(f".{path.stem}.{token}.part{path.suffix}")


def atomic_write(path: str | Path, write: Callable[[Path], object], sync: bool = True) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it over ``path``.

    The parent folder is created. On any exception (or Ctrl-C) the temporary file is removed
    and ``path`` is left as it was. ``write`` may create ``tmp`` as a file or a folder (a
    DICOM series); a folder is not fsynced. The file gets the usual permissions (umask).
    Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        write(tmp)
        if tmp.is_file():
            if sync:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        if exc.filename is None or str(exc.filename) == str(tmp):
            # Name the file the user asked for, not our temporary (or nothing, as a plain
            # write() on a full disk does).
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    except BaseException:
        _remove(tmp)
        raise
    return path


def atomic_folder(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to fill a new temporary folder next to ``path``, then swap it in.

    An existing ``path`` (file or folder) is moved aside first and removed only once the new
    folder is in place; on any failure the old one is put back and the temporary removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    old = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.old")
    try:
        tmp.mkdir()
        write(tmp)
        os.chmod(tmp, 0o777 & ~_umask())
        if os.path.lexists(path):
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            _remove(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            _remove(tmp)
        raise
    return path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink(missing_ok=True)
        path.rmdir()
    else:
        path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_within(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it, comparing resolved real paths."""
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file once symlinks are resolved."""
    return os.path.realpath(a) == os.path.realpath(b)


def describe_os_error(exc: OSError) -> str:
    """One line for an operating-system error: the file it concerns and what went wrong, with
    the usual causes in words (``disk full`` for ENOSPC / EDQUOT, ``read-only`` for EROFS)."""
    import errno

    words = {
        errno.ENOSPC: "disk full (no space left on the device)",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EISDIR: "is a folder",
        errno.ENOENT: "no such file or folder",
        errno.EEXIST: "exists already",
    }
    reason = words.get(exc.errno, exc.strerror or str(exc) or type(exc).__name__)
    where = exc.filename if exc.filename is not None else ""
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    return f"{where}: {reason}" if where else reason
