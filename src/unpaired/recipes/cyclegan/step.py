"""One explicit CycleGAN optimisation step: update G and F, then D_X and D_Y; return the losses.

The loss weights are read from :class:`~.options.CycleGANConfig` directly (``lambda_a``,
``lambda_b``, ``lambda_identity``, ``gan_mode``, ``lambda_gp``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from ... import losses
from ...image_pool import ImagePool
from ...models.cyclegan import CycleGAN
from ..steps import (
    GradScalers,
    StepOptions,
    autocast,
    backward,
    bare,
    batch_inputs,
    no_sync,
    optimizer_step,
    set_requires_grad,
)
from .options import CycleGANConfig

__all__ = ["cyclegan_step", "generate_direction", "generate_fused"]


def generate_fused(model: CycleGAN, real_a: Tensor, real_b: Tensor, identity: bool) -> dict:
    """All generator outputs of one step in 3 calls (a and b of one shape): G on [a; b] gives
    fake_b = G(a) and idt_a = G(b), F on [b; a; G(a)] gives fake_a = F(b), idt_b = F(a) and
    rec_a = F(G(a)), then rec_b = G(F(b)). Without ``identity`` the idt images are skipped."""
    g_ab, g_ba = model.g_ab, model.g_ba
    n = real_a.shape[0]
    if identity:
        fake_b, idt_a = g_ab(torch.cat([real_a, real_b])).split(n)
        fake_a, idt_b, rec_a = g_ba(torch.cat([real_b, real_a, fake_b])).split(n)
    else:
        fake_b = g_ab(real_a)
        fake_a, rec_a = g_ba(torch.cat([real_b, fake_b])).split(n)
    out = {"fake_b": fake_b, "rec_a": rec_a, "fake_a": fake_a, "rec_b": g_ab(fake_a)}
    if identity:
        out.update(idt_a=idt_a, idt_b=idt_b)
    return out


def generate_direction(
    forward: torch.nn.Module,
    backward: torch.nn.Module,
    real: Tensor,
    other: Tensor,
    identity: bool,
    side: str,
) -> dict[str, Tensor]:
    """One direction of the cycle. For ``side="a"`` (forward = G, backward = F, real = a,
    other = b): fake_b = G(a), rec_a = F(G(a)) and, with ``identity``, idt_a = G(b);
    ``side="b"`` gives fake_a, rec_b and idt_b likewise."""
    there = "b" if side == "a" else "a"
    fake = forward(real)
    out = {f"fake_{there}": fake, f"rec_{side}": backward(fake)}
    if identity:
        out[f"idt_{side}"] = forward(other)
    return out


def _generator_terms(
    gen: dict[str, Tensor],
    real_a: Tensor,
    real_b: Tensor,
    judges: dict[str, torch.nn.Module],
    weights: CycleGANConfig,
) -> dict[str, Tensor]:
    """The generator loss terms whose images ``gen`` holds (one direction or both):
    G_A = L_GAN(D_Y(G(a))), cycle_A = lambda_A ||F(G(a)) - a||_1, idt_A = lambda_B lambda_idt
    ||G(b) - b||_1, and the *_B terms likewise."""
    mode, out = weights.gan_mode, {}
    real = {"a": real_a, "b": real_b}
    lam = {"a": weights.lambda_a, "b": weights.lambda_b}
    for side, there, name in (("a", "b", "A"), ("b", "a", "B")):
        if f"fake_{there}" not in gen:
            continue
        out[f"G_{name}"] = losses.generator_loss(judges[there](gen[f"fake_{there}"]).float(), mode)
        out[f"cycle_{name}"] = losses.cycle_consistency_loss(
            gen[f"rec_{side}"].float(), real[side], lam[side]
        )
        if f"idt_{side}" in gen:
            out[f"idt_{name}"] = losses.identity_loss(
                gen[f"idt_{side}"], real[there], lam[there] * weights.lambda_identity
            )
    return out


def _score_pair(
    d: torch.nn.Module, real: Tensor, fake: Tensor, fused: bool
) -> tuple[Tensor, Tensor]:
    """D(real), D(fake), in one call when ``fused`` and the shapes allow it."""
    if fused and real.shape == fake.shape:
        return d(torch.cat([real, fake])).split(real.shape[0])
    return d(real), d(fake)


def cyclegan_step(
    model: CycleGAN,
    opt_g: Optimizer,
    opt_d: Optimizer,
    batch: dict[str, Tensor],
    pool_a: ImagePool,
    pool_b: ImagePool,
    weights: CycleGANConfig,
    options: StepOptions = StepOptions(),  # noqa: B008 - frozen dataclass, safe default
    scalers: GradScalers | None = None,
) -> dict[str, Tensor]:
    """One CycleGAN training step on ``batch = {"A": (N, C_a, H, W), "B": (N, C_b, H, W)}``.

    Generators first (with D frozen): L_G = L_GAN(G, D_Y) + L_GAN(F, D_X)
    + lambda_A ||F(G(a)) - a|| + lambda_B ||G(F(b)) - b|| + identity terms. Then the
    discriminators, each on real images and on fakes drawn through its image pool:
    L_D = (L(D(real), 1) + L(D(fake), 0)) / 2.
    """
    real_a, real_b = batch_inputs(batch, options)
    mode, fused = weights.gan_mode, options.fused
    d_a, d_b = model.d_a, model.d_b
    assert d_a is not None and d_b is not None, "training needs the discriminators"
    scalers = scalers or GradScalers()
    autocast_ = autocast(real_a.device, options.precision)
    identity = weights.lambda_identity > 0

    # --- generators -------------------------------------------------------------------------
    # Here the discriminators are fixed functions: call them bare, so that DDP (when they are
    # wrapped) does not wait for parameter gradients this backward never produces.
    judges = {"a": bare(d_a), "b": bare(d_b)}
    set_requires_grad([d_a, d_b], False)
    opt_g.zero_grad(set_to_none=True)
    if fused and real_a.shape == real_b.shape:
        with autocast_:
            gen = generate_fused(model, real_a, real_b, identity)
            terms = _generator_terms(gen, real_a, real_b, judges, weights)
        backward(sum(terms.values()), scalers.g)
    else:
        # One direction at a time: A -> B -> A is built, back-propagated and freed before
        # B -> A -> B is built. The gradients are the same sums, but only half of the
        # activations are alive at once. Under DDP the first half accumulates locally.
        with no_sync(model.g_ab, model.g_ba):
            with autocast_:
                gen = generate_direction(model.g_ab, model.g_ba, real_a, real_b, identity, "a")
                terms = _generator_terms(gen, real_a, real_b, judges, weights)
            backward(sum(terms.values()), scalers.g)
        with autocast_:
            gen_b = generate_direction(model.g_ba, model.g_ab, real_b, real_a, identity, "b")
            terms_b = _generator_terms(gen_b, real_a, real_b, judges, weights)
        backward(sum(terms_b.values()), scalers.g)
        gen.update(gen_b)
        terms.update(terms_b)
    optimizer_step(opt_g, scalers.g)
    zero = real_a.new_zeros((), dtype=torch.float32)
    loss_idt_a, loss_idt_b = terms.get("idt_A", zero), terms.get("idt_B", zero)
    loss_g_a, loss_g_b = terms["G_A"], terms["G_B"]
    loss_cycle_a, loss_cycle_b = terms["cycle_A"], terms["cycle_B"]

    # --- discriminators ---------------------------------------------------------------------
    set_requires_grad([d_a, d_b], True)
    opt_d.zero_grad(set_to_none=True)
    # The pools keep fp32 images whatever the compute precision.
    pooled_b = pool_b.query(gen["fake_b"].float())
    pooled_a = pool_a.query(gen["fake_a"].float())
    with autocast_:
        real_pred_b, fake_pred_b = _score_pair(d_b, real_b, pooled_b, fused)
        real_pred_a, fake_pred_a = _score_pair(d_a, real_a, pooled_a, fused)
        loss_d_a = losses.discriminator_loss(real_pred_b.float(), fake_pred_b.float(), mode)
        loss_d_b = losses.discriminator_loss(real_pred_a.float(), fake_pred_a.float(), mode)
        if mode == "wgangp":
            loss_d_a = loss_d_a + losses.gradient_penalty(d_b, real_b, pooled_b, weights.lambda_gp)
            loss_d_b = loss_d_b + losses.gradient_penalty(d_a, real_a, pooled_a, weights.lambda_gp)
    backward(loss_d_a + loss_d_b, scalers.d)
    optimizer_step(opt_d, scalers.d)

    out = {
        "D_A": loss_d_a,  # judge of G_A (d_b)
        "G_A": loss_g_a,
        "cycle_A": loss_cycle_a,
        "idt_A": loss_idt_a,
        "D_B": loss_d_b,  # judge of G_B (d_a)
        "G_B": loss_g_b,
        "cycle_B": loss_cycle_b,
        "idt_B": loss_idt_b,
    }
    return {k: v.detach() for k, v in out.items()}
