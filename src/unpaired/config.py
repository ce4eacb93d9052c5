"""Typed, frozen configuration: dataclasses, YAML load/dump and dotted overrides.

A config is built once (defaults < optional preset < YAML file < ``--set`` / flags) and never
changes afterwards. Unknown keys are rejected with a hint, values are type-checked, and every
error is a :class:`ConfigError` whose message is one line naming the offending option.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import UnpairedError
from .registry import Registry


class ConfigError(UnpairedError):
    """A user-facing configuration mistake; the message names the option."""


#: Field metadata of options added after the first release: such an option is left out of the
#: dumped config (config.yaml, checkpoints) while it has its default, so that runs which do not
#: use it write exactly what they wrote before it existed.
OMIT_AT_DEFAULT = "omit_at_default"


@dataclass(frozen=True)
class DataConfig:
    """Where the two domains come from and how images are prepared.

    ``root`` holds ``trainA/`` and ``trainB/`` (and optionally ``testA/``, ``testB/`` for the
    sample grids); ``dir_a`` / ``dir_b`` name the two training folders directly instead. With
    neither, the embedded demo domains are generated (see :mod:`unpaired.data.synthetic`).
    """

    root: str | None = None
    dir_a: str | None = None
    dir_b: str | None = None
    channels_a: int = 3
    channels_b: int = 3
    preprocess: str = "resize_and_crop"
    load_size: int = 286
    image_size: int = 256
    flip: bool = True
    serial: bool = False
    max_images: int | None = None
    num_samples: int = 4
    demo_size: int = 64
    demo_images: int = 400
    # Medical volumes (see unpaired.medical): the intensity window of each domain, "lo,hi" in
    # HU or a preset (soft_tissue, lung, bone, brain); None maps each file by its own range
    # (a PNG by its bit depth). Volumes are cut into 2-D slices along axis (axial, coronal,
    # sagittal, or array axis 0/1/2).
    window_a: str | None = None
    window_b: str | None = None
    axis: str | int = "axial"
    # 2.5D input (unpaired.data.stacks): each slice of a volume comes with its context_slices
    # neighbours on each side as extra channels (edges replicate); 0: plain 2-D slices.
    context_slices: int = field(default=0, metadata={OMIT_AT_DEFAULT: True})
    # Voxel spacing volumes are resampled to on read, "X,Y,Z" in mm (or one number for all
    # three; unpaired.medical.resample); None: as stored. Recorded in the model folder, so
    # translation resamples to it and back onto each input's grid.
    spacing: str | float | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    # The DICOM SeriesInstanceUID(s) to read in a folder holding several series (comma-
    # separated); None: such a folder is refused, naming its series.
    series: str | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    # The decoded cache (unpaired.data.decoded): training images decoded once at load size
    # into a memory-mapped file, so loader workers only crop and flip. None: on for GPU runs.
    cache_decoded: bool | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})


@dataclass(frozen=True)
class OptimConfig:
    """Adam for both generators (one optimizer) and both discriminators (another); the LR policy.

    ``lr_policy`` linear keeps ``lr`` for ``TrainConfig.epochs`` epochs, then decays it linearly to
    zero over ``TrainConfig.epochs_decay`` epochs; step multiplies by 0.1 every
    ``lr_decay_epochs``; cosine anneals over the whole run; plateau reduces on a stalled
    generator loss.
    """

    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_policy: str = "linear"
    lr_decay_epochs: int = 50


@dataclass(frozen=True)
class TrainConfig:
    """The whole run: what to train on, which model, how long, and where the outputs go."""

    name: str | None = None
    runs_dir: str = "runs"
    model: str = "cyclegan"
    # --preset: the named set of options the run started from (unpaired.recipes.presets);
    # None: the official defaults.
    preset: str | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    seed: int = 0
    device: str = "auto"
    batch_size: int = 1
    epochs: int = 100
    epochs_decay: int = 100
    max_steps: int | None = None
    # --time-budget (unpaired.training.budget): a duration (45m, 2h, 1h30m, 90s or seconds);
    # the run measures its speed and plans its own length and LR decay to end within it.
    time_budget: str | float | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    num_workers: int | None = None  # None: 0 on CPU (decoding is cheap next to a step), 4 on GPU
    log_every: int = 100
    sample_every: int = 500
    checkpoint_every: int = 5
    latest_every: int = 1000
    precision: str = "fp32"
    channels_last: bool = False
    # None: on for CUDA, off for CPU, where the measured 128/256 steps got slower with it
    fused_passes: bool | None = None
    # Evaluation during training (FID/KID on the test images, see unpaired.metrics): every
    # eval_every steps (None: off), on the first eval_images test images per domain (None:
    # all), with the feature network eval_features (inception, tiny = a stand-in, or a
    # TorchScript file); keep_best keeps model_best/ by mean FID (None: on when eval is on).
    eval_every: int | None = None
    eval_images: int | None = None
    eval_features: str = "inception"
    keep_best: bool | None = None
    # Paired validation (unpaired.training.paired): with eval_every, the A -> B translations of
    # val_source are scored against their registered targets in val_target (inside val_mask):
    # MAE/PSNR/SSIM (HU for volumes) logged as paired_mae, ...; keep_best_by picks model_best/
    # by fid (None: fid), mae, psnr or ssim (the last three need val_source; then FID is off).
    val_source: str | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    val_target: str | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    val_mask: str | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    keep_best_by: str | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    # Generator EMA (unpaired.training.ema): samples, evaluation, model_best/ and model/ use an
    # exponential moving average of the generators' weights with this decay (None: off).
    ema: float | None = field(default=None, metadata={OMIT_AT_DEFAULT: True})
    # Extra loggers next to metrics.jsonl (extras: tensorboard, wandb).
    tensorboard: bool = False
    wandb: bool = False
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    # One section per model family, under the family's name (``cyclegan: {...}``): the
    # dataclass each recipe registers in :data:`SECTIONS`. Read as ``config.<name>``.
    sections: Mapping[str, Any] = field(default_factory=lambda: default_sections())

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("sections")
        if sections is not None and name in sections:
            return sections[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def section(self, name: str) -> Any:
        """The options of model family ``name`` (its registered dataclass)."""
        return self.sections[name]


#: Model family name -> the frozen dataclass of its options (registered by its recipe).
SECTIONS: Registry[type] = Registry("config section")


class Sections(dict):
    """The model sections of a config: a read-only dict (picklable, so torchrun can share a
    config between ranks)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("config sections are read-only; build a new config instead")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Sections, (dict(self),))


