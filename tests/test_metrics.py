"""FID/KID numerics against closed forms, the preprocessing protocol, the demo truth scores."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from unpaired.data.synthetic import render, scene_for
from unpaired.metrics import frechet_distance, frechet_distance_from_features, kid
from unpaired.metrics.demo_truth import demo_scores
from unpaired.metrics.features import TinyFeatures, network_input


def _closed_form_diag(mu1, var1, mu2, var2) -> float:
    return float(((mu1 - mu2) ** 2).sum() + ((var1.sqrt() - var2.sqrt()) ** 2).sum())


def _random_rotation(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed)))
    return q.double()


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form() -> None:
    mu1 = torch.tensor([0.0, 1.0, -2.0, 0.5], dtype=torch.float64)
    mu2 = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    var1 = torch.tensor([1.0, 4.0, 0.25, 9.0], dtype=torch.float64)
    var2 = torch.tensor([4.0, 1.0, 0.25, 0.0], dtype=torch.float64)  # one degenerate direction
    expected = 5.25 + (1 + 1 + 0 + 9)  # |mu1 - mu2|^2 + sum (sqrt v1 - sqrt v2)^2
    assert _closed_form_diag(mu1, var1, mu2, var2) == pytest.approx(expected)
    got = frechet_distance(mu1, torch.diag(var1), mu2, torch.diag(var2))
    assert got == pytest.approx(expected, abs=1e-6)
    # The distance does not depend on the basis: rotate both Gaussians alike.
    r = _random_rotation(4, seed=1)
    rotated = frechet_distance(
        r @ mu1, r @ torch.diag(var1) @ r.T, r @ mu2, r @ torch.diag(var2) @ r.T
    )
    assert rotated == pytest.approx(expected, abs=1e-6)


def test_frechet_distance_matches_trace_of_sqrt_of_product() -> None:
    # tr (S1 S2)^(1/2) = sum of sqrt(eigenvalues of S1 S2), an independent computation.
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 6, generator=g).double(), torch.randn(6, 6, generator=g).double()
    s1, s2 = a @ a.T + 0.1 * torch.eye(6), b @ b.T
    mu1, mu2 = torch.randn(6, generator=g).double(), torch.randn(6, generator=g).double()
    eig = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0)
    expected = float(((mu1 - mu2) ** 2).sum() + s1.trace() + s2.trace() - 2 * eig.sqrt().sum())
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_from_samples_approaches_the_closed_form() -> None:
    g = torch.Generator().manual_seed(3)
    mu1, mu2 = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([0.5, -0.5, 1.0])
    sd1, sd2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([1.5, 1.0, 0.5])
    x = mu1 + sd1 * torch.randn(40000, 3, generator=g)
    y = mu2 + sd2 * torch.randn(40000, 3, generator=g)
    expected = _closed_form_diag(mu1.double(), sd1.double() ** 2, mu2.double(), sd2.double() ** 2)
    assert expected == pytest.approx(1.75)
    assert frechet_distance_from_features(x, y) == pytest.approx(expected, abs=0.05)
    assert frechet_distance_from_features(x, x) == pytest.approx(0.0, abs=1e-8)


def test_kid_of_a_hand_computable_case() -> None:
    # d = 1, k(a, b) = (a b + 1)^3. X = {0, 1}, Y = {1, 2}:
    # k_xx(0, 1) = 1, k_yy(1, 2) = 27, mean k_xy = (1 + 1 + 8 + 27) / 4 = 9.25
    # MMD^2_u = 1 + 27 - 2 * 9.25 = 9.5 (every subset is the whole set).
    x = torch.tensor([[0.0], [1.0]])
    y = torch.tensor([[1.0], [2.0]])
    mean, std = kid(x, y, num_subsets=5)
    assert mean == pytest.approx(9.5) and std == pytest.approx(0.0, abs=1e-12)
    assert kid(y, x)[0] == pytest.approx(9.5)


def test_kid_is_unbiased_for_one_distribution_and_positive_for_two() -> None:
    g = torch.Generator().manual_seed(5)
    same = [
        kid(torch.randn(60, 8, generator=g), torch.randn(60, 8, generator=g), num_subsets=1)[0]
        for _ in range(200)
    ]
    spread = float(np.std(same))
    assert abs(float(np.mean(same))) < 4 * spread / math.sqrt(len(same))
    assert min(same) < 0 < max(same)  # an unbiased estimator of 0 takes both signs
    shifted = kid(torch.randn(60, 8, generator=g), torch.randn(60, 8, generator=g) + 1.0)[0]
    assert shifted > 10 * spread


def test_kid_is_reproducible_and_leaves_the_global_rngs_alone() -> None:
    x, y = torch.rand(30, 5), torch.rand(40, 5)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    first = kid(x, y, subset_size=10, num_subsets=20, seed=1)
    assert kid(x, y, subset_size=10, num_subsets=20, seed=1) == first
    assert kid(x, y, subset_size=10, num_subsets=20, seed=2) != first
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]
    assert np.array_equal(np.random.get_state()[1], before[2])
    assert first[1] > 0  # subsets of 10 out of 30/40 differ


def test_network_input_protocol() -> None:
    x = (torch.rand(2, 3, 40, 30) * 255).round() / 255  # 8-bit values
    out = network_input(x)
    assert out.shape == (2, 3, 299, 299) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 255 / 128 - 1  # [-1, 1)
    # Quantized to 8 bits first: a change below half a gray level changes nothing.
    nudged = x + (torch.rand(x.shape) - 0.5) * 0.8 / 255
    assert torch.equal(network_input(nudged), out)
    # Already 299 x 299: just the 8-bit levels mapped by v / 128 - 1.
    levels = torch.tensor([0.0, 128.0, 255.0]).view(1, 1, 1, 3).expand(1, 3, 299, 3)
    full = torch.zeros(1, 3, 299, 299)
    full[..., :3] = levels / 255
    assert network_input(full)[0, 0, 0, :3].tolist() == [-1.0, 0.0, 127 / 128]
    gray = torch.rand(1, 1, 16, 16)
    assert torch.equal(network_input(gray), network_input(gray.expand(1, 3, 16, 16)))


def test_tiny_features_are_deterministic() -> None:
    x = torch.rand(3, 3, 20, 20)
    a, b = TinyFeatures()(x), TinyFeatures()(x)
    assert a.shape == (3, 19) and a.dtype == torch.float64 and torch.equal(a, b)


def _demo_batch(n: int = 3, size: int = 48):
    plain, striped, masks = [], [], []
    for i in range(n):
        scene = scene_for(0, "test", "A", i)
        img_a, mask = render(scene, size, size, striped=False)
        img_b, _ = render(scene, size, size, striped=True)
        plain.append(torch.from_numpy(img_a).permute(2, 0, 1))
        striped.append(torch.from_numpy(img_b).permute(2, 0, 1))
        masks.append(torch.from_numpy(mask)[None])
    q = lambda t: (torch.stack(t) * 255).round() / 255  # noqa: E731
    return q(plain), q(striped), torch.stack(masks)


def test_demo_scores_are_anchored_by_identity_and_truth() -> None:
    plain, striped, mask = _demo_batch()
    identity = demo_scores(plain, plain, striped, mask)
    assert identity["demo_stripe_score"] == 0.0
    assert identity["demo_background_psnr"] > 60  # the background is the truth's already
    perfect = demo_scores(plain, striped, striped, mask)
    assert perfect["demo_stripe_score"] == pytest.approx(1.0)
    assert perfect["demo_coat_psnr"] == 100.0 and perfect["demo_background_psnr"] == 100.0
    # Half the stripe contrast: blend halfway between the plain and the striped coat.
    half = demo_scores(plain, (plain + striped) / 2, striped, mask)["demo_stripe_score"]
    assert 0.3 < half < 0.7
    # B -> A: removing the stripes scores 1, keeping them 0.
    assert demo_scores(striped, plain, plain, mask)["demo_stripe_score"] == pytest.approx(1.0)
    assert demo_scores(striped, striped, plain, mask)["demo_stripe_score"] == 0.0
    # A changed background lowers the background PSNR and leaves the stripe score alone.
    noisy = plain.clone()
    noisy[mask.expand_as(noisy) == 0] = 0.5
    changed = demo_scores(plain, noisy, striped, mask)
    assert changed["demo_background_psnr"] < 30 and changed["demo_stripe_score"] == 0.0
