"""Model folders from checkpoints of other projects (official CycleGAN, CUT, NVlabs MUNIT).

::

    from unpaired.importers import import_checkpoint

    import_checkpoint(["latest_net_G.pth"], "horse2zebra")            # cyclegan, a2b only
    import_checkpoint(["5_net_G_A.pth", "5_net_G_B.pth"], "h2z")       # cyclegan, both ways
    import_checkpoint(["cut/latest_net_G.pth"], "h2z_cut")             # blur-pools: cut
    import_checkpoint(["gen_01000000.pt"], "edges2shoes")               # MUNIT {"a", "b"}

Each file is read with ``torch.load(weights_only=True)`` only (:mod:`.checkpoint`); the
architecture is inferred from the tensors (:mod:`.cyclegan`, :mod:`.cut`, :mod:`.munit`); the
folder (``config.json`` + ``model.safetensors``) is written into a temporary folder, loaded
back and compared with the converted networks, then moved into place, so a failed import
leaves nothing behind and replaces nothing. ``config.json`` records where the weights came
from: ``"source": {"format", "files", "sha256"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..fs import atomic_folder, is_within, same_file
from ..pretrained import CONFIG_NAME, folder_directions, load_pretrained, save_pretrained
from ..recipes import RECIPES, family_of
from . import cut, cyclegan, munit
from .checkpoint import load_checkpoint, sha256_of
from .errors import CheckpointImportError

__all__ = ["FAMILIES", "CheckpointImportError", "describe", "import_checkpoint", "load_checkpoint"]

#: What ``--family`` accepts.
FAMILIES = ("cyclegan", "cut", "fastcut", "munit")
#: ``<epoch>_net_G_A.pth`` / ``..._G_B.pth``: the official CycleGAN's two generators.
_G_NAME = re.compile(r"net_G_([AB])$")


def import_checkpoint(
    sources: Sequence[str | Path],
    output: str | Path,
    *,
    family: str | None = None,
    direction: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Turn one or two checkpoint files into the model folder ``output``; returns its path.

    Args:
        sources: One official CycleGAN generator (``latest_net_G.pth``: an a2b-only folder, or
            b2a-only for ``*_net_G_B.pth`` or ``direction="b2a"``), two (``*_net_G_A.pth`` and
            ``*_net_G_B.pth``, told apart by name, else by order: a folder with both
            directions), a CUT generator (blur-pools: a ``cut`` folder), or a MUNIT
            ``gen_*.pt`` (``{"a": ..., "b": ...}``).
        output: The folder to create.
        family: ``cyclegan``, ``cut``, ``fastcut`` or ``munit``; None infers it. A ResNet
            generator without blur-pools is a CycleGAN one unless ``cut`` / ``fastcut``.
        direction: ``a2b`` / ``b2a``: which way a single CycleGAN generator translates.
        overwrite: Replace an existing model folder (or empty folder) at ``output``.

    Raises a one-line :class:`CheckpointImportError` for anything it cannot import.
    """
    paths = [Path(s) for s in sources]
    if not 1 <= len(paths) <= 2:
        raise CheckpointImportError(
            f"import: give one checkpoint file or two (G_A and G_B), got {len(paths)}"
        )
    if family is not None and family not in FAMILIES:
        raise CheckpointImportError(
            f"option --family: unknown {family!r}; use one of {', '.join(FAMILIES)}"
        )
    if direction is not None and direction not in ("a2b", "b2a"):
        raise CheckpointImportError(f"option --direction: unknown {direction!r}; use a2b or b2a")
    if direction is not None and len(paths) == 2:
        raise CheckpointImportError(
            "option --direction: applies to one file; of two files, G_A translates a2b and G_B b2a"
        )
    if len(paths) == 2 and paths[0].exists() and same_file(paths[0], paths[1]):
        raise CheckpointImportError(f"{paths[1]}: given twice; give a G_A and a G_B file")
    if len(paths) == 2:  # G_A first, in config.json too
        ways = _directions(paths, None)
        paths = [ways["a2b"], ways["b2a"]]
    output = Path(output)
    _check_output(output, paths, overwrite)
    checkpoints = [load_checkpoint(p) for p in paths]
    with torch.random.fork_rng(devices=[]):  # building networks draws weights: keep the RNG
        model, info, fmt = _convert(paths, checkpoints, family, direction)
    names = [p.name for p in paths]
    if len(set(names)) < len(names):  # two latest_net_G.pth from different folders
        names = [str(p) for p in paths]
    info["source"] = {
        "format": fmt,
        "files": names,
        "sha256": {name: sha256_of(p) for name, p in zip(names, paths, strict=True)},
    }

    def write(folder: Path) -> None:
        save_pretrained(folder, model, info)
        with torch.random.fork_rng(devices=[]):
            _self_check(folder, model)

    atomic_folder(output, write)
    return output


def _check_output(output: Path, sources: list[Path], overwrite: bool) -> None:
    """Refuse an output that holds a source, exists (unless ``overwrite``), or is not a model
    folder or an empty folder (``overwrite`` replaces those only, never other files)."""
    for source in sources:
        if source.exists() and is_within(source, output):
            raise CheckpointImportError(
                f"{output}: holds the checkpoint {source}; write the model folder elsewhere"
            )
    if not output.exists() and not output.is_symlink():
        return
    if not overwrite:
        raise CheckpointImportError(f"{output}: exists; pass --overwrite to replace it")
    if not output.is_dir():
        raise CheckpointImportError(f"{output}: is a file, not a model folder; not replaced")
    if not (output / CONFIG_NAME).is_file() and any(output.iterdir()):
        raise CheckpointImportError(
            f"{output}: a folder that is not a model folder (no {CONFIG_NAME}); not replaced"
        )


