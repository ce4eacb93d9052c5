"""CUT's and FastCUT's options (``config.cut``, ``config.fastcut``), checks and report rows.

The defaults are the reference code's (taesungp/contrastive-unpaired-translation): CUT with
lambda_GAN 1, lambda_NCE 1 and the identity NCE term on (G(y) vs y); FastCUT with lambda_NCE
10, no identity term and flip-equivariance. Both: PatchNCE on generator layers 0, 4, 8, 12, 16,
256 patches per layer, temperature 0.07, negatives from the same image, 2-layer 256-unit heads;
the generator and discriminator anti-aliased; Xavier initialisation with gain 0.02.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...config import ConfigError, TrainConfig, check_choice, positive
from ...losses import GAN_MODES
from ...models.layers import INIT_FUNCTIONS, NORM_LAYERS
from ..schedules import SCHEDULES

__all__ = [
    "GENERATOR_BLOCKS",
    "CUTConfig",
    "FastCUTConfig",
    "check_config",
    "nce_layers",
    "report_rows",
]

#: generator name -> residual blocks.
GENERATOR_BLOCKS = {"resnet_9blocks": 9, "resnet_6blocks": 6}


@dataclass(frozen=True)
class CUTConfig:
    """CUT (Park et al. 2020): architecture, PatchNCE and loss weights.

    The generator loss is lambda_gan * L_GAN(G, D, X, Y) + lambda_nce * L_PatchNCE(G, H, X)
    (averaged with lambda_nce * L_PatchNCE(G, H, Y), the identity term, when ``nce_idt``).
    """

    generator: str = "resnet_9blocks"
    ngf: int = 64
    ndf: int = 64
    n_layers_d: int = 3
    norm: str = "instance"
    use_dropout: bool = False
    antialias: bool = True
    """Blur-pool downsampling and fixed-filter upsampling (false: strided convolutions)."""
    init_type: str = "xavier"
    init_gain: float = 0.02
    gan_mode: str = "lsgan"
    lambda_gan: float = 1.0
    lambda_nce: float = 1.0
    nce_idt: bool = True
    """The identity PatchNCE term on (G(y), y)."""
    nce_layers: str = "0,4,8,12,16"
    """Indices of the generator layers whose features PatchNCE compares."""
    nce_t: float = 0.07
    """Temperature tau of PatchNCE."""
    num_patches: int = 256
    """Patches sampled per layer (the same positions in the input's and the output's features)."""
    nce_nc: int = 256
    """Width of the projection heads H_l."""
    negatives_from_minibatch: bool = False
    """Negatives from every image of the batch instead of the same image only."""
    flip_equivariance: bool = False
    """Flip the batch horizontally at random, comparing G(flip(x)) flipped back with x."""


@dataclass(frozen=True)
class FastCUTConfig(CUTConfig):
    """FastCUT: CUT with lambda_nce 10, no identity term, flip-equivariance (150 + 50 epochs)."""

    lambda_nce: float = 10.0
    nce_idt: bool = False
    flip_equivariance: bool = True


def nce_layers(text: str) -> tuple[int, ...]:
    """``"0,4,8"`` -> ``(0, 4, 8)`` (ascending, distinct); ValueError otherwise."""
    layers = tuple(int(part) for part in str(text).split(","))
    if not layers or list(layers) != sorted(set(layers)) or layers[0] < 0:
        raise ValueError("expected ascending, distinct layer indices such as 0,4,8,12,16")
    return layers


def _check(name: str) -> Callable[[TrainConfig], None]:
    def check_config(config: TrainConfig) -> None:
        """Known names, positive sizes, parsable NCE layers within the generator."""
        section = config.section(name)
        check_choice(f"{name}.generator", section.generator, sorted(GENERATOR_BLOCKS))
        check_choice(f"{name}.norm", section.norm, sorted(NORM_LAYERS))
        check_choice(f"{name}.init_type", section.init_type, sorted(INIT_FUNCTIONS))
        check_choice(
            f"{name}.gan_mode", section.gan_mode, [m for m in GAN_MODES.names() if m != "wgangp"]
        )
        check_choice("optim.lr_policy", config.optim.lr_policy, SCHEDULES.names())
        for key in ("ngf", "ndf", "n_layers_d", "num_patches", "nce_nc", "nce_t"):
            positive(f"{name}.{key}", getattr(section, key))
        for key in ("lambda_gan", "lambda_nce"):
            if getattr(section, key) < 0:
                raise ConfigError(
                    f"option {name}.{key}: must be 0 or more, got {getattr(section, key)}"
                )
        try:
            layers = nce_layers(section.nce_layers)
        except ValueError as exc:
            raise ConfigError(
                f"option {name}.nce_layers: {exc}, got {section.nce_layers!r}"
            ) from None
        # Layers of G: 4 in, 2 x 4 down (3 without blur-pools), the blocks, 2 x 4 up, 3 out.
        last = GENERATOR_BLOCKS[section.generator] + (23 if section.antialias else 19)
        if layers[-1] >= last:
            raise ConfigError(
                f"option {name}.nce_layers: the generator has layers 0..{last - 1}, got "
                f"{section.nce_layers!r}"
            )
        if section.nce_idt and config.data.channels_a != config.data.channels_b:
            raise ConfigError(
                f"option {name}.nce_idt: the identity term needs the same number of channels in "
                f"both domains (channels_a={config.data.channels_a}, channels_b="
                f"{config.data.channels_b}); set {name}.nce_idt=false"
            )

    return check_config


def _rows(name: str) -> Callable[[Callable[[str], Any]], list[tuple[str, str]]]:
    def report_rows(g: Callable[[str], Any]) -> list[tuple[str, str]]:
        """The report summary's Model, Losses and Schedule rows."""
        aa = "anti-aliased" if g(f"{name}.antialias") else "strided"
        return [
            (
                "Model",
                f"{name}: {g(f'{name}.generator')} (ngf {g(f'{name}.ngf')}, {aa}), PatchGAN D "
                f"(ndf {g(f'{name}.ndf')}), {g(f'{name}.norm')} norm, {g(f'{name}.gan_mode')}",
            ),
            (
                "Losses",
                f"GAN {g(f'{name}.lambda_gan')}, PatchNCE {g(f'{name}.lambda_nce')} on layers "
                f"{g(f'{name}.nce_layers')} ({g(f'{name}.num_patches')} patches, tau "
                f"{g(f'{name}.nce_t')}), identity NCE {g(f'{name}.nce_idt')}, flip "
                f"{g(f'{name}.flip_equivariance')}",
            ),
            (
                "Schedule",
                f"{g('epochs')} + {g('epochs_decay')} epochs ({g('optim.lr_policy')}), batch "
                f"{g('batch_size')}, lr {g('optim.lr')}",
            ),
        ]

    return report_rows


check_config = _check("cut")
report_rows = _rows("cut")
