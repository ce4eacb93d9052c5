"""Datasets over folders of images: one domain (``SingleFolder``) and two unaligned domains.

Order and augmentation are a pure function of (seed, epoch, position): the sampler draws the
index pairs and a per-sample augmentation seed, so a run resumed in the middle of an epoch sees
exactly the images, crops and flips the uninterrupted run would have seen, with any number of
worker processes.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from .decoded import DecodedCache
from .errors import DataError
from .images import IMAGE_EXTENSIONS, ImageReadError, image_size, list_images, read_image
from .readers import SliceIndexLike, medical_index
from .transforms import Preprocess

__all__ = ["DataError", "SingleFolder", "UnpairedDataset", "UnpairedSampler", "fixed_images"]


class SingleFolder(Dataset):
    """The readable images of one folder (recursively), decoded on demand.

    Files whose header cannot be read are named once in a warning and left out; an empty folder,
    or an image smaller than the crop, is a :class:`DataError`.
    ``self[(index, seed)]`` returns the preprocessed image (C, H, W) in [-1, 1].

    Medical inputs: when the folder holds NIfTI (``.nii``, ``.nii.gz``), DICOM (``.dcm``
    series folders) or ``.npy`` files, or a ``window`` is given, every item is one 2-D slice
    (:func:`unpaired.data.readers.medical_index`, the reader :mod:`unpaired.medical`
    registers): volumes are cut along ``axis`` (axial, coronal, sagittal, or array axis
    0/1/2) and each slice is mapped through ``window`` (HU ``[lo, hi]`` -> [0, 1], clipped;
    None: each volume's own [min, max]), repeated to 3 channels when ``channels`` is 3, then
    preprocessed like any image. Without a window, 2-D images are read as in an image folder,
    so a folder of ordinary images reads as it always has; with one, their stored gray values
    (0..65535 for 16-bit) are windowed.

    2.5D (``context_slices`` K > 0, :mod:`unpaired.data.stacks`): every item is a slice with
    its K neighbours on each side of its volume, ``((2K+1) * channels, H, W)``; the folder
    must hold volumes only (a 2-D image has no neighbours: a :class:`DataError` naming it).

    ``cache``: read 2-D images through the decoded cache (:mod:`unpaired.data.decoded`),
    built by ``cache_workers`` processes on first use: True (a folder of volumes is a
    :class:`DataError`), None (when the folder holds 2-D images) or False.
    """

    def __init__(
        self,
        folder: str | Path,
        channels: int,
        preprocess: Preprocess,
        max_images: int | None = None,
        window: str | Sequence[float] | None = None,
        axis: str | int = "axial",
        context_slices: int = 0,
        spacing: str | float | Sequence[float] | None = None,
        series: str | None = None,
        cache: bool | None = False,
        cache_workers: int = 0,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.decoded: DecodedCache | None = None
        self.channels = channels
        self.context = context_slices
        self.preprocess = preprocess
        self.paths: list[Path] = []
        self.sizes: list[tuple[int, int]] = []  # (height, width)
        self.slices: SliceIndexLike | None = None
        self._bad: set[int] = set()
        minimum = preprocess.min_input_size()
        # spacing: resample volumes to that voxel size; series: the DICOM series to read
        slices = medical_index(
            self.folder, window, axis, max_images, spacing=spacing, series=series
        )
        if slices is not None:
            if cache:
                raise DataError(
                    f"folder {self.folder} holds volumes: option data.cache_decoded is for "
                    "folders of 2-D images; leave it unset for volumes"
                )
            self._index_slices(slices, minimum)
            return
        if self.context:
            raise DataError(
                f"folder {self.folder} holds 2-D images, but option context_slices "
                f"{self.context} needs volumes (NIfTI, DICOM series, 3-D .npy) to take "
                "neighbouring slices from; use context_slices 0 for 2-D images"
            )
        try:
            candidates = list_images(self.folder)
        except FileNotFoundError as exc:
            raise DataError(str(exc)) from None
        for path in candidates:
            if max_images is not None and len(self.paths) >= max_images:
                break
            try:
                width, height = image_size(path)
            except ImageReadError as exc:
                warnings.warn(f"skipping {exc}", stacklevel=2)
                continue
            if minimum is not None and (height < minimum[0] or width < minimum[1]):
                raise DataError(
                    f"image {path} is {width}x{height}, smaller than the {minimum[1]}x{minimum[0]} "
                    f"crop (option image_size, preprocess {preprocess.mode})"
                )
            self.paths.append(path)
            self.sizes.append((height, width))
        if not self.paths:
            kinds = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise DataError(f"folder {self.folder} has no readable images ({kinds})")
        if cache or cache is None:
            self.decoded = DecodedCache.open(
                self.folder, self.paths, channels, preprocess, cache_workers, say
            )

    def _index_slices(self, slices: SliceIndexLike, minimum: tuple[int, int] | None) -> None:
        """Take the items of a slice index (see the class docstring)."""
        self.slices = slices
        for i in range(len(self.slices)):
            height, width = self.slices.source(i).slice_size
            if minimum is not None and (height < minimum[0] or width < minimum[1]):
                raise DataError(
                    f"slices of {self.slices.source(i).path} are {width}x{height}, smaller than "
                    f"the {minimum[1]}x{minimum[0]} crop (option image_size, preprocess "
                    f"{self.preprocess.mode})"
                )
            if self.context and self.slices.source(i).count == 1:
                raise DataError(
                    f"{self.slices.source(i).path} has a single slice, but option "
                    f"context_slices {self.context} needs volumes to take neighbouring slices "
                    "from; keep 2-D images out of 2.5D training (or use context_slices 0)"
                )
            self.paths.append(self.slices.source(i).path)
            self.sizes.append((height, width))

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, i: int) -> Tensor:
        """Item ``i`` as ``(channels, H, W)`` in [0, 1], before preprocessing."""
        if self.slices is None:
            return read_image(self.paths[i], self.channels)
        if self.context:
            return self.slices.read_stack(i, self.channels, self.context)
        return self.slices.read_tensor(i, self.channels)

    def fingerprint(self) -> dict[str, int | str]:
        """What the images of this folder are: their count and the SHA-256 of their paths
        (relative to the folder) and file sizes, in order. A file added, removed, renamed or
        replaced by one of another size changes it (kept in checkpoints: a resume on changed
        data is no longer exact)."""
        h = hashlib.sha256()
        for path in self.paths:
            try:
                size = os.stat(path).st_size
            except OSError:
                size = -1
            try:
                rel = path.relative_to(self.folder).as_posix()
            except ValueError:
                rel = path.as_posix()
            h.update(f"{rel}\0{size}\n".encode("utf-8", "surrogateescape"))
        return {"items": len(self.paths), "sha256": h.hexdigest()}

    def output_sizes(self) -> set[tuple[int, int]]:
        """The distinct (H, W) the preprocessing produces for these images."""
        return {self.preprocess.output_size(h, w) for h, w in self.sizes}

    def load(self, index: int, rng: random.Random | None = None) -> Tensor:
        """Decode and preprocess image ``index``; ``rng`` drives crop and flip.

        A file that fails to decode (despite a readable header) is reported once and replaced by
        the next readable image, so one bad file does not stop a long run.
        """
        rng = rng or random.Random(0)
        for offset in range(len(self.paths)):
            i = (index + offset) % len(self.paths)
            if i in self._bad:
                continue
            try:
                if self.decoded is not None:  # already at load size: crop and flip only
                    return self.preprocess.augment(self.decoded.read(i), rng)
                image = self._read(i)
            except ImageReadError as exc:
                self._bad.add(i)
                warnings.warn(f"skipping {exc}", stacklevel=2)
                continue
            return self.preprocess(image, rng)
        raise DataError(f"folder {self.folder} has no readable images left")

    def __getitem__(self, item: tuple[int, int]) -> Tensor:
        index, seed = item
        return self.load(index, random.Random(seed))


class UnpairedDataset(Dataset):
    """Pairs of unaligned images, one from each domain: ``self[(i_a, i_b, seed)]`` returns
    ``{"A": (C_a, H, W), "B": (C_b, H, W)}`` in [-1, 1]."""

    def __init__(self, domain_a: SingleFolder, domain_b: SingleFolder) -> None:
        self.domain_a = domain_a
        self.domain_b = domain_b

    def __len__(self) -> int:
        return max(len(self.domain_a), len(self.domain_b))

    def __getitem__(self, item: tuple[int, int, int]) -> dict[str, Tensor]:
        index_a, index_b, seed = item
        # Separate streams per domain, derived from the one per-sample seed.
        rng_a = random.Random(2 * seed)
        rng_b = random.Random(2 * seed + 1)
        return {
            "A": self.domain_a.load(index_a, rng_a),
            "B": self.domain_b.load(index_b, rng_b),
        }


class UnpairedSampler(Sampler):
    """Yields ``(i_a, i_b, seed)`` for one epoch of max(len A, len B) samples.

    Unaligned (default): A in a fresh random order each epoch, B drawn uniformly at random, as
    the official implementation does. ``serial``: both in file order. ``rank``/``world_size``
    give each distributed process a disjoint shard. Everything derives from (seed, epoch), so
    :meth:`set_epoch` with ``start`` resumes in the middle of an epoch.
    """

    def __init__(
        self,
        len_a: int,
        len_b: int,
        seed: int = 0,
        serial: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.len_a, self.len_b = len_a, len_b
        self.seed, self.serial = seed, serial
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0

    @property
    def epoch_size(self) -> int:
        """Samples this rank sees per epoch."""
        return math.ceil(max(self.len_a, self.len_b) / self.world_size)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch and skip its first ``start`` samples (for resume)."""
        self.epoch, self.start = epoch, start

    def indices(self, epoch: int) -> np.ndarray:
        """(epoch_size, 3) int64 array of (i_a, i_b, seed) for this rank."""
        n = max(self.len_a, self.len_b)
        rng = np.random.default_rng([self.seed, epoch])
        if self.serial:
            order = np.arange(n)
            index_b = order % self.len_b
        else:
            order = rng.permutation(n)
            index_b = rng.integers(0, self.len_b, size=n)
        seeds = rng.integers(0, 2**31 - 1, size=n)
        table = np.stack([order % self.len_a, index_b, seeds], axis=1)
        padded = self.epoch_size * self.world_size
        if padded > n:  # pad by wrapping so every rank gets the same count
            table = np.concatenate([table, table[: padded - n]], axis=0)
        return table[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        yield from map(tuple, self.indices(self.epoch)[self.start :].tolist())

    def __len__(self) -> int:
        return self.epoch_size - self.start


def fixed_images(folder: SingleFolder, count: int) -> Tensor | list[Tensor]:
    """The first ``count`` images of ``folder``, preprocessed without randomness.

    Returns (count, C, H, W) in [-1, 1] when all share one size, else a list of (C, H, W).
    Used for the sample grids, which must show the same images all through training.
    """
    images = [folder.load(i, random.Random(i)) for i in range(min(count, len(folder)))]
    if len({tuple(img.shape) for img in images}) == 1:
        return torch.stack(images)
    return images
