"""Writing a clip's outputs: the output layout (encoder, frame size, padding for H.264, time
base, color tags, audio fallback), :class:`_Sink` (one output container: the video encoder
and the input's audio streams, copied or re-encoded) and :func:`_atomic_all`, which writes
every output of one clip under temporary names and renames them into place only once all are
complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ...fs import atomic_write
from ..translator import short_side_size
from .probe import VideoInfo, video_encoder

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


def _codec_name(stream: Any) -> str:
    """FFmpeg's name of a stream's codec (``mp3``, not its decoder's ``mp3float``)."""
    return stream.codec_context.codec.canonical_name if stream.codec_context else "unknown"


def _can_copy(container: Any, stream: Any) -> bool:
    """Whether an output ``container`` can hold ``stream``'s packets as they are."""
    return _codec_name(stream) in container.supported_codecs


# --- the layout ----------------------------------------------------------------------------
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