def default_sections() -> Mapping[str, Any]:
    """Every registered section at its defaults, read-only."""
    return Sections({name: SECTIONS.get(name)() for name in SECTIONS.names()})


# Options a resumed run may change without breaking exactness: how long, how often, where.
RESUMABLE_KEYS = frozenset(
    {
        "max_steps",
        "epochs",
        "epochs_decay",
        "num_workers",
        "log_every",
        "sample_every",
        "checkpoint_every",
        "latest_every",
        "device",
        "eval_every",
        "eval_images",
        "eval_features",
        "keep_best",
        "val_source",
        "val_target",
        "val_mask",
        "keep_best_by",
        "tensorboard",
        "wandb",
        # A learning rate may change (e.g. lowered after a divergence): the resumed run then
        # continues from the checkpoint at the new rate, no longer exactly as it would have.
        "optim.lr",
    }
)


def resumable(key: str) -> bool:
    """Whether a resumed run may change option ``key`` (dotted): :data:`RESUMABLE_KEYS`, and
    every model family's learning rate (``<family>.lr``)."""
    return key in RESUMABLE_KEYS or key.rsplit(".", 1)[-1] == "lr"


# The demo domains learn a visible translation in minutes on 2 CPU cores with these settings
# (each recipe adds the sizes of its own section: Recipe.demo).
DEMO_PRESET: dict[str, Any] = {
    "name": "demo",
    "data": {"image_size": 64, "load_size": 72, "num_samples": 4},
    "epochs": 2,
    "epochs_decay": 2,
    "log_every": 25,
    "sample_every": 100,
    "checkpoint_every": 2,
    "latest_every": 200,
}


def _asdict(value: Any) -> dict[str, Any]:
    """``dataclasses.asdict`` without the :data:`OMIT_AT_DEFAULT` fields at their default."""
    out = dataclasses.asdict(value)
    for f in dataclasses.fields(value):
        if f.metadata.get(OMIT_AT_DEFAULT) and out.get(f.name) == f.default:
            del out[f.name]
    return out


def to_dict(config: Any) -> dict[str, Any]:
    """Every value of a config dataclass as plain nested dicts (YAML/JSON friendly); the
    model sections of a :class:`TrainConfig` sit at the top level under their names."""
    if not isinstance(config, TrainConfig):
        return _asdict(config)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if f.name == "sections":
            out.update({k: _asdict(v) for k, v in config.sections.items()})
        elif f.name == "optim":
            continue
        else:
            value = getattr(config, f.name)
            if f.metadata.get(OMIT_AT_DEFAULT) and value == f.default:
                continue  # an option added later, unused: the file stays as it was
            out[f.name] = _asdict(value) if dataclasses.is_dataclass(value) else value
    out["optim"] = _asdict(config.optim)
    return out


