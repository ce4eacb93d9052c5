"""Videos in, videos out (``unpaired translate MODEL -i clip.mp4 -o out/``), through PyAV.

Every frame is translated with :meth:`Translator.translate_unit` and the rest of the clip is
kept: the output is ``OUT/<input's name>`` in the input's container (``.mp4``, ``.m4v``,
``.mov``, ``.mkv``, ``.webm``, ``.avi``) with the input's frame size (or ``--size``), average
frame rate, time base and frame timestamps (a variable-frame-rate clip keeps its timing), so the
same frame count and duration; every audio stream is copied packet by packet without
re-encoding (re-encoded, with a warning, only if the container cannot hold its codec).
Subtitle and data streams are not copied (a warning says so).

It streams: packets are decoded, frames gathered into batches of ``batch_size``, translated,
encoded and written, so memory is bounded by a batch and the encoder's look-ahead whatever
the clip's length. All outputs of one input (one per style variant) are written in one pass
under temporary names next to their final names and renamed only once complete
(:func:`unpaired.fs.atomic_write`): a failure or Ctrl-C mid-clip leaves no video under the
final name.

Encoders, the first the installed FFmpeg has: H.264 (``libx264``, CRF 18) for ``.mp4``,
``.m4v``, ``.mov`` and ``.mkv``, then MPEG-4 Part 2; VP9 then VP8 for ``.webm``; MPEG-4 Part 2
for ``.avi``. Pixels are ``yuv420p`` (what every player reads), with the input's color matrix.
H.264 in 4:2:0 needs even sizes: an odd width or height is padded by one pixel (the last
column or row repeated) and a warning says so; the other encoders keep odd sizes.

Models with one channel see the luma (ITU-R 601) of each frame and their output is written as
a gray video. A model with a style input (MUNIT) uses one style for the whole clip (from
``--seed`` or ``--style-image``), so the frames do not flicker; ``--styles N`` writes N videos
``NAME_style0.mp4`` ... from one decoding pass.

``av`` (the ``video`` extra) is imported only inside these functions.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ...data.convert import match_channels
from ...data.transforms import resize
from ...fs import describe_os_error
from ..translator import short_side_size
from ..variants import PLAIN, TranslateError, Variant, tagged
from .encode import _atomic_all, _layout, _Sink
from .frames import _Clock, _FrameProgress, _side_by_side, _to_batch, _to_rgb24
from .probe import (
    VIDEO_INSTALL,
    VIDEO_SUFFIXES,
    VideoError,
    VideoInfo,
    _av,
    _open_input,
    _said,
    _video_stream,
    check_videos,
    is_video,
    probe_video,
)
from .probe import video_encoder as video_encoder  # public, though not in __all__

if TYPE_CHECKING:
    from ..files import Job, TranslateReport
    from ..translator import Translator

__all__ = [
    "VIDEO_INSTALL",
    "VIDEO_SUFFIXES",
    "VideoError",
    "VideoInfo",
    "check_videos",
    "is_video",
    "probe_video",
    "translate_video",
    "translate_videos",
]


# --- one clip ------------------------------------------------------------------------------
def translate_video(
    translator: Translator,
    source: str | Path,
    outputs: Sequence[str | Path],
    variants: Sequence[Variant] = PLAIN,
    direction: str = "a2b",
    size: int | None = None,
    batch_size: int = 1,
    side_by_side: bool = False,
    progress: bool | None = None,
) -> None:
    """Translate every frame of ``source`` into one video per variant (``outputs[k]`` with
    ``variants[k]``'s extra inputs, e.g. one MUNIT style for the whole clip); see the module
    docstring for what is kept.

    Frames are decoded to RGB, taken to the model's channels (luma for a 1-channel model),
    resized when ``size`` is given (shorter side ``size``, aspect ratio kept), translated
    ``batch_size`` at a time as ``(N, C_in, H, W)`` in [0, 1], written as input | output
    with ``side_by_side``, and encoded with the input's timestamps.

    Raises:
        VideoError: the extra is missing, or FFmpeg cannot read, decode or encode the clip
            (nothing is left under the output names).
        OSError: an output cannot be written (disk full, read-only folder).
    """
    av = _av()
    source = Path(source)
    paths = [Path(p) for p in outputs]
    if not paths or len(paths) != len(variants):
        raise ValueError(f"{len(paths)} outputs for {len(variants)} variants")
    if batch_size < 1:
        raise ValueError(f"option batch_size: must be at least 1, got {batch_size}")
    c_in = translator.channels(direction)[0]
    info = probe_video(source)
    suffix = paths[0].suffix.lower()
    layout = _layout(av, info, suffix, size, side_by_side)
    if layout.unpadded != (layout.width, layout.height):
        warnings.warn(
            f"{source}: its {'x'.join(map(str, layout.unpadded))} frames are written as "
            f"{layout.width}x{layout.height} (H.264 in 4:2:0 needs an even width and height; "
            "the last column or row is repeated)",
            stacklevel=2,
        )
    bar = _FrameProgress(info.frames, progress, source.name)
    clip = _Clip(translator, source, variants, direction, size, batch_size, side_by_side, c_in)

    def run(temporaries: list[Path]) -> None:
        with _open_input(av, source) as container:
            stream = _video_stream(source, container)
            stream.thread_type = "AUTO"
            audio = list(container.streams.audio)
            left = len(container.streams) - 1 - len(audio)
            if left:
                warnings.warn(
                    f"{source}: {left} stream(s) besides its first video stream and its "
                    "audio are not written (subtitles, data, other video)",
                    stacklevel=4,
                )
            sinks: list[_Sink] = []
            try:
                for tmp in temporaries:
                    sinks.append(_Sink(av, tmp, layout, audio, info.rotation))
                recoded = [s.codec_context.name for s in audio if not sinks[0].audio[s.index][1]]
                if recoded:
                    warnings.warn(
                        f"{source}: a {suffix} file cannot hold its {', '.join(recoded)} "
                        f"audio; re-encoded as {layout.audio}",
                        stacklevel=4,
                    )
                clip.pump(container, stream, audio, sinks, bar)
                for sink in sinks:
                    sink.close()
            except BaseException:
                for sink in sinks:
                    try:
                        sink.container.close()
                    except Exception:  # noqa: BLE001 - the first error is the one to report
                        pass
                raise

    try:
        _atomic_all(paths, run)
    except av.FFmpegError as exc:
        if isinstance(exc, OSError) and 0 < (exc.errno or 0) < 1000:
            raise  # the operating system's error writing (disk full, permissions)
        raise VideoError(f"{source}: FFmpeg failed ({_said(exc)})") from None
    finally:
        bar.close()


@dataclass(frozen=True)
class _Clip:
    """One clip's translation settings, and the loop that runs it."""

    translator: Translator
    source: Path
    variants: Sequence[Variant]
    direction: str
    size: int | None
    batch_size: int
    side_by_side: bool
    channels: int

    def translate(self, frames: list[Any], width: int, height: int) -> list[torch.Tensor]:
        """Decoded frames -> one ``(N, C, H', W')`` batch in [0, 1] per variant (input |
        output with side_by_side)."""
        x = match_channels(_to_batch(frames, width, height), self.channels)
        if self.size is not None:
            x = resize(x, *short_side_size(x.shape[-2], x.shape[-1], self.size))
        outs = []
        for variant in self.variants:
            y = self.translator.translate_unit(x, self.direction, **variant.extras)
            outs.append(_side_by_side(x, y) if self.side_by_side else y)
        return outs

    def pump(
        self,
        container: Any,
        stream: Any,
        audio: Sequence[Any],
        sinks: Sequence[_Sink],
        bar: _FrameProgress,
    ) -> None:
        """Demux the input in file order: video packets are decoded into batches,
        translated and encoded; audio packets are copied (or decoded and re-encoded) into
        every output."""
        av = sinks[0].av
        clock = _Clock(sinks[0].layout.input_time_base, sinks[0].layout.rate)
        frames: list[Any] = []
        size: tuple[int, int] | None = None  # (width, height) of the first decoded frame

        def flush() -> None:
            nonlocal size
            size = size or (frames[0].width, frames[0].height)
            timing = [clock(f) for f in frames]
            for sink, out in zip(sinks, self.translate(frames, *size), strict=True):
                sink.write(_to_rgb24(out, sink.layout.even), timing)
            bar.update(len(frames))
            frames.clear()

        copying = {s.index: sinks[0].audio[s.index][1] for s in audio}
        for packet in container.demux(stream, *audio):
            if packet.stream.index == stream.index:
                try:
                    decoded = packet.decode()
                except av.FFmpegError as exc:
                    raise VideoError(
                        f"{self.source}: cannot decode its video after frame "
                        f"{bar.done + len(frames)} ({_said(exc)})"
                    ) from None
                for frame in decoded:
                    frames.append(frame)
                    if len(frames) == self.batch_size:
                        flush()
            elif copying[packet.stream.index]:
                if packet.dts is None:
                    continue  # the demuxer's end-of-stream marker
                timing = (packet.pts, packet.dts, packet.duration, packet.time_base)
                for sink in sinks:
                    sink.copy(packet, timing)
            else:
                decoded = packet.decode()
                for sink in sinks:
                    sink.encode_audio(packet.stream.index, decoded)
        if frames:
            flush()


# --- the jobs of ``unpaired translate`` ----------------------------------------------------
def translate_videos(
    translator: Translator,
    jobs: Sequence[Job],
    report: TranslateReport,
    direction: str = "a2b",
    size: int | None = None,
    batch_size: int = 1,
    side_by_side: bool = False,
    progress: bool | None = None,
    variants: Sequence[Variant] = PLAIN,
) -> None:
    """Translate each video job (one output per variant, :func:`~.variants.tagged`), adding
    the outputs to ``report.written``; a clip that fails is an ``error:`` line and an entry
    in ``report.failed``, and the others are still translated. A missing extra raises
    before anything is written."""
    _av()
    for job in jobs:
        outputs = [tagged(job.output, v.tag) for v in variants]
        try:
            translate_video(
                translator,
                job.source,
                outputs,
                variants,
                direction,
                size,
                batch_size,
                side_by_side,
                progress,
            )
        except TranslateError as exc:
            reason = str(exc)
        except OSError as exc:
            where = exc.filename if exc.filename is not None else outputs[0]
            what = describe_os_error(OSError(exc.errno, exc.strerror or str(exc)))
            reason = f"cannot write '{where}': {what}"
        else:
            report.written.extend(outputs)
            continue
        report.failed.append((job.source, reason))
        print(f"error: {reason}", file=sys.stderr, flush=True)
