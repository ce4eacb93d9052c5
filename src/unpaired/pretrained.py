"""Shareable model folders: ``config.json`` + ``model.safetensors`` (no code runs at load).

The folder holds only what translation needs: the generators and the settings that rebuild
them (architecture, channels) and prepare images like training did. A folder may hold some
directions only (``"directions": ["a2b"]``: an imported official A -> B generator); it then
stores only the networks those directions need (``Recipe.direction_nets``), and asking it for
another direction is a one-line :class:`~unpaired.recipes.DirectionError`. ``config.json``'s
``"model"`` names the family (the default family when absent, as in the first release); its recipe
says which networks the folder stores (``Recipe.folder_nets``, safetensors keys
``<net>.<param>``), which keys rebuild them (``Recipe.architecture``; those of
``Recipe.optional_architecture`` may be absent and then mean their default, e.g. CycleGAN's
``"upsample"``) and how (``Recipe.build_generators``).

Integrity: ``config.json``'s ``"weights_sha256"`` is the SHA-256 of ``model.safetensors`` as
written; loading checks it (a flipped byte, a tensor edited in place: a one-line
:class:`ModelLoadError` naming the file). Folders of the first release have none and load as
before. Every weight must be finite (a diverged run's NaN weights are refused, naming the
tensor). A folder of another library is refused; a newer ``version`` or keys this version does
not know are loaded with a warning (they may mean settings it cannot honour).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import nn

from . import hub
from .data.stacks import CONTEXT_KEY, network_info
from .errors import UnpairedError
from .fs import atomic_write
from .recipes import RECIPES, Recipe, family_of

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: config.json keys every family's folder has (the channels of both domains).
CHANNEL_KEYS = ("channels_a", "channels_b")
#: config.json key holding the SHA-256 (hex) of model.safetensors.
CHECKSUM_KEY = "weights_sha256"
LIBRARY = "unpaired"
#: config.json keys every family's folder may have besides its architecture.
COMMON_KEYS = frozenset(
    {
        "library",
        "version",
        "model",
        CHECKSUM_KEY,
        *CHANNEL_KEYS,
        "preprocess",
        "windows",
        "axis",
        "run",
        "step",
        "epoch",
        "eval",
        "directions",
        "source",
        CONTEXT_KEY,
        "spacing",  # unpaired.medical.resample.SPACING_KEY
        "weights",  # "ema": the generators' moving average (train --ema), not the raw weights
    }
)
#: config.json key listing the directions a folder holds (absent: all of its family's).
DIRECTIONS_KEY = "directions"


def architecture_keys(recipe: Recipe) -> tuple[str, ...]:
    """The ``config.json`` keys that rebuild a family's generators."""
    return (*CHANNEL_KEYS, *recipe.architecture)


class ModelLoadError(UnpairedError):
    """A model folder that cannot be loaded; the message names the file and the problem."""


def save_pretrained(directory: str | Path, model: nn.Module, info: dict[str, Any]) -> Path:
    """Write the generators of ``model`` and ``info`` into ``directory``, each file atomically.

    ``info["model"]`` names the family (default: the default model); ``info`` must hold its
    :func:`architecture_keys` and may hold preprocessing and provenance."""
    directory = Path(directory)
    kind = family_of(info)
    recipe = RECIPES.get(kind)
    missing = [k for k in architecture_keys(recipe) if k not in info]
    if missing:
        raise ValueError(f"save_pretrained: info lacks {', '.join(missing)}")
    held = folder_directions(info, recipe)
    from .version import __version__

    config = {"library": LIBRARY, "version": __version__, **info, "model": kind}
    if held == recipe.directions:
        config.pop(DIRECTIONS_KEY, None)  # every direction: folders stay as they always were
    else:
        config[DIRECTIONS_KEY] = list(held)
    tensors = {
        f"{name}.{key}": value.detach().cpu().contiguous()
        for name in recipe.nets_for(held)
        for key, value in getattr(model, name).state_dict().items()
    }
    # Serialised in memory, then written as plain bytes: a full disk is then an OSError naming
    # the file (safetensors' own writer raises a SafetensorError instead).
    data = save(tensors, {"format": "pt"})
    atomic_write(directory / WEIGHTS_NAME, lambda path: path.write_bytes(data))
    config[CHECKSUM_KEY] = _sha256(data)
    text = json.dumps(config, indent=2, sort_keys=False) + "\n"
    atomic_write(directory / CONFIG_NAME, lambda p: p.write_text(text))
    return directory


