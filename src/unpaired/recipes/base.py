"""What a model family is: the :class:`Recipe` the generic machinery reads, and its parts.

The training loop, checkpoints, model folders, translation (files, folders, tiles, volumes),
export, evaluation, the report and the command line never name a model family: they look its
recipe up by name in :data:`unpaired.recipes.RECIPES` and call the fields below. A new family
is one module that builds a :class:`Recipe` and registers it (see docs/development.md).

Shapes and ranges: images are ``(N, C, H, W)`` float32 in [-1, 1] unless a docstring says
[0, 1]; ``"a2b"`` is the paper's G: X -> Y, ``"b2a"`` is F: Y -> X.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ..config import TrainConfig
from ..errors import UnpairedError
from ..image_pool import ImagePool
from .steps import GradScalers, StepOptions

__all__ = [
    "DIRECTIONS",
    "DirectionError",
    "ExtraInput",
    "Optimizers",
    "Recipe",
    "StepContext",
    "StepFn",
    "Translation",
    "check_direction",
]

#: direction -> (source domain letter, target domain letter).
DIRECTIONS: dict[str, tuple[str, str]] = {"a2b": ("a", "b"), "b2a": ("b", "a")}


def check_direction(direction: str) -> tuple[str, str]:
    """``(source, target)`` letters of a direction; a bad name is a one-line ValueError."""
    try:
        return DIRECTIONS[direction]
    except KeyError:
        raise ValueError(
            f"option direction: unknown {direction!r}; use {' or '.join(DIRECTIONS)}"
        ) from None


class DirectionError(UnpairedError):
    """A direction a model folder does not translate (a one-sided family asked for b2a)."""


@dataclass
class Optimizers:
    """The generator and discriminator optimizers and their learning-rate schedulers."""

    opt_g: Optimizer
    opt_d: Optimizer
    sched_g: Any
    sched_d: Any


@dataclass
class StepContext:
    """What a step needs besides (networks, optimizers, batch): the family's config section
    (its loss weights, read directly), how to run, the fp16 scalers and the image pools
    (``{"a": ..., "b": ...}``; empty for a family without)."""

    section: Any
    options: StepOptions
    scalers: GradScalers
    pools: dict[str, ImagePool] = field(default_factory=dict)


#: (networks or their DDP wrappers, opt_g, opt_d, batch {"A", "B"}, context) -> detached
#: 0-dim losses by name.
StepFn = Callable[[nn.Module, Optimizer, Optimizer, dict[str, Tensor], StepContext], dict]


class ExtraInput:
    """An input a family's translation takes besides the image (MUNIT: the style code).

    The network of a direction is called as ``net(image, *extras)``, one tensor per declared
    input, in declaration order, each with the batch size first. Subclasses say how a user's
    value becomes that tensor, how to draw random ones, and what an export example looks like.
    """

    #: Dimensions of the tensor after the batch, e.g. ``(8, 1, 1)`` for an 8-dim style.
    shape: tuple[int, ...] = ()

    def resolve(self, value: Any, n: int, direction: str, device: torch.device) -> Tensor:
        """``value`` (None: the default) as ``(n, *shape)`` on ``device`` for ``n`` images."""
        raise NotImplementedError

    def random(self, count: int, seed: int) -> Tensor:
        """``count`` random values ``(count, *shape)`` from ``seed`` (CPU; the global RNG is
        never used). Inputs without randomness raise ValueError."""
        raise ValueError("this input has no random values")

    def example(self, n: int, generator: torch.Generator) -> Tensor:
        """An example ``(n, *shape)`` for export and its parity check."""
        return torch.randn(n, *self.shape, generator=generator)


@dataclass
class Translation:
    """How one loaded model translates, for the generic :class:`~unpaired.translate.Translator`.

    Attributes:
        network: direction -> the network ``net(x, *extras)``: ``(N, C_in, H, W)`` in [-1, 1]
            (H, W as ``size_rule`` says) -> ``(N, C_out, H, W)`` in [-1, 1]. It is also what
            ``unpaired export`` writes.
        size_rule: direction -> ``(multiple, minimum)`` for H and W.
        inputs: the extra inputs by name (empty for CycleGAN), in the network's order.
        methods: the family's own helpers the Translator offers as methods (MUNIT:
            ``random_styles``, ``style_of``), called with the Translator's device.
    """

    network: Callable[[str], nn.Module]
    size_rule: Callable[[str], tuple[int, int]]
    inputs: Mapping[str, ExtraInput] = field(default_factory=dict)
    methods: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """Everything that belongs to one model family (see the module docstring).

    Attributes:
        name: the family's name: ``config.model``, its config section's key and
            ``model/config.json``'s ``"model"``.
        section: the frozen dataclass of the family's options (``config.<name>``).
        check_config: raises a one-line :class:`~unpaired.config.ConfigError` for options
            this family cannot use.
        check_distributed: the same, for a run under torchrun.
        build: the training bundle, discriminators included (draws from the global RNG).
        nets: attribute names of the bundle's networks: the checkpoint's ``models`` keys, and
            what DDP wraps.
        rebundle: the bundle again from the (DDP-wrapped) ``nets``, in that order.
        optimizers: the two optimizers and their schedulers.
        per_iteration: schedulers step after every step (else once per epoch, with the
            plateau loss).
        fusable: whether a step may concatenate batches (per-sample normalisation only).
        pools: image pools by name from (config, seed); checkpointed as ``pools``.
        step: one training step.
        loss_keys: the losses ``metrics.jsonl`` records, in order.
        plateau_keys: the losses whose per-epoch mean drives the plateau policy.
        write_samples: (path, bundle, fixed A images, fixed B images, seed) -> the grid.
        architecture: ``model/config.json`` keys (besides channels) that rebuild the
            generators, read from the config by ``model_info``.
        model_info: (config) -> the architecture part of ``model/config.json``.
        optional_architecture: ``config.json`` keys that rebuild the generators but may be
            absent (options added after the first release), each with the value an absent key
            means; ``model_info`` writes them only when they differ from it, so folders of runs
            that do not use them stay as they were, and ``build_generators`` reads them with
            that default.
        folder_nets: the networks a model folder stores (safetensors ``<net>.<param>``).
        build_generators: (``config.json`` mapping) -> the bundle without discriminators.
        translation: (generators bundle, ``config.json`` mapping) -> :class:`Translation`.
        default_metrics: what ``unpaired evaluate`` scores by default.
        report_rows: (getter of dotted config keys) -> the report summary's model rows.
        demo: options of this family's section for the built-in demo (fast on a CPU).
        directions: the directions its model folders translate (a one-sided family such as
            CUT has only ``("a2b",)``).
        direction_nets: direction -> the ``folder_nets`` that direction needs, for model
            folders holding some directions only (``config.json``'s ``"directions"``, e.g. an
            imported official A -> B generator); empty: every direction needs every network
            (such a family's folders always hold all of its directions).
        defaults: options outside its section that the family sets unless the user does
            (e.g. CUT's 200 + 200 epochs), as a nested mapping under the defaults.
        presets: named sets of options (``--preset NAME``, nested mappings like
            ``defaults``) laid over the defaults and under the user's options; ``official``,
            the defaults themselves, is every family's and is not listed here.
    """

    name: str
    section: type
    check_config: Callable[[TrainConfig], None]
    check_distributed: Callable[[TrainConfig], None]
    build: Callable[[TrainConfig], nn.Module]
    nets: tuple[str, ...]
    rebundle: Callable[[list[nn.Module]], nn.Module]
    optimizers: Callable[[nn.Module, TrainConfig], Optimizers]
    per_iteration: bool
    fusable: Callable[[TrainConfig], bool]
    pools: Callable[[TrainConfig, int], dict[str, ImagePool]]
    step: StepFn
    loss_keys: tuple[str, ...]
    plateau_keys: tuple[str, ...]
    write_samples: Callable[[Path, nn.Module, Any, Any, int], Path]
    architecture: tuple[str, ...]
    model_info: Callable[[TrainConfig], dict[str, Any]]
    folder_nets: tuple[str, ...]
    build_generators: Callable[[Mapping[str, Any]], nn.Module]
    translation: Callable[[nn.Module, Mapping[str, Any]], Translation]
    default_metrics: tuple[str, ...]
    report_rows: Callable[[Callable[[str], Any]], list[tuple[str, str]]]
    demo: Mapping[str, Any] = field(default_factory=dict)
    directions: tuple[str, ...] = ("a2b", "b2a")
    defaults: Mapping[str, Any] = field(default_factory=dict)
    direction_nets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    optional_architecture: Mapping[str, Any] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def nets_for(self, directions: tuple[str, ...]) -> tuple[str, ...]:
        """The ``folder_nets`` a folder holding ``directions`` stores, in ``folder_nets``
        order."""
        if not self.direction_nets:
            return self.folder_nets
        needed = {name for d in directions for name in self.direction_nets[d]}
        return tuple(name for name in self.folder_nets if name in needed)
