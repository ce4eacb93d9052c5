"""The run folder: its name, its lock, and what a crash may have left in it.

* One process trains in a run folder at a time: :class:`RunLock` holds an exclusive
  ``fcntl.flock`` on ``<run>/.lock`` for the whole run. The kernel drops it when the process
  ends, however it ends (a SIGKILL or an out-of-memory kill included), so a lock left by a
  dead process is simply taken over; a live one makes the second run refuse with one line.
* New names are taken atomically: :func:`claim_new` creates the folder with an exclusive
  ``mkdir``, so two runs started at once without ``--name`` get two folders.
* A folder without a checkpoint (the run stopped before its first save) is started over with
  ``--restart``; a folder with one is never cleared.
* :func:`clean_stale_temporaries` removes the temporary files of writes whose process died
  (the pid is in their name, see :func:`unpaired.fs.temporary_name`).
* Under ``torchrun --max-restarts N`` a restarted worker group runs the same command again:
  :func:`elastic_restart` and the marker file let it find the folder of the first attempt.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import time
from pathlib import Path

from .. import config as cfg
from ..errors import UnpairedError
from ..fs import describe_os_error

LOCK_NAME = ".lock"
# Under torchrun: the rendezvous id of the launch that made the folder (see elastic_restart).
ELASTIC_MARKER = ".torchelastic-run-id"
# Files that do not make a folder a run (so a new run may still take it).
_BOOKKEEPING = {LOCK_NAME, ELASTIC_MARKER}
# What a run writes into its folder: what --restart removes (nothing else is touched).
RUN_PRODUCTS = (
    "config.yaml",
    "metrics.jsonl",
    "report.html",
    "samples",
    "checkpoints",
    "model",
    "model_best",
    "tensorboard",
    "eval",
)
# fs.temporary_name: .<stem>.<pid>-<hex>.part<suffix>; atomic_folder's old copy:
# .<name>.<pid>-<hex>.old; torch-era names: .<name>.<pid>.tmp / .<name>.<pid>-<hex>.tmp
_TEMPORARY = re.compile(r"^\..+\.(?P<pid>\d+)(-[0-9a-f]+)?\.(part(\..*)?|old|tmp)$")


class RunFolderError(UnpairedError):
    """A run folder that cannot be used as asked; the message names it and the way out."""


class RunLock:
    """An exclusive lock on one run folder, held until :meth:`release` (or process exit)."""

    def __init__(self, run_dir: Path, fd: int, created: bool = False) -> None:
        self.run_dir, self._fd, self.created = run_dir, fd, created
        self.created_parent = False

    @classmethod
    def acquire(cls, run_dir: Path, wait: float = 0.0) -> RunLock:
        """Lock ``run_dir`` (which must exist); waits up to ``wait`` seconds for another
        process to let go, then raises :class:`RunFolderError` naming it."""
        fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    who = f" (pid {holder})" if holder else ""
                    raise RunFolderError(
                        f"run folder {run_dir} is in use by another training process{who}; "
                        "wait for it to end, or pick another --name"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(run_dir, fd)

    def release(self, failed: bool = False) -> None:
        """Let go; after a ``failed`` start in a folder this lock created and nothing else
        wrote to, remove the folder again (an error leaves no empty run folder behind)."""
        if self._fd < 0:
            return
        try:
            if failed and self.created and not run_contents(self.run_dir):
                for name in _BOOKKEEPING:
                    (self.run_dir / name).unlink(missing_ok=True)
                self.run_dir.rmdir()
                if self.created_parent:
                    self.run_dir.parent.rmdir()
        except OSError:
            pass
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, kind, value, tb) -> None:
        self.release(failed=kind is not None)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def check_name(name: str) -> None:
    """A run name is one plain folder name: no path separator, not ``.`` or ``..``."""
    if not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name:
        raise cfg.ConfigError(
            f"option name: must be a plain folder name (no '/', not '.' or '..'), got {name!r}"
        )


def run_contents(run_dir: Path) -> list[str]:
    """The names in ``run_dir`` besides the lock and marker (and stale temporaries)."""
    try:
        names = os.listdir(run_dir)
    except FileNotFoundError:
        return []
    return [n for n in names if n not in _BOOKKEEPING and not _TEMPORARY.match(n)]


def checkpoint_files(run_dir: Path) -> list[Path]:
    """The checkpoints in ``run_dir/checkpoints`` (latest.pt, epoch_*.pt)."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.pt") if not p.name.startswith("."))


def restart_hint(run_dir: Path) -> str:
    return f"unpaired train --resume {run_dir} --restart"


