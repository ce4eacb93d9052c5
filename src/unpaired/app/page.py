"""The page: Gradio components wired to :mod:`.work` (the only module that imports Gradio,
with :mod:`.server`).

Tabs: **Image** (upload, paste or drop; input and output side by side, the time taken, the
PNG to download; examples from the run's test images), **Batch** (several images: a gallery
and a zip), **Medical volume** (a NIfTI file, a ``.npy`` array, DICOM files or a zip of a
series: a slice slider over input and output through a display window, the translated volume
to download in its own format). A model with a style (MUNIT) shows its style options: a
number of styles and a seed, or a reference image.

Every request names its model and direction, so two browsers never share a choice; the
volume viewer keeps its volume in the browser session's own state. A user mistake becomes a
``gr.Error`` whose message is the one line of :func:`.work.user_message`; the app keeps
serving. Public API names (``gradio_client``): ``/translate``, ``/batch``, ``/volume``,
``/slice``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import UnpairedError
from .errors import AppError
from .models import AppModel
from .work import (
    DISPLAY_WINDOWS,
    MAX_STYLES,
    VolumeResult,
    Workspace,
    display_windows,
    slice_image,
    strip_paths,
    translate_batch,
    translate_image,
    translate_volume,
    user_message,
)

__all__ = ["CSS", "build_page", "raw_image"]

_INTRO = (
    "# unpaired\n"
    "Translate images with your models, on this machine. Pick a model and a direction, then "
    "upload, paste or drop an image."
)
_WINDOW_LABELS = {"model": "model window (else the volume's range)", "custom": "custom"}
_VOLUME_TYPES = [".nii", ".gz", ".npy", ".dcm", ".zip"]
#: The page's own style: input and output fill their boxes (small images are scaled up for the
#: eye; the download is the image itself).
CSS = """
#input-image img, #output-image img, #slice-in img, #slice-out img {
  width: 100%; height: 100%; object-fit: contain;
}
"""
# One translation at a time (the CPU is shared); looking at slices is not queued behind it.
_HEAVY = "translate"


def raw_image(**options: Any) -> gr.Image:
    """An image input that hands over the uploaded file untouched (its path): our readers
    decode it (16-bit, gray, EXIF, the pixel limit, one-line errors), not Gradio's
    preprocessing, which opens every upload with Pillow first. (Set on the instance: a
    subclass of a Gradio component would make Gradio write a ``.pyi`` file next to this
    module.)"""
    image = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], **options)
    convert = image.preprocess

    def preprocess(payload: Any) -> Any:
        if payload is None:
            return None
        if payload.path is not None and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return convert(payload)

    image.preprocess = preprocess  # type: ignore[method-assign]
    return image


def _errors(fn: Callable[..., Any], root: Path) -> Callable[..., Any]:
    """``fn`` with user mistakes turned into a ``gr.Error`` showing their one line."""

    @functools.wraps(fn)  # Gradio names the API parameters after fn's
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UnpairedError, ValueError, OSError) as exc:
            raise gr.Error(user_message(exc, root), print_exception=False) from None

    return wrapped


def build_page(models: Sequence[AppModel], workspace: Workspace, max_unzipped: int) -> gr.Blocks:
    """The page of ``models`` (at least one), working under ``workspace``; a zip of a DICOM
    series may unpack to ``max_unzipped`` bytes."""
    by_name = {m.name: m for m in models}
    first = models[0]

    def model(name: str) -> AppModel:
        if name not in by_name:
            raise AppError(f"model {name!r}: not served here (choose one of {', '.join(by_name)})")
        return by_name[name]

    def examples(name: str, direction: str) -> list[tuple[str, str]]:
        found = by_name[name].examples.get(direction, []) if name in by_name else []
        return [(str(p), p.name.split("_", 1)[-1]) for p in found]

    def on_model(name: str) -> tuple[Any, ...]:
        m = model(name)
        shown = examples(name, m.directions[0])
        return (
            gr.update(choices=m.direction_choices(), value=m.directions[0]),
            gr.update(visible=m.has_style),
            m.describe(),
            gr.update(value=shown, visible=bool(shown)),
        )

    def on_direction(name: str, direction: str) -> Any:
        shown = examples(name, direction)
        return gr.update(value=shown, visible=bool(shown))

    def pick_example(name: str, direction: str, evt: gr.SelectData) -> Any:
        found = by_name[name].examples.get(direction, []) if name in by_name else []
        return str(found[evt.index]) if 0 <= evt.index < len(found) else None

    def translate(
        name: str,
        direction: str,
        image: str | None,
        styles: float,
        seed: float,
        style_image: str | None,
    ) -> tuple[Any, ...]:
        """One image -> (output PNG, every output as a gallery, summary, the PNG files)."""
        m = model(name)
        result = translate_image(
            m, image, direction, workspace.request(), styles, seed, style_image
        )
        files = [str(p) for p in result.outputs]
        gallery = list(zip(files, result.captions, strict=True))
        return files[0], gallery, result.summary(m, direction), files

    def batch(
        name: str,
        direction: str,
        files: list[str] | None,
        styles: float,
        seed: float,
        style_image: str | None,
    ) -> tuple[Any, ...]:
        """Several images -> (gallery, zip of the outputs, summary)."""
        result = translate_batch(
            model(name), files, direction, workspace.request(), styles, seed, style_image
        )
        gallery = [(str(p), c) for p, c in zip(result.outputs, result.captions, strict=True)]
        return gallery, str(result.archive), strip_paths(result.summary(), root)

    def slices(state: VolumeResult | None, index: float, window: str, lo: float, hi: float):
        if state is None:
            raise AppError("no volume yet: upload one and press Translate volume")
        shown_in, shown_out = display_windows(window, lo, hi, state)
        k = min(max(int(index), 0), state.slices - 1)
        return (
            slice_image(state.source, state.axis, k, shown_in),
            slice_image(state.output, state.axis, k, shown_out),
        )

    def volume(
        name: str,
        direction: str,
        files: list[str] | None,
        seed: float,
        style_image: str | None,
        window: str,
        lo: float,
        hi: float,
    ) -> tuple[Any, ...]:
        """A volume -> (viewer state, slider, input slice, output slice, download, summary)."""
        m = model(name)
        result = translate_volume(
            m, files, direction, workspace.request(), max_unzipped, seed, style_image
        )
        middle = result.slices // 2
        shown = slices(result, middle, window, lo, hi)
        slider = gr.update(maximum=max(result.slices - 1, 1), value=middle, interactive=True)
        return (
            result,
            slider,
            *shown,
            str(result.download),
            result.summary(m, direction),
        )

    root = workspace.root
    with gr.Blocks(title="unpaired", analytics_enabled=False, delete_cache=(1800, 3600)) as page:
        gr.Markdown(_INTRO)
        with gr.Row():
            model_menu = gr.Dropdown(
                [m.name for m in models], value=first.name, label="Model", scale=2
            )
            direction_choice = gr.Radio(
                first.direction_choices(), value=first.directions[0], label="Direction", scale=2
            )
        model_info = gr.Markdown(first.describe())
        with gr.Row(visible=first.has_style, equal_height=True) as style_box:
            styles = gr.Slider(1, MAX_STYLES, value=3, step=1, label="Styles")
            seed = gr.Number(0, precision=0, label="Seed")
            style_image = raw_image(
                label="Style reference (optional: its style instead of random ones)",
                height=160,
            )

        with gr.Tabs():
            with gr.Tab("Image"):
                with gr.Row(equal_height=True):
                    image_in = raw_image(
                        label="Input",
                        buttons=["fullscreen"],
                        height=360,
                        elem_id="input-image",
                    )
                    image_out = gr.Image(
                        type="filepath",
                        format="png",
                        label="Output",
                        interactive=False,
                        height=360,
                        buttons=["download", "fullscreen"],
                        elem_id="output-image",
                    )
                go = gr.Button("Translate", variant="primary", elem_id="translate-button")
                summary = gr.Markdown(elem_id="summary")
                styled = gr.Gallery(
                    label="Styles", columns=4, visible=first.has_style, format="png"
                )
                download = gr.File(label="Download PNG", file_count="multiple")
                shown = examples(first.name, first.directions[0])
                example_gallery = gr.Gallery(
                    shown,
                    label="Examples: the run's test images (click one)",
                    columns=8,
                    height=170,
                    allow_preview=False,
                    visible=bool(shown),
                )
            with gr.Tab("Batch"):
                batch_in = gr.File(
                    label="Images", file_count="multiple", file_types=["image"], type="filepath"
                )
                batch_go = gr.Button("Translate all", variant="primary")
                batch_summary = gr.Markdown()
                batch_gallery = gr.Gallery(label="Results", columns=6, format="png")
                batch_zip = gr.File(label="Download all (zip)")
            with gr.Tab("Medical volume"):
                gr.Markdown(
                    "A NIfTI volume (.nii, .nii.gz), a .npy array, the .dcm files of one DICOM "
                    "series or a zip of them. It is translated slice by slice with the model's "
                    "windows and written back in its own format with its headers."
                )
                volume_in = gr.File(label="Volume", file_count="multiple", file_types=_VOLUME_TYPES)
                volume_go = gr.Button("Translate volume", variant="primary")
                volume_summary = gr.Markdown()
                with gr.Row():
                    window = gr.Dropdown(
                        [(_WINDOW_LABELS.get(w, w.replace("_", " ")), w) for w in DISPLAY_WINDOWS],
                        value="model",
                        label="Display window",
                    )
                    lo = gr.Number(-160, label="custom window: low")
                    hi = gr.Number(240, label="custom window: high")
                index = gr.Slider(0, 1, value=0, step=1, label="Slice", interactive=False)
                with gr.Row():
                    slice_in = gr.Image(
                        label="Input slice",
                        interactive=False,
                        format="png",
                        height=360,
                        elem_id="slice-in",
                    )
                    slice_out = gr.Image(
                        label="Output slice",
                        interactive=False,
                        format="png",
                        height=360,
                        elem_id="slice-out",
                    )
                volume_out = gr.File(label="Download the translated volume")
                volume_state = gr.State(None)

        model_menu.change(
            _errors(on_model, root),
            model_menu,
            [direction_choice, style_box, model_info, example_gallery],
            api_visibility="private",
        ).then(
            lambda name: gr.update(visible=model(name).has_style),
            model_menu,
            styled,
            api_visibility="private",
        )
        direction_choice.change(
            on_direction, [model_menu, direction_choice], example_gallery, api_visibility="private"
        )
        example_gallery.select(
            pick_example, [model_menu, direction_choice], image_in, api_visibility="private"
        )
        style_inputs = [styles, seed, style_image]
        go.click(
            _errors(translate, root),
            [model_menu, direction_choice, image_in, *style_inputs],
            [image_out, styled, summary, download],
            api_name="translate",
            concurrency_id=_HEAVY,
        )
        batch_go.click(
            _errors(batch, root),
            [model_menu, direction_choice, batch_in, *style_inputs],
            [batch_gallery, batch_zip, batch_summary],
            api_name="batch",
            concurrency_id=_HEAVY,
        )
        volume_go.click(
            _errors(volume, root),
            [model_menu, direction_choice, volume_in, seed, style_image, window, lo, hi],
            [volume_state, index, slice_in, slice_out, volume_out, volume_summary],
            api_name="volume",
            concurrency_id=_HEAVY,
        )
        view = [volume_state, index, window, lo, hi]
        index.release(_errors(slices, root), view, [slice_in, slice_out], api_name="slice")
        window.change(
            _errors(lambda *a: slices(*a) if a[0] is not None else (None, None), root),
            view,
            [slice_in, slice_out],
            api_visibility="private",
        )
    return page
