"""Assemble a run from its config: device, data folders (or the demo), datasets and sampler,
the fixed sample images, the evaluator, and what the model folder records."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import torch

from .. import config as cfg
from .. import devices
from ..data.folders import SingleFolder, UnpairedDataset, UnpairedSampler, fixed_images
from ..data.layout import data_dirs
from ..data.stacks import CONTEXT_KEY, stack_channels
from ..data.transforms import Preprocess


def resolve_device(name: str) -> torch.device:
    """The training device for option ``device``; a bad name is a :class:`ConfigError`."""
    try:
        return devices.resolve_device(name)
    except ValueError as exc:
        raise cfg.ConfigError(f"option device: {exc}") from None


def build_data(config: cfg.TrainConfig, rank: int = 0, world_size: int = 1, cuda: bool = False):
    """The training dataset and sampler, and the fixed sample images of both domains.

    ``cuda``: the run trains on a GPU, where the decoded cache is on unless
    ``data.cache_decoded`` says otherwise (:mod:`unpaired.data.decoded`)."""
    data = config.data
    train_a, train_b, test_a, test_b = data_dirs(config)
    pre = Preprocess(data.preprocess, data.load_size, data.image_size, data.flip)
    fixed = Preprocess(data.preprocess, data.load_size, data.image_size, flip=False)
    # HU windows and the slicing axis, for CT/MRI volumes (None: ordinary images)
    # (and 2.5D: stacks of neighbouring slices, unpaired.data.stacks)
    med_a = {"window": data.window_a, "axis": data.axis, "context_slices": data.context_slices}
    med_b = {"window": data.window_b, "axis": data.axis, "context_slices": data.context_slices}
    # volumes resampled to a voxel spacing, the DICOM series to read (None: as stored)
    for med in (med_a, med_b):
        med.update(spacing=data.spacing, series=data.series)
    workers = config.num_workers if config.num_workers is not None else (4 if cuda else 0)
    # data.cache_decoded None (the default): on for GPU runs, for folders of 2-D images
    cache = data.cache_decoded if data.cache_decoded is not None else (None if cuda else False)
    cached = {
        "cache": cache,
        "cache_workers": workers,
        "say": _say if rank == 0 else None,
    }
    domain_a = SingleFolder(train_a, data.channels_a, pre, data.max_images, **med_a, **cached)
    domain_b = SingleFolder(train_b, data.channels_b, pre, data.max_images, **med_b, **cached)
    if config.batch_size > 1:
        sizes = domain_a.output_sizes() | domain_b.output_sizes()
        if len(sizes) > 1:
            raise cfg.ConfigError(
                f"option batch_size: images come out in {len(sizes)} different sizes with "
                f"preprocess {data.preprocess}; use batch_size 1 or a cropping preprocess"
            )
    sample_a = SingleFolder(test_a or train_a, data.channels_a, fixed, **med_a)
    sample_b = SingleFolder(test_b or train_b, data.channels_b, fixed, **med_b)
    dataset = UnpairedDataset(domain_a, domain_b)
    sampler = UnpairedSampler(
        len(domain_a), len(domain_b), config.seed, data.serial, rank, world_size
    )
    samples = (fixed_images(sample_a, data.num_samples), fixed_images(sample_b, data.num_samples))
    return dataset, sampler, samples


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def network_config(config: cfg.TrainConfig) -> cfg.TrainConfig:
    """The config the recipe builds its networks from: with ``data.context_slices`` K > 0 the
    networks take and give stacks of 2K+1 slices, so ``data.channels_a`` / ``channels_b``
    become ``(2K+1)`` times the channels of one slice (:mod:`unpaired.data.stacks`); with
    K = 0, ``config`` itself."""
    data = config.data
    context = data.context_slices
    if not context:
        return config
    stacked = dataclasses.replace(
        data,
        channels_a=stack_channels(data.channels_a, context),
        channels_b=stack_channels(data.channels_b, context),
    )
    return dataclasses.replace(config, data=stacked)


def build_evaluator(config: cfg.TrainConfig):
    """The evaluator of ``eval_every`` (None when off): feature network and test images are
    loaded here, so a missing metrics extra fails before anything is written."""
    if config.eval_every is None:
        return None
    from ..metrics.eval_data import is_demo_root, load_eval_data
    from ..metrics.features import build_features
    from .evaluator import TrainingEvaluator

    device = resolve_device(config.device)
    keep_best_by = config.keep_best_by or "fid"
    paired = None
    if config.val_source is not None:  # --val-paired: read once, errors before anything
        from .paired import PairedValidation

        paired = PairedValidation(
            config.val_source,
            config.val_target,
            config.val_mask,
            (config.data.window_a, config.data.window_b),
            config.data.axis,
            (config.data.channels_a, config.data.channels_b),
            getattr(config.data, "context_slices", 0),
        )
    extractor, data = None, None
    if keep_best_by == "fid":  # FID/KID; not when a paired score picks model_best/
        extractor = build_features(config.eval_features, device)
        train_a, train_b, test_a, test_b = data_dirs(config)
        root = test_a.parent if test_a is not None else None
        data = load_eval_data(
            test_a or train_a,
            test_b or train_b,
            (config.data.channels_a, config.data.channels_b),
            config.data.image_size,
            config.eval_images,
            root if is_demo_root(root) else None,
            windows=(config.data.window_a, config.data.window_b),
            axis=config.data.axis,
        )
    keep_best = config.keep_best if config.keep_best is not None else True
    return TrainingEvaluator(
        data, extractor, device, keep_best=keep_best, paired=paired, keep_best_by=keep_best_by
    )


def data_info(config: cfg.TrainConfig) -> dict[str, Any]:
    """What every ``model/config.json`` records of the data: channels, preprocessing, the
    intensity windows and slicing axis (so translation maps HU the same way), the run."""
    from ..medical.resample import spacing_info
    from ..medical.windows import windows_info

    data = config.data
    return {
        "channels_a": data.channels_a,
        "channels_b": data.channels_b,
        "preprocess": {
            "mode": data.preprocess,
            "load_size": data.load_size,
            "image_size": data.image_size,
        },
        **windows_info(data.window_a, data.window_b, data.axis),
        # absent = 0: model folders of 2-D runs stay as they were
        **({CONTEXT_KEY: data.context_slices} if data.context_slices else {}),
        **spacing_info(data.spacing),  # absent without a spacing
        "run": config.name,
    }


def model_info(config: cfg.TrainConfig) -> dict[str, Any]:
    """What ``model/config.json`` records: the family, its architecture (the recipe's
    ``model_info``), the data and the run."""
    from ..recipes import RECIPES

    recipe = RECIPES.get(config.model)
    info = {"model": recipe.name, **recipe.model_info(config), **data_info(config)}
    if config.ema is not None:  # the folder holds the generators' moving average
        info["weights"] = "ema"
    return info
