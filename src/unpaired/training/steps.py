"""One explicit optimisation step per model: update G, then D, return the losses.

A step takes (model, optimizers, batch, ...) and returns ``dict[str, Tensor]`` of detached
0-dim losses; the loop averages them over its logging interval and converts to floats only
when it logs, so a GPU never waits for a per-step ``.item()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.optim import Optimizer

from .. import losses
from ..image_pool import ImagePool
from ..models.cyclegan import CycleGAN


@dataclass(frozen=True)
class CycleGANWeights:
    """Loss settings of one CycleGAN step (the paper's lambdas and the adversarial mode)."""

    gan_mode: str = "lsgan"
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    lambda_identity: float = 0.5
    lambda_gp: float = 10.0


def _set_requires_grad(nets: list[torch.nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def cyclegan_step(
    model: CycleGAN,
    opt_g: Optimizer,
    opt_d: Optimizer,
    batch: dict[str, Tensor],
    pool_a: ImagePool,
    pool_b: ImagePool,
    weights: CycleGANWeights,
) -> dict[str, Tensor]:
    """One CycleGAN training step on ``batch = {"A": (N, C_a, H, W), "B": (N, C_b, H, W)}``.

    Generators first (with D frozen): L_G = L_GAN(G, D_Y) + L_GAN(F, D_X)
    + lambda_A ||F(G(a)) - a|| + lambda_B ||G(F(b)) - b|| + identity terms. Then the
    discriminators, each on real images and on fakes drawn through its image pool:
    L_D = (L(D(real), 1) + L(D(fake), 0)) / 2.
    """
    real_a, real_b = batch["A"], batch["B"]
    mode = weights.gan_mode
    d_a, d_b = model.d_a, model.d_b
    assert d_a is not None and d_b is not None, "training needs the discriminators"

    fake_b = model.g_ab(real_a)  # G(a)
    rec_a = model.g_ba(fake_b)  # F(G(a))
    fake_a = model.g_ba(real_b)  # F(b)
    rec_b = model.g_ab(fake_a)  # G(F(b))

    # --- generators -------------------------------------------------------------------------
    _set_requires_grad([d_a, d_b], False)
    opt_g.zero_grad(set_to_none=True)
    out: dict[str, Tensor] = {}
    if weights.lambda_identity > 0:
        idt_a = model.g_ab(real_b)  # G(b) should stay b
        idt_b = model.g_ba(real_a)  # F(a) should stay a
        loss_idt_a = losses.identity_loss(idt_a, real_b, weights.lambda_b * weights.lambda_identity)
        loss_idt_b = losses.identity_loss(idt_b, real_a, weights.lambda_a * weights.lambda_identity)
    else:
        loss_idt_a = loss_idt_b = real_a.new_zeros(())
    loss_g_a = losses.generator_loss(d_b(fake_b), mode)
    loss_g_b = losses.generator_loss(d_a(fake_a), mode)
    loss_cycle_a = losses.cycle_consistency_loss(rec_a, real_a, weights.lambda_a)
    loss_cycle_b = losses.cycle_consistency_loss(rec_b, real_b, weights.lambda_b)
    loss_g = loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b + loss_idt_a + loss_idt_b
    loss_g.backward()
    opt_g.step()

    # --- discriminators ---------------------------------------------------------------------
    _set_requires_grad([d_a, d_b], True)
    opt_d.zero_grad(set_to_none=True)
    pooled_b = pool_b.query(fake_b)
    pooled_a = pool_a.query(fake_a)
    loss_d_a = losses.discriminator_loss(d_b(real_b), d_b(pooled_b), mode)  # judge of G_A
    loss_d_b = losses.discriminator_loss(d_a(real_a), d_a(pooled_a), mode)  # judge of G_B
    if mode == "wgangp":
        loss_d_a = loss_d_a + losses.gradient_penalty(d_b, real_b, pooled_b, weights.lambda_gp)
        loss_d_b = loss_d_b + losses.gradient_penalty(d_a, real_a, pooled_a, weights.lambda_gp)
    (loss_d_a + loss_d_b).backward()
    opt_d.step()

    out.update(
        D_A=loss_d_a,
        G_A=loss_g_a,
        cycle_A=loss_cycle_a,
        idt_A=loss_idt_a,
        D_B=loss_d_b,
        G_B=loss_g_b,
        cycle_B=loss_cycle_b,
        idt_B=loss_idt_b,
    )
    return {k: v.detach() for k, v in out.items()}