def dump_yaml(config: TrainConfig) -> str:
    """The resolved config as YAML text, every value included."""
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def _allowed_types(hint: Any) -> tuple[type, ...]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(hint) for t in _allowed_types(arg))
    if hint is None or hint is type(None):
        return (type(None),)
    return (hint,)


def _check_value(key: str, value: Any, hint: Any) -> Any:
    checked = _typed_value(key, value, hint)
    if isinstance(checked, float) and not math.isfinite(checked):
        # NaN passes every comparison-based check (nan <= 0 is False), so refuse it here.
        raise ConfigError(f"option {key}: must be a finite number, got {value!r}")
    return checked


def _typed_value(key: str, value: Any, hint: Any) -> Any:
    allowed = _allowed_types(hint)
    if isinstance(value, bool) and bool not in allowed:
        raise ConfigError(f"option {key}: expected {_type_names(allowed)}, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and float in allowed:
        return float(value) if int not in allowed else value
    if isinstance(value, str) and str not in allowed and float in allowed:
        # YAML reads "2e-4" (no dot) as a string; accept it as the number it clearly is.
        try:
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, allowed):
        raise ConfigError(f"option {key}: expected {_type_names(allowed)}, got {value!r}")
    return value


def _type_names(types_: tuple[type, ...]) -> str:
    names = ["null" if t is type(None) else t.__name__ for t in types_]
    return " or ".join(names)


