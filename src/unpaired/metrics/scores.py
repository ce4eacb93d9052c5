"""The metrics, registered by name, each computed for one translation direction.

======================  =====================================================================
name                    values (suffixed with the direction, e.g. ``fid_a2b``)
======================  =====================================================================
``fid``                 ``fid``: Fréchet distance of translations vs real target-domain images
``kid``                 ``kid``, ``kid_std``: kernel distance (mean, std over subsets)
``l1_cycle``            ``l1_cycle``: mean |F(G(x)) - x| in [0, 1] units (x 255: gray levels)
``psnr_cycle``          ``psnr_cycle``: PSNR (dB) of F(G(x)) vs x, per image, capped at 100
``demo``                ``demo_stripe_score``, ``demo_coat_psnr``, ``demo_background_psnr``
                        (demo data only, see :mod:`unpaired.metrics.demo_truth`)
======================  =====================================================================

A metric reads a :class:`DirectionView`: the source images, their translations and cycle
reconstructions (computed on first use) and features of the translations and of the real
target images (computed once and shared by FID and KID).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..registry import Registry
from .demo_truth import PSNR_CAP, demo_scores, masked_psnr
from .distances import frechet_distance_from_features, kid
from .features import FeatureExtractor, extract

__all__ = ["DEFAULT_METRICS", "METRICS", "DirectionView", "Metric"]

DEFAULT_METRICS = ("fid", "kid", "l1_cycle", "psnr_cycle")


class DirectionView:
    """One direction's images, all in [0, 1] and quantized to 8 bits.

    Args:
        direction: ``"a2b"`` or ``"b2a"``.
        source: real test images of the source domain ``(N, C_in, S, S)``.
        translated: their translations ``(N, C_out, S, S)``.
        target: real test images of the target domain ``(M, C_out, S, S)``.
        reconstruct: maps the translations back to the source domain (the cycle).
        extractor: feature network for FID/KID (None: those metrics are unavailable).
        cache: shared feature cache; the target's features are stored under
            ``(direction, "target")`` so that repeated evaluations compute them once.
        truth: demo only, ``(true renderings, masks)`` of the source scenes.
        stylize: models with styles (MUNIT) only: ``(x (N, C_in, S, S) in [0, 1], direction,
            K) -> (N, K, C_out, S, S)`` in [0, 1], each input in the same K random styles.
    """

    def __init__(
        self,
        direction: str,
        source: Tensor,
        translated: Tensor,
        target: Tensor,
        reconstruct: Callable[[Tensor], Tensor],
        extractor: FeatureExtractor | None = None,
        cache: dict | None = None,
        truth: tuple[Tensor, Tensor] | None = None,
        batch_size: int = 32,
        stylize: Callable[[Tensor, str, int], Tensor] | None = None,
    ) -> None:
        self.stylize = stylize
        self.direction, self.source, self.translated, self.target = (
            direction,
            source,
            translated,
            target,
        )
        self._reconstruct, self._reconstructed = reconstruct, None
        self.extractor, self.truth, self.batch_size = extractor, truth, batch_size
        self.cache = cache if cache is not None else {}
        self._translated_features: Tensor | None = None

    @property
    def reconstructed(self) -> Tensor:
        """F(G(x)) ``(N, C_in, S, S)`` in [0, 1], computed on first use."""
        if self._reconstructed is None:
            self._reconstructed = self._reconstruct(self.translated)
        return self._reconstructed

    def features(self, which: str) -> Tensor:
        """``(N, D)`` float64 features of ``"translated"`` or ``"target"`` images."""
        if self.extractor is None:
            raise RuntimeError("no feature network configured")
        if which == "translated":
            if self._translated_features is None:
                self._translated_features = extract(
                    self.extractor, self.translated, self.batch_size
                )
            return self._translated_features
        key = (self.direction, "target")
        if key not in self.cache:
            self.cache[key] = extract(self.extractor, self.target, self.batch_size)
        return self.cache[key]


@dataclass(frozen=True)
class Metric:
    """A metric: ``compute(view) -> {name: value}``; what it needs to run."""

    compute: Callable[[DirectionView], dict[str, float]]
    needs_features: bool = False
    needs_truth: bool = False
    #: translates back (F(G(x))): needs the model to hold the opposite direction too.
    needs_cycle: bool = False


METRICS: Registry[Metric] = Registry("metric")


def _fid(view: DirectionView) -> dict[str, float]:
    fake, real = view.features("translated"), view.features("target")
    return {"fid": frechet_distance_from_features(fake, real)}


def _kid(view: DirectionView) -> dict[str, float]:
    mean, std = kid(view.features("translated"), view.features("target"))
    return {"kid": mean, "kid_std": std}


def _l1_cycle(view: DirectionView) -> dict[str, float]:
    return {"l1_cycle": float((view.reconstructed.double() - view.source.double()).abs().mean())}


def _psnr_cycle(view: DirectionView) -> dict[str, float]:
    everywhere = torch.ones_like(view.source[:, :1], dtype=torch.bool)
    value = masked_psnr(view.reconstructed, view.source, everywhere)
    return {"psnr_cycle": min(value, PSNR_CAP)}


def _demo(view: DirectionView) -> dict[str, float]:
    assert view.truth is not None
    truth, mask = view.truth
    return demo_scores(view.source, view.translated, truth, mask)


METRICS.register("fid")(Metric(_fid, needs_features=True))
METRICS.register("kid")(Metric(_kid, needs_features=True))
METRICS.register("l1_cycle")(Metric(_l1_cycle, needs_cycle=True))
METRICS.register("psnr_cycle")(Metric(_psnr_cycle, needs_cycle=True))
METRICS.register("demo")(Metric(_demo, needs_truth=True))
