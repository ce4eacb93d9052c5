"""What the training fault tests share (imported by the other test_training_* modules), and
the unit checks of the run-folder machinery they rely on.

Real faults where the machine allows them: a small tmpfs (``mount -t tmpfs -o size=...``) for a
full disk and a read-only tmpfs for a read-only folder, detected once per session; where mount
is not allowed (CI without privileges), the tests that need it fall back to a monkeypatched
write raising the real ``OSError`` at the real call site, or skip.
"""

from __future__ import annotations

import errno
import functools
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import torch

from unpaired.training import checkpoint, rundir

from conftest import TINY as _TINY
from conftest import assert_unchanged, make_images, snapshot  # noqa: F401 - shared with the others

# A model small enough that a training step takes milliseconds, on the CPU.
TINY = [*_TINY, "--device", "cpu"]


@functools.cache
def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root in a container that allows it)."""
    if os.geteuid() != 0:
        return False
    probe = Path(f"/tmp/unpaired-mount-probe-{uuid.uuid4().hex[:8]}")
    probe.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
            capture_output=True,
            timeout=20,
        )
        if done.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], capture_output=True, timeout=20)
        return True
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        try:
            probe.rmdir()
        except OSError:
            pass


def mounts(tmp_path: Path):
    """The body of a ``small_disk`` fixture: ``small_disk(name, size="4m", read_only=False)
    -> Path`` mounts a fresh tmpfs of that size at ``tmp_path/name`` (skips where mount is not
    allowed); all are unmounted afterwards."""
    mounted: list[Path] = []

    def make(name: str, size: str = "4m", read_only: bool = False) -> Path:
        if not can_mount():
            pytest.skip("mount is not allowed here (needs root and a tmpfs)")
        where = tmp_path / name
        where.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], check=True)
        mounted.append(where)
        return where

    yield make
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill the file system of ``disk`` with one file so that ``leave`` bytes stay free."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        fh.truncate(0)
        chunk = b"\0" * (1 << 20)
        left = max(free - leave, 0)
        while left > 0:
            n = min(left, len(chunk))
            try:
                fh.write(chunk[:n])
                fh.flush()
            except OSError:
                break
            left -= n
    return filler


def dead_pid() -> int:
    """The pid of a process that has ended (for names a killed writer left)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def step_of(path: Path) -> int:
    return checkpoint.load_checkpoint(path)["position"]["step"]


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.name not in (".lock",))


# --- unit checks of the run-folder machinery -------------------------------------------------


def test_names_are_taken_atomically_by_concurrent_claims(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    names: list[str] = []
    locks: list[rundir.RunLock] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def claim() -> None:
        barrier.wait()
        try:
            name, lock = rundir.claim_new(runs, "data", explicit=False)
            names.append(name)
            locks.append(lock)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for lock in locks:
        lock.release()
    assert not errors
    assert sorted(names) == sorted(["data"] + [f"data-{n}" for n in range(2, 7)])


def test_lock_is_exclusive_and_released_with_the_process(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(run / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, str(os.getpid()).encode())\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(rundir.RunFolderError, match=f"in use .*pid {holder.pid}"):
            rundir.RunLock.acquire(run)
    finally:
        holder.kill()  # SIGKILL: the kernel drops its lock
        holder.wait()
    rundir.RunLock.acquire(run).release()  # the stale lock is taken over


def test_stale_temporaries_of_dead_processes_go_live_ones_stay(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    dead = dead_pid()
    stale = [
        run / "checkpoints" / f".latest.{dead}-0a1b2c3d.part.pt",
        run / "checkpoints" / f".latest.pt.{dead}.tmp",
        run / f".report.{dead}-deadbeef.part.html",
    ]
    live = run / "checkpoints" / ".latest.1-0a1b2c3d.part.pt"  # pid 1 is alive
    for path in [*stale, live]:
        path.write_bytes(b"partial")
    (run / f".model.{dead}-00ff00ff.part").mkdir()
    (run / f".model.{dead}-00ff00ff.part" / "model.safetensors").write_bytes(b"x")
    keep = run / "checkpoints" / "latest.pt"
    keep.write_bytes(b"kept")
    removed = rundir.clean_stale_temporaries(run)
    assert len(removed) == 4
    assert not any(p.exists() for p in stale)
    assert live.exists() and keep.read_bytes() == b"kept"


def test_checkpoint_without_checksum_still_loads(tmp_path: Path) -> None:
    # What unpaired 0.1 wrote (tests/test_compat.py resumes real ones).
    path = tmp_path / "old.pt"
    torch.save({"format_version": 1, "position": {"step": 3}, "w": torch.ones(2)}, path)
    assert checkpoint.load_checkpoint(path)["position"]["step"] == 3


def test_checkpoint_digest_covers_every_value(tmp_path: Path) -> None:
    state = {"position": {"step": 1}, "w": torch.ones(4), "betas": (0.5, 0.999)}
    path = tmp_path / "latest.pt"
    checkpoint.save_checkpoint(path, state)
    loaded = checkpoint.load_checkpoint(path)
    assert "checksum" not in loaded and torch.equal(loaded["w"], state["w"])
    assert checkpoint.payload_digest({"a": 1.0}) != checkpoint.payload_digest({"a": 1})
    changed = dict(loaded, w=torch.tensor([1.0, 1.0, 1.0, 1.0000001]))
    assert checkpoint.payload_digest(changed) != checkpoint.payload_digest(loaded)


def enospc(path: Path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def make_images_like(root: Path, per_domain: int = 6, size: int = 40) -> Path:
    """A DATA root: trainA and trainB (``per_domain`` random PNGs each) and testA (2)."""
    for seed, folder in enumerate(("trainA", "trainB", "testA"), start=1):
        count = per_domain if folder != "testA" else 2
        make_images(root / folder, count, size=(size, size), seed=seed)
    return root
