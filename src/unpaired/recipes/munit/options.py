"""MUNIT's options (``config.munit``), their checks, and its rows in the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...config import ConfigError, TrainConfig, check_choice, positive
from ...losses import GAN_MODES
from ...models.layers import INIT_FUNCTIONS
from ...models.munit import min_discriminator_size

__all__ = ["MUNITConfig", "check_config", "report_rows"]


@dataclass(frozen=True)
class MUNITConfig:
    """MUNIT architecture, loss weights and optimiser (Huang et al. 2018; the NVlabs
    edges2handbags defaults). The generator total is gan_w * (L^{x_1}_GAN + L^{x_2}_GAN)
    + recon_x_w * (L^{x_1}_recon + L^{x_2}_recon) + recon_c_w * (L^{c_1}_recon + L^{c_2}_recon)
    + recon_s_w * (L^{s_1}_recon + L^{s_2}_recon) + recon_x_cyc_w * (explicit cycle terms).
    """

    dim: int = 64
    """Channels of the first conv of every encoder, generator and discriminator."""
    style_dim: int = 8
    """Length of the style codes s_1, s_2 (N, style_dim, 1, 1)."""
    n_downsample: int = 2
    """Stride-2 convs of the content encoder (and upsamplings of the decoder)."""
    n_res: int = 4
    """Residual blocks in the content encoder and AdaIN residual blocks in the decoder."""
    mlp_dim: int = 256
    """Hidden width of the MLP that maps a style code to the AdaIN parameters."""
    init: str = "kaiming"
    """Generator weight initialisation (discriminators always use N(0, 0.02))."""
    n_layer_d: int = 4
    """Stride-2 conv layers per discriminator scale."""
    num_scales: int = 3
    """Image scales each multi-scale discriminator judges (1, 1/2, 1/4)."""
    gan_w: float = 1.0
    """Weight of the adversarial terms L^{x_i}_GAN (and of the discriminator loss)."""
    recon_x_w: float = 10.0
    """lambda_x: weight of the image reconstruction terms L^{x_i}_recon."""
    recon_s_w: float = 1.0
    """lambda_s: weight of the style reconstruction terms L^{s_i}_recon."""
    recon_c_w: float = 1.0
    """lambda_c: weight of the content reconstruction terms L^{c_i}_recon."""
    recon_x_cyc_w: float = 0.0
    """Weight of the explicit style-augmented cycle terms (0 turns them off)."""
    lr: float = 1e-4
    """Adam learning rate of both the generators and the discriminators."""
    beta1: float = 0.5
    """Adam beta1."""
    beta2: float = 0.999
    """Adam beta2."""
    weight_decay: float = 1e-4
    """Adam (L2) weight decay."""
    lr_step: int = 100000
    """Iterations between learning-rate decays (StepLR step_size, stepped per iteration)."""
    lr_gamma: float = 0.5
    """Factor the learning rate is multiplied by every lr_step iterations."""
    gan_mode: str = "lsgan"
    """Adversarial objective: lsgan (default), vanilla (NVlabs nsgan) or hinge."""


def check_config(config: TrainConfig) -> None:
    """Known names, positive sizes, and an image_size its generators and discriminators
    accept."""
    mu = config.munit
    for key in ("dim", "style_dim", "n_res", "mlp_dim", "n_layer_d", "num_scales", "lr_step"):
        positive(f"munit.{key}", getattr(mu, key))
    positive("munit.lr", mu.lr)
    if mu.n_downsample < 0:
        raise ConfigError(f"option munit.n_downsample: must be 0 or more, got {mu.n_downsample}")
    check_choice("munit.init", mu.init, sorted(INIT_FUNCTIONS))
    # No gradient penalty in the MUNIT step.
    check_choice("munit.gan_mode", mu.gan_mode, [m for m in GAN_MODES.names() if m != "wgangp"])
    size, multiple = config.data.image_size, 2**mu.n_downsample
    smallest = max(
        16, 2 ** (mu.n_downsample + 1), min_discriminator_size(mu.n_layer_d, mu.num_scales)
    )
    if size % multiple or size < smallest:
        raise ConfigError(
            f"option data.image_size: model munit needs a multiple of {multiple} that is at "
            f"least {smallest} (munit.n_layer_d={mu.n_layer_d}, munit.num_scales="
            f"{mu.num_scales}), got {size}"
        )


def report_rows(g: Callable[[str], Any]) -> list[tuple[str, str]]:
    """The report summary's Model, Losses and Schedule rows (``g`` reads a dotted key)."""
    return [
        (
            "Model",
            f"munit: dim {g('munit.dim')}, style {g('munit.style_dim')}, "
            f"{g('munit.n_res')} residual blocks, MLP {g('munit.mlp_dim')}; "
            f"{g('munit.num_scales')}-scale D ({g('munit.n_layer_d')} layers), "
            f"{g('munit.gan_mode')}",
        ),
        (
            "Losses",
            f"gan {g('munit.gan_w')}, image recon {g('munit.recon_x_w')}, style "
            f"{g('munit.recon_s_w')}, content {g('munit.recon_c_w')}, cycle "
            f"{g('munit.recon_x_cyc_w')}",
        ),
        (
            "Schedule",
            f"{g('epochs')} + {g('epochs_decay')} epochs, batch {g('batch_size')}, lr "
            f"{g('munit.lr')} x {g('munit.lr_gamma')} every {g('munit.lr_step')} steps",
        ),
    ]