def folder_directions(config: Mapping[str, Any], recipe: Recipe) -> tuple[str, ...]:
    """The directions a folder's ``config`` holds, in the recipe's order: its
    ``"directions"`` list, or every direction of the family when absent. A bad list raises
    ValueError (the message says what is wrong, without the file)."""
    value = config.get(DIRECTIONS_KEY)
    if value is None:
        return recipe.directions
    if not isinstance(value, list) or not value or not all(isinstance(d, str) for d in value):
        raise ValueError(f'{DIRECTIONS_KEY} {value!r}: must be a non-empty list such as ["a2b"]')
    unknown = [d for d in value if d not in recipe.directions]
    if unknown:
        raise ValueError(
            f"{DIRECTIONS_KEY}: {unknown[0]!r} is not a direction of {recipe.name} (it has "
            f"{', '.join(recipe.directions)})"
        )
    if len(set(value)) != len(value):
        raise ValueError(f"{DIRECTIONS_KEY} {value!r}: names a direction twice")
    if set(value) != set(recipe.directions) and not recipe.direction_nets:
        raise ValueError(
            f"{DIRECTIONS_KEY} {value!r}: a {recipe.name} folder holds all of "
            f"{', '.join(recipe.directions)} (its networks serve every direction)"
        )
    return tuple(d for d in recipe.directions if d in value)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _version_tuple(text: str) -> tuple[int, ...] | None:
    """``"0.1.0"`` -> ``(0, 1, 0)`` (leading numbers only); None if it has none."""
    numbers = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return tuple(int(n) for n in numbers.group(1).split(".")) if numbers else None


def _check_library(config: dict[str, Any], config_path: Path) -> None:
    """Refuse a folder another library wrote (its weights would mean something else)."""
    library = config.get("library", LIBRARY)
    if library != LIBRARY:
        raise ModelLoadError(
            f"{config_path}: library {library!r}: not a model folder of {LIBRARY} (its "
            "weights would be read with the wrong meaning)"
        )
    kind = config.get("model")
    if kind is not None and not isinstance(kind, str):
        raise ModelLoadError(f"{config_path}: model {kind!r} is not a family name")


def _check_origin(config: dict[str, Any], config_path: Path, recipe: Recipe) -> None:
    """Warn about a newer version and keys this version does not know."""
    from .version import __version__

    version = config.get("version")
    theirs = _version_tuple(version) if isinstance(version, str) else None
    ours = _version_tuple(__version__)
    if theirs is not None and ours is not None and theirs > ours:
        warnings.warn(
            f"{config_path}: written by {LIBRARY} {version}, newer than this {__version__}; "
            "settings it added are not known here and are ignored (upgrade to use them)",
            stacklevel=3,
        )
    known = COMMON_KEYS | set(recipe.architecture) | set(recipe.optional_architecture)
    unknown = sorted(set(config) - known)
    if unknown:
        warnings.warn(
            f"{config_path}: unknown key(s) {', '.join(unknown)} ignored (written by a newer "
            "version or by hand?)",
            stacklevel=3,
        )


