"""Generators of the official pytorch-CycleGAN-and-pix2pix code (``latest_net_G.pth``,
``<epoch>_net_G_A.pth``, ``<epoch>_net_G_B.pth``) as our CycleGAN networks.

The official code saves one generator's ``state_dict()`` per file and nothing about its
options; everything a model folder needs is read from the tensors (:func:`infer`):

================  ==============================================================================
what              read from
================  ==============================================================================
ResNet / U-Net    a 7x7 stem ``model.1.weight`` / a 4x4 first convolution ``model.model.0.weight``
residual blocks   the indices ``i`` of ``model.<i>.conv_block.*`` (6: resnet_6blocks, 9: ...)
U-Net depth       the nesting ``model.model.1.model.3.model...`` (7 levels: unet_128, 8: unet_256)
ngf, C_in         the first convolution's weight ``(ngf, C_in, k, k)``
C_out             the last convolution's weight ``(C_out, ngf, 7, 7)`` (U-Net: transposed,
                  ``(2 ngf, C_out, 4, 4)``)
norm              batch: weight, bias and running statistics after that convolution; instance:
                  none there and convolutions with a bias; none: neither (the official code
                  then drops the convolution biases, which become zeros here)
use_dropout       ResNet: a block's second convolution at ``conv_block.6`` (``.5`` without);
                  U-Net: not stored (Dropout has no weights and comes last in a level), so
                  recorded False: it changes nothing in eval mode, where we translate
blur-pools        ``filt`` buffers: the anti-aliased generator of CUT (:mod:`.cut`)
================  ==============================================================================

Our networks (:mod:`unpaired.models.generators`) use the official module layout, so the key
mapping is the identity; :func:`map_state` still checks every key and shape and names the first
key that maps to nothing. Files saved by PyTorch < 0.4 carry ``running_mean`` / ``running_var``
(and ``num_batches_tracked``) on instance-norm layers, which the official loader deletes; they
are dropped here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..models.cyclegan import CycleGAN
from ..models.generators import GENERATORS, build_generator
from .errors import CheckpointImportError

__all__ = [
    "FORMAT",
    "Inferred",
    "bundle",
    "generator",
    "generator_name",
    "infer",
    "is_generator",
    "map_state",
]

#: ``config.json``'s ``source.format`` for these files.
FORMAT = "pytorch-CycleGAN-and-pix2pix"

_RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")
_TOP = re.compile(r"^model\.(\d+)\.")


@dataclass(frozen=True)
class Inferred:
    """What the tensors of one official generator say about its architecture.

    ``kind`` is ``"resnet"`` (``depth`` = residual blocks) or ``"unet"`` (``depth`` =
    downsamplings); ``antialias`` (ResNet only) says whether it has CUT's blur-pools;
    ``dropout_known`` is False where the weights cannot show dropout (U-Net).
    """

    kind: str
    depth: int
    ngf: int
    norm: str
    use_dropout: bool
    in_channels: int
    out_channels: int
    antialias: bool = False
    dropout_known: bool = True

    @property
    def name(self) -> str:
        """Our generator name for this architecture, e.g. ``resnet_9blocks``, ``unet_256``."""
        if self.kind == "resnet":
            return f"resnet_{self.depth}blocks"
        return f"unet_{2**self.depth}"


def is_generator(state: Any) -> bool:
    """Whether ``state`` looks like an official ResNet or U-Net generator's state dict."""
    if not _is_state_dict(state):
        return False
    stem = state.get("model.1.weight")
    first = state.get("model.model.0.weight")
    return (isinstance(stem, Tensor) and stem.dim() == 4) or (
        isinstance(first, Tensor) and first.dim() == 4
    )


def _is_state_dict(state: Any) -> bool:
    return (
        isinstance(state, Mapping)
        and bool(state)
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items())
    )


def infer(state: Mapping[str, Tensor], source: str) -> Inferred:
    """The architecture of an official generator from its tensors (module docstring).

    Raises a one-line :class:`CheckpointImportError` naming ``source`` when the tensors are not
    an official generator's."""
    if not is_generator(state):
        keys = ", ".join(list(state)[:3]) if isinstance(state, Mapping) else type(state).__name__
        raise CheckpointImportError(
            f"{source}: not a CycleGAN/pix2pix or CUT generator (no model.1.weight or "
            f"model.model.0.weight; it holds {keys or 'nothing'})"
        )
    if "model.1.weight" in state:
        return _infer_resnet(state, source)
    return _infer_unet(state, source)


