"""What a video holds and what this FFmpeg can do with it: :class:`VideoError`, the video
suffixes, the lazy import of ``av`` (the ``video`` extra), :func:`probe_video` (the first video
stream's size, rate, time base, frame count, audio streams, rotation and color tags) and the
choice of an output's video encoder, checked for every input before anything is written.

``av`` is imported only inside these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..variants import TranslateError

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
