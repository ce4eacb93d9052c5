"""The fault-injection suite's shared checks: what every fault case asserts.

A user's mistake or a fault of the machine ends with: the expected exit status, one ``error:``
line naming the file or option, no traceback, inputs byte-identical, and the previous
checkpoint still loadable. :func:`run_cli` runs the real command line in-process and returns
its exit status and output; :func:`snapshot` / :func:`assert_unchanged` compare trees byte for
byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from unpaired import cli


@dataclass
class Result:
    code: int
    out: str
    err: str

    def one_error_line(self, *needles: str) -> str:
        """The single ``error:`` line (asserted: exactly one, no traceback, has needles)."""
        assert "Traceback" not in self.err and "Traceback" not in self.out, self.err[-2000:]
        errors = [line for line in self.err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, self.err[-2000:]
        for needle in needles:
            assert needle in errors[0], errors[0]
        return errors[0]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """``run_cli(*argv) -> Result``: the command line in-process, its exit status and output."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = cli.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` by relative path (symlinks followed)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def assert_unchanged(root: Path, before: dict[str, str]) -> None:
    """Every file under ``root`` is byte-identical to ``before`` and none is new or gone."""
    assert snapshot(root) == before
