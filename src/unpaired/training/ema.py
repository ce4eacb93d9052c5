"""Generator EMA (``--ema DECAY``): an exponential moving average of the weights a model folder
stores (the recipe's ``folder_nets``: the generators), for samples, evaluation, ``model_best/``
and ``model/``.

After every optimizer step ``k`` (1, 2, ...: the run's step once it is done), each parameter's
average moves towards the trained weight::

    d_k = min(DECAY, (1 + k) / (10 + k))        # warm-up: 0.18, 0.25, 0.31, ... -> DECAY
    ema <- d_k * ema + (1 - d_k) * weight

so the first steps, far from DECAY's horizon, are not dominated by the random initial weights.
Buffers (running statistics, if a network has any) are copied, not averaged. The average is
kept in float32 on the training device, also under bf16/fp16 autocast (the weights it follows
are float32 there too). It follows the weights after the step, which DDP keeps equal on every
rank, so every rank holds the same average. The checkpoint stores it (``"ema"``), so a resumed
run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["GeneratorEMA", "ema_decay"]

#: warm-up constant: the effective decay is min(DECAY, (1 + k) / (WARMUP + k)).
WARMUP = 10


def ema_decay(decay: float, step: int) -> float:
    """The decay applied at optimizer step ``step`` (1-based): ``min(decay, (1 + step) /
    (10 + step))``."""
    return min(decay, (1 + step) / (WARMUP + step))


class GeneratorEMA:
    """The moving average of the networks ``names`` of ``bundle`` (their parameters averaged,
    their buffers copied).

    Args:
        bundle: the training bundle (the networks themselves, not DDP wrappers).
        names: attribute names of the networks to average (``Recipe.folder_nets``).
        decay: DECAY in (0, 1), e.g. 0.999.
    """

    def __init__(self, bundle: nn.Module, names: Sequence[str], decay: float) -> None:
        self.bundle, self.names, self.decay = bundle, tuple(names), float(decay)
        # Per network: the state_dict keys of its parameters and of its (saved) buffers.
        self._param_keys: dict[str, list[str]] = {}
        self._buffer_keys: dict[str, list[str]] = {}
        for n in names:
            net = getattr(bundle, n)
            params = {k for k, _ in net.named_parameters()}
            keys = list(net.state_dict(keep_vars=True))
            self._param_keys[n] = [k for k in keys if k in params]
            self._buffer_keys[n] = [k for k in keys if k not in params]
        self.shadow: dict[str, dict[str, Tensor]] = {
            n: {
                k: _fp32(v.detach().clone())
                for k, v in getattr(bundle, n).state_dict(keep_vars=True).items()
            }
            for n in names
        }
        # (average, live tensor) pairs, fixed for the run: the optimizers and load_state_dict
        # change the live tensors in place.
        self._params = self._pairs(self._param_keys)
        self._buffers = self._pairs(self._buffer_keys)

    def _pairs(self, keys: dict[str, list[str]]) -> tuple[list[Tensor], list[Tensor]]:
        """(averages, live tensors) of the state_dict ``keys`` of every network, in order."""
        ema: list[Tensor] = []
        live: list[Tensor] = []
        for n in self.names:
            state = getattr(self.bundle, n).state_dict(keep_vars=True)
            for k in keys[n]:
                ema.append(self.shadow[n][k])
                live.append(state[k].detach())
        return ema, live

    def update(self, step: int) -> None:
        """Move the average after optimizer step ``step`` (1-based; see :func:`ema_decay`)."""
        weight = 1.0 - ema_decay(self.decay, step)
        ema, live = self._params
        with torch.no_grad():
            if ema:
                # ema + (1 - d) * (w - ema) = d * ema + (1 - d) * w, in float32
                torch._foreach_lerp_(ema, [_fp32(t) for t in live], weight)
            for target, source in zip(*self._buffers, strict=True):
                target.copy_(source)

    def state_dict(self) -> dict[str, dict[str, Tensor]]:
        """``{network: {state_dict key: tensor}}`` (on CPU), for the checkpoint."""
        return {n: {k: v.cpu() for k, v in sd.items()} for n, sd in self.shadow.items()}

    def digest(self) -> str:
        """SHA-256 of every averaged tensor, in order: equal digests mean bit-equal averages."""
        h = hashlib.sha256()
        for n, sd in self.shadow.items():
            for k, v in sd.items():
                h.update(f"{n}.{k}".encode())
                h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
        return h.hexdigest()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (a network or key it lacks is a KeyError,
        a shape that differs a RuntimeError)."""
        for n in self.names:
            for k, target in self.shadow[n].items():
                target.copy_(state[n][k])

    @contextmanager
    def swapped(self) -> Iterator[None]:
        """The bundle holds the averaged weights inside the block, its own ones again after
        (bit-exact: copied out and back)."""
        saved = {
            n: {k: v.detach().clone() for k, v in getattr(self.bundle, n).state_dict().items()}
            for n in self.names
        }
        try:
            self._copy_into_bundle(self.shadow)
            yield
        finally:
            self._copy_into_bundle(saved)

    def _copy_into_bundle(self, source: dict[str, dict[str, Tensor]]) -> None:
        with torch.no_grad():
            for n in self.names:
                for k, target in getattr(self.bundle, n).state_dict(keep_vars=True).items():
                    target.detach().copy_(source[n][k])


def _fp32(t: Tensor) -> Tensor:
    """Floating tensors as float32 (integer buffers such as a step count stay as they are)."""
    return t.float() if t.is_floating_point() else t
