"""The decoded cache (``data.cache_decoded``): each training image decoded once, at load size.

A GPU eats a few hundred 256x256 images a second; decoding a JPEG and resizing it with an
antialiased bicubic filter costs a CPU core several milliseconds per image, so the loader
falls behind. With the cache, the first run on a folder decodes every image once, applies the
deterministic part of :class:`~unpaired.data.transforms.Preprocess` (the resize to load size:
everything before the random crop and flip) and stores the result in one memory-mapped file of
8-bit samples (16-bit when the folder holds 16-bit images). Loader workers then only crop,
flip and convert: a slice of a memory map.

**Where**: ``$UNPAIRED_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/unpaired/decoded``, else
``~/.cache/unpaired/decoded``; the data folder itself is never written to. A cache is two
files, ``<folder>-<key>.bin`` (the samples) and ``<folder>-<key>.json`` (the index, written
last: a cache without it is unfinished and rebuilt).

**Key**: the folder's path, the channel count, the resize (mode, load size, crop size), and
every file's path, size and modification time. A file added, removed, replaced or touched
makes a new key, so a stale cache is never read; building a new cache of a folder removes
that folder's older ones.

**Pixels**: the same images, crops and flips as without the cache (the sampler and the
per-sample seeds do not change), with each resized pixel rounded to the nearest 8-bit level
(at most half a level, 1/510, from the uncached value); an image already at load size, or
read without resizing (``preprocess crop`` / ``none`` at a multiple of 4), comes out exactly
as without the cache. A run records whether it used the cache, and a resume follows the
record, so resumed runs continue exactly.

Files that fail to decode are remembered in the index and skipped at load time with the same
warning as without the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .images import ImageReadError, is_16bit, read_image
from .transforms import Preprocess, resize

__all__ = ["DecodedCache", "cache_root"]

#: The index format; another version is rebuilt, not read.
VERSION = 1


def cache_root() -> Path:
    """Where caches live (see the module docs); read at call time."""
    explicit = os.environ.get("UNPAIRED_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "unpaired" / "decoded"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _file_facts(folder: Path, paths: Sequence[Path]) -> list[list[Any]]:
    facts = []
    for path in paths:
        stat = os.stat(path)
        try:
            rel = path.relative_to(folder).as_posix()
        except ValueError:
            rel = path.as_posix()
        facts.append([rel, stat.st_size, stat.st_mtime_ns])
    return facts


class _Decoder:
    """Decodes item ``i`` at load size as stored samples: ``(C, H, W)`` uint8 / uint16, or
    the reason it could not be read. Picklable, for loader workers."""

    def __init__(self, paths: Sequence[Path], channels: int, pre: Preprocess, levels: int):
        self.paths, self.channels, self.pre, self.levels = list(paths), channels, pre, levels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Tensor | str:
        try:
            image = read_image(self.paths[i], self.channels)
        except ImageReadError as exc:
            return exc.reason
        height, width = self.pre.resized_size(*image.shape[-2:])
        image = resize(image, height, width)
        dtype = torch.uint8 if self.levels == 255 else torch.int32
        return (image * self.levels).round_().to(dtype)


class DecodedCache:
    """The images of one folder at load size, as ``(C, H, W)`` float32 in [0, 1].

    Built on first use by :meth:`open` (see the module docs); :meth:`read` gives item ``i``
    or raises :class:`~unpaired.data.images.ImageReadError` for a file that did not decode.
    Pickles without its memory map (each loader worker maps the file itself).
    """

    def __init__(self, bin_path: Path, index: dict[str, Any], paths: Sequence[Path]) -> None:
        self.bin_path = bin_path
        self.items: list[list[int] | str] = index["items"]
        self.levels = int(index["levels"])
        self.dtype = np.dtype(index["dtype"])
        self.paths = list(paths)
        self._map: np.memmap | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_map": None}

    @classmethod
    def open(
        cls,
        folder: Path,
        paths: Sequence[Path],
        channels: int,
        pre: Preprocess,
        workers: int = 0,
        say: Callable[[str], None] | None = None,
    ) -> DecodedCache:
        """The cache of ``paths`` (the images of ``folder``), built when missing or stale."""
        folder = Path(folder).resolve()
        facts = _file_facts(folder, paths)
        resize_rule = [pre.mode, pre.load_size, pre.crop_size]
        key = _digest([VERSION, str(folder), channels, resize_rule, facts])[:20]
        prefix = _digest(str(folder))[:12]
        root = cache_root()
        bin_path = root / f"{prefix}-{key}.bin"
        index_path = bin_path.with_suffix(".json")
        with contextlib.suppress(OSError, ValueError, KeyError):
            index = json.loads(index_path.read_text())
            if index.get("version") == VERSION and bin_path.is_file():
                return cls(bin_path, index, paths)
        levels = 65535 if any(_sixteen_bit(p) for p in paths) else 255
        index = _build(bin_path, _Decoder(paths, channels, pre, levels), workers, say, folder)
        for old in root.glob(f"{prefix}-*"):  # this folder's stale caches
            if old.name not in (bin_path.name, index_path.name):
                with contextlib.suppress(OSError):
                    old.unlink()
        return cls(bin_path, index, paths)

    def _array(self) -> np.memmap:
        if self._map is None:
            self._map = np.memmap(self.bin_path, dtype=self.dtype, mode="r")
        return self._map

    def read(self, i: int) -> Tensor:
        """Item ``i``: ``(C, H, W)`` float32 in [0, 1] at load size."""
        item = self.items[i]
        if isinstance(item, str):
            raise ImageReadError(self.paths[i], item)
        offset, c, h, w = item
        flat = self._array()[offset : offset + c * h * w]
        samples = torch.from_numpy(np.array(flat, dtype=np.float32)).view(c, h, w)
        return samples / np.float32(self.levels)


def _sixteen_bit(path: Path) -> bool:
    try:
        return is_16bit(path)
    except (ImageReadError, OSError):
        return False  # found again (and reported) when decoded


def _as_is(item: Any) -> Any:
    return item


def _build(
    bin_path: Path,
    decoder: _Decoder,
    workers: int,
    say: Callable[[str], None] | None,
    folder: Path,
) -> dict[str, Any]:
    """Decode every item into ``bin_path`` (through a temporary file) and write the index."""
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    dtype = np.dtype(np.uint8 if decoder.levels == 255 else np.uint16)
    tmp = bin_path.with_name(f".{bin_path.name}.{os.getpid()}.tmp")
    items: list[list[int] | str] = []
    start, offset = time.perf_counter(), 0
    if say is not None:
        say(f"decoding the {len(decoder)} images of {folder} once into {bin_path.parent}")
    # Its own generator: building must not draw from the global RNG (the run's weights are
    # drawn from it next, and must not depend on whether the cache existed).
    loader = torch.utils.data.DataLoader(
        decoder,
        batch_size=None,
        num_workers=workers,
        collate_fn=_as_is,
        generator=torch.Generator(),
    )
    try:
        with open(tmp, "wb") as fh:
            for out in loader:
                if isinstance(out, str):
                    items.append(out)
                    continue
                samples = out.numpy().astype(dtype, copy=False)
                fh.write(samples.tobytes())
                items.append([offset, *samples.shape])
                offset += samples.size
        os.replace(tmp, bin_path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    for i, item in enumerate(items):
        if isinstance(item, str):
            warnings.warn(f"skipping {ImageReadError(decoder.paths[i], item)}", stacklevel=3)
    index = {"version": VERSION, "levels": decoder.levels, "dtype": dtype.name, "items": items}
    index_tmp = bin_path.with_name(f".{bin_path.stem}.{os.getpid()}.json.tmp")
    index_tmp.write_text(json.dumps(index))
    os.replace(index_tmp, bin_path.with_suffix(".json"))
    if say is not None:
        mb = offset * dtype.itemsize / 2**20
        say(f"decoded cache ready: {mb:.0f} MB in {time.perf_counter() - start:.1f} s")
    return index
