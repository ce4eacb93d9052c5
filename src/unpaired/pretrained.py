"""Shareable model folders: ``config.json`` + ``model.safetensors`` (no code runs at load).

The folder holds only what translation needs: both generators and the settings that rebuild
them (architecture, channels) and prepare images like training did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .models.cyclegan import CycleGAN, build_cyclegan
from .training.checkpoint import atomic_write

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ARCHITECTURE_KEYS = ("channels_a", "channels_b", "generator", "ngf", "norm", "use_dropout")


class ModelLoadError(ValueError):
    """A model folder that cannot be loaded; the message names the file and the problem."""


def save_pretrained(directory: str | Path, model: CycleGAN, info: dict[str, Any]) -> Path:
    """Write the generators of ``model`` and ``info`` (must hold :data:`ARCHITECTURE_KEYS`,
    may hold preprocessing and provenance) into ``directory``, each file atomically."""
    directory = Path(directory)
    missing = [k for k in ARCHITECTURE_KEYS if k not in info]
    if missing:
        raise ValueError(f"save_pretrained: info lacks {', '.join(missing)}")
    from . import __version__

    config = {"library": "unpaired", "version": __version__, "model": "cyclegan", **info}
    tensors = {
        f"{name}.{key}": value.detach().cpu().contiguous()
        for name in ("g_ab", "g_ba")
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
) -> tuple[CycleGAN, dict[str, Any]]:
    """Load a model folder (or a run folder containing ``model/``): returns the generators
    (``g_ab``, ``g_ba``, in eval mode, no discriminators) and the folder's config."""
    directory = _model_dir(Path(path))
    config_path = directory / CONFIG_NAME
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{config_path}: not readable JSON ({exc})") from None
    missing = [k for k in ARCHITECTURE_KEYS if k not in config]
    if missing:
        raise ModelLoadError(f"{config_path}: missing {', '.join(missing)}")
    model = build_cyclegan(
        channels_a=config["channels_a"],
        channels_b=config["channels_b"],
        generator=config["generator"],
        ngf=config["ngf"],
        norm=config["norm"],
        use_dropout=config["use_dropout"],
        with_discriminators=False,
    )
    weights_path = directory / WEIGHTS_NAME
    try:
        tensors = load_file(str(weights_path))
    except (OSError, SafetensorError) as exc:
        raise ModelLoadError(f"{weights_path}: cannot read weights ({exc})") from None
    for name in ("g_ab", "g_ba"):
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
