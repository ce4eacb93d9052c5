"""Image pool behaviour and state; learning-rate policies."""

from __future__ import annotations

import pytest
import torch

from unpaired.image_pool import ImagePool
from unpaired.recipes.schedules import build_scheduler, step_scheduler


def test_pool_fills_then_swaps_with_probability_half() -> None:
    pool = ImagePool(size=4, seed=0)
    for i in range(4):  # filling: each image comes straight back
        out = pool.query(torch.full((1, 1, 2, 2), float(i)))
        assert torch.all(out == i)
    assert len(pool.images) == 4
    returned_old = 0
    trials = 2000
    for i in range(trials):
        new = torch.full((1, 1, 2, 2), 100.0 + i)
        out = pool.query(new)
        returned_old += int(not torch.equal(out, new))
    assert abs(returned_old / trials - 0.5) < 0.05
    assert len(pool.images) == 4


def test_pool_size_zero_is_passthrough() -> None:
    pool = ImagePool(size=0)
    x = torch.randn(3, 3, 4, 4)
    assert torch.equal(pool.query(x), x) and pool.images == []


def test_pool_state_round_trip_continues_identically() -> None:
    a = ImagePool(size=3, seed=7)
    for i in range(5):
        a.query(torch.full((2, 1, 1, 1), float(i)))
    b = ImagePool(size=3, seed=999)
    b.load_state_dict(a.state_dict())
    for i in range(20):
        x = torch.full((2, 1, 1, 1), 50.0 + i)
        assert torch.equal(a.query(x), b.query(x))


def test_pool_output_is_detached_batch() -> None:
    pool = ImagePool(size=2)
    x = torch.randn(3, 3, 4, 4, requires_grad=True)
    out = pool.query(x)
    assert out.shape == x.shape and not out.requires_grad


def _lrs(policy: str, epochs: int, decay: int, n: int) -> list[float]:
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = build_scheduler(policy, opt, epochs, decay, 2)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        step_scheduler(sched, 1.0)
    return out


def test_linear_policy_matches_the_official_schedule() -> None:
    # 3 epochs at full rate, then 3 epochs decaying: 1 - k/4 for k = 1..3
    assert _lrs("linear", 3, 3, 6) == pytest.approx([1, 1, 1, 0.75, 0.5, 0.25])


def test_step_and_cosine_policies() -> None:
    assert _lrs("step", 2, 2, 5) == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    cos = _lrs("cosine", 2, 2, 5)
    assert cos[0] == 1 and cos[2] == pytest.approx(0.5) and cos[4] == pytest.approx(0.0)
