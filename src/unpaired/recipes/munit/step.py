"""One explicit MUNIT training step: update D_1, D_2, then E^c, E^s, G of both domains.

Huang et al. 2018, in the reference (NVlabs) order: the discriminator update first, then the
generator update, each with its own random styles s ~ N(0, I) of shape (N, style_dim, 1, 1),
drawn with ``torch.randn`` on the batch's device (the global torch RNG, which the training
checkpoint saves, so a resumed run draws the same styles).

Metric names: a ``_A`` suffix is the paper's index 1 (domain A), ``_B`` index 2, as in the
reference code: ``D_A`` is D_1's loss (real x_1 vs x_{2->1}), ``G_adv_A`` is L^{x_1}_GAN
(G_1's translations x_{2->1} = G_1(c_2, s_1) judged by D_1), ``recon_x_A`` is L^{x_1}_recon,
``recon_c_A`` is L^{c_1}_recon = ||E^c_2(x_{1->2}) - c_1||, ``recon_s_A`` is
L^{s_1}_recon = ||E^s_1(x_{2->1}) - s_1||, ``recon_cyc_A`` the explicit cycle term
||G_1(E^c_2(x_{1->2}), E^s_1(x_1)) - x_1||. The logged terms are unweighted; ``G_total`` is the
weighted sum that was minimised.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from ... import losses
from ...models.munit import MUNIT, MultiScaleDiscriminator, MUNITGenerator
from ..steps import (
    GradScalers,
    StepOptions,
    autocast,
    backward_step,
    bare,
    batch_inputs,
    set_requires_grad,
)
from .options import MUNITConfig

__all__ = ["munit_step", "random_styles"]


def random_styles(n: int, style_dim: int, like: Tensor) -> Tensor:
    """s ~ N(0, I): (n, style_dim, 1, 1) float32 on ``like``'s device (global torch RNG)."""
    return torch.randn(n, style_dim, 1, 1, device=like.device)


def _style_pair(x_a: Tensor, x_b: Tensor, style_dim: int) -> tuple[Tensor, Tensor]:
    """(s_1, s_2) ~ N(0, I) sized to decode c_2 and c_1; s_1 is drawn first, as in NVlabs."""
    s_a = random_styles(x_b.shape[0], style_dim, x_a)
    return s_a, random_styles(x_a.shape[0], style_dim, x_a)


def _decode_pair(
    gen: MUNITGenerator, first: tuple[Tensor, Tensor], second: tuple[Tensor, Tensor], fused: bool
) -> tuple[Tensor, Tensor]:
    """G(c, s) for two (content, style) pairs, in one decoder call when ``fused`` allows it.

    Exact up to float rounding: every normalisation in the decoder is per sample.
    """
    (c1, s1), (c2, s2) = first, second
    if fused and c1.shape == c2.shape:
        out = gen(torch.cat([c1, c2]), torch.cat([s1, s2]), op="decode")
        return out[: c1.shape[0]], out[c1.shape[0] :]
    return gen(c1, s1, op="decode"), gen(c2, s2, op="decode")


def _score_pair(
    dis: MultiScaleDiscriminator, real: Tensor, fake: Tensor, fused: bool
) -> tuple[list[Tensor], list[Tensor]]:
    """D(real), D(fake) as float32 per-scale maps, in one call when ``fused`` allows it."""
    if fused and real.shape == fake.shape:
        both = dis(torch.cat([real, fake]))
        n = real.shape[0]
        return [p[:n].float() for p in both], [p[n:].float() for p in both]
    return [p.float() for p in dis(real)], [p.float() for p in dis(fake)]


