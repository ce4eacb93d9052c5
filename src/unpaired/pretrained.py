"""Shareable model folders: ``config.json`` + ``model.safetensors`` (no code runs at load).

The folder holds only what translation needs: both generators and the settings that rebuild
them (architecture, channels) and prepare images like training did. ``config.json``'s
``"model"`` picks the folder's :class:`FolderFormat` from :data:`FORMATS` (``cyclegan`` when
absent): CycleGAN folders hold ``g_ab`` and ``g_ba``, MUNIT folders ``gen_a`` and ``gen_b``
(each domain's content encoder, style encoder and decoder).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import UnpairedError
from .fs import atomic_write
from .models.cyclegan import CycleGAN, build_cyclegan
from .models.munit import MUNIT, build_munit
from .registry import Registry

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ARCHITECTURE_KEYS = ("channels_a", "channels_b", "generator", "ngf", "norm", "use_dropout")
MUNIT_ARCHITECTURE_KEYS = (
    "channels_a",
    "channels_b",
    "dim",
    "style_dim",
    "n_downsample",
    "n_res",
    "mlp_dim",
)


@dataclass(frozen=True)
class FolderFormat:
    """One model kind's folder: the networks it stores (safetensors keys ``<net>.<param>``),
    the config.json keys that rebuild them, and how (``build(config)``, no discriminators)."""

    nets: tuple[str, ...]
    architecture: tuple[str, ...]
    build: Callable[[dict[str, Any]], nn.Module]


def _build_cyclegan(config: dict[str, Any]) -> CycleGAN:
    return build_cyclegan(
        channels_a=config["channels_a"],
        channels_b=config["channels_b"],
        generator=config["generator"],
        ngf=config["ngf"],
        norm=config["norm"],
        use_dropout=config["use_dropout"],
        with_discriminators=False,
    )


def _build_munit(config: dict[str, Any]) -> MUNIT:
    return build_munit(**{k: config[k] for k in MUNIT_ARCHITECTURE_KEYS}, with_discriminators=False)


#: ``config.json``'s ``"model"`` -> its folder format.
FORMATS: Registry[FolderFormat] = Registry("model")
FORMATS.register("cyclegan")(FolderFormat(("g_ab", "g_ba"), ARCHITECTURE_KEYS, _build_cyclegan))
FORMATS.register("munit")(FolderFormat(("gen_a", "gen_b"), MUNIT_ARCHITECTURE_KEYS, _build_munit))


class ModelLoadError(UnpairedError):
    """A model folder that cannot be loaded; the message names the file and the problem."""


def save_pretrained(directory: str | Path, model: nn.Module, info: dict[str, Any]) -> Path:
    """Write the generators of ``model`` and ``info`` into ``directory``, each file atomically.

    ``info["model"]`` names the kind (default ``cyclegan``); ``info`` must hold that kind's
    architecture keys (:data:`ARCHITECTURE_KEYS` for CycleGAN, :data:`MUNIT_ARCHITECTURE_KEYS`
    for MUNIT) and may hold preprocessing and provenance."""
    directory = Path(directory)
    kind = info.get("model", "cyclegan")
    fmt = FORMATS.get(kind)
    missing = [k for k in fmt.architecture if k not in info]
    if missing:
        raise ValueError(f"save_pretrained: info lacks {', '.join(missing)}")
    from . import __version__

    config = {"library": "unpaired", "version": __version__, **info, "model": kind}
    tensors = {
        f"{name}.{key}": value.detach().cpu().contiguous()
        for name in fmt.nets
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
    (in eval mode, no discriminators) and the folder's config: a :class:`CycleGAN` with
    ``g_ab``, ``g_ba``, or a :class:`MUNIT` with ``gen_a``, ``gen_b`` (``"model": "munit"``)."""
    directory = _model_dir(Path(path))
    config_path = directory / CONFIG_NAME
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{config_path}: not readable JSON ({exc})") from None
    kind = config.get("model", "cyclegan") if isinstance(config, dict) else None
    if not isinstance(kind, str) or kind not in FORMATS:
        known = ", ".join(FORMATS.names())
        raise ModelLoadError(f"{config_path}: unknown model {kind!r} (this version knows {known})")
    fmt = FORMATS.get(kind)
    missing = [k for k in fmt.architecture if k not in config]
    if missing:
        raise ModelLoadError(f"{config_path}: missing {', '.join(missing)}")
    model = fmt.build(config)
    weights_path = directory / WEIGHTS_NAME
    try:
        tensors = load_file(str(weights_path))
    except (OSError, SafetensorError) as exc:
        raise ModelLoadError(f"{weights_path}: cannot read weights ({exc})") from None
    for name in fmt.nets:
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
