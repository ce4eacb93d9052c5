"""Fréchet distance (FID) and kernel distance (KID) between two sets of feature vectors.

Written here rather than taken from torchmetrics or scipy, on purpose: both are about 80 lines
of float64 linear algebra, the core then needs no scipy (``scipy.linalg.sqrtm``) and no
torchmetrics (whose FID/KID would also wrap our feature network and keep its own copies of
the features), every constant is visible in one place, and the tests check the numbers
against closed forms (``tests/test_metrics.py``).

FID (Heusel et al. 2017): fit a Gaussian to each set and take

    d^2 = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)).

``tr (S1 S2)^(1/2)`` is computed without a general matrix square root: with
``R = S1^(1/2)`` (symmetric, from ``eigh``), ``S1 S2`` is similar to the symmetric PSD matrix
``R S2 R``, so the trace is the sum of the square roots of the eigenvalues of ``R S2 R``
(negative round-off clipped to 0). Covariances use the unbiased ``1 / (n - 1)`` estimate, as
the reference implementations do; with fewer samples than feature dimensions the covariance
is singular, which this formula handles, but FID is then biased upwards: compare FIDs only at
equal sample counts.

KID (Bińkowski et al. 2018): the unbiased estimate of the squared maximum mean discrepancy
with the polynomial kernel ``k(x, y) = (x . y / d + 1)^3``, averaged over ``num_subsets``
random subsets of ``min(1000, n1, n2)`` vectors of each set (drawn by a seeded generator of
its own, so the result is reproducible and no global RNG moves). Unbiased: its expectation
is 0 for two samples of one distribution, so small negative values occur.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["feature_statistics", "frechet_distance", "frechet_distance_from_features", "kid"]


def feature_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of ``(N, D)`` features, in float64.

    ``N`` must be at least 2.
    """
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) features, got {tuple(features.shape)}")
    x = features.double()
    mu = x.mean(0)
    centered = x - mu
    return mu, centered.T @ centered / (x.shape[0] - 1)


def _psd_sqrt(matrix: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix (eigenvalues clipped at 0)."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: means ``(D,)``.
        sigma1, sigma2: covariances ``(D, D)``, symmetric positive semi-definite.

    Returns:
        ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))`` (>= 0 up to
        round-off), computed in float64; NaN when a statistic is not finite (features of NaN
        images: the eigendecomposition would not converge).
    """
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    if not all(bool(torch.isfinite(t).all()) for t in (mu1, mu2, sigma1, sigma2)):
        return float("nan")
    root = _psd_sqrt(sigma1)
    product = root @ sigma2 @ root
    eigenvalues = torch.linalg.eigvalsh((product + product.T) / 2).clamp(min=0)
    trace_sqrt = eigenvalues.sqrt().sum()
    diff = mu1 - mu2
    value = diff @ diff + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
    return float(value)


def frechet_distance_from_features(features1: Tensor, features2: Tensor) -> float:
    """FID between two feature sets ``(N1, D)`` and ``(N2, D)`` (each N >= 2)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def _polynomial_kernel(x: Tensor, y: Tensor) -> Tensor:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_unbiased(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 of two equal-size samples ``(m, D)`` under the cubic kernel."""
    m = x.shape[0]
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    off_diagonal = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (
        m * (m - 1)
    )
    return off_diagonal - 2 * k_xy.mean()


def kid(
    features1: Tensor,
    features2: Tensor,
    subset_size: int = 1000,
    num_subsets: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance: ``(mean, std)`` of the unbiased MMD^2 over random subsets.

    Args:
        features1, features2: ``(N1, D)`` and ``(N2, D)``, ``N1, N2 >= 2``.
        subset_size: vectors drawn (without replacement) from each set per subset; capped at
            ``min(N1, N2)``.
        num_subsets: how many subsets to average over.
        seed: seeds the generator that draws the subsets.
    """
    n1, n2 = features1.shape[0], features2.shape[0]
    if min(n1, n2) < 2 or features1.shape[1] != features2.shape[1]:
        raise ValueError(
            f"need two (N >= 2, D) feature sets of one D, got {tuple(features1.shape)} and "
            f"{tuple(features2.shape)}"
        )
    x, y = features1.double(), features2.double()
    m = min(subset_size, n1, n2)
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(num_subsets):
        ix = torch.randperm(n1, generator=generator)[:m].to(x.device)
        iy = torch.randperm(n2, generator=generator)[:m].to(y.device)
        values.append(_mmd2_unbiased(x[ix], y[iy]))
    stacked = torch.stack(values)
    std = stacked.std(unbiased=False) if num_subsets > 1 else torch.zeros(())
    return float(stacked.mean()), float(std)
