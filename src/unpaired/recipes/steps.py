"""The parts every family's training step shares: how a step runs (precision, fused passes,
channels_last), gradient scalers for fp16, freezing networks, and DDP helpers.

A step takes (networks, optimizers, batch, context) and returns ``dict[str, Tensor]`` of
detached 0-dim losses; the loop averages them over its logging interval and converts them to
floats only when it logs, so a GPU never waits for a per-step ``.item()``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

__all__ = [
    "PRECISIONS",
    "GradScalers",
    "StepOptions",
    "autocast",
    "backward",
    "backward_step",
    "batch_inputs",
    "bare",
    "no_sync",
    "optimizer_step",
    "set_requires_grad",
]

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class StepOptions:
    """How a step runs, not what it computes.

    ``fused``: run each network once on a concatenated batch where the math allows it, e.g.
    G on [a; b] gives G(a) and the identity image G(b) together: 3 generator calls instead of 6
    and 1 discriminator call per D loss instead of 2. Only valid with per-sample normalisation
    (instance or none), where it gives the same results up to float rounding.
    ``precision``: fp32, or autocast in bf16 / fp16 (fp16 needs ``scalers``).
    """

    fused: bool = False
    precision: str = "fp32"
    channels_last: bool = False


@dataclass
class GradScalers:
    """One gradient scaler per optimizer, for fp16 (None entries mean no scaling)."""

    g: torch.amp.GradScaler | None = None
    d: torch.amp.GradScaler | None = None


def set_requires_grad(nets: list[torch.nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def backward(loss: Tensor, scaler: torch.amp.GradScaler | None) -> None:
    (loss if scaler is None else scaler.scale(loss)).backward()


def optimizer_step(opt: Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    if scaler is None:
        opt.step()
    else:
        scaler.step(opt)
        scaler.update()


def backward_step(loss: Tensor, opt: Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    backward(loss, scaler)
    optimizer_step(opt, scaler)


def no_sync(*nets: torch.nn.Module) -> contextlib.ExitStack:
    """DDP's ``no_sync`` for every wrapped net: gradients accumulate locally until the next
    backward outside it (a no-op for plain networks)."""
    stack = contextlib.ExitStack()
    for net in nets:
        if hasattr(net, "no_sync"):
            stack.enter_context(net.no_sync())
    return stack


def bare(net: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (the network itself otherwise)."""
    from torch.nn.parallel import DistributedDataParallel

    return net.module if isinstance(net, DistributedDataParallel) else net


def batch_inputs(batch: dict[str, Tensor], options: StepOptions) -> tuple[Tensor, Tensor]:
    """``(batch["A"], batch["B"])``, in channels_last memory format when ``options`` ask."""
    a, b = batch["A"], batch["B"]
    if options.channels_last:
        a = a.contiguous(memory_format=torch.channels_last)
        b = b.contiguous(memory_format=torch.channels_last)
    return a, b