def _norm_after(state: Mapping[str, Tensor], conv: str, norm: str) -> str:
    """batch / instance / none from the layer ``norm`` that follows the convolution ``conv``."""
    if f"{norm}.weight" in state:
        return "batch"
    if f"{norm}.running_mean" in state or f"{conv}.bias" in state:
        return "instance"  # running stats without weights: an instance norm of PyTorch < 0.4
    return "none"


def _infer_resnet(state: Mapping[str, Tensor], source: str) -> Inferred:
    stem = state["model.1.weight"]
    ngf, in_channels = int(stem.shape[0]), int(stem.shape[1])
    tops = sorted({int(m.group(1)) for k in state if (m := _TOP.match(k))})
    blocks = sorted({i for i in tops if f"model.{i}.conv_block.1.weight" in state})
    if not blocks:
        raise CheckpointImportError(f"{source}: a ResNet generator without residual blocks")
    if blocks != list(range(blocks[0], blocks[0] + len(blocks))):
        raise CheckpointImportError(
            f"{source}: residual blocks at model indices {blocks} are not consecutive"
        )
    first = blocks[0]
    use_dropout = f"model.{first}.conv_block.6.weight" in state
    filters = [i for i in tops if f"model.{i}.filt" in state]
    down = [i for i in filters if i < first]
    up = [i for i in filters if i > blocks[-1]]
    if bool(down) != bool(up):
        which = "downsampling" if down else "upsampling"
        raise CheckpointImportError(
            f"{source}: blur-pools on the {which} side only (CUT's --no_antialias without "
            "--no_antialias_up, or the reverse); unpaired's CUT generator has both or neither"
        )
    last = max(i for i in tops if f"model.{i}.weight" in state)
    return Inferred(
        kind="resnet",
        depth=len(blocks),
        ngf=ngf,
        norm=_norm_after(state, "model.1", "model.2"),
        use_dropout=use_dropout,
        in_channels=in_channels,
        out_channels=int(state[f"model.{last}.weight"].shape[0]),
        antialias=bool(down),
    )


def _infer_unet(state: Mapping[str, Tensor], source: str) -> Inferred:
    first = state["model.model.0.weight"]
    ngf, in_channels = int(first.shape[0]), int(first.shape[1])
    outer_up = state.get("model.model.3.weight")
    if outer_up is None or outer_up.dim() != 4:
        raise CheckpointImportError(
            f"{source}: a U-Net generator without its outermost up-convolution "
            "(model.model.3.weight)"
        )
    depth, prefix = 1, "model.model.1.model."
    while f"{prefix}1.weight" in state:
        depth += 1
        prefix += "3.model."
    return Inferred(
        kind="unet",
        depth=depth,
        ngf=ngf,
        # The first inner level: LeakyReLU, conv (index 1), norm (index 2).
        norm=_norm_after(state, "model.model.1.model.1", "model.model.1.model.2"),
        use_dropout=False,
        in_channels=in_channels,
        out_channels=int(outer_up.shape[1]),
        dropout_known=False,
    )


def map_state(
    state: Mapping[str, Tensor], net: nn.Module, source: str, norm: str
) -> dict[str, Tensor]:
    """``state`` as ``net``'s state dict: every key and shape checked (module docstring).

    Legacy instance-norm statistics are dropped; with ``norm == "none"`` the convolution biases
    the official code leaves out become zeros (a convolution without bias is one with a zero
    bias); a batch norm of PyTorch < 0.4.1 gets ``num_batches_tracked`` 0 (unused in eval).
    Floating tensors are cast to ``net``'s dtype (float32). Raises a one-line
    :class:`CheckpointImportError` naming ``source`` and the first key that maps to nothing,
    that is missing, or whose shape differs."""
    expected = net.state_dict()
    modules = dict(net.named_modules())
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        target = expected.get(key)
        if target is None:
            prefix, _, leaf = key.rpartition(".")
            if leaf in _RUNNING_STATS and isinstance(modules.get(prefix), nn.InstanceNorm2d):
                continue  # statistics an instance norm of PyTorch < 0.4 kept; never used
            raise CheckpointImportError(
                f"{source}: unexpected key {key!r} (it maps to nothing in the inferred "
                f"{type(net).__name__}; is this file a generator of the official code?)"
            )
        if tuple(value.shape) != tuple(target.shape):
            raise CheckpointImportError(
                f"{source}: {key} has shape {tuple(value.shape)} where the inferred "
                f"architecture needs {tuple(target.shape)}"
            )
        out[key] = value.to(target.dtype) if value.is_floating_point() else value
    for key, target in expected.items():
        if key in out:
            continue
        prefix, _, leaf = key.rpartition(".")
        module = modules.get(prefix)
        if leaf == "bias" and norm == "none" and isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            out[key] = torch.zeros_like(target)
        elif leaf == "num_batches_tracked" and isinstance(module, nn.BatchNorm2d):
            out[key] = torch.zeros_like(target)
        else:
            raise CheckpointImportError(
                f"{source}: lacks {key!r}, which the inferred {type(net).__name__} needs"
            )
    return out


