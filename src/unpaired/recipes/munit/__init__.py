"""MUNIT (Huang, Liu, Belongie, Kautz 2018) as a recipe: per domain a content encoder E^c, a
style encoder E^s and a decoder G with AdaIN (``gen_a``, ``gen_b``), multi-scale
discriminators D_1, D_2 (``dis_a``, ``dis_b``); many outputs per input from a style code.
The NVlabs edges2handbags defaults.

Modules: :mod:`.options` (``config.munit``, its checks, report rows), :mod:`.optim` (Adam +
StepLR per iteration), :mod:`.step` (one training step), :mod:`.translate` (the two-input
translation network, the style input, sample grids).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from ...config import TrainConfig
from ...models.munit import MUNIT, build_munit
from ..base import Optimizers, Recipe, StepContext, Translation
from .optim import munit_optimizers
from .options import MUNITConfig, check_config, report_rows
from .step import munit_step
from .translate import MUNITTranslation, StyleInput, generators, write_samples

__all__ = ["RECIPE", "MUNITConfig", "MUNITTranslation", "StyleInput", "munit_step"]

#: What ``model/config.json`` records (besides channels) to rebuild the generators.
ARCHITECTURE = ("dim", "style_dim", "n_downsample", "n_res", "mlp_dim")


def _build(config: TrainConfig) -> nn.Module:
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


def _step(
    nets: nn.Module, opt_g: Any, opt_d: Any, batch: dict[str, Tensor], ctx: StepContext
) -> dict[str, Tensor]:
    return munit_step(nets, opt_g, opt_d, batch, ctx.section, ctx.options, ctx.scalers)


def _loss_keys(config_cycle: bool) -> tuple[str, ...]:
    keys = ["D_A", "D_B", "G_adv_A", "G_adv_B"]
    keys += [f"recon_{t}_{d}" for t in ("x", "s", "c") for d in "AB"]
    keys += ["recon_cyc_A", "recon_cyc_B"] if config_cycle else []
    return (*keys, "G_total")


def _build_generators(info: Mapping[str, Any]) -> MUNIT:
    keys = ("channels_a", "channels_b", *ARCHITECTURE)
    return build_munit(**{k: info[k] for k in keys}, with_discriminators=False)


def _translation(model: MUNIT, info: Mapping[str, Any]) -> Translation:
    def network(direction: str) -> nn.Module:
        return MUNITTranslation(*generators(model, direction))

    def size_rule(direction: str) -> tuple[int, int]:
        net = network(direction)
        return net.multiple, net.minimum

    style = StyleInput(model)

    def style_of(reference: Tensor, direction: str = "a2b") -> Tensor:
        """E^s_target of reference images: (M, C_out, H, W) in [-1, 1] -> (M, style_dim,
        1, 1) on the model's device."""
        return style.style_of(reference, direction, next(model.parameters()).device)

    methods = {"random_styles": style.random, "style_of": style_of}
    return Translation(network, size_rule, {"style": style}, methods)


RECIPE = Recipe(
    name="munit",
    section=MUNITConfig,
    check_config=check_config,
    check_distributed=lambda config: None,  # its step reaches encode/decode via forward
    build=_build,
    nets=("gen_a", "gen_b", "dis_a", "dis_b"),
    rebundle=lambda nets: MUNIT(*nets),
    optimizers=lambda model, config: Optimizers(*munit_optimizers(model, config.munit)),
    per_iteration=True,
    fusable=lambda config: True,  # every normalisation in MUNIT is per sample
    pools=lambda config, seed: {},
    step=_step,
    loss_keys=_loss_keys(True),  # the cycle terms are logged only when they are on
    plateau_keys=("G_total",),
    write_samples=write_samples,
    architecture=ARCHITECTURE,
    model_info=lambda config: {key: getattr(config.munit, key) for key in ARCHITECTURE},
    folder_nets=("gen_a", "gen_b"),
    build_generators=_build_generators,
    translation=_translation,
    # The cycle metrics need a fixed style; diversity scores the outputs of many styles.
    default_metrics=("fid", "kid", "diversity"),
    report_rows=report_rows,
)
