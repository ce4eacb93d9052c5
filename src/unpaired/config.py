"""Typed, frozen configuration: dataclasses, YAML load/dump and dotted overrides.

A config is built once (defaults < optional preset < YAML file < ``--set`` / flags) and never
changes afterwards. Unknown keys are rejected with a hint, values are type-checked, and every
error is a :class:`ConfigError` whose message is one line naming the offending option.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import UnpairedError


class ConfigError(UnpairedError):
    """A user-facing configuration mistake; the message names the option."""


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


@dataclass(frozen=True)
class CycleGANConfig:
    """CycleGAN architecture and loss weights (Zhu et al. 2017; official defaults).

    ``lambda_a`` / ``lambda_b`` weight the cycle terms ||F(G(x)) - x||_1 and ||G(F(y)) - y||_1;
    the identity term is weighted ``lambda_identity * lambda`` (0 turns it off).
    """

    generator: str = "resnet_9blocks"
    discriminator: str = "basic"
    n_layers_d: int = 3
    ngf: int = 64
    ndf: int = 64
    norm: str = "instance"
    use_dropout: bool = False
    init_type: str = "normal"
    init_gain: float = 0.02
    gan_mode: str = "lsgan"
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    lambda_identity: float = 0.5
    lambda_gp: float = 10.0
    pool_size: int = 50


@dataclass(frozen=True)
class MUNITConfig:
    """MUNIT architecture, loss weights and optimiser (Huang et al. 2018; the NVlabs
    edges2handbags defaults). The generator total is gan_w * (L^{x_1}_GAN + L^{x_2}_GAN)
    + recon_x_w * (L^{x_1}_recon + L^{x_2}_recon) + recon_c_w * (L^{c_1}_recon + L^{c_2}_recon)
    + recon_s_w * (L^{s_1}_recon + L^{s_2}_recon) + recon_x_cyc_w * (explicit cycle terms).
    """

    dim: int = 64
    """Channels of the first conv of every encoder, generator and discriminator."""
    style_dim: int = 8
    """Length of the style codes s_1, s_2 (N, style_dim, 1, 1)."""
    n_downsample: int = 2
    """Stride-2 convs of the content encoder (and upsamplings of the decoder)."""
    n_res: int = 4
    """Residual blocks in the content encoder and AdaIN residual blocks in the decoder."""
    mlp_dim: int = 256
    """Hidden width of the MLP that maps a style code to the AdaIN parameters."""
    init: str = "kaiming"
    """Generator weight initialisation (discriminators always use N(0, 0.02))."""
    n_layer_d: int = 4
    """Stride-2 conv layers per discriminator scale."""
    num_scales: int = 3
    """Image scales each multi-scale discriminator judges (1, 1/2, 1/4)."""
    gan_w: float = 1.0
    """Weight of the adversarial terms L^{x_i}_GAN (and of the discriminator loss)."""
    recon_x_w: float = 10.0
    """lambda_x: weight of the image reconstruction terms L^{x_i}_recon."""
    recon_s_w: float = 1.0
    """lambda_s: weight of the style reconstruction terms L^{s_i}_recon."""
    recon_c_w: float = 1.0
    """lambda_c: weight of the content reconstruction terms L^{c_i}_recon."""
    recon_x_cyc_w: float = 0.0
    """Weight of the explicit style-augmented cycle terms (0 turns them off)."""
    lr: float = 1e-4
    """Adam learning rate of both the generators and the discriminators."""
    beta1: float = 0.5
    """Adam beta1."""
    beta2: float = 0.999
    """Adam beta2."""
    weight_decay: float = 1e-4
    """Adam (L2) weight decay."""
    lr_step: int = 100000
    """Iterations between learning-rate decays (StepLR step_size, stepped per iteration)."""
    lr_gamma: float = 0.5
    """Factor the learning rate is multiplied by every lr_step iterations."""
    gan_mode: str = "lsgan"
    """Adversarial objective: lsgan (default), vanilla (NVlabs nsgan) or hinge."""


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
    seed: int = 0
    device: str = "auto"
    batch_size: int = 1
    epochs: int = 100
    epochs_decay: int = 100
    max_steps: int | None = None
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
    # Extra loggers next to metrics.jsonl (extras: tensorboard, wandb).
    tensorboard: bool = False
    wandb: bool = False
    data: DataConfig = field(default_factory=DataConfig)
    cyclegan: CycleGANConfig = field(default_factory=CycleGANConfig)
    # Read by model munit only (which has its own optimiser settings; optim is CycleGAN's).
    munit: MUNITConfig = field(default_factory=MUNITConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


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
        "tensorboard",
        "wandb",
    }
)

# The demo domains learn a visible translation in minutes on 2 CPU cores with these settings.
DEMO_PRESET: dict[str, Any] = {
    "name": "demo",
    "data": {"image_size": 64, "load_size": 72, "num_samples": 4},
    "cyclegan": {"generator": "resnet_6blocks", "ngf": 24, "ndf": 32},
    "epochs": 2,
    "epochs_decay": 2,
    "log_every": 25,
    "sample_every": 100,
    "checkpoint_every": 2,
    "latest_every": 200,
}


def to_dict(config: Any) -> dict[str, Any]:
    """Every value of a config dataclass as plain nested dicts (YAML/JSON friendly)."""
    return dataclasses.asdict(config)


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
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
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


def _positive(name: str, value: int | float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise ConfigError(f"option {name}: must be positive, got {value}")


def validate(config: TrainConfig) -> None:
    """Cross-field checks that dataclass types cannot express; raises :class:`ConfigError`."""
    data = config.data
    for name in ("batch_size", "log_every", "sample_every", "checkpoint_every", "latest_every"):
        _positive(name, getattr(config, name))
    _positive("max_steps", config.max_steps, allow_none=True)
    _positive("eval_every", config.eval_every, allow_none=True)
    _positive("eval_images", config.eval_images, allow_none=True)
    if config.keep_best and config.eval_every is None:
        raise ConfigError("option keep_best: needs eval_every (the best model is picked by FID)")
    _positive("data.max_images", data.max_images, allow_none=True)
    _positive("data.image_size", data.image_size)
    _positive("data.load_size", data.load_size)
    _positive("data.demo_size", data.demo_size)
    _positive("data.demo_images", data.demo_images)
    _positive("optim.lr", config.optim.lr)
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
    _check_medical(data)
    _check_names(config)


def check_cyclegan(config: TrainConfig) -> None:
    """What model cyclegan needs of the config (its registry entry calls this)."""
    from .losses import GAN_MODES
    from .models.discriminators import DISCRIMINATORS
    from .models.generators import GENERATORS
    from .models.layers import INIT_FUNCTIONS, NORM_LAYERS
    from .training.schedules import SCHEDULES

    data, cg = config.data, config.cyclegan
    _check_choice("cyclegan.generator", cg.generator, GENERATORS.names())
    _check_choice("cyclegan.discriminator", cg.discriminator, DISCRIMINATORS.names())
    _check_choice("cyclegan.norm", cg.norm, sorted(NORM_LAYERS))
    _check_choice("cyclegan.init_type", cg.init_type, sorted(INIT_FUNCTIONS))
    _check_choice("cyclegan.gan_mode", cg.gan_mode, GAN_MODES.names())
    _check_choice("optim.lr_policy", config.optim.lr_policy, SCHEDULES.names())
    if cg.lambda_identity > 0 and data.channels_a != data.channels_b:
        raise ConfigError(
            "option cyclegan.lambda_identity: the identity loss needs the same number of "
            f"channels in both domains (channels_a={data.channels_a}, "
            f"channels_b={data.channels_b}); set cyclegan.lambda_identity=0"
        )
    if cg.pool_size < 0:
        raise ConfigError(f"option cyclegan.pool_size: must be 0 or more, got {cg.pool_size}")


def check_munit(config: TrainConfig) -> None:
    """What model munit needs of the config (its registry entry calls this): known names,
    positive sizes, and an image_size its generators and discriminators accept."""
    from .losses import GAN_MODES
    from .models.layers import INIT_FUNCTIONS
    from .models.munit import _min_discriminator_size

    mu = config.munit
    for key in ("dim", "style_dim", "n_res", "mlp_dim", "n_layer_d", "num_scales", "lr_step"):
        _positive(f"munit.{key}", getattr(mu, key))
    _positive("munit.lr", mu.lr)
    if mu.n_downsample < 0:
        raise ConfigError(f"option munit.n_downsample: must be 0 or more, got {mu.n_downsample}")
    _check_choice("munit.init", mu.init, sorted(INIT_FUNCTIONS))
    # No gradient penalty in the MUNIT step.
    _check_choice("munit.gan_mode", mu.gan_mode, [m for m in GAN_MODES.names() if m != "wgangp"])
    size, multiple = config.data.image_size, 2**mu.n_downsample
    smallest = max(
        16, 2 ** (mu.n_downsample + 1), _min_discriminator_size(mu.n_layer_d, mu.num_scales)
    )
    if size % multiple or size < smallest:
        raise ConfigError(
            f"option data.image_size: model munit needs a multiple of {multiple} that is at "
            f"least {smallest} (munit.n_layer_d={mu.n_layer_d}, munit.num_scales="
            f"{mu.num_scales}), got {size}"
        )


def _check_medical(data: DataConfig) -> None:
    """Windows and the slicing axis must parse (see unpaired.intensity)."""
    from .intensity import parse_axis, parse_window

    try:
        parse_window(data.window_a, "data.window_a")
        parse_window(data.window_b, "data.window_b")
        parse_axis(data.axis, "data.axis")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_choice(option: str, value: str, choices: list[str] | tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(
            f"option {option}: unknown value {value!r}; choose one of: " + ", ".join(choices)
        )


def _check_names(config: TrainConfig) -> None:
    """Names that pick parts from a registry must exist there."""
    # Imported here: config is data and must stay importable without the model code.
    from .data.transforms import PREPROCESS_MODES
    from .training.models import MODELS

    _check_choice("model", config.model, MODELS.names())
    _check_choice("precision", config.precision, ["fp32", "bf16", "fp16"])
    _check_choice("data.preprocess", config.data.preprocess, PREPROCESS_MODES)
    MODELS.get(config.model).check_config(config)  # the model's own options
