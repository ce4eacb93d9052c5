"""Evaluation during training (``--eval-every N``): FID/KID (and the demo scores) of the
current generators, logged to ``metrics.jsonl``; optionally the best model kept.

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

from ..inference import Translator
from ..models.cyclegan import CycleGAN
from ..pretrained import save_pretrained
from ..training.checkpoint import rng_state, set_rng_state
from .core import score
from .eval_data import EvalData
from .features import FeatureExtractor

__all__ = ["BEST_DIR", "TrainingEvaluator", "format_record"]

BEST_DIR = "model_best"
TRAINING_METRICS = ("fid", "kid")


class TrainingEvaluator:
    """Scores the generators on fixed test images; keeps ``<run>/model_best/`` by mean FID.

    Args:
        data: the prepared test images (and demo truth).
        extractor: the feature network for FID/KID.
        device: where the generators run.
        run_dir: the run folder (``model_best/`` goes there).
        keep_best: whether to keep the model with the lowest mean FID over both directions.
        batch_size: images per forward pass.
    """

    def __init__(
        self,
        data: EvalData,
        extractor: FeatureExtractor,
        device: torch.device,
        run_dir: Path | None = None,
        keep_best: bool = True,
        batch_size: int = 16,
    ) -> None:
        self.data, self.extractor, self.device = data, extractor, device
        self.run_dir, self.keep_best, self.batch_size = run_dir, keep_best, batch_size
        self.metrics = (*TRAINING_METRICS, "demo") if data.is_demo else TRAINING_METRICS
        self.cache: dict = {}
        self.last_step: int | None = None
        self._best: float | None = None

    def best_fid(self) -> float:
        """The mean FID of ``model_best/`` (inf when there is none yet), read once."""
        if self._best is None:
            self._best = math.inf
            if self.run_dir is not None:
                try:
                    info = json.loads((self.run_dir / BEST_DIR / "config.json").read_text())
                    self._best = float(info["eval"]["fid_mean"])
                except (OSError, ValueError, KeyError, TypeError):
                    pass
        return self._best

    def __call__(self, model: CycleGAN, step: int, info: dict[str, Any]) -> dict[str, Any]:
        """Score ``model`` at ``step``; returns the record to log (``step``, ``fid_a2b``, ...).

        ``info`` is what ``model/config.json`` holds (channels, architecture, step).
        """
        start = time.perf_counter()
        saved_rng = rng_state()
        was_training = model.training
        try:
            translator = Translator.for_model(model, info, self.device, tile=0)  # eval mode
            scores = score(
                translator.translate_unit,
                self.data,
                ("a2b", "b2a"),
                self.metrics,
                self.extractor,
                self.cache,
                self.batch_size,
            )
        finally:
            model.train(was_training)
            set_rng_state(saved_rng)
        fid_mean = (scores["fid_a2b"] + scores["fid_b2a"]) / 2
        record: dict[str, Any] = {"step": step, **scores, "fid_mean": fid_mean}
        if self.keep_best and self.run_dir is not None and fid_mean < self.best_fid():
            self._best = fid_mean
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
    text = " ".join(f"{k} {record[k]:.4g}" for k in keys)
    best = " (best so far: model_best/)" if record.get("best") else ""
    return f"eval step {record['step']}: {text}{best}"
