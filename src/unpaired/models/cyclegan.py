"""The CycleGAN bundle: two generators and two PatchGAN discriminators.

Paper-to-code map (Zhu, Park, Isola, Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks"):

=================  =========  ==================================================
paper              code       role
=================  =========  ==================================================
G: X -> Y          ``g_ab``   translates domain A (X) to domain B (Y)
F: Y -> X          ``g_ba``   translates domain B (Y) to domain A (X)
D_Y                ``d_b``    scores images of domain B: real y vs G(x)
D_X                ``d_a``    scores images of domain A: real x vs F(y)
Eq. 1 (L_GAN)      :func:`unpaired.losses.generator_loss` / ``discriminator_loss``
Eq. 2 (L_cyc)      :func:`unpaired.losses.cycle_consistency_loss`
Sec. 5.2 (L_idt)   :func:`unpaired.losses.identity_loss`
=================  =========  ==================================================

Logged metric names follow the official implementation, where every ``*_A`` name belongs to
the A -> B direction: ``G_A`` is g_ab's adversarial loss, ``D_A`` the loss of its judge d_b,
``cycle_A`` is ||F(G(a)) - a||, ``idt_A`` is ||G(b) - b||; ``*_B`` likewise for B -> A.
"""

from __future__ import annotations

from torch import nn

from .discriminators import build_discriminator
from .generators import build_generator
from .layers import init_weights


class CycleGAN(nn.Module):
    """Holds ``g_ab``, ``g_ba`` and (for training) ``d_a``, ``d_b``.

    Generators map (N, C, H, W) in [-1, 1] to (N, C', H, W) in [-1, 1]; discriminators map
    (N, C, H, W) to (N, 1, H', W') patch scores.
    """

    def __init__(
        self,
        g_ab: nn.Module,
        g_ba: nn.Module,
        d_a: nn.Module | None = None,
        d_b: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.g_ab, self.g_ba = g_ab, g_ba
        self.d_a, self.d_b = d_a, d_b

    def generators(self) -> list[nn.Module]:
        return [self.g_ab, self.g_ba]

    def discriminators(self) -> list[nn.Module]:
        return [m for m in (self.d_a, self.d_b) if m is not None]


def build_cyclegan(
    channels_a: int = 3,
    channels_b: int = 3,
    generator: str = "resnet_9blocks",
    discriminator: str = "basic",
    ngf: int = 64,
    ndf: int = 64,
    n_layers_d: int = 3,
    norm: str = "instance",
    use_dropout: bool = False,
    init_type: str = "normal",
    init_gain: float = 0.02,
    with_discriminators: bool = True,
    upsample: str = "transposed",
) -> CycleGAN:
    """Build and initialise the four networks (global torch RNG; seed it first).

    ``upsample`` is how the ResNet generators upsample
    (:data:`~unpaired.models.generators.UPSAMPLE_MODES`; ``transposed``: the official network).
    """
    g_ab = build_generator(generator, channels_a, channels_b, ngf, norm, use_dropout, upsample)
    g_ba = build_generator(generator, channels_b, channels_a, ngf, norm, use_dropout, upsample)
    d_a = d_b = None
    if with_discriminators:
        d_a = build_discriminator(discriminator, channels_a, ndf, n_layers_d, norm)
        d_b = build_discriminator(discriminator, channels_b, ndf, n_layers_d, norm)
    model = CycleGAN(g_ab, g_ba, d_a, d_b)
    for net in model.generators() + model.discriminators():
        init_weights(net, init_type, init_gain)
    return model
