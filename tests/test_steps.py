"""The optimised step computes the same thing as the plain one; reduced precision runs."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from unpaired.image_pool import ImagePool
from unpaired.models.cyclegan import build_cyclegan
from unpaired.recipes.cyclegan import CycleGANConfig, cyclegan_step
from unpaired.recipes.steps import GradScalers, StepOptions


def setup(channels_last: bool = False):
    torch.manual_seed(0)
    model = build_cyclegan(generator="resnet_6blocks", ngf=8, ndf=8)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    g = itertools.chain(model.g_ab.parameters(), model.g_ba.parameters())
    d = itertools.chain(model.d_a.parameters(), model.d_b.parameters())
    opt_g = torch.optim.Adam(g, lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d, lr=2e-4, betas=(0.5, 0.999))
    return model, opt_g, opt_d, ImagePool(4, seed=1), ImagePool(4, seed=2)


def batches(steps: int):
    data = torch.Generator().manual_seed(5)
    for _ in range(steps):
        yield {
            "A": torch.rand(2, 3, 32, 32, generator=data) * 2 - 1,
            "B": torch.rand(2, 3, 32, 32, generator=data) * 2 - 1,
        }


def run_steps(options: StepOptions, steps: int = 20, scalers: bool = False):
    state = setup(options.channels_last)
    grad_scalers = (
        GradScalers(torch.amp.GradScaler("cpu"), torch.amp.GradScaler("cpu")) if scalers else None
    )
    out = []
    for batch in batches(steps):
        losses = cyclegan_step(
            *state[:3], batch, *state[3:], CycleGANConfig(), options, grad_scalers
        )
        out.append({k: float(v) for k, v in losses.items()})
    return out


@pytest.mark.parametrize("identity", [0.5, 0.0])
@pytest.mark.parametrize(
    "options", [StepOptions(fused=True), StepOptions(fused=True, channels_last=True)]
)
def test_optimised_step_computes_the_same_losses(identity: float, options: StepOptions) -> None:
    # Along 20 steps of a plain-step trajectory, the optimised step taken from the very same
    # state (nets, optimizers, pools) gives the same losses. (Two free-running trajectories
    # drift apart from float rounding alone: GAN training amplifies any difference.)
    weights = CycleGANConfig(lambda_identity=identity)
    state = setup()
    for step, batch in enumerate(batches(20)):
        twin = copy.deepcopy(state)  # one deepcopy keeps the optimizers tied to the twin's nets
        if options.channels_last:
            twin[0].to(memory_format=torch.channels_last)
        fast = cyclegan_step(*twin[:3], batch, *twin[3:], weights, options)
        plain = cyclegan_step(*state[:3], batch, *state[3:], weights, StepOptions())
        for key, value in plain.items():
            assert float(fast[key]) == pytest.approx(float(value), rel=1e-4, abs=1e-6), (step, key)
        params = zip(twin[0].g_ab.parameters(), state[0].g_ab.parameters(), strict=True)
        assert max((a - b).abs().max().item() for a, b in params) < 1e-3  # < 5 Adam steps


def test_bf16_autocast_trains_close_to_fp32() -> None:
    plain = run_steps(StepOptions(), steps=5)
    bf16 = run_steps(StepOptions(fused=True, precision="bf16"), steps=5)
    for a, b in zip(plain, bf16, strict=True):
        assert all(torch.isfinite(torch.tensor(v)) for v in b.values())
        assert b["cycle_A"] == pytest.approx(a["cycle_A"], rel=0.05)


def test_fp16_with_grad_scalers_runs() -> None:
    out = run_steps(StepOptions(precision="fp16"), steps=3, scalers=True)
    assert all(torch.isfinite(torch.tensor(v)) for step in out for v in step.values())