def claim_new(
    runs_dir: Path, base: str, explicit: bool, restart: bool = False, wait: float = 0.0
) -> tuple[str, RunLock]:
    """Create and lock the folder of a new run: ``runs_dir/base`` when the name was given
    (``explicit``), else the first free of ``base``, ``base-2``, ``base-3``... (an exclusive
    ``mkdir``, so concurrent runs never share one). ``restart`` starts over in an existing
    folder that has no checkpoint. Returns the name and the held lock."""
    check_name(base)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise cfg.ConfigError(f"option runs_dir: {runs_dir} is a file, not a folder")
    created_parent = not runs_dir.exists()
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cfg.ConfigError(
            f"option runs_dir: cannot make {runs_dir} ({describe_os_error(exc)})"
        ) from None
    name, n = base, 1
    while True:
        run_dir = runs_dir / name
        try:
            run_dir.mkdir()
            created = True
        except FileExistsError:
            if not explicit:
                n += 1
                name = f"{base}-{n}"
                continue
            if not run_dir.is_dir():
                raise cfg.ConfigError(f"option name: {run_dir} is a file, not a folder") from None
            created = False
        except OSError as exc:
            raise cfg.ConfigError(
                f"option runs_dir: cannot make a run folder in {runs_dir} "
                f"({describe_os_error(exc)})"
            ) from None
        lock = RunLock.acquire(run_dir, wait=wait)
        lock.created, lock.created_parent = created, created_parent and created
        try:
            if not created:
                _check_reusable(run_dir, restart)
        except BaseException:
            lock.release()
            raise
        return name, lock


def _check_reusable(run_dir: Path, restart: bool) -> None:
    """An existing folder may take a new run only when empty, or with ``restart`` when it
    has no checkpoint (its products are removed first)."""
    if not run_contents(run_dir):
        return
    if checkpoint_files(run_dir):
        if restart:
            raise RunFolderError(
                f"--restart: run folder {run_dir} has a checkpoint; continue it with --resume "
                f"{run_dir}, or pick another --name (a trained run is never cleared)"
            )
        raise cfg.ConfigError(
            f"run folder {run_dir} already exists; continue it with --resume {run_dir} "
            "or pick another --name"
        )
    if not restart:
        raise RunFolderError(
            f"run folder {run_dir} already exists but has no checkpoint (the run stopped "
            "before its first save); start it over there with --restart, or pick another --name"
        )
    clear_run(run_dir)


def clear_run(run_dir: Path) -> None:
    """Remove what a run wrote (:data:`RUN_PRODUCTS`) from a folder without a checkpoint."""
    for name in RUN_PRODUCTS:
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()


def lock_existing(run_dir: Path, wait: float = 0.0) -> RunLock:
    """Lock the folder of a run being resumed (a missing folder is a one-line error)."""
    if not run_dir.is_dir():
        raise RunFolderError(f"--resume {run_dir}: no such run folder")
    try:
        return RunLock.acquire(run_dir, wait=wait)
    except OSError as exc:  # a read-only folder: nothing could be written there anyway
        raise RunFolderError(
            f"run folder {run_dir} cannot be locked for this run ({describe_os_error(exc)})"
        ) from None


def clean_stale_temporaries(run_dir: Path) -> list[Path]:
    """Remove the temporary files and folders that writes of dead processes left in the run
    folder and every folder a run writes into (``checkpoints/``, ``samples/``, ``model/``,
    ``model_best/``, ``eval/``: a killed save); returns what went."""
    removed = []
    folders = [run_dir, *(run_dir / name for name in RUN_PRODUCTS if "." not in name)]
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            match = _TEMPORARY.match(name)
            if match is None or _alive(int(match["pid"])):
                continue
            path = folder / name
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process has written nothing yet; the name is an old one's
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- torchrun --max-restarts ----------------------------------------------------------------
def elastic_restart() -> bool:
    """True in a worker group that torchrun restarted after a failure."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
    except ValueError:
        return False


def elastic_run_id() -> str | None:
    """The rendezvous id of this torchrun launch (the same in every restart)."""
    return os.environ.get("TORCHELASTIC_RUN_ID") or None


def mark_elastic(run_dir: Path) -> None:
    """Record which torchrun launch made ``run_dir`` (for :func:`find_elastic`)."""
    run_id = elastic_run_id()
    if run_id is not None:
        (run_dir / ELASTIC_MARKER).write_text(run_id + "\n")


def find_elastic(runs_dir: Path, base: str) -> str | None:
    """The name among ``base``, ``base-2``, ... that this torchrun launch made, if any."""
    run_id = elastic_run_id()
    if run_id is None:
        return None
    name, n = base, 1
    while (runs_dir / name).exists():
        try:
            if (runs_dir / name / ELASTIC_MARKER).read_text().strip() == run_id:
                return name
        except OSError:
            pass
        n += 1
        name = f"{base}-{n}"
    return None


def lock_folder(run_dir: Path, wait: float = 0.0) -> RunLock:
    """Lock ``run_dir``, creating it (and removing it again after a failed start) if needed."""
    created = False
    if not run_dir.is_dir():
        try:
            run_dir.mkdir(parents=True)
            created = True
        except FileExistsError:
            pass
    lock = RunLock.acquire(run_dir, wait=wait)
    lock.created = created
    return lock
