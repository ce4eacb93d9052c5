"""Each loss against a value worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from unpaired import losses


def test_lsgan_terms() -> None:
    real = torch.tensor([[[[0.5, 1.0], [1.5, 2.0]]]])  # (1, 1, 2, 2)
    fake = torch.tensor([[[[0.0, 0.5], [-0.5, 1.0]]]])
    # real -> target 1: ((-.5)^2 + 0 + .5^2 + 1^2) / 4 = 1.5 / 4
    assert losses.adversarial_loss(real, True) == pytest.approx(0.375)
    # fake -> target 0: (0 + .25 + .25 + 1) / 4
    assert losses.adversarial_loss(fake, False) == pytest.approx(0.375)
    assert losses.discriminator_loss(real, fake) == pytest.approx(0.5 * (0.375 + 0.375))
    # generator wants fake -> 1: (1 + .25 + 2.25 + 0) / 4
    assert losses.generator_loss(fake) == pytest.approx(0.875)


def test_vanilla_uses_logits() -> None:
    zero = torch.zeros(1, 1, 3, 3)
    assert losses.adversarial_loss(zero, True, "vanilla") == pytest.approx(math.log(2))
    assert losses.generator_loss(zero, "vanilla") == pytest.approx(math.log(2))
    big = torch.full((1, 1, 2, 2), 20.0)
    assert losses.adversarial_loss(big, True, "vanilla") == pytest.approx(0.0, abs=1e-6)


def test_hinge_and_wgan() -> None:
    pred = torch.tensor([[[[2.0, -0.5]]]])
    # real: relu(1 - 2)=0, relu(1 + .5)=1.5 -> .75 ; fake: relu(1 + 2)=3, relu(.5)=.5 -> 1.75
    assert losses.adversarial_loss(pred, True, "hinge") == pytest.approx(0.75)
    assert losses.adversarial_loss(pred, False, "hinge") == pytest.approx(1.75)
    assert losses.generator_loss(pred, "hinge") == pytest.approx(-0.75)
    assert losses.adversarial_loss(pred, True, "wgangp") == pytest.approx(-0.75)
    assert losses.adversarial_loss(pred, False, "wgangp") == pytest.approx(0.75)


def test_cycle_and_identity_are_weighted_l1() -> None:
    real = torch.zeros(2, 3, 4, 4)
    rec = torch.full((2, 3, 4, 4), 0.25)
    assert losses.cycle_consistency_loss(rec, real, 10.0) == pytest.approx(2.5)
    assert losses.identity_loss(rec, real, 5.0) == pytest.approx(1.25)


def test_gradient_penalty_of_a_linear_critic() -> None:
    # D(x) = sum(w * x): the gradient is w everywhere, so the penalty is weight*(||w|| - 1)^2.
    critic = nn.Conv2d(1, 1, kernel_size=2, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[[[3.0, 0.0], [0.0, 4.0]]]]))  # ||w|| = 5
    x = torch.randn(3, 1, 2, 2)
    gp = losses.gradient_penalty(critic, x, torch.randn(3, 1, 2, 2), weight=10.0)
    assert gp.item() == pytest.approx(10.0 * 16.0)


def test_unknown_mode_lists_choices() -> None:
    with pytest.raises(KeyError, match="hinge, lsgan, vanilla, wgangp"):
        losses.generator_loss(torch.zeros(1), "bogus")
