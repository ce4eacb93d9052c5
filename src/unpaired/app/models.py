"""The models a page offers: loaded once at start, each with a name, its directions, whether
it takes a style, its medical windows, and example images (its run folder's test images).

Nothing here imports Gradio: the page (:mod:`.page`) reads these plain objects.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..data.images import list_images
from ..data.layout import demo_root
from ..medical.windows import Window, model_windows
from ..pretrained import model_folder
from ..translate import DEFAULT_OVERLAP, DEFAULT_TILE, Translator
from .errors import AppError

__all__ = ["EXAMPLES_PER_DOMAIN", "AppModel", "load_models", "run_test_folders"]

#: Example images copied per domain (the first ones of testA/ and testB/).
EXAMPLES_PER_DOMAIN = 8

_DIRECTION_LABELS = {"a2b": "A → B (a2b)", "b2a": "B → A (b2a)"}


@dataclass
class AppModel:
    """One model of the page.

    Attributes:
        name: what the model menu shows (its folder's name, made unique).
        path: the MODEL argument as given.
        translator: the loaded model (:class:`~unpaired.translate.Translator`).
        examples: direction -> example images of its source domain (copies in the app's
            temporary folder), empty when the model is not in a run folder with test images.
    """

    name: str
    path: str
    translator: Translator
    examples: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The model family (``cyclegan``, ``munit``, ``cut``, ...)."""
        return self.translator.recipe.name

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions the folder holds."""
        return self.translator.directions

    @property
    def has_style(self) -> bool:
        """Whether the model takes a style (MUNIT): styles, a seed, a reference image."""
        return "style" in self.translator.inputs

    @property
    def windows(self) -> dict[str, Window | None]:
        """The intensity windows the model recorded per domain (None: none recorded)."""
        return model_windows(self.translator.config)[0]

    def direction_choices(self) -> list[tuple[str, str]]:
        """``(label, direction)`` pairs for the direction buttons."""
        return [(_DIRECTION_LABELS.get(d, d), d) for d in self.directions]

    def describe(self) -> str:
        """One line about the model for the page."""
        config = self.translator.config
        channels = f"{config.get('channels_a')} → {config.get('channels_b')} channels"
        held = " and ".join(self.directions)
        parts = [f"**{self.name}**: {self.family}, {channels}, translates {held}"]
        windows = {d: w for d, w in self.windows.items() if w is not None}
        if windows:
            text = ", ".join(f"{d.upper()} [{w.lo:g}, {w.hi:g}]" for d, w in windows.items())
            parts.append(f"windows {text}")
        if self.has_style:
            parts.append("takes a style")
        parts.append(f"on {self.translator.device}")
        return "; ".join(parts)


def _names(paths: Sequence[str]) -> list[str]:
    """A short, unique menu name per MODEL: the run folder's (or model folder's) name."""
    names: list[str] = []
    for spec in paths:
        path = Path(str(spec).rstrip("/"))
        base = path.parent.name if path.name == "model" and path.parent.name else path.name
        name, n = base or str(spec), 1
        while name in names:
            n += 1
            name = f"{base} ({n})"
        names.append(name)
    return names


def run_test_folders(path: str | Path) -> dict[str, Path]:
    """``{"a": testA, "b": testB}`` (those that exist) of the run a MODEL belongs to: a run
    folder (``config.yaml`` next to ``model/``) or the ``model/`` folder of one. Nothing is
    written: a demo run whose generated data is gone has no examples."""
    from .. import config as cfg

    path = Path(path)
    run = path if (path / "config.yaml").is_file() else path.parent
    if not (run / "config.yaml").is_file() or not (run / "model").is_dir():
        return {}
    try:
        config = cfg.build_config(cfg.load_yaml(run / "config.yaml"), {"runs_dir": str(run.parent)})
    except (cfg.ConfigError, OSError, ValueError):
        return {}
    data = config.data
    if data.root is not None:
        root = Path(data.root)
    elif data.dir_a is None:
        # The generated demo domains: looked up, never generated here.
        root = demo_root(config.runs_dir, data.demo_size, data.demo_images, config.seed)
    else:
        return {}
    found = {d: root / f"test{d.upper()}" for d in ("a", "b")}
    return {d: folder for d, folder in found.items() if folder.is_dir()}


def _copy_examples(path: str, into: Path) -> dict[str, list[Path]]:
    """The first :data:`EXAMPLES_PER_DOMAIN` test images of each domain, copied under
    ``into`` (the page may only serve files of its temporary folder), by direction."""
    examples: dict[str, list[Path]] = {}
    for domain, folder in run_test_folders(path).items():
        try:
            images = list_images(folder)[:EXAMPLES_PER_DOMAIN]
        except OSError:
            continue
        copies = []
        for i, image in enumerate(images):
            target = into / domain / f"{i:02d}_{image.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(image, target)
            except OSError:
                continue
            copies.append(target)
        examples["a2b" if domain == "a" else "b2a"] = copies
    return examples


def load_models(
    paths: Sequence[str],
    device: str = "auto",
    tile: int = DEFAULT_TILE,
    examples_dir: Path | None = None,
) -> list[AppModel]:
    """Load every MODEL (model folders or run folders; ``hf://`` names too).

    Args:
        paths: the MODEL arguments.
        device: ``auto``, ``cpu``, ``cuda``...
        tile: images with more than ``tile * tile`` pixels are translated in tiles (0: never).
        examples_dir: where example images are copied (the app's temporary folder); None: no
            examples.

    Raises:
        AppError: a bad device. A folder that does not load raises its own one-line
            :class:`~unpaired.pretrained.ModelLoadError`.
    """
    from ..devices import resolve_device

    try:
        resolved = resolve_device(device)
    except ValueError as exc:
        raise AppError(f"--device {exc}") from None
    models = []
    for name, spec in zip(_names(paths), paths, strict=True):
        model_folder(spec)  # a folder without config.json: one line naming it
        overlap = min(DEFAULT_OVERLAP, tile // 2)
        translator = Translator.load(spec, resolved, tile=tile, overlap=overlap)
        folder = examples_dir / f"model{len(models)}" if examples_dir is not None else None
        examples = _copy_examples(spec, folder) if folder is not None else {}
        models.append(AppModel(name, str(spec), translator, examples))
    return models
