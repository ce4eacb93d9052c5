"""One explicit CUT / FastCUT training step: update D_Y, then G and the heads H; return the
losses. The reference's order and terms (taesungp/contrastive-unpaired-translation):

G runs once on x (and on y too, for the identity term: G(y) should stay y), optionally on a
horizontally flipped batch (flip-equivariance). D: (L(D(y), 1) + L(D(G(x)), 0)) / 2. G:
lambda_gan * L(D(G(x)), 1) + the PatchNCE loss of (x, G(x)) (averaged with that of (y, G(y))
when ``nce_idt``). PatchNCE per layer l: the input's features E_l(x) are embedded by H_l at
``num_patches`` random positions (the keys; no gradient flows through them, so they are computed
without one) and the output's E_l(G(x)) at the same positions (the queries); the loss is
lambda_nce * mean over patches of the InfoNCE cross-entropy, averaged over the layers.

Logged: ``D``, ``G_GAN`` (weighted), ``NCE`` and ``NCE_Y`` (weighted by lambda_nce, as the
reference logs them), ``G_total``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ... import losses
from ...models.cut import CUT
from ..steps import (
    GradScalers,
    StepOptions,
    autocast,
    backward_step,
    bare,
    batch_inputs,
    set_requires_grad,
)
from .options import CUTConfig, nce_layers

__all__ = ["cut_step", "patch_nce"]


def patch_nce(
    g: nn.Module,
    h: nn.Module,
    source: Tensor,
    target: Tensor,
    config: CUTConfig,
    flipped: bool,
) -> Tensor:
    """The PatchNCE loss of (source image x, its translation G(x)) over the NCE layers."""
    layers = nce_layers(config.nce_layers)
    feat_q = g(target, layers)
    if flipped:  # G saw the flipped input: flip its features back to line up with x's
        feat_q = [torch.flip(f, [3]) for f in feat_q]
    with torch.no_grad():  # the keys are detached in the loss: no gradient flows through them
        feat_k = g(source, layers)
        keys, ids = h(feat_k, config.num_patches)
    queries, _ = h(feat_q, config.num_patches, ids)
    total = source.new_zeros((), dtype=torch.float32)
    for q, k in zip(queries, keys, strict=True):
        per_patch = losses.patch_nce_loss(
            q.float(), k.float(), source.shape[0], config.nce_t, config.negatives_from_minibatch
        )
        total = total + (per_patch * config.lambda_nce).mean()
    return total / len(layers)


def cut_step(
    model: CUT,
    opt_g: Optimizer,
    opt_d: Optimizer,
    batch: dict[str, Tensor],
    config: CUTConfig,
    options: StepOptions = StepOptions(),  # noqa: B008 - frozen dataclass, safe default
    scalers: GradScalers | None = None,
) -> dict[str, Tensor]:
    """One step on ``batch = {"A": x (N, C_a, H, W), "B": y (N, C_b, H, W)}`` in [-1, 1].

    ``opt_g`` holds the parameters of G and H, ``opt_d`` those of D (see the module docstring).
    """
    x, y = batch_inputs(batch, options)
    g, d, h = model.g_ab, model.d_b, model.h
    assert d is not None and h is not None, "training needs the discriminator and the heads"
    scalers = scalers or GradScalers()
    cast = autocast(x.device, options.precision)
    identity = config.nce_idt and config.lambda_nce > 0
    n = x.shape[0]
    real = torch.cat([x, y]) if identity else x
    # Drawn from the global torch RNG (saved in checkpoints), so resume stays exact.
    flipped = config.flip_equivariance and bool(torch.rand(()) < 0.5)
    if flipped:
        real = torch.flip(real, [3])
    with cast:
        fake = g(real)
    fake_b, idt_b = fake[:n], (fake[n:] if identity else None)

    # --- discriminator ----------------------------------------------------------------------
    set_requires_grad([d], True)
    opt_d.zero_grad(set_to_none=True)
    with cast:
        loss_d = losses.discriminator_loss(
            d(y).float(), d(fake_b.detach()).float(), config.gan_mode
        )
    backward_step(loss_d, opt_d, scalers.d)

    # --- generator and heads ----------------------------------------------------------------
    # D is a fixed function here: called bare, so that DDP does not wait for its gradients.
    set_requires_grad([d], False)
    opt_g.zero_grad(set_to_none=True)
    zero = x.new_zeros((), dtype=torch.float32)
    with cast:
        g_gan = (
            losses.generator_loss(bare(d)(fake_b).float(), config.gan_mode) * config.lambda_gan
            if config.lambda_gan > 0
            else zero
        )
        nce = patch_nce(g, h, x, fake_b, config, flipped) if config.lambda_nce > 0 else zero
        nce_y = patch_nce(g, h, y, idt_b, config, flipped) if identity else zero
        total = g_gan + ((nce + nce_y) * 0.5 if identity else nce)
    backward_step(total, opt_g, scalers.g)
    set_requires_grad([d], True)
    out = {"D": loss_d, "G_GAN": g_gan, "NCE": nce, "G_total": total}
    if identity:
        out["NCE_Y"] = nce_y
    return {k: v.detach() for k, v in out.items()}