def _read_weights(weights_path: Path, config: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The tensors of ``model.safetensors`` and the file's SHA-256 (a file that cannot be
    parsed and does not match its recorded checksum is called corrupt)."""
    try:
        data = weights_path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{weights_path}: cannot read weights ({exc.strerror})") from None
    digest = _sha256(data)
    try:
        return load(data), digest
    except (SafetensorError, ValueError, RuntimeError) as exc:
        _check_checksum(weights_path, digest, config)
        reason = " ".join(str(exc).split())[:160]
        raise ModelLoadError(f"{weights_path}: cannot read weights ({reason})") from None


def _check_checksum(weights_path: Path, digest: str, config: dict[str, Any]) -> None:
    expected = config.get(CHECKSUM_KEY)
    if expected is not None and digest != str(expected).lower():
        raise ModelLoadError(
            f"{weights_path}: checksum mismatch (SHA-256 differs from the {CHECKSUM_KEY} in "
            f"{CONFIG_NAME}): the file is corrupt or was changed after it was saved"
        )


def model_folder(path: str | Path) -> Path:
    """The model folder of ``path`` (itself, or a run folder's ``model/``); a
    :class:`ModelLoadError` when neither holds a ``config.json``."""
    return _model_dir(path)


def _model_dir(path: str | Path) -> Path:
    if hub.is_hub(path):  # hf://owner/name: the Hub's snapshot (downloaded or cached)
        path = hub.resolve(str(path))
    path = Path(path)
    if (path / CONFIG_NAME).is_file():
        return path
    if (path / "model" / CONFIG_NAME).is_file():
        return path / "model"
    raise ModelLoadError(f"{path}: no {CONFIG_NAME} here or in {path / 'model'}")


def load_pretrained(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a model folder (or a run folder containing ``model/``): returns the generators
    (in eval mode, no discriminators: the family's ``folder_nets``) and the folder's config."""
    directory = _model_dir(path)
    config_path = directory / CONFIG_NAME
    try:
        config = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else " ".join(str(exc).split())[:160]
        raise ModelLoadError(f"{config_path}: not readable JSON ({reason})") from None
    if not isinstance(config, dict):
        raise ModelLoadError(
            f"{config_path}: must hold a JSON object (keys and values), not a "
            f"{type(config).__name__}"
        )
    _check_library(config, config_path)
    kind = family_of(config)
    if kind not in RECIPES:
        known = ", ".join(RECIPES.names())
        raise ModelLoadError(f"{config_path}: unknown model {kind!r} (this version knows {known})")
    recipe = RECIPES.get(kind)
    missing = [k for k in architecture_keys(recipe) if k not in config]
    if missing:
        raise ModelLoadError(f"{config_path}: missing {', '.join(missing)}")
    _check_origin(config, config_path, recipe)
    try:
        held_nets = recipe.nets_for(folder_directions(config, recipe))
    except ValueError as exc:
        raise ModelLoadError(f"{config_path}: {exc}") from None
    try:
        # 2.5D folders record the channels of one slice; the networks take stacks of 2K+1
        model = recipe.build_generators(network_info(config))
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        reason = " ".join(str(reason).split())[:200]
        raise ModelLoadError(
            f"{config_path}: cannot build the {kind} generators from its settings ({reason})"
        ) from None
    weights_path = directory / WEIGHTS_NAME
    if not weights_path.is_file():
        raise ModelLoadError(f"{weights_path}: missing (a model folder needs {WEIGHTS_NAME})")
    tensors, digest = _read_weights(weights_path, config)
    # Names and shapes first (the most telling message), then the checksum, then the values.
    for name in held_nets:
        net = getattr(model, name)
        expected = net.state_dict()
        for key, value in expected.items():
            stored = tensors.get(f"{name}.{key}")
            if stored is None:
                raise ModelLoadError(f"{weights_path}: {name} lacks weight {key!r}")
            if stored.shape != value.shape:
                raise ModelLoadError(
                    f"{weights_path}: {name}.{key} has shape {tuple(stored.shape)} but the "
                    f"architecture in {CONFIG_NAME} needs {tuple(value.shape)}"
                )
    _check_checksum(weights_path, digest, config)
    for name in held_nets:
        net = getattr(model, name)
        expected = net.state_dict()
        for key in expected:
            stored = tensors[f"{name}.{key}"]
            if stored.is_floating_point() and not bool(torch.isfinite(stored).all()):
                raise ModelLoadError(
                    f"{weights_path}: {name}.{key} holds NaN or infinite values (the training "
                    "diverged, or the file was damaged); use an earlier, finite model"
                )
        net.load_state_dict({k: tensors[f"{name}.{k}"] for k in expected})
    for name in recipe.folder_nets:
        if name not in held_nets:  # a direction the folder does not hold: no random network
            setattr(model, name, None)
    return model.to(device).eval(), config
