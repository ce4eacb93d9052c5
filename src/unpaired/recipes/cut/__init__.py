"""CUT and FastCUT (Park, Efros, Zhang, Zhu, ECCV 2020) as recipes: one generator G: X -> Y
(``g_ab``), one PatchGAN D_Y (``d_b``) and the projection heads H_l (``h``) of the patchwise
contrastive loss; no cycle, no second generator, no image pool. One-sided: model folders
translate A -> B only.

Modules: :mod:`.options` (``config.cut`` / ``config.fastcut``, checks, report rows),
:mod:`.step` (one training step). Here: building, optimizers, samples, the model folder,
translation. The networks are :mod:`unpaired.models.cut`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...config import TrainConfig
from ...models.cut import CUT, build_cut
from ..base import Optimizers, Recipe, StepContext, Translation, check_direction
from ..samples import evaluating, write_grid
from ..schedules import build_scheduler
from .options import GENERATOR_BLOCKS, CUTConfig, FastCUTConfig, _check, _rows, nce_layers
from .step import cut_step

__all__ = ["CUT_RECIPE", "FASTCUT_RECIPE", "CUTConfig", "FastCUTConfig", "cut_step"]

#: What ``model/config.json`` records (besides channels) to rebuild G.
ARCHITECTURE = ("generator", "ngf", "norm", "use_dropout", "antialias")


def _build(name: str) -> Callable[[TrainConfig], nn.Module]:
    def build(config: TrainConfig) -> nn.Module:
        c, data = config.section(name), config.data
        return build_cut(
            data.channels_a,
            data.channels_b,
            GENERATOR_BLOCKS[c.generator],
            c.ngf,
            c.ndf,
            c.n_layers_d,
            c.norm,
            c.use_dropout,
            c.antialias,
            nce_layers(c.nce_layers),
            c.nce_nc,
            c.init_type,
            c.init_gain,
        )

    return build


def _optimizers(model: nn.Module, config: TrainConfig) -> Optimizers:
    """Adam over G and H (the reference's two optimizers with equal settings: Adam is
    per-parameter, so one optimizer is the same update), Adam over D; ``optim.lr_policy``."""
    opt = config.optim
    betas = (opt.beta1, opt.beta2)
    opt_g = torch.optim.Adam(
        itertools.chain(model.g_ab.parameters(), model.h.parameters()), lr=opt.lr, betas=betas
    )
    opt_d = torch.optim.Adam(model.d_b.parameters(), lr=opt.lr, betas=betas)
    sched_g, sched_d = (
        build_scheduler(opt.lr_policy, o, config.epochs, config.epochs_decay, opt.lr_decay_epochs)
        for o in (opt_g, opt_d)
    )
    return Optimizers(opt_g, opt_d, sched_g, sched_d)


def _step(
    nets: nn.Module, opt_g: Any, opt_d: Any, batch: dict[str, Tensor], ctx: StepContext
) -> dict[str, Tensor]:
    return cut_step(nets, opt_g, opt_d, batch, ctx.section, ctx.options, ctx.scalers)


@torch.no_grad()
def translate_samples(model: CUT, images_a: Any, images_b: Any) -> list[list[Tensor]]:
    """One row per sample: [real_A, G(real_A), real_B, G(real_B)] (the last: identity)."""
    device = next(model.g_ab.parameters()).device
    rows = []
    with evaluating(model):
        for real_a, real_b in zip(images_a, images_b, strict=False):
            pair = [real_a.unsqueeze(0).to(device), real_b.unsqueeze(0).to(device)]
            rows.append([t[0] for p in pair for t in (p, model.g_ab(p))])
    return rows


def _write_samples(path: Path, model: CUT, images_a: Any, images_b: Any, seed: int) -> Path:
    return write_grid(path, translate_samples(model, images_a, images_b), group=2)


def _build_generators(info: Mapping[str, Any]) -> CUT:
    return build_cut(
        info["channels_a"],
        info["channels_b"],
        GENERATOR_BLOCKS[info["generator"]],
        info["ngf"],
        norm=info["norm"],
        use_dropout=info["use_dropout"],
        antialias=info["antialias"],
        with_discriminator=False,
    )


def _translation(model: CUT, info: Mapping[str, Any]) -> Translation:
    def network(direction: str) -> nn.Module:
        if check_direction(direction)[0] != "a":
            raise ValueError("option direction: a CUT model translates a2b only")
        return model.g_ab

    # Two blur-pools halve H and W; the residual blocks reflect-pad by 1 at a quarter size.
    return Translation(network, lambda direction: (4, 8))


def _recipe(name: str, section: type, defaults: dict[str, Any]) -> Recipe:
    return Recipe(
        name=name,
        section=section,
        check_config=_check(name),
        check_distributed=lambda config: None,
        build=_build(name),
        nets=("g_ab", "d_b", "h"),
        rebundle=lambda nets: CUT(*nets),
        optimizers=_optimizers,
        per_iteration=False,
        fusable=lambda config: False,
        pools=lambda config, seed: {},
        step=_step,
        loss_keys=("D", "G_GAN", "NCE", "NCE_Y", "G_total"),
        plateau_keys=("G_total",),
        write_samples=_write_samples,
        architecture=ARCHITECTURE,
        model_info=lambda config: {k: getattr(config.section(name), k) for k in ARCHITECTURE},
        folder_nets=("g_ab",),
        build_generators=_build_generators,
        translation=_translation,
        default_metrics=("fid", "kid"),
        report_rows=_rows(name),
        demo={"generator": "resnet_6blocks", "ngf": 24, "ndf": 32, "num_patches": 64},
        directions=("a2b",),
        defaults=defaults,
        direction_nets={"a2b": ("g_ab",)},
    )


#: CUT: the reference's 200 + 200 epochs.
CUT_RECIPE = _recipe("cut", CUTConfig, {"epochs": 200, "epochs_decay": 200})
#: FastCUT: 150 + 50 epochs.
FASTCUT_RECIPE = _recipe("fastcut", FastCUTConfig, {"epochs": 150, "epochs_decay": 50})
