"""Videos through ``unpaired translate``: short clips made here with PyAV (moving gradients and
a 440 Hz tone sampled at 8 kHz), translated with tiny models, then decoded again to check what
is kept (frames, size, rate, timestamps, duration, audio packets) and what the frames hold."""

from __future__ import annotations

import shutil
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from unpaired.translate import Translator, VideoError, style_variants, translate_video
from unpaired.translate import video as video_module

from conftest import make_images, make_model

av = pytest.importorskip("av")

TESTS = Path(__file__).parent
MUNIT = TESTS / "data" / "compat_v0_1" / "munit" / "run" / "model"
RATE = 8000  # audio samples per second
LUMA = np.array([0.299, 0.587, 0.114])


def make_clip(
    path: Path,
    frames: int = 12,
    size: tuple[int, int] = (64, 48),
    fps: int = 10,
    codec: str = "libx264",
    audio: bool = True,
    still: bool = False,
    pts_ms: list[int] | None = None,
) -> Path:
    """A clip of ``frames`` frames (``size`` = width, height) at ``fps`` with a 440 Hz tone
    (AAC, mono, 8 kHz), muxed interleaved; ``pts_ms``: variable frame timestamps in ms."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE * frames // fps) / RATE)).astype(
        np.float32
    )
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if pts_ms is not None:
            video.codec_context.time_base = Fraction(1, 1000)
        sound = out.add_stream("aac", rate=RATE) if audio else None
        if sound is not None:
            sound.layout = "mono"
        done = 0
        for i in range(frames):
            k = 0 if still else i
            image = np.stack(
                [(xx * 3 + k * 9) % 256, (yy * 4 + k * 2) % 256, np.full_like(xx, 90 + 5 * k)],
                axis=-1,
            ).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pts_ms is None:
                frame.pts = i
            else:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            out.mux(video.encode(frame))
            while sound is not None and done < len(tone) * (i + 1) // frames:
                chunk = tone[done : done + 1024]
                piece = av.AudioFrame.from_ndarray(chunk[None], format="flt", layout="mono")
                piece.sample_rate, piece.pts = RATE, done
                out.mux(sound.encode(piece))
                done += len(chunk)
        out.mux(video.encode())
        if sound is not None:
            out.mux(sound.encode())
    return path


def decode(path: Path) -> dict:
    """Frames ``(N, H, W, 3)`` uint8, their times in seconds, the average rate, the end time of
    the last frame, and the audio: packets (bytes, time) and the decoded sample count."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        rate = stream.average_rate
    out = {
        "frames": np.stack([f.to_ndarray(format="rgb24") for f in frames]),
        "times": [float(f.pts * f.time_base) for f in frames],
        "end": float((frames[-1].pts + frames[-1].duration) * frames[-1].time_base),
        "rate": rate,
        "packets": [],
        "samples": 0,
    }
    with av.open(str(path)) as container:
        if container.streams.audio:
            sound = container.streams.audio[0]
            out["packets"] = [
                (bytes(p), float(p.pts * p.time_base))
                for p in container.demux(sound)
                if p.dts is not None
            ]
    with av.open(str(path)) as container:
        if container.streams.audio:
            out["samples"] = sum(f.samples for f in container.decode(audio=0))
    return out


def luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float64) @ LUMA