def munit_step(
    model: MUNIT,
    opt_gen: Optimizer,
    opt_dis: Optimizer,
    batch: dict[str, Tensor],
    weights: MUNITConfig,
    options: StepOptions = StepOptions(),  # noqa: B008 - frozen dataclass, safe default
    scalers: GradScalers | None = None,
) -> dict[str, Tensor]:
    """One MUNIT step on ``batch = {"A": x_1 (N, C_a, H, W), "B": x_2 (N, C_b, H, W)}`` in [-1, 1].

    Discriminators (generators run without gradients): L_D = gan_w * (L_{D_1} + L_{D_2}) on real
    x_i and the translations x_{j->i} = G_i(E^c_j(x_j), s_i), s_i ~ N(0, I).
    Generators (discriminators frozen), with fresh s_i ~ N(0, I):
    (c_i, s_i') = (E^c_i(x_i), E^s_i(x_i)); x_i' = G_i(c_i, s_i'); x_{j->i} = G_i(c_j, s_i);
    (c_j'', s_i'') = (E^c_i(x_{j->i}), E^s_i(x_{j->i})); minimise
    gan_w * sum L^{x_i}_GAN + recon_x_w * sum ||x_i' - x_i|| + recon_c_w * sum ||c_i'' - c_i||
    + recon_s_w * sum ||s_i'' - s_i|| [+ recon_x_cyc_w * sum ||G_i(c_i'', s_i') - x_i||].

    Returns detached 0-dim float32 tensors (see the module docstring for the names). Step the
    learning-rate schedulers once after each call.
    """
    if weights.gan_mode == "wgangp":
        raise ValueError("MUNIT: gan_mode wgangp is not supported (no gradient penalty here)")
    x_a, x_b = batch_inputs(batch, options)
    gen_a, gen_b, dis_a, dis_b = model.gen_a, model.gen_b, model.dis_a, model.dis_b
    assert dis_a is not None and dis_b is not None, "training needs the discriminators"
    mode, fused, style_dim = weights.gan_mode, options.fused, bare(gen_a).style_dim
    scalers = scalers or GradScalers()
    autocast_ = autocast(x_a.device, options.precision)

    # --- discriminators ---------------------------------------------------------------------
    set_requires_grad([dis_a, dis_b], True)
    opt_dis.zero_grad(set_to_none=True)
    s_a, s_b = _style_pair(x_a, x_b, style_dim)
    with autocast_:
        with torch.no_grad():
            x_ba = gen_a(gen_b(x_b, op="encode_content"), s_a, op="decode")
            x_ab = gen_b(gen_a(x_a, op="encode_content"), s_b, op="decode")
        real_a, fake_a = _score_pair(dis_a, x_a, x_ba, fused)
        real_b, fake_b = _score_pair(dis_b, x_b, x_ab, fused)
        loss_d_a = losses.multiscale_discriminator_loss(real_a, fake_a, mode)
        loss_d_b = losses.multiscale_discriminator_loss(real_b, fake_b, mode)
        loss_d = weights.gan_w * (loss_d_a + loss_d_b)
    backward_step(loss_d, opt_dis, scalers.d)

    # --- generators -------------------------------------------------------------------------
    # The discriminators are fixed functions here: called bare, so that DDP (when they are
    # wrapped) does not wait for parameter gradients this backward never produces.
    judge_a, judge_b = bare(dis_a), bare(dis_b)
    set_requires_grad([dis_a, dis_b], False)
    opt_gen.zero_grad(set_to_none=True)
    s_a, s_b = _style_pair(x_a, x_b, style_dim)
    cycle = weights.recon_x_cyc_w > 0
    with autocast_:
        c_a, s_a_prime = gen_a(x_a, op="encode")
        c_b, s_b_prime = gen_b(x_b, op="encode")
        x_a_recon, x_ba = _decode_pair(gen_a, (c_a, s_a_prime), (c_b, s_a), fused)
        x_b_recon, x_ab = _decode_pair(gen_b, (c_b, s_b_prime), (c_a, s_b), fused)
        c_b_recon, s_a_recon = gen_a(x_ba, op="encode")
        c_a_recon, s_b_recon = gen_b(x_ab, op="encode")
        out = {
            "G_adv_A": losses.multiscale_generator_loss([p.float() for p in judge_a(x_ba)], mode),
            "G_adv_B": losses.multiscale_generator_loss([p.float() for p in judge_b(x_ab)], mode),
            "recon_x_A": losses.image_reconstruction_loss(x_a_recon.float(), x_a.float()),
            "recon_x_B": losses.image_reconstruction_loss(x_b_recon.float(), x_b.float()),
            "recon_s_A": losses.style_reconstruction_loss(s_a_recon.float(), s_a),
            "recon_s_B": losses.style_reconstruction_loss(s_b_recon.float(), s_b),
            "recon_c_A": losses.content_reconstruction_loss(c_a_recon.float(), c_a.float()),
            "recon_c_B": losses.content_reconstruction_loss(c_b_recon.float(), c_b.float()),
        }
        if cycle:
            x_aba = gen_a(c_a_recon, s_a_prime, op="decode")
            x_bab = gen_b(c_b_recon, s_b_prime, op="decode")
            out["recon_cyc_A"] = losses.cycle_reconstruction_loss(x_aba.float(), x_a.float())
            out["recon_cyc_B"] = losses.cycle_reconstruction_loss(x_bab.float(), x_b.float())
        total = (
            weights.gan_w * (out["G_adv_A"] + out["G_adv_B"])
            + weights.recon_x_w * (out["recon_x_A"] + out["recon_x_B"])
            + weights.recon_s_w * (out["recon_s_A"] + out["recon_s_B"])
            + weights.recon_c_w * (out["recon_c_A"] + out["recon_c_B"])
        )
        if cycle:
            total = total + weights.recon_x_cyc_w * (out["recon_cyc_A"] + out["recon_cyc_B"])
    backward_step(total, opt_gen, scalers.g)
    set_requires_grad([dis_a, dis_b], True)

    out.update(D_A=loss_d_a, D_B=loss_d_b, G_total=total)
    return {k: v.detach() for k, v in out.items()}