def _build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """Instantiate dataclass ``cls`` from a nested mapping, checking keys and types."""
    if not isinstance(values, dict):
        raise ConfigError(f"option {prefix.rstrip('.') or 'config'}: expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    if cls is TrainConfig:
        fields.pop("sections")
        for name in SECTIONS.names():
            if name in values:
                sections[name] = _build(SECTIONS.get(name), values[name], f"{prefix}{name}.")
            else:
                sections[name] = SECTIONS.get(name)()
        values = {k: v for k, v in values.items() if k not in sections}
        kwargs["sections"] = Sections(sections)
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in fields:
            known = list(fields) + (SECTIONS.names() if cls is TrainConfig else [])
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise ConfigError(f"unknown option {full}{hint}")
        hint_type = hints[key]
        if dataclasses.is_dataclass(hint_type):
            kwargs[key] = _build(hint_type, value, f"{full}.")
        else:
            kwargs[key] = _check_value(full, value, hint_type)
    return cls(**kwargs)


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"cyclegan.lambda_identity=0"`` -> ``{"cyclegan": {"lambda_identity": 0}}``.

    The value is read as YAML, so ``null``, ``true``, ``1e-4`` and ``[1, 2]`` work.
    """
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. cyclegan.lambda_identity=0")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {text!r}: the key is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return nested(key, value)


def nested(key: str, value: Any) -> dict[str, Any]:
    """``nested("data.image_size", 128)`` -> ``{"data": {"image_size": 128}}``."""
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping (``safe_load``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"--config {path}: not valid YAML ({first})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of options at the top level")
    return data


def build_config(*layers: dict[str, Any]) -> TrainConfig:
    """Merge the layers in order (later wins) over the defaults and validate the result."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = merge(merged, layer)
    config = _build(TrainConfig, merged)
    validate(config)
    return config


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def positive(name: str, value: int | float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise ConfigError(f"option {name}: must be positive, got {value}")


#: ``keep_best_by`` choices: FID (the default) or a paired score (needs ``val_source``).
KEEP_BEST_BY = ("fid", "mae", "psnr", "ssim")


def _check_paired_validation(config: TrainConfig) -> None:
    """val_source/val_target come together, with eval_every; keep_best_by is known and a
    paired score needs them."""
    if (config.val_source is None) != (config.val_target is None):
        raise ConfigError("options val_source/val_target: give both (--val-paired SRC TGT)")
    if config.val_mask is not None and config.val_source is None:
        raise ConfigError("option val_mask: needs val_source/val_target (--val-paired SRC TGT)")
    if config.val_source is not None and config.eval_every is None:
        raise ConfigError("option val_source: needs eval_every (--eval-every N)")
    by = config.keep_best_by
    if by is not None:
        check_choice("keep_best_by", by, KEEP_BEST_BY)
        if config.eval_every is None:
            raise ConfigError(f"option keep_best_by {by}: needs eval_every (--eval-every N)")
        if by != "fid" and config.val_source is None:
            raise ConfigError(
                f"option keep_best_by {by}: needs paired validation data (--val-paired SRC TGT)"
            )


#: The shortest --time-budget: below it the warm-up and measurement take most of the run.
MIN_TIME_BUDGET_S = 60.0

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def budget_seconds(value: str | float) -> float:
    """Seconds of a time budget: ``45m``, ``2h``, ``90s``, ``1h30m`` or a number of seconds."""
    text = str(value).strip().lower()
    seconds: float | None = None
    try:
        seconds = float(text)
    except ValueError:
        match = _DURATION.fullmatch(text)
        if text and match is not None:
            h, m, s = (float(g) if g else 0.0 for g in match.groups())
            seconds = h * 3600 + m * 60 + s
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError(
            f"option time_budget: expected a duration like 45m, 2h, 1h30m or 90s, got {value!r}"
        )
    if seconds < MIN_TIME_BUDGET_S:
        raise ConfigError(
            f"option time_budget: {value} is shorter than the warm-up and speed measurement "
            f"need (give at least {MIN_TIME_BUDGET_S:g}s)"
        )
    return seconds


def validate(config: TrainConfig) -> None:
    """Cross-field checks that dataclass types cannot express; raises :class:`ConfigError`."""
    data = config.data
    for name in ("batch_size", "log_every", "sample_every", "checkpoint_every", "latest_every"):
        positive(name, getattr(config, name))
    positive("max_steps", config.max_steps, allow_none=True)
    if config.time_budget is not None:
        budget_seconds(config.time_budget)  # a ConfigError naming the option
        if config.max_steps is not None:
            raise ConfigError(
                "options time_budget and max_steps: give one (the budget plans the steps)"
            )
    positive("eval_every", config.eval_every, allow_none=True)
    positive("eval_images", config.eval_images, allow_none=True)
    if config.ema is not None and not 0 < config.ema < 1:
        raise ConfigError(f"option ema: the decay must be between 0 and 1, got {config.ema}")
    if config.keep_best and config.eval_every is None:
        raise ConfigError("option keep_best: needs eval_every (the best model is picked by FID)")
    _check_paired_validation(config)
    positive("data.max_images", data.max_images, allow_none=True)
    positive("data.image_size", data.image_size)
    positive("data.load_size", data.load_size)
    positive("data.demo_size", data.demo_size)
    positive("data.demo_images", data.demo_images)
    positive("data.num_samples", data.num_samples)
    if config.name is not None:
        name = str(config.name)
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise ConfigError(
                f"option name: must be a plain folder name (no '/', not '.' or '..'), got {name!r}"
            )
    positive("optim.lr", config.optim.lr)
    if config.epochs < 0 or config.epochs_decay < 0 or config.epochs + config.epochs_decay == 0:
        raise ConfigError("options epochs/epochs_decay: need at least one epoch in total")
    if config.num_workers is not None and config.num_workers < 0:
        raise ConfigError(f"option num_workers: must be 0 or more, got {config.num_workers}")
    if config.device not in ("auto", "cpu", "cuda") and not config.device.startswith("cuda:"):
        raise ConfigError(f"option device: expected auto, cpu or cuda, got {config.device!r}")
    for key in ("channels_a", "channels_b"):
        if getattr(data, key) not in (1, 3):
            raise ConfigError(f"option data.{key}: must be 1 or 3, got {getattr(data, key)}")
    if data.image_size % 4:
        raise ConfigError(f"option image_size: must be a multiple of 4, got {data.image_size}")
    if data.preprocess in ("resize_and_crop", "scale_width_and_crop"):
        if data.image_size > data.load_size:
            raise ConfigError(
                f"option image_size: the crop ({data.image_size}) is larger than "
                f"load_size ({data.load_size})"
            )
    if data.dir_a is not None and data.root is not None:
        raise ConfigError("options data.root and data.dir_a: give a DATA root or --a/--b, not both")
    if (data.dir_a is None) != (data.dir_b is None):
        raise ConfigError("options --a/--b: give both domain folders")
    check_choice("precision", config.precision, ["fp32", "bf16", "fp16"])
    _check_medical(data)
    if data.context_slices < 0:
        raise ConfigError(
            f"option data.context_slices: must be 0 or more, got {data.context_slices}"
        )


def _check_medical(data: DataConfig) -> None:
    """Windows and the slicing axis must parse (see unpaired.intensity)."""
    from .intensity import parse_axis, parse_spacing, parse_window

    try:
        parse_window(data.window_a, "data.window_a")
        parse_window(data.window_b, "data.window_b")
        parse_axis(data.axis, "data.axis")
        parse_spacing(data.spacing, "data.spacing")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def check_choice(option: str, value: str, choices: list[str] | tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(
            f"option {option}: unknown value {value!r}; choose one of: " + ", ".join(choices)
        )
