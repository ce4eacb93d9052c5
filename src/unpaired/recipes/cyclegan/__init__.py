"""CycleGAN (Zhu, Park, Isola, Efros 2017) as a recipe: two generators G: X -> Y (``g_ab``) and
F: Y -> X (``g_ba``), two PatchGAN discriminators D_Y (``d_b``) and D_X (``d_a``), LSGAN,
cycle and identity losses, a pool of past fakes; the official project's defaults.

Modules: :mod:`.options` (``config.cyclegan``, its checks, report rows), :mod:`.step` (one
training step). Here: building, optimizers, samples, the model folder, translation.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...config import TrainConfig
from ...image_pool import ImagePool
from ...models.cyclegan import CycleGAN, build_cyclegan
from ...models.generators import ResnetGenerator, UnetGenerator
from ..base import Optimizers, Recipe, StepContext, Translation, check_direction
from ..samples import evaluating, write_grid
from ..schedules import build_scheduler
from .options import CycleGANConfig, check_config, check_distributed, report_rows
from .step import cyclegan_step

__all__ = ["RECIPE", "CycleGANConfig", "cyclegan_step", "translate_samples"]

#: What ``model/config.json`` records (besides channels) to rebuild the generators.
ARCHITECTURE = ("generator", "ngf", "norm", "use_dropout")
#: Architecture keys added later, with what their absence means (folders without them are the
#: official network).
OPTIONAL_ARCHITECTURE = {"upsample": "transposed"}


def _build(config: TrainConfig) -> nn.Module:
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
        upsample=cg.upsample,
    )


def _optimizers(model: nn.Module, config: TrainConfig) -> Optimizers:
    """One Adam over G and F, one over D_X and D_Y; the ``optim.lr_policy`` schedule."""
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


def _pools(config: TrainConfig, seed: int) -> dict[str, ImagePool]:
    size = config.cyclegan.pool_size
    return {"a": ImagePool(size, seed=seed + 1), "b": ImagePool(size, seed=seed + 2)}


def _step(
    nets: nn.Module, opt_g: Any, opt_d: Any, batch: dict[str, Tensor], ctx: StepContext
) -> dict[str, Tensor]:
    return cyclegan_step(
        nets,
        opt_g,
        opt_d,
        batch,
        ctx.pools["a"],
        ctx.pools["b"],
        ctx.section,
        ctx.options,
        ctx.scalers,
    )


@torch.no_grad()
def translate_samples(
    model: CycleGAN, images_a: Tensor | list[Tensor], images_b: Tensor | list[Tensor]
) -> list[list[Tensor]]:
    """One row per sample: [real_A, fake_B, rec_A, real_B, fake_A, rec_B] (each (C, H, W))."""
    device = next(model.g_ab.parameters()).device
    rows = []
    with evaluating(model):
        for real_a, real_b in zip(images_a, images_b, strict=False):
            real_a = real_a.unsqueeze(0).to(device)
            real_b = real_b.unsqueeze(0).to(device)
            fake_b = model.g_ab(real_a)
            fake_a = model.g_ba(real_b)
            rec_a = model.g_ba(fake_b)
            rec_b = model.g_ab(fake_a)
            rows.append([t[0] for t in (real_a, fake_b, rec_a, real_b, fake_a, rec_b)])
    return rows


def _write_samples(path: Path, model: CycleGAN, images_a: Any, images_b: Any, seed: int) -> Path:
    """real_A | fake_B | rec_A and real_B | fake_A | rec_B per fixed pair (``seed`` unused)."""
    return write_grid(path, translate_samples(model, images_a, images_b))


def _model_info(config: TrainConfig) -> dict[str, Any]:
    cg = config.cyclegan
    info = {key: getattr(cg, key) for key in ARCHITECTURE}
    # written only when not the default: folders of official-network runs stay as they were
    info.update(
        {k: getattr(cg, k) for k, v in OPTIONAL_ARCHITECTURE.items() if getattr(cg, k) != v}
    )
    return info


def _build_generators(info: Mapping[str, Any]) -> CycleGAN:
    return build_cyclegan(
        channels_a=info["channels_a"],
        channels_b=info["channels_b"],
        generator=info["generator"],
        ngf=info["ngf"],
        norm=info["norm"],
        use_dropout=info["use_dropout"],
        with_discriminators=False,
        upsample=info.get("upsample", OPTIONAL_ARCHITECTURE["upsample"]),
    )


def size_rule(net: nn.Module) -> tuple[int, int]:
    """``(multiple, minimum)`` of H and W for a generator. The ResNet's residual blocks
    reflect-pad by 1 at a quarter of the resolution, so they need 8 pixels; a U-Net halves
    the size ``num_downs`` times."""
    if isinstance(net, ResnetGenerator):
        return 4, 8
    if isinstance(net, UnetGenerator):
        return 2**net.num_downs, 2**net.num_downs
    raise ValueError(f"no size rule for generator class {type(net).__name__}")


def _translation(model: CycleGAN, info: Mapping[str, Any]) -> Translation:
    def network(direction: str) -> nn.Module:
        return model.g_ab if check_direction(direction)[0] == "a" else model.g_ba

    return Translation(network=network, size_rule=lambda d: size_rule(network(d)))


#: ``--preset quick``: the best translations per hour of a CPU (or a small GPU), chosen by
#: the side-by-side runs in docs/training.md ("The quick preset"): a narrower, shallower
#: generator (10.9 instead of 49.6 GMAC per 256x256 image) gives 2.5x the steps per hour at
#: the same image size; resize-convolution upsampling has no checkerboards; twice the official
#: identity weight keeps colours true while the generators are young (in an hour, 18% / 24%
#: lower FID than the defaults, against 14% / 16% at 0.5); the EMA of the generators keeps
#: the last steps' noise out of the model folder; the run plans its own length and LR decay in
#: one hour. Crops of the images (64 of 143) gave more steps still but covered whole scenes in
#: stripes: the image size is left to the user.
QUICK: dict[str, Any] = {
    "time_budget": "1h",
    "ema": 0.999,
    "cyclegan": {
        "generator": "resnet_6blocks",
        "ngf": 32,
        "upsample": "resize_conv",
        "lambda_identity": 1.0,
    },
}

RECIPE = Recipe(
    name="cyclegan",
    section=CycleGANConfig,
    check_config=check_config,
    check_distributed=check_distributed,
    build=_build,
    nets=("g_ab", "g_ba", "d_a", "d_b"),
    rebundle=lambda nets: CycleGAN(*nets),
    optimizers=_optimizers,
    per_iteration=False,
    fusable=lambda config: config.cyclegan.norm != "batch",  # batch norm mixes samples
    pools=_pools,
    step=_step,
    loss_keys=("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"),
    plateau_keys=("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B"),
    write_samples=_write_samples,
    architecture=ARCHITECTURE,
    model_info=_model_info,
    folder_nets=("g_ab", "g_ba"),
    build_generators=_build_generators,
    translation=_translation,
    default_metrics=("fid", "kid", "l1_cycle", "psnr_cycle"),
    report_rows=report_rows,
    demo={"generator": "resnet_6blocks", "ngf": 24, "ndf": 32},
    direction_nets={"a2b": ("g_ab",), "b2a": ("g_ba",)},
    optional_architecture=OPTIONAL_ARCHITECTURE,
    presets={"quick": QUICK},
)
