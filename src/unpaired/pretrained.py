"""Shareable model folders: ``config.json`` + ``model.safetensors`` (no code runs at load).

The folder holds only what translation needs: both generators and the settings that rebuild
them (architecture, channels) and prepare images like training did. ``config.json``'s
``"model"`` names the family (the default family when absent, as in the first release); its recipe
says which networks the folder stores (``Recipe.folder_nets``, safetensors keys
``<net>.<param>``), which keys rebuild them (``Recipe.architecture``) and how
(``Recipe.build_generators``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import UnpairedError
from .fs import atomic_write
from .recipes import RECIPES, Recipe, family_of

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: config.json keys every family's folder has (the channels of both domains).
CHANNEL_KEYS = ("channels_a", "channels_b")


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
    from .version import __version__

    config = {"library": "unpaired", "version": __version__, **info, "model": kind}
    tensors = {
        f"{name}.{key}": value.detach().cpu().contiguous()
        for name in recipe.folder_nets
        for key, value in getattr(model, name).state_dict().items()
    }
    atomic_write(directory / WEIGHTS_NAME, lambda p: save_file(tensors, str(p), {"format": "pt"}))
    text = json.dumps(config, indent=2, sort_keys=False) + "\n"
    atomic_write(directory / CONFIG_NAME, lambda p: p.write_text(text))
    return directory


def _model_dir(path: Path) -> Path:
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
    directory = _model_dir(Path(path))
    config_path = directory / CONFIG_NAME
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{config_path}: not readable JSON ({exc})") from None
    kind = family_of(config) if isinstance(config, dict) else None
    if not isinstance(kind, str) or kind not in RECIPES:
        known = ", ".join(RECIPES.names())
        raise ModelLoadError(f"{config_path}: unknown model {kind!r} (this version knows {known})")
    recipe = RECIPES.get(kind)
    missing = [k for k in architecture_keys(recipe) if k not in config]
    if missing:
        raise ModelLoadError(f"{config_path}: missing {', '.join(missing)}")
    model = recipe.build_generators(config)
    weights_path = directory / WEIGHTS_NAME
    try:
        tensors = load_file(str(weights_path))
    except (OSError, SafetensorError) as exc:
        raise ModelLoadError(f"{weights_path}: cannot read weights ({exc})") from None
    for name in recipe.folder_nets:
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
        net.load_state_dict({k: tensors[f"{name}.{k}"] for k in expected})
    return model.to(device).eval(), config
