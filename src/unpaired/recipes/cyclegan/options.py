"""CycleGAN's options (``config.cyclegan``), their checks, and its rows in the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...config import OMIT_AT_DEFAULT, ConfigError, TrainConfig, check_choice
from ...losses import GAN_MODES
from ...models.discriminators import DISCRIMINATORS
from ...models.generators import GENERATORS, RESAMPLABLE_GENERATORS, UPSAMPLE_MODES
from ...models.layers import INIT_FUNCTIONS, NORM_LAYERS
from ..schedules import SCHEDULES

__all__ = ["CycleGANConfig", "check_config", "check_distributed", "report_rows"]


@dataclass(frozen=True)
class CycleGANConfig:
    """CycleGAN architecture and loss weights (Zhu et al. 2017; official defaults).

    ``lambda_a`` / ``lambda_b`` weight the cycle terms ||F(G(x)) - x||_1 and ||G(F(y)) - y||_1;
    the identity term is weighted ``lambda_identity * lambda`` (0 turns it off).
    ``upsample`` is how the ResNet generators upsample: ``transposed`` (official),
    ``resize_conv`` or ``antialiased`` (no checkerboard artifacts; see
    :data:`~unpaired.models.generators.UPSAMPLE_MODES`).
    """

    generator: str = "resnet_9blocks"
    discriminator: str = "basic"
    n_layers_d: int = 3
    ngf: int = 64
    ndf: int = 64
    norm: str = "instance"
    use_dropout: bool = False
    init_type: str = "normal"
    init_gain: float = 0.02
    gan_mode: str = "lsgan"
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    lambda_identity: float = 0.5
    lambda_gp: float = 10.0
    pool_size: int = 50
    # Added later: left out of config.yaml and checkpoints at its default.
    upsample: str = field(default="transposed", metadata={OMIT_AT_DEFAULT: True})


def check_config(config: TrainConfig) -> None:
    """Known part names, an identity loss only between equal channel counts, a valid pool."""
    data, cg = config.data, config.cyclegan
    check_choice("cyclegan.generator", cg.generator, GENERATORS.names())
    check_choice("cyclegan.discriminator", cg.discriminator, DISCRIMINATORS.names())
    check_choice("cyclegan.norm", cg.norm, sorted(NORM_LAYERS))
    check_choice("cyclegan.init_type", cg.init_type, sorted(INIT_FUNCTIONS))
    check_choice("cyclegan.gan_mode", cg.gan_mode, GAN_MODES.names())
    check_choice("cyclegan.upsample", cg.upsample, UPSAMPLE_MODES)
    if cg.upsample != "transposed" and cg.generator not in RESAMPLABLE_GENERATORS:
        raise ConfigError(
            f"option cyclegan.upsample: {cg.upsample} needs a ResNet generator "
            f"({', '.join(RESAMPLABLE_GENERATORS)}); {cg.generator} has transposed "
            "convolutions only"
        )
    check_choice("optim.lr_policy", config.optim.lr_policy, SCHEDULES.names())
    if cg.lambda_identity > 0 and data.channels_a != data.channels_b:
        raise ConfigError(
            "option cyclegan.lambda_identity: the identity loss needs the same number of "
            f"channels in both domains (channels_a={data.channels_a}, "
            f"channels_b={data.channels_b}); set cyclegan.lambda_identity=0"
        )
    if cg.pool_size < 0:
        raise ConfigError(f"option cyclegan.pool_size: must be 0 or more, got {cg.pool_size}")


def check_distributed(config: TrainConfig) -> None:
    """wgangp's double backward does not run under DDP."""
    if config.cyclegan.gan_mode == "wgangp":
        raise ConfigError(
            "option cyclegan.gan_mode: wgangp's gradient penalty does not run under DDP "
            "(torchrun); use lsgan, vanilla or hinge"
        )


def _upsample_words(mode: Any) -> str:
    """``", resize_conv upsampling"``; nothing for the official (or unrecorded) mode."""
    return f", {mode} upsampling" if mode not in (None, "transposed") else ""


def report_rows(g: Callable[[str], Any]) -> list[tuple[str, str]]:
    """The report summary's Model, Losses and Schedule rows (``g`` reads a dotted key)."""
    return [
        (
            "Model",
            f"cyclegan: {g('cyclegan.generator')} (ngf {g('cyclegan.ngf')}), "
            f"{g('cyclegan.discriminator')} D (ndf {g('cyclegan.ndf')}), {g('cyclegan.norm')} "
            f"norm, {g('cyclegan.gan_mode')}" + _upsample_words(g("cyclegan.upsample")),
        ),
        (
            "Losses",
            f"cycle λ {g('cyclegan.lambda_a')} / {g('cyclegan.lambda_b')}, identity "
            f"{g('cyclegan.lambda_identity')}, pool {g('cyclegan.pool_size')}",
        ),
        (
            "Schedule",
            f"{g('epochs')} + {g('epochs_decay')} epochs ({g('optim.lr_policy')}), batch "
            f"{g('batch_size')}, lr {g('optim.lr')}",
        ),
    ]
