"""Evaluation during training (``--eval-every N``): FID/KID (and the demo scores) of the
current generators, and with ``--val-paired`` the paired MAE/PSNR/SSIM of G: X -> Y
(:mod:`.paired`), logged to ``metrics.jsonl``; optionally the best model kept (by mean FID, or
``--keep-best-by mae|psnr|ssim``).

Exact resume is untouched: the evaluation saves every RNG state (Python, NumPy, torch, CUDA)
before and restores it after, draws its own random numbers (KID subsets) from a private
generator, runs the generators in eval mode under ``torch.no_grad`` and puts the model back
in the mode it was in. The real images' features are computed once and reused.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..data.stacks import context_call, context_of
from ..data.transforms import from_unit, pad_to_multiple, to_unit
from ..metrics.core import score
from ..metrics.eval_data import EvalData
from ..metrics.features import FeatureExtractor
from ..pretrained import save_pretrained
from ..recipes import RECIPES, family_of
from .checkpoint import rng_state, set_rng_state
from .paired import PREFIX, PairedValidation

__all__ = ["BEST_DIR", "TrainingEvaluator", "format_record"]

BEST_DIR = "model_best"
TRAINING_METRICS = ("fid", "kid")
#: keep_best_by -> (the record key that picks model_best/, whether higher is better)
BEST_KEYS = {
    "fid": ("fid_mean", False),
    "mae": (f"{PREFIX}mae", False),
    "psnr": (f"{PREFIX}psnr", True),
    "ssim": (f"{PREFIX}ssim", True),
}


class TrainingEvaluator:
    """Scores the generators on fixed test images; keeps ``<run>/model_best/`` by mean FID.

    Args:
        data: the prepared test images (and demo truth); None: no FID/KID (``keep_best_by``
            a paired score).
        extractor: the feature network for FID/KID (None with ``data`` None).
        device: where the generators run.
        run_dir: the run folder (``model_best/`` goes there).
        keep_best: whether to keep the best model (see ``keep_best_by``).
        batch_size: images per forward pass.
        paired: the ``--val-paired`` pairs (None: none).
        keep_best_by: ``fid`` (lowest mean FID over the directions), ``mae`` (lowest),
            ``psnr`` or ``ssim`` (highest) of the paired validation.
    """

    def __init__(
        self,
        data: EvalData | None,
        extractor: FeatureExtractor | None,
        device: torch.device,
        run_dir: Path | None = None,
        keep_best: bool = True,
        batch_size: int = 16,
        paired: PairedValidation | None = None,
        keep_best_by: str = "fid",
    ) -> None:
        self.data, self.extractor, self.device = data, extractor, device
        self.run_dir, self.keep_best, self.batch_size = run_dir, keep_best, batch_size
        self.paired, self.keep_best_by = paired, keep_best_by
        self.metrics: tuple[str, ...] = ()
        if data is not None:
            self.metrics = (*TRAINING_METRICS, "demo") if data.is_demo else TRAINING_METRICS
        self.cache: dict = {}
        self.last_step: int | None = None
        self._best: float | None = None

    def best_fid(self) -> float:
        """The score of ``model_best/`` that ``keep_best_by`` compares (its mean FID by
        default; inf, or -inf for a higher-is-better score, when there is none yet), read
        once."""
        key, higher = BEST_KEYS[self.keep_best_by]
        if self._best is None:
            self._best = -math.inf if higher else math.inf
            if self.run_dir is not None:
                try:
                    info = json.loads((self.run_dir / BEST_DIR / "config.json").read_text())
                    self._best = float(info["eval"][key])
                except (OSError, ValueError, KeyError, TypeError):
                    pass
        return self._best

    def _is_better(self, record: dict[str, Any]) -> bool:
        key, higher = BEST_KEYS[self.keep_best_by]
        value = record.get(key)
        if value is None or math.isnan(value):
            return False
        best = self.best_fid()
        return value > best if higher else value < best

    def __call__(self, model: nn.Module, step: int, info: dict[str, Any]) -> dict[str, Any]:
        """Score ``model`` at ``step``; returns the record to log (``step``, ``fid_a2b``, ...).

        ``info`` is what ``model/config.json`` holds (channels, architecture, step).
        """
        start = time.perf_counter()
        saved_rng = rng_state()
        was_training = model.training
        directions = RECIPES.get(family_of(info)).directions  # one-sided families: a2b
        scores: dict[str, float] = {}
        try:
            model.eval()
            translate = unit_translate(model, info, self.device)
            if self.data is not None:
                scores = score(
                    translate,
                    self.data,
                    directions,
                    self.metrics,
                    self.extractor,
                    self.cache,
                    self.batch_size,
                )
            if self.paired is not None:
                scores.update(self.paired(translate))
        finally:
            model.train(was_training)
            set_rng_state(saved_rng)
        record: dict[str, Any] = {"step": step, **scores}
        if self.data is not None:
            record["fid_mean"] = sum(scores[f"fid_{d}"] for d in directions) / len(directions)
        if self.keep_best and self.run_dir is not None and self._is_better(record):
            self._best = record[BEST_KEYS[self.keep_best_by][0]]
            save_pretrained(self.run_dir / BEST_DIR, model, info | {"eval": record})
            record["best"] = True
        record["eval_sec"] = time.perf_counter() - start
        record["time"] = time.time()
        self.last_step = step
        return record


def format_record(record: dict[str, Any]) -> str:
    """One progress line for an evaluation record."""
    keys = [k for k in record if k.startswith(("fid_a2b", "fid_b2a", "kid_a2b", "kid_b2a"))]
    keys += [k for k in record if k.startswith("demo_stripe")]
    keys += [k for k in record if k.startswith(PREFIX)]
    text = " ".join(f"{k} {record[k]:.4g}" for k in keys)
    best = " (best so far: model_best/)" if record.get("best") else ""
    return f"eval step {record['step']}: {text}{best}"


def unit_translate(model: nn.Module, info: dict[str, Any], device: torch.device):
    """The in-memory generators as a translation function of images in [0, 1]: ``(x (N, C_in,
    S, S) in [0, 1], direction) -> (N, C_out, S, S) in [0, 1]``, padded to the sizes the
    networks need and cropped back; extra inputs (a style) take their defaults, drawn from
    their own generators."""
    translation = RECIPES.get(family_of(info)).translation(model, info)
    context = context_of(info)

    def translate(x: Tensor, direction: str) -> Tensor:
        # 2.5D: the test images are replicated into stacks, the centre slice kept
        # (channels of one image: x may already be a stack, paired volume validation)
        source = "a" if direction == "a2b" else "b"
        channels = int(info.get(f"channels_{source}", x.shape[1]))
        net = context_call(translation.network(direction), context, channels)
        multiple, minimum = translation.size_rule(direction)
        batch = from_unit(x.to(device, torch.float32))
        extras = [
            extra.resolve(None, batch.shape[0], direction, device)
            for extra in translation.inputs.values()
        ]
        height, width = batch.shape[-2:]
        with torch.inference_mode():
            y = net(pad_to_multiple(batch, multiple, minimum), *extras)[..., :height, :width]
        return to_unit(y).to(x.device)

    return translate
