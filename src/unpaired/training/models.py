"""The models the training loop can train, picked by ``config.model`` through :data:`MODELS`.

A :class:`ModelSpec` holds everything that differs between two models, so that
:class:`~unpaired.training.loop.Run` has no per-model branches: how to check the config, build
the networks, optimizers and learning-rate schedulers (stepped per epoch or per iteration),
call one step, which losses to log and which drive the plateau policy, which networks a
checkpoint saves (and DDP wraps), the sample grid, and what ``model/config.json`` records.

A new model = one file in ``models/``, one step, one entry here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from .. import config as cfg
from ..image_pool import ImagePool
from ..models.cyclegan import CycleGAN, build_cyclegan
from ..models.munit import MUNIT, build_munit
from ..registry import Registry
from .assemble import data_info
from .assemble import model_info as cyclegan_info
from .munit_optim import munit_optimizers
from .munit_step import MUNITWeights, munit_step
from .samples import write_munit_samples, write_samples
from .schedules import build_scheduler
from .steps import CycleGANWeights, GradScalers, StepOptions, cyclegan_step

__all__ = ["MODELS", "ModelSpec", "Optimizers", "StepContext"]


@dataclass
class Optimizers:
    """The generator and discriminator optimizers and their learning-rate schedulers."""

    opt_g: Optimizer
    opt_d: Optimizer
    sched_g: Any
    sched_d: Any


@dataclass
class StepContext:
    """What a step needs besides (networks, optimizers, batch): loss weights, how to run, the
    fp16 scalers and the image pools (``{"a": ..., "b": ...}``; empty for a model without)."""

    weights: Any
    options: StepOptions
    scalers: GradScalers
    pools: dict[str, ImagePool] = field(default_factory=dict)


#: (networks or their DDP wrappers, opt_g, opt_d, batch {"A", "B"}, context) -> 0-dim losses.
StepFn = Callable[[nn.Module, Optimizer, Optimizer, dict[str, Tensor], StepContext], dict]


@dataclass(frozen=True)
class ModelSpec:
    """What the training loop needs to know about one model (see the module docstring).

    Attributes:
        check_config: raises a one-line :class:`~unpaired.config.ConfigError` for options this
            model cannot use (called by :func:`unpaired.config.validate`).
        check_distributed: the same, for a run under torchrun.
        build: the training bundle, discriminators included (draws from the global torch RNG).
        nets: attribute names of the bundle's networks: the checkpoint's ``models`` keys, and
            what DDP wraps.
        rebundle: the bundle again from the DDP-wrapped ``nets`` (in that order).
        optimizers: the two optimizers and their schedulers.
        per_iteration: schedulers step after every step (else once per epoch, with the plateau
            loss).
        weights: the step's loss settings from the config.
        fusable: whether batches may be concatenated (per-sample normalisation only).
        pools: image pools by name from (config, seed); checkpointed as ``pools``.
        step: one training step.
        loss_keys: the losses ``metrics.jsonl`` records, in order.
        plateau_keys: the losses whose per-epoch mean drives the plateau policy.
        write_samples: (path, bundle, fixed A images, fixed B images, seed) -> the grid's path.
        model_info: what ``model/config.json`` records (``model`` and the architecture).
    """

    check_config: Callable[[cfg.TrainConfig], None]
    check_distributed: Callable[[cfg.TrainConfig], None]
    build: Callable[[cfg.TrainConfig], nn.Module]
    nets: tuple[str, ...]
    rebundle: Callable[[list[nn.Module]], nn.Module]
    optimizers: Callable[[nn.Module, cfg.TrainConfig], Optimizers]
    per_iteration: bool
    weights: Callable[[cfg.TrainConfig], Any]
    fusable: Callable[[cfg.TrainConfig], bool]
    pools: Callable[[cfg.TrainConfig, int], dict[str, ImagePool]]
    step: StepFn
    loss_keys: tuple[str, ...]
    plateau_keys: tuple[str, ...]
    write_samples: Callable[[Path, nn.Module, Any, Any, int], Path]
    model_info: Callable[[cfg.TrainConfig], dict[str, Any]]


MODELS: Registry[ModelSpec] = Registry("model")


# --- CycleGAN (Zhu et al. 2017) ------------------------------------------------------------------
def _cyclegan_build(config: cfg.TrainConfig) -> nn.Module:
    cg, data = config.cyclegan, config.data
    return build_cyclegan(
        data.channels_a,
        data.channels_b,
        cg.generator,
        cg.discriminator,
        cg.ngf,
        cg.ndf,
        cg.n_layers_d,
        cg.norm,
        cg.use_dropout,
        cg.init_type,
        cg.init_gain,
    )


def _cyclegan_distributed(config: cfg.TrainConfig) -> None:
    if config.cyclegan.gan_mode == "wgangp":
        raise cfg.ConfigError(
            "option cyclegan.gan_mode: wgangp's gradient penalty does not run under DDP "
            "(torchrun); use lsgan, vanilla or hinge"
        )


def _cyclegan_optimizers(model: nn.Module, config: cfg.TrainConfig) -> Optimizers:
    opt = config.optim
    betas = (opt.beta1, opt.beta2)
    g_params = itertools.chain(model.g_ab.parameters(), model.g_ba.parameters())
    d_params = itertools.chain(model.d_a.parameters(), model.d_b.parameters())
    opt_g = torch.optim.Adam(g_params, lr=opt.lr, betas=betas)
    opt_d = torch.optim.Adam(d_params, lr=opt.lr, betas=betas)
    sched_g, sched_d = (
        build_scheduler(opt.lr_policy, o, config.epochs, config.epochs_decay, opt.lr_decay_epochs)
        for o in (opt_g, opt_d)
    )
    return Optimizers(opt_g, opt_d, sched_g, sched_d)


def _cyclegan_weights(config: cfg.TrainConfig) -> CycleGANWeights:
    cg = config.cyclegan
    return CycleGANWeights(cg.gan_mode, cg.lambda_a, cg.lambda_b, cg.lambda_identity, cg.lambda_gp)


def _cyclegan_pools(config: cfg.TrainConfig, seed: int) -> dict[str, ImagePool]:
    size = config.cyclegan.pool_size
    return {"a": ImagePool(size, seed=seed + 1), "b": ImagePool(size, seed=seed + 2)}


def _cyclegan_step(
    nets: nn.Module,
    opt_g: Optimizer,
    opt_d: Optimizer,
    batch: dict[str, Tensor],
    ctx: StepContext,
) -> dict[str, Tensor]:
    return cyclegan_step(
        nets,
        opt_g,
        opt_d,
        batch,
        ctx.pools["a"],
        ctx.pools["b"],
        ctx.weights,
        ctx.options,
        ctx.scalers,
    )


MODELS.register("cyclegan")(
    ModelSpec(
        check_config=cfg.check_cyclegan,
        check_distributed=_cyclegan_distributed,
        build=_cyclegan_build,
        nets=("g_ab", "g_ba", "d_a", "d_b"),
        rebundle=lambda nets: CycleGAN(*nets),
        optimizers=_cyclegan_optimizers,
        per_iteration=False,
        weights=_cyclegan_weights,
        fusable=lambda config: config.cyclegan.norm != "batch",  # batch norm mixes samples
        pools=_cyclegan_pools,
        step=_cyclegan_step,
        loss_keys=("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"),
        plateau_keys=("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B"),
        write_samples=lambda path, model, a, b, seed: write_samples(path, model, a, b),
        model_info=lambda config: {"model": "cyclegan", **cyclegan_info(config)},
    )
)


# --- MUNIT (Huang et al. 2018) -------------------------------------------------------------------
def _munit_build(config: cfg.TrainConfig) -> nn.Module:
    mu, data = config.munit, config.data
    return build_munit(
        data.channels_a,
        data.channels_b,
        mu.dim,
        mu.style_dim,
        mu.n_downsample,
        mu.n_res,
        mu.mlp_dim,
        mu.n_layer_d,
        mu.num_scales,
        mu.init,
    )


def _munit_optimizers(model: nn.Module, config: cfg.TrainConfig) -> Optimizers:
    return Optimizers(*munit_optimizers(model, config.munit))


def _munit_step(
    nets: nn.Module,
    opt_g: Optimizer,
    opt_d: Optimizer,
    batch: dict[str, Tensor],
    ctx: StepContext,
) -> dict[str, Tensor]:
    return munit_step(nets, opt_g, opt_d, batch, ctx.weights, ctx.options, ctx.scalers)


def munit_info(config: cfg.TrainConfig) -> dict[str, Any]:
    """What a MUNIT ``model/config.json`` records: the generators' architecture, the
    preprocessing and the run (see :data:`unpaired.pretrained.FORMATS`)."""
    mu = config.munit
    return {
        "model": "munit",
        "dim": mu.dim,
        "style_dim": mu.style_dim,
        "n_downsample": mu.n_downsample,
        "n_res": mu.n_res,
        "mlp_dim": mu.mlp_dim,
        **data_info(config),
    }


def _munit_keys(config_cycle: bool) -> tuple[str, ...]:
    keys = ["D_A", "D_B", "G_adv_A", "G_adv_B"]
    keys += [f"recon_{t}_{d}" for t in ("x", "s", "c") for d in "AB"]
    keys += ["recon_cyc_A", "recon_cyc_B"] if config_cycle else []
    return (*keys, "G_total")


MODELS.register("munit")(
    ModelSpec(
        check_config=cfg.check_munit,
        check_distributed=lambda config: None,  # its step reaches encode/decode via forward
        build=_munit_build,
        nets=("gen_a", "gen_b", "dis_a", "dis_b"),
        rebundle=lambda nets: MUNIT(*nets),
        optimizers=_munit_optimizers,
        per_iteration=True,
        weights=lambda config: MUNITWeights.from_config(config.munit),
        fusable=lambda config: True,  # every normalisation in MUNIT is per sample
        pools=lambda config, seed: {},
        step=_munit_step,
        loss_keys=_munit_keys(True),  # the cycle terms are logged only when they are on
        plateau_keys=("G_total",),
        write_samples=write_munit_samples,
        model_info=munit_info,
    )
)