def _convert(
    paths: list[Path], checkpoints: list[Any], family: str | None, direction: str | None
) -> tuple[nn.Module, dict[str, Any], str]:
    """(generators bundle, ``config.json`` info without ``source``, source format)."""
    first = checkpoints[0]
    if family == "munit" or (family is None and munit.looks_like(first)):
        return _convert_munit(paths, first, direction)
    for path, checkpoint in zip(paths, checkpoints, strict=True):
        if not cyclegan.is_generator(checkpoint):
            raise CheckpointImportError(f"{path}: {_what_is(checkpoint)}")
    blur = any(cut.has_blur_pools(c) for c in checkpoints)
    if family in ("cut", "fastcut") or (family is None and blur):
        name = family or "cut"
        if len(paths) == 2:
            raise CheckpointImportError(
                f"{paths[1]}: {name} is one-sided (one generator, a2b); give one file"
            )
        if direction == "b2a":
            raise CheckpointImportError(
                f"option --direction: a {name} folder translates a2b only (its A is the "
                "generator's input domain)"
            )
        _spec, model, info = cut.convert(first, str(paths[0]), name)
        return model, info, cut.FORMAT
    ways = _directions(paths, direction)
    nets = {d: cyclegan.generator(checkpoints[paths.index(p)], str(p)) for d, p in ways.items()}
    model, info = cyclegan.bundle(nets, {d: str(p) for d, p in ways.items()})
    return model, info, cyclegan.FORMAT


def _convert_munit(
    paths: list[Path], checkpoint: Any, direction: str | None
) -> tuple[nn.Module, dict[str, Any], str]:
    if len(paths) == 2:
        raise CheckpointImportError(
            f"{paths[1]}: a MUNIT gen_*.pt holds both generators; give that one file"
        )
    if direction is not None:
        raise CheckpointImportError(
            "option --direction: a MUNIT folder translates both ways (it needs both "
            "generators); leave it out"
        )
    if not munit.looks_like(checkpoint):
        raise CheckpointImportError(
            f"{paths[0]}: not a MUNIT generator checkpoint (a dict of the 'a' and 'b' "
            "generators' state dicts, as NVlabs MUNIT's gen_*.pt)"
        )
    model, info = munit.convert(checkpoint, str(paths[0]))
    return model, dict(info), munit.FORMAT


def _directions(paths: list[Path], direction: str | None) -> dict[str, Path]:
    """Which file translates which way: ``*_net_G_A`` a2b, ``*_net_G_B`` b2a; a single file
    otherwise a2b (or ``direction``); of two unnamed files, the first is G_A."""
    letters = [m.group(1) if (m := _G_NAME.search(p.stem)) else None for p in paths]
    if len(paths) == 1:
        return {direction or ("b2a" if letters[0] == "B" else "a2b"): paths[0]}
    if letters[0] is not None and letters[0] == letters[1]:
        raise CheckpointImportError(
            f"{paths[1]}: both files are G_{letters[0]}; give a G_A and a G_B file"
        )
    if letters[0] == "B" or letters[1] == "A":
        paths = paths[::-1]
    return {"a2b": paths[0], "b2a": paths[1]}


def _what_is(checkpoint: Any) -> str:
    """Why a checkpoint is not a generator, in a few words."""
    if isinstance(checkpoint, Mapping):
        keys = [str(k) for k in list(checkpoint)[:4]]
        if "model.0.weight" in checkpoint:
            return (
                "looks like a discriminator (model.0.weight, no generator stem); pass the "
                "generator file (*_net_G*.pth)"
            )
        listed = ", ".join(keys) + (", ..." if len(checkpoint) > 4 else "")
        return (
            "not a CycleGAN/pix2pix, CUT or MUNIT generator checkpoint (it holds "
            f"{listed or 'nothing'})"
        )
    return f"not a generator checkpoint (it holds a {type(checkpoint).__name__}, not a dict)"


def _self_check(folder: Path, model: nn.Module) -> None:
    """Load the written folder back and compare every stored tensor with ``model``'s."""
    loaded, config = load_pretrained(folder)
    recipe = RECIPES.get(family_of(config))
    for name in recipe.nets_for(folder_directions(config, recipe)):
        ours, theirs = getattr(model, name).state_dict(), getattr(loaded, name).state_dict()
        for key, value in ours.items():
            if not torch.equal(value.cpu(), theirs[key].cpu()):
                raise CheckpointImportError(
                    f"{folder}: {name}.{key} reads back different from what was written"
                )


def describe(path: str | Path) -> str:
    """One line of what a model folder holds, e.g. ``cyclegan resnet_9blocks ngf 64 instance,
    a2b only, from latest_net_G.pth``."""
    config = json.loads((Path(path) / CONFIG_NAME).read_text())
    kind = family_of(config)
    recipe = RECIPES.get(kind)
    words = [kind]
    optional = [k for k in recipe.optional_architecture if k in config]  # not the default
    for key in (*recipe.architecture, *optional):
        value = config.get(key)
        if key in ("generator", "norm"):
            words.append(str(value))
        elif key == "use_dropout":
            words += ["dropout"] if value else []
        elif key == "antialias":
            words.append("anti-aliased" if value else "strided")
        else:
            words.append(f"{key} {value}")
    held = config.get("directions") or list(recipe.directions)
    if len(held) < len(recipe.directions):
        ways = f"{held[0]} only"
    else:
        ways = " and ".join(held)
    files = (config.get("source") or {}).get("files") or []
    return f"{' '.join(words)}, {ways}" + (f", from {' + '.join(files)}" if files else "")