def generator_name(spec: Inferred, source: str, names: list[str]) -> str:
    """Our name of the architecture; a one-line error when no generator of ours has it."""
    if spec.name not in names:
        what = (
            f"{spec.depth} residual blocks"
            if spec.kind == "resnet"
            else f"{spec.depth} downsamplings ({spec.name})"
        )
        raise CheckpointImportError(
            f"{source}: a {spec.kind} generator with {what}; unpaired has no generator of that "
            f"size (it has {', '.join(sorted(names))})"
        )
    return spec.name


def generator(state: Mapping[str, Tensor], source: str) -> tuple[Inferred, nn.Module]:
    """The official generator in ``state`` as our network (eval mode), with what was inferred."""
    spec = infer(state, source)
    if spec.antialias:
        raise CheckpointImportError(
            f"{source}: an anti-aliased (blur-pool) generator of CUT, not of CycleGAN; import "
            "it with --family cut or fastcut"
        )
    name = generator_name(spec, source, GENERATORS.names())
    net = build_generator(
        name, spec.in_channels, spec.out_channels, spec.ngf, spec.norm, spec.use_dropout
    )
    net.load_state_dict(map_state(state, net, source, spec.norm))
    return spec, net.eval()


def bundle(
    nets: Mapping[str, tuple[Inferred, nn.Module]], sources: Mapping[str, str]
) -> tuple[CycleGAN, dict[str, Any]]:
    """A CycleGAN generators bundle and its ``config.json`` architecture for the generators of
    ``nets`` (``{"a2b": (spec, net)}``, ``{"b2a": ...}`` or both; a missing direction's network
    is None). Both directions must share one architecture and mirror their channels."""
    specs = {d: spec for d, (spec, _) in nets.items()}
    if len(specs) == 2:
        a2b, b2a = specs["a2b"], specs["b2a"]
        for field in ("name", "ngf", "norm", "use_dropout"):
            if getattr(a2b, field) != getattr(b2a, field):
                raise CheckpointImportError(
                    f"{sources['b2a']}: {field} {getattr(b2a, field)} differs from "
                    f"{sources['a2b']}'s {getattr(a2b, field)} (a model folder has one "
                    "architecture for both generators)"
                )
        if (a2b.in_channels, a2b.out_channels) != (b2a.out_channels, b2a.in_channels):
            raise CheckpointImportError(
                f"{sources['b2a']}: maps {b2a.in_channels} to {b2a.out_channels} channels, "
                f"but {sources['a2b']} maps {a2b.in_channels} to {a2b.out_channels} (G_B must "
                "translate back what G_A translates)"
            )
    spec = specs.get("a2b") or specs["b2a"]
    channels_a, channels_b = (
        (spec.in_channels, spec.out_channels)
        if "a2b" in specs
        else (spec.out_channels, spec.in_channels)
    )
    info = {
        "model": "cyclegan",
        "channels_a": channels_a,
        "channels_b": channels_b,
        "generator": spec.name,
        "ngf": spec.ngf,
        "norm": spec.norm,
        "use_dropout": spec.use_dropout,
        "directions": [d for d in ("a2b", "b2a") if d in specs],
    }
    model = CycleGAN(
        nets["a2b"][1] if "a2b" in nets else None, nets["b2a"][1] if "b2a" in nets else None
    )
    return model, info