def direct(translator: Translator, frames: np.ndarray, **extras) -> np.ndarray:
    """The decoded input frames through the Translator itself, as uint8 RGB."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    c_in = translator.channels("a2b")[0]
    if c_in == 1:
        x = (x * torch.tensor(LUMA, dtype=torch.float32)[:, None, None]).sum(1, keepdim=True)
    y = translator.translate_unit(x, "a2b", **extras).clamp(0, 1).mul(255).round()
    return y.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return make_model(tmp_path_factory.mktemp("video") / "model")


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_clip_keeps_frames_size_rate_timing_and_audio(run_cli, tmp_path, model, suffix) -> None:
    # .mkv: variable frame rate (irregular timestamps must survive).
    pts = [0, 100, 150, 300, 350, 400, 600, 700, 750, 900, 1000, 1100] if suffix == ".mkv" else None
    clip = make_clip(tmp_path / f"clip{suffix}", pts_ms=pts)
    result = run_cli("translate", model, "-i", clip, "-o", tmp_path / "out", "--batch-size", "5")
    assert result.code == 0, result.err
    assert "done: 1 video in" in result.out
    out = tmp_path / "out" / clip.name
    assert sorted(p.name for p in out.parent.iterdir()) == [clip.name]  # no temporary left
    a, b = decode(clip), decode(out)
    assert b["frames"].shape == a["frames"].shape == (12, 48, 64, 3)
    assert b["rate"] == a["rate"]
    assert b["times"] == pytest.approx(a["times"], abs=1e-3)
    assert abs(b["end"] - a["end"]) < 0.1  # within one frame
    # Audio copied: the same packets at the same times, so the same samples.
    assert len(a["packets"]) > 5 and b["packets"] == a["packets"]
    assert b["samples"] == a["samples"] >= 12 * RATE // 10 - 1024
    # Each frame is the frame translated by itself (H.264 at CRF 18: compare luma, since
    # 4:2:0 halves the chroma of the tiny model's noisy output), far from the input.
    translator = Translator.load(model)
    expected = direct(translator, a["frames"])
    error = np.abs(luma(b["frames"]) - luma(expected)).mean()
    untranslated = np.abs(luma(b["frames"]) - luma(a["frames"])).mean()
    assert error < 5 and error < untranslated / 6, (error, untranslated)


def test_side_by_side_and_size(run_cli, tmp_path, model) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=4)
    result = run_cli(
        "translate", model, "-i", clip, "-o", tmp_path / "out", "--side-by-side", "--size", "32"
    )
    assert result.code == 0, result.err
    a, b = decode(clip), decode(tmp_path / "out" / "clip.mp4")
    # 64x48 with the shorter side 32 -> 43x32, twice as wide side by side.
    assert b["frames"].shape == (4, 32, 86, 3)
    assert b["times"] == pytest.approx(a["times"], abs=1e-3)
    left = torch.from_numpy(a["frames"]).permute(0, 3, 1, 2).float() / 255
    left = torch.nn.functional.interpolate(left, size=(32, 43), mode="bilinear", antialias=True)
    left = left.mul(255).permute(0, 2, 3, 1).numpy()
    assert np.abs(luma(b["frames"][:, :, :43]) - luma(left)).mean() < 6


def test_gray_model_writes_a_gray_video(run_cli, tmp_path) -> None:
    gray = make_model(tmp_path / "gray", channels_a=1, channels_b=1)
    clip = make_clip(tmp_path / "clip.mkv", frames=6)
    result = run_cli("translate", gray, "-i", clip, "-o", tmp_path / "out", "--batch-size", "4")
    assert result.code == 0, result.err
    a, b = decode(clip), decode(tmp_path / "out" / "clip.mkv")
    frames = b["frames"].astype(np.int16)
    assert np.abs(frames - frames[..., :1]).max() <= 3  # R = G = B: neutral chroma
    expected = direct(Translator.load(gray), a["frames"])
    assert np.abs(luma(b["frames"]) - luma(expected)).mean() < 5


def test_munit_uses_one_style_for_the_whole_clip(run_cli, tmp_path) -> None:
    model = shutil.copytree(MUNIT, tmp_path / "munit")
    still = make_clip(tmp_path / "still.mp4", frames=6, still=True)
    # Batches of one frame: a style drawn per batch would change from frame to frame.
    result = run_cli("translate", model, "-i", still, "-o", tmp_path / "out", "--styles", "2")
    assert result.code == 0, result.err
    assert "done: 2 videos" in result.out
    first = decode(tmp_path / "out" / "still_style0.mp4")["frames"]
    second = decode(tmp_path / "out" / "still_style1.mp4")["frames"]
    assert first.shape == second.shape == (6, 48, 64, 3)
    # The same style on every frame: the frames differ by codec noise only (P-frames of the
    # tiny model's noisy output drift a little), the two styles by far more.
    flicker = max(np.abs(luma(v) - luma(v[:1])).mean() for v in (first, second))
    assert flicker < 4
    assert np.abs(luma(first) - luma(second)).mean() > 3 * flicker
    # The style is --seed's first random style (as for images), on every frame.
    translator = Translator.load(model)
    (style,) = style_variants(translator, "a2b", 1, 0, None)
    expected = direct(translator, decode(still)["frames"], **style.extras)
    assert np.abs(luma(first) - luma(expected)).mean() < 5


def test_odd_size_is_padded_for_h264(tmp_path, model) -> None:
    clip = make_clip(tmp_path / "odd.mkv", frames=3, size=(33, 25), codec="mpeg4")
    with pytest.warns(UserWarning, match="33x25 frames are written as 34x26"):
        translate_video(Translator.load(model), clip, [tmp_path / "out.mkv"], progress=False)
    frames = decode(tmp_path / "out.mkv")["frames"]
    assert frames.shape == (3, 26, 34, 3)
    # The last column and row repeat their neighbours (up to codec noise; neighbouring
    # columns of the tiny model's noisy output differ by far more).
    columns = np.abs(np.diff(luma(frames), axis=2))
    rows = np.abs(np.diff(luma(frames), axis=1))
    assert columns[:, :, -1].mean() < columns.mean() / 3
    assert rows[:, -1].mean() < rows.mean() / 3


def test_audio_is_reencoded_when_the_container_cannot_hold_it(tmp_path, model, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4", frames=5)
    monkeypatch.setattr(video_module.encode, "_can_copy", lambda container, stream: False)
    with pytest.warns(UserWarning, match="re-encoded as aac"):
        translate_video(Translator.load(model), clip, [tmp_path / "out.mp4"], progress=False)
    a, b = decode(clip), decode(tmp_path / "out.mp4")
    assert b["packets"] and b["packets"] != a["packets"]
    assert abs(b["samples"] - a["samples"]) <= 1024  # one AAC frame of padding at most
    assert len(b["frames"]) == 5


def test_corrupt_file_is_one_line_and_nothing_is_written(run_cli, tmp_path, model) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    result = run_cli("translate", model, "-i", bad, "-o", tmp_path / "out")
    assert result.code == 2
    result.one_error_line(str(bad), "not a video FFmpeg can read", "Invalid data")
    assert not (tmp_path / "out").exists()


def test_file_without_a_video_stream_is_refused(run_cli, tmp_path, model) -> None:
    sound = tmp_path / "sound.mp4"
    with av.open(str(sound), "w") as out:
        stream = out.add_stream("aac", rate=RATE)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "flt", "mono")
        frame.sample_rate, frame.pts = RATE, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    result = run_cli("translate", model, "-i", sound, "-o", tmp_path / "out")
    assert result.code == 2
    result.one_error_line(str(sound), "no video stream", "audio")
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_overwrite(run_cli, tmp_path, model) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=3)
    (tmp_path / "out").mkdir()
    old = tmp_path / "out" / "clip.mp4"
    old.write_bytes(b"previous")
    result = run_cli("translate", model, "-i", clip, "-o", tmp_path / "out")
    assert result.code == 2
    result.one_error_line("exist already", "--overwrite")
    assert old.read_bytes() == b"previous"
    assert run_cli("translate", model, "-i", clip, "-o", tmp_path / "out", "--overwrite").code == 0
    assert len(decode(old)["frames"]) == 3
    # The input itself is never an output, not even with --overwrite.
    result = run_cli("translate", model, "-i", clip, "-o", tmp_path, "--overwrite")
    result.one_error_line("would write over the input")


def test_failure_mid_clip_leaves_no_output(tmp_path, model, monkeypatch) -> None:
    clip = make_clip(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip.mp4").write_bytes(b"previous")
    translator = Translator.load(model)
    calls = []
    real = translator.translate_unit

    def failing(x, *args, **kwargs):
        calls.append(len(x))
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the clip
        return real(x, *args, **kwargs)

    monkeypatch.setattr(translator, "translate_unit", failing)
    with pytest.raises(KeyboardInterrupt):
        translate_video(translator, clip, [out / "clip.mp4"], batch_size=2, progress=False)
    assert calls == [2, 2, 2]
    assert [p.name for p in out.iterdir()] == ["clip.mp4"]  # no temporary left
    assert (out / "clip.mp4").read_bytes() == b"previous"


def test_missing_extra_is_an_install_hint(run_cli, tmp_path, model, monkeypatch) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=2)
    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    result = run_cli("translate", model, "-i", clip, "-o", tmp_path / "out")
    assert result.code == 2
    result.one_error_line('pip install "unpaired[video]"')
    with pytest.raises(VideoError, match="video extra"):
        video_module.probe_video(clip)


def test_videos_in_folders_are_left_to_explicit_inputs(run_cli, tmp_path, model) -> None:
    make_images(tmp_path / "in", 1, size=(24, 24))
    make_clip(tmp_path / "in" / "clip.mp4", frames=2)
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", tmp_path / "out")
    assert result.code == 0, result.err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["img 000.png"]
    assert "done: 1 images" in result.out


def test_rotation_and_color_tags_are_kept(tmp_path, model) -> None:
    clip = tmp_path / "phone.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        cc = stream.codec_context
        cc.colorspace = cc.color_primaries = cc.color_trc = 1  # BT.709
        stream.set_display_rotation(90)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), 40 * i, np.uint8), "rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=1)
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    translate_video(Translator.load(model), clip, [tmp_path / "out.mp4"], progress=False)
    with av.open(str(tmp_path / "out.mp4")) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 3 and (frames[0].width, frames[0].height) == (32, 24)
    assert frames[0].rotation == 90
    assert (frames[0].colorspace, frames[0].color_primaries, frames[0].color_trc) == (1, 1, 1)


def test_a_clip_failing_midway_is_named_and_the_others_are_written(
    run_cli, tmp_path, model, monkeypatch
) -> None:
    good = make_clip(tmp_path / "good.mp4", frames=3)
    bad = make_clip(tmp_path / "bad.mkv", frames=6)
    real = video_module._Clip.translate

    def translate(self, frames, width, height):
        if self.source.name == "bad.mkv" and frames[0].pts >= 200:
            raise VideoError(f"{self.source}: cannot decode its video after frame 2 (test)")
        return real(self, frames, width, height)

    monkeypatch.setattr(video_module._Clip, "translate", translate)
    result = run_cli("translate", model, "-i", good, bad, "-o", tmp_path / "out")
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and str(bad) in errors[0], result.err
    assert "1 of 2 inputs could not be translated" in errors[1]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.mp4"]
