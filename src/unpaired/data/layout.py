"""Where a run's images are: the ``trainA/ trainB/ [testA/ testB/]`` layout under a data root,
two explicit domain folders, or the generated demo domains."""

from __future__ import annotations

from pathlib import Path

from ..config import TrainConfig
from .errors import DataError

__all__ = ["data_dirs", "demo_root", "resolve_data_dirs"]


def demo_root(runs_dir: str | Path, demo_size: int, demo_images: int, seed: int) -> Path:
    """Where the generated demo domains of these settings live (written or not)."""
    return Path(runs_dir) / ".demo-data" / f"{demo_size}px-{demo_images}-seed{seed}"


def resolve_data_dirs(
    root: str | Path | None,
    dir_a: str | Path | None = None,
    dir_b: str | Path | None = None,
    *,
    runs_dir: str | Path,
    demo_size: int,
    demo_images: int,
    seed: int,
) -> tuple[Path, Path, Path | None, Path | None]:
    """(train A, train B, test A or None, test B or None).

    ``dir_a`` and ``dir_b`` (both given) are the two domains as they are, without test folders.
    Otherwise ``root`` must hold ``trainA/`` and ``trainB/`` (and maybe ``testA/`` and
    ``testB/``); without a ``root`` the demo domains (:func:`unpaired.data.synthetic.
    write_demo_dataset`, ``demo_images`` training images of ``demo_size`` px from ``seed``)
    are generated once under ``runs_dir/.demo-data/`` and used.

    Raises:
        DataError: the root lacks ``trainA/`` or ``trainB/`` (the message names the root).
    """
    if dir_a is not None and dir_b is not None:
        return Path(dir_a), Path(dir_b), None, None
    if root is not None:
        root = Path(root)
    else:
        from .synthetic import write_demo_dataset

        root = demo_root(runs_dir, demo_size, demo_images, seed)
        write_demo_dataset(root, size=demo_size, n_train=demo_images, seed=seed)
    for sub in ("trainA", "trainB"):
        if not (root / sub).is_dir():
            raise DataError(f"data folder {root}: has no {sub}/ (expected trainA/ and trainB/)")
    test_a, test_b = root / "testA", root / "testB"
    return (
        root / "trainA",
        root / "trainB",
        test_a if test_a.is_dir() else None,
        test_b if test_b.is_dir() else None,
    )


def data_dirs(config: TrainConfig) -> tuple[Path, Path, Path | None, Path | None]:
    """:func:`resolve_data_dirs` for a run's config: (train A, train B, test A or None,
    test B or None); generates the demo when the config names no data."""
    data = config.data
    return resolve_data_dirs(
        data.root,
        data.dir_a,
        data.dir_b,
        runs_dir=config.runs_dir,
        demo_size=data.demo_size,
        demo_images=data.demo_images,
        seed=config.seed,
    )
