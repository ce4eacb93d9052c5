"""The losses of every family as pure tensor functions, named as the papers name them.

Paper symbols (Zhu et al. 2017): G: X->Y is ``g_ab``, F: Y->X is ``g_ba``, D_Y is ``d_b`` and D_X
is ``d_a``. All image tensors are (N, C, H, W) in [-1, 1]; discriminator outputs are raw scores
(N, 1, H', W') (PatchGAN maps), never passed through a sigmoid here except inside ``vanilla``.

- adversarial (Eq. 1, least squares by default as in Sec. 4): ``adversarial_loss``
- discriminator total (real + fake) / 2: ``discriminator_loss``
- generator adversarial term: ``generator_loss``
- cycle consistency (Eq. 2): ``cycle_consistency_loss`` = lambda * ||F(G(x)) - x||_1
- identity (Sec. 5.2): ``identity_loss`` = lambda_idt * lambda * ||G(y) - y||_1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .registry import Registry


@dataclass(frozen=True)
class GanObjective:
    """The three terms of one adversarial objective, each mapping scores to a scalar loss."""

    real: Callable[[Tensor], Tensor]  # discriminator on real samples
    fake: Callable[[Tensor], Tensor]  # discriminator on generated samples
    generator: Callable[[Tensor], Tensor]  # generator on its generated samples


GAN_MODES: Registry[GanObjective] = Registry("gan_mode")

GAN_MODES.register("lsgan")(
    GanObjective(
        real=lambda p: F.mse_loss(p, torch.ones_like(p)),
        fake=lambda p: F.mse_loss(p, torch.zeros_like(p)),
        generator=lambda p: F.mse_loss(p, torch.ones_like(p)),
    )
)
GAN_MODES.register("vanilla")(
    GanObjective(
        real=lambda p: F.binary_cross_entropy_with_logits(p, torch.ones_like(p)),
        fake=lambda p: F.binary_cross_entropy_with_logits(p, torch.zeros_like(p)),
        generator=lambda p: F.binary_cross_entropy_with_logits(p, torch.ones_like(p)),
    )
)
GAN_MODES.register("wgangp")(
    GanObjective(real=lambda p: -p.mean(), fake=lambda p: p.mean(), generator=lambda p: -p.mean())
)
GAN_MODES.register("hinge")(
    GanObjective(
        real=lambda p: F.relu(1.0 - p).mean(),
        fake=lambda p: F.relu(1.0 + p).mean(),
        generator=lambda p: -p.mean(),
    )
)


def adversarial_loss(prediction: Tensor, target_is_real: bool, mode: str = "lsgan") -> Tensor:
    """The discriminator-side adversarial term for scores ``prediction`` (N, 1, H', W').

    lsgan: mean((D(x) - t)^2) with t = 1 for real and 0 for fake.
    """
    objective = GAN_MODES.get(mode)
    return objective.real(prediction) if target_is_real else objective.fake(prediction)


def discriminator_loss(real_pred: Tensor, fake_pred: Tensor, mode: str = "lsgan") -> Tensor:
    """Loss of D: (adversarial(D(real), real) + adversarial(D(fake), fake)) / 2 (as the paper
    halves D's objective to slow D relative to G)."""
    return 0.5 * (
        adversarial_loss(real_pred, True, mode) + adversarial_loss(fake_pred, False, mode)
    )


def generator_loss(fake_pred: Tensor, mode: str = "lsgan") -> Tensor:
    """Adversarial term of G: make D score G(x) as real (lsgan: mean((D(G(x)) - 1)^2))."""
    return GAN_MODES.get(mode).generator(fake_pred)


def cycle_consistency_loss(reconstructed: Tensor, real: Tensor, weight: float = 10.0) -> Tensor:
    """lambda * ||F(G(x)) - x||_1 (mean absolute error), both (N, C, H, W) in [-1, 1]."""
    return weight * F.l1_loss(reconstructed, real)


def identity_loss(same: Tensor, real: Tensor, weight: float) -> Tensor:
    """lambda_idt * lambda * ||G(y) - y||_1: G fed an image of its target domain should keep it.

    ``weight`` is the product ``lambda_identity * lambda`` (5.0 with the defaults).
    """
    return weight * F.l1_loss(same, real)


def gradient_penalty(
    discriminator: nn.Module, real: Tensor, fake: Tensor, weight: float = 10.0
) -> Tensor:
    """WGAN-GP penalty weight * E[(||grad_x D(x_hat)||_2 - 1)^2] on random interpolates x_hat.

    ``real`` and ``fake`` are (N, C, H, W); ``fake`` should already be detached.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = discriminator(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return weight * ((norms - 1.0) ** 2).mean()


# --- MUNIT (Huang, Liu, Belongie, Kautz 2018) ----------------------------------------------------
# Domain 1 is A, domain 2 is B. E^c_i / E^s_i are the content / style encoders, G_i the decoder
# and D_i the multi-scale discriminator of domain i (see unpaired.models.munit). Every
# reconstruction term is an unweighted mean absolute error; the step applies the lambdas.


def image_reconstruction_loss(reconstructed: Tensor, real: Tensor) -> Tensor:
    """L^{x_1}_recon = E ||G_1(E^c_1(x_1), E^s_1(x_1)) - x_1||_1 (mean absolute error).

    Both images (N, C, H, W) in [-1, 1]; returns a 0-dim tensor.
    """
    return F.l1_loss(reconstructed, real)


def content_reconstruction_loss(reconstructed: Tensor, content: Tensor) -> Tensor:
    """L^{c_1}_recon = E ||E^c_2(G_2(c_1, s_2)) - c_1||_1, codes (N, C_c, H / 4, W / 4).

    ``content`` (c_1) is not detached: as in the paper and the reference code, the gradient
    reaches E^c_1 through the target as well.
    """
    return F.l1_loss(reconstructed, content)


def style_reconstruction_loss(reconstructed: Tensor, style: Tensor) -> Tensor:
    """L^{s_2}_recon = E ||E^s_2(G_2(c_1, s_2)) - s_2||_1, codes (N, style_dim, 1, 1).

    ``style`` is the random style s_2 ~ N(0, I) the translation was decoded with.
    """
    return F.l1_loss(reconstructed, style)


def cycle_reconstruction_loss(cycled: Tensor, real: Tensor) -> Tensor:
    """The explicit style-augmented cycle term ||G_1(E^c_2(x_{1->2}), E^s_1(x_1)) - x_1||_1.

    Images (N, C, H, W) in [-1, 1]; off in the paper's main setting (weight 0).
    """
    return F.l1_loss(cycled, real)


def multiscale_discriminator_loss(
    real_preds: list[Tensor], fake_preds: list[Tensor], mode: str = "lsgan"
) -> Tensor:
    """Loss of a multi-scale D_i: the sum over scales of adversarial(real) + adversarial(fake).

    ``real_preds`` / ``fake_preds`` hold one raw score map (N, 1, h_k, w_k) per scale, for real
    x_i and translated x_{j->i}. lsgan: sum_k mean((D_k(x_i) - 1)^2) + mean(D_k(x_{j->i})^2), as
    in the reference code (no halving, summed, not averaged, over scales); vanilla is its nsgan.
    """
    if len(real_preds) != len(fake_preds):
        raise ValueError(f"got {len(real_preds)} real and {len(fake_preds)} fake score maps")
    objective = GAN_MODES.get(mode)
    total = real_preds[0].new_zeros(())
    for real, fake in zip(real_preds, fake_preds, strict=True):
        total = total + objective.real(real) + objective.fake(fake)
    return total


def multiscale_generator_loss(fake_preds: list[Tensor], mode: str = "lsgan") -> Tensor:
    """L^{x_i}_GAN for the generator: the sum over D_i's scales of the generator term.

    ``fake_preds`` holds one score map (N, 1, h_k, w_k) per scale for x_{j->i}; lsgan:
    sum_k mean((D_k(x_{j->i}) - 1)^2).
    """
    objective = GAN_MODES.get(mode)
    total = fake_preds[0].new_zeros(())
    for fake in fake_preds:
        total = total + objective.generator(fake)
    return total


# --- CUT (Park, Efros, Zhang, Zhu 2020) -----------------------------------------------------------
# PatchNCE (Eq. 2/3 of the paper): a patch of the output G(x) should match the input patch at the
# same place (the positive) rather than the other input patches (the negatives).
def patch_nce_loss(
    feat_q: Tensor,
    feat_k: Tensor,
    batch_size: int,
    temperature: float = 0.07,
    negatives_from_minibatch: bool = False,
) -> Tensor:
    """Per-patch PatchNCE losses of one layer: ``(N * P,)``.

    ``feat_q`` (queries: embedded patches of the output, ``(N * P, D)``, L2-normalised) and
    ``feat_k`` (keys: the input's patches at the same positions, same shape; no gradient flows
    into them). For query i the logits are [q_i . k_i, q_i . k_j for j != i] / ``temperature``
    with the negatives k_j from the same image (or, with ``negatives_from_minibatch``, from
    every image of the batch); the loss is the cross-entropy with the positive at index 0. The
    similarity of a query with its own key among the negatives is set to -10 (exp(-10 / T) is
    negligible), as in the reference.
    """
    if feat_q.shape != feat_k.shape or feat_q.dim() != 2:
        raise ValueError(f"expected two (N * P, D) tensors, got {feat_q.shape}, {feat_k.shape}")
    feat_k = feat_k.detach()
    dim = feat_q.shape[1]
    positive = (feat_q * feat_k).sum(dim=1, keepdim=True)  # (N * P, 1)
    groups = 1 if negatives_from_minibatch else batch_size
    q = feat_q.reshape(groups, -1, dim)
    k = feat_k.reshape(groups, -1, dim)
    negative = torch.bmm(q, k.transpose(1, 2))  # (groups, P', P')
    patches = q.shape[1]
    eye = torch.eye(patches, device=feat_q.device, dtype=torch.bool)[None]
    negative = negative.masked_fill(eye, -10.0).reshape(-1, patches)
    logits = torch.cat([positive, negative], dim=1) / temperature
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=feat_q.device)
    return F.cross_entropy(logits, target, reduction="none")
