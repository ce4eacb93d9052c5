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
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..data.convert import match_channels
from ..data.transforms import resize
from ..fs import atomic_write, describe_os_error
from ..progress import CountProgress
from .translator import short_side_size
from .variants import PLAIN, TranslateError, Variant, tagged

if TYPE_CHECKING:
    from .files import Job, TranslateReport
    from .translator import Translator

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

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
VIDEO_INSTALL = 'pip install "unpaired[video]"'

_H264 = ("libx264", "h264", "mpeg4")
#: Video encoders by output suffix, in order of preference.
_ENCODERS: dict[str, tuple[str, ...]] = {
    ".mp4": _H264,
    ".m4v": _H264,
    ".mov": _H264,
    ".mkv": _H264,
    ".webm": ("libvpx-vp9", "libvpx"),
    ".avi": ("mpeg4", "libx264"),
}
#: Encoder settings: visually near-lossless, so the codec adds little to the translation.
_OPTIONS: dict[str, dict[str, str]] = {
    "libx264": {"crf": "18", "preset": "fast"},
    "libvpx-vp9": {"crf": "24", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"},
    "libvpx": {"crf": "8", "b": "8M"},
}
#: Encoders that refuse odd frame sizes in 4:2:0.
_EVEN_ONLY = frozenset({"libx264", "h264"})
#: Audio encoder when a container cannot hold the input's audio codec.
_AUDIO_FALLBACK = {".webm": "libopus"}
_DEFAULT_AUDIO = "aac"
_MPEG4_MAX_DENOMINATOR = 65535  # the MPEG-4 Part 2 time base limit
_QP2LAMBDA = 118  # FFmpeg's FF_QP2LAMBDA: quantiser -> global_quality


class VideoError(TranslateError):
    """A video that cannot be read or written; the message names the file and what FFmpeg
    said."""


def is_video(path: str | Path) -> bool:
    """Whether ``path`` is named like a video file (:data:`VIDEO_SUFFIXES`)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _av() -> Any:
    """The ``av`` module, or a one-line :class:`VideoError` saying how to install it."""
    try:
        import av
    except ImportError:
        raise VideoError(f"translating videos needs the video extra: {VIDEO_INSTALL}") from None
    return av


def _said(exc: BaseException, limit: int = 120) -> str:
    """What FFmpeg said, on one short line (without the file name it repeats)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found: the first video stream's frame size, average rate,
    time base, frame count (``estimated`` when the container does not store it), duration
    in seconds (None: unknown), codec, the number of audio streams, and the first frame's
    display rotation (degrees) and color tags (FFmpeg's enum values)."""

    width: int
    height: int
    rate: Fraction
    time_base: Fraction
    frames: int
    estimated: bool
    duration: float | None
    codec: str
    audio: int
    rotation: int = 0
    colorspace: int = 2
    primaries: int = 2
    trc: int = 2


def _codec_name(stream: Any) -> str:
    """FFmpeg's name of a stream's codec (``mp3``, not its decoder's ``mp3float``)."""
    return stream.codec_context.codec.canonical_name if stream.codec_context else "unknown"


def _can_copy(container: Any, stream: Any) -> bool:
    """Whether an output ``container`` can hold ``stream``'s packets as they are."""
    return _codec_name(stream) in container.supported_codecs


def _rate(stream: Any) -> Fraction:
    """The stream's average frame rate (else its guessed or base rate, else 25)."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return Fraction(25)


def _duration(container: Any, stream: Any) -> float | None:
    """The video stream's duration in seconds, else the container's, else None."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _open_input(av: Any, path: Path) -> Any:
    """``av.open(path)``; a file FFmpeg cannot read is a :class:`VideoError`."""
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
            raise VideoError(f"{path}: cannot open it ({_said(exc)})") from None
        raise VideoError(f"{path}: not a video FFmpeg can read ({_said(exc)})") from None


def _video_stream(path: Path, container: Any) -> Any:
    """The first video stream, with a decoder; a :class:`VideoError` otherwise."""
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        raise VideoError(f"{path}: no video stream (it holds only {' and '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoError(f"{path}: its video codec is not supported by this FFmpeg build")
    return stream


def probe_video(path: str | Path) -> VideoInfo:
    """Open ``path``, decode its first frame and say what it holds.

    Raises:
        VideoError: the ``video`` extra is missing; the file is not a video FFmpeg can read
            (corrupt, another format), has no video stream, or its codec cannot be decoded.
    """
    av = _av()
    path = Path(path)
    with _open_input(av, path) as container:
        stream = _video_stream(path, container)
        name = stream.codec_context.name
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise VideoError(f"{path}: cannot decode its {name} video ({_said(exc)})") from None
        if first is None:
            raise VideoError(f"{path}: its {name} video stream has no frames FFmpeg can decode")
        rate = _rate(stream)
        duration = _duration(container, stream)
        frames = int(stream.frames or 0)
        estimated = frames <= 0
        if estimated:
            frames = max(1, round(duration * rate)) if duration else 0
        return VideoInfo(
            first.width,
            first.height,
            rate,
            Fraction(stream.time_base or Fraction(1, 90000)),
            frames,
            estimated,
            duration,
            name,
            len(container.streams.audio),
            round(first.rotation or 0),
            int(first.colorspace),
            int(first.color_primaries),
            int(first.color_trc),
        )


def video_encoder(suffix: str) -> str:
    """The video encoder for an output ending in ``suffix``: the first of its preferences the
    installed FFmpeg has (:class:`VideoError` if none)."""
    av = _av()
    suffix = suffix.lower()
    for name in _ENCODERS.get(suffix, ()):
        try:
            codec = av.codec.Codec(name, "w")
        except (av.FFmpegError, ValueError):
            continue
        if codec.type == "video":
            return name
    choices = ", ".join(_ENCODERS.get(suffix, ())) or "none known"
    raise VideoError(f"{suffix} videos: this FFmpeg build has none of the encoders ({choices})")


def check_videos(paths: Sequence[Path]) -> list[VideoInfo]:
    """Probe every video and its output encoder before anything is written (one-line
    :class:`VideoError` on the first problem)."""
    infos = []
    for path in paths:
        infos.append(probe_video(path))
        video_encoder(Path(path).suffix)
    return infos


# --- progress ------------------------------------------------------------------------------
class _FrameProgress(CountProgress):
    """Frames done / total: a tqdm bar (with its ETA) on a terminal, else about 20 lines
    ``translated 40/200 frames of clip.mp4 (ETA 1m 20s)``."""

    def __init__(self, total: int, enabled: bool | None, name: str) -> None:
        super().__init__(total, enabled, unit="frame", noun=f"frames of {name}")
        self.start, self.shown = time.monotonic(), 0

    def update(self, n: int) -> None:
        if self.bar is not None:
            super().update(n)
            return
        before, self.done = self.done, self.done + n
        if self.done == self.total or self.done // self.every > before // self.every:
            line = f"translated {self.done}/{self.total} {self.noun}"
            if 0 < self.done < self.total:
                left = (time.monotonic() - self.start) / self.done * (self.total - self.done)
                minutes, seconds = divmod(round(left), 60)
                line += f" (ETA {minutes}m {seconds:02d}s)" if minutes else f" (ETA {seconds}s)"
            print(line, file=sys.stderr, flush=True)
            self.shown = self.done

    def close(self) -> None:
        # The total was an estimate (from the duration) when the container does not store
        # the frame count: the last line says how many there were.
        if self.bar is None and self.done != self.total and self.shown != self.done:
            print(f"translated {self.done} {self.noun}", file=sys.stderr, flush=True)
        super().close()


# --- frames --------------------------------------------------------------------------------
def _to_batch(frames: list[Any], width: int, height: int) -> torch.Tensor:
    """Decoded frames -> ``(N, 3, height, width)`` float32 in [0, 1] (RGB through the
    frame's own color matrix and range; a frame of another size is scaled to the first's)."""
    arrays = [f.to_ndarray(format="rgb24", width=width, height=height) for f in frames]
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return batch.float().div_(255.0)


def _to_rgb24(y: torch.Tensor, even: bool) -> np.ndarray:
    """``(N, C, H, W)`` in [0, 1], C 1 or 3 -> ``(N, H', W', 3)`` uint8; with ``even``, an odd
    H or W gets one more row or column (the last one repeated)."""
    y = y.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    if y.shape[1] == 1:
        y = y.expand(-1, 3, -1, -1)
    rgb = y.permute(0, 2, 3, 1).contiguous().numpy()
    if even and (rgb.shape[1] % 2 or rgb.shape[2] % 2):
        rgb = np.pad(rgb, ((0, 0), (0, rgb.shape[1] % 2), (0, rgb.shape[2] % 2), (0, 0)), "edge")
    return rgb


def _side_by_side(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(N, C_in, H, W)`` | ``(N, C_out, H, W)`` -> ``(N, max C, H, 2W)``."""
    channels = max(x.shape[1], y.shape[1])
    return torch.cat([t.expand(-1, channels, -1, -1) for t in (x, y)], dim=3)


class _Clock:
    """Output timestamps in the input's time base: the decoded ones, made up from the frame
    rate where a frame has none, and kept strictly increasing (encoders require it)."""

    def __init__(self, time_base: Fraction, rate: Fraction) -> None:
        self.step = max(1, round(1 / (rate * time_base)))
        self.last: int | None = None

    def __call__(self, frame: Any) -> tuple[int, int]:
        """``(pts, duration)`` of a decoded frame."""
        pts = frame.pts
        if pts is None:
            pts = 0 if self.last is None else self.last + self.step
        elif self.last is not None and pts <= self.last:
            pts = self.last + 1
        self.last = pts
        return pts, int(frame.duration or self.step)


# --- one output ----------------------------------------------------------------------------
class _Sink:
    """One output file: its container, the video encoder and the audio streams (copied, or
    re-encoded if the container cannot hold them), in the input's stream order."""

    def __init__(
        self, av: Any, path: Path, layout: _Layout, audio: Sequence[Any], rotation: int
    ) -> None:
        self.av, self.layout = av, layout
        self.container = av.open(str(path), "w")
        codec, rate = layout.codec, layout.rate
        video = self.container.add_stream(codec, rate=rate, options=_OPTIONS.get(codec, {}))
        video.width, video.height, video.pix_fmt = layout.width, layout.height, "yuv420p"
        cc = video.codec_context
        cc.time_base = video.time_base = layout.time_base
        if codec == "mpeg4":  # constant quantiser 3: its default bit rate (200 kb/s) is poor
            cc.qscale = True
            cc.global_quality = 3 * _QP2LAMBDA
        if layout.colorspace is not None:
            cc.colorspace = layout.colorspace
        cc.color_range = layout.color_range
        cc.color_primaries, cc.color_trc = layout.primaries, layout.trc
        if rotation:
            video.set_display_rotation(rotation)
        self.video = video
        self.audio: dict[int, tuple[Any, bool]] = {}  # input index -> (stream, copied)
        for stream in audio:
            if _can_copy(self.container, stream):
                out = self.container.add_stream_from_template(stream)
                out.time_base = stream.time_base  # a hint the muxer may refine (AVI needs it)
                self.audio[stream.index] = (out, True)
                continue
            out = self.container.add_stream(layout.audio, rate=stream.codec_context.sample_rate)
            out.layout = stream.codec_context.layout
            self.audio[stream.index] = (out, False)

    def write(self, rgb: np.ndarray, timing: Sequence[tuple[int, int]]) -> None:
        """Encode ``(N, H, W, 3)`` uint8 frames with their ``(pts, duration)`` in the input's
        time base."""
        av, layout = self.av, self.layout
        scale = layout.input_time_base / layout.time_base
        for image, (pts, duration) in zip(rgb, timing, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame = frame.reformat(
                format="yuv420p",
                dst_colorspace=layout.colorspace,
                dst_color_range=layout.color_range,
            )
            if scale != 1:
                pts, duration = round(pts * scale), max(1, round(duration * scale))
            frame.pts, frame.duration, frame.time_base = pts, duration, layout.time_base
            self.container.mux(self.video.encode(frame))

    def copy(self, packet: Any, timing: tuple[Any, Any, Any, Any]) -> None:
        """Mux an input audio packet unchanged (``timing``: its pts, dts, duration and time
        base, restored since muxing into another output rebased them)."""
        packet.pts, packet.dts, packet.duration, packet.time_base = timing
        packet.stream = self.audio[packet.stream.index][0]
        self.container.mux(packet)

    def encode_audio(self, index: int, frames: Sequence[Any] | None) -> None:
        """Re-encode decoded audio ``frames`` of input stream ``index`` (None: flush)."""
        stream = self.audio[index][0]
        for frame in [None] if frames is None else frames:
            self.container.mux(stream.encode(frame))

    def close(self) -> None:
        """Flush the encoders and write the trailer."""
        self.container.mux(self.video.encode(None))
        for index, (_, copied) in self.audio.items():
            if not copied:
                self.encode_audio(index, None)
        self.container.close()


def _atomic_all(paths: Sequence[Path], write: Any) -> None:
    """``write(temporaries)`` for all ``paths`` at once, each renamed into place only when
    ``write`` returns (nested :func:`atomic_write`: any failure removes every temporary)."""

    def step(i: int, temporaries: list[Path]) -> None:
        if i == len(paths):
            write(temporaries)
            return
        atomic_write(paths[i], lambda tmp: step(i + 1, [*temporaries, tmp]))

    step(0, [])


# --- one clip ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """What every output of a clip is written with."""

    codec: str
    width: int
    height: int
    even: bool  # odd sizes padded by one pixel
    unpadded: tuple[int, int]  # (width, height) before that
    rate: Fraction
    time_base: Fraction  # the encoder's (the input's, unless MPEG-4 Part 2 cannot take it)
    input_time_base: Fraction
    colorspace: int | None
    color_range: int
    primaries: int
    trc: int
    audio: str  # the audio encoder when a stream cannot be copied


def _layout(av: Any, info: VideoInfo, suffix: str, size: int | None, side_by_side: bool) -> _Layout:
    """The output's encoder, frame size (``size``, side by side, even for H.264), rate, time
    base and color tags, from the input's :class:`VideoInfo`."""
    codec = video_encoder(suffix)
    height, width = info.height, info.width
    if size is not None:
        height, width = short_side_size(height, width, size)
    width *= 2 if side_by_side else 1
    even = codec in _EVEN_ONLY
    time_base = info.time_base
    if codec == "mpeg4" and time_base.denominator > _MPEG4_MAX_DENOMINATOR:
        time_base = Fraction(info.rate.denominator, info.rate.numerator)
    known = {int(c) for c in av.video.reformatter.Colorspace}
    return _Layout(
        codec,
        width + even * (width % 2),
        height + even * (height % 2),
        even,
        (width, height),
        info.rate,
        time_base,
        info.time_base,
        info.colorspace if info.colorspace in known else None,
        int(av.video.reformatter.ColorRange.MPEG),
        info.primaries,
        info.trc,
        _AUDIO_FALLBACK.get(suffix, _DEFAULT_AUDIO),
    )


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
