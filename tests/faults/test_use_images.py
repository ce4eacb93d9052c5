"""Bad and hostile input images: other formats under an image's name, corrupt files, images over
the pixel limit or the memory, odd paths. Each is named in one error line; the good images
are still translated; inputs stay byte-identical."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import EpsImagePlugin, Image

from unpaired.translate import memory

from conftest import assert_unchanged, make_images, make_model, snapshot

TESTS = Path(__file__).parents[1]
MUNIT = TESTS / "data" / "compat_v0_1" / "munit" / "run" / "model"


def _errors(result) -> list[str]:
    assert "Traceback" not in result.err, result.err[-2000:]
    return [line for line in result.err.splitlines() if line.startswith("error:")]


def _one_bad_among_good(run_cli, tmp_path: Path, bad: Path, *extra: str):
    """Translate a folder of 2 good images and ``bad``: exit 1, ``bad`` named in one line, the
    summary line, both good ones written, inputs unchanged. Returns the bad file's line."""
    model = make_model(tmp_path / "model")
    before = snapshot(tmp_path / "in")
    out = tmp_path / "out"
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", out, *extra)
    assert result.code == 1
    errors = _errors(result)
    assert len(errors) == 2, errors
    assert str(bad) in errors[0]
    assert "1 of 3 images could not be translated" in errors[1]
    assert sorted(p.name for p in out.iterdir()) == ["img 000.png", "img 001.png"]
    assert_unchanged(tmp_path / "in", before)
    return errors[0]


@pytest.mark.parametrize("fmt", ["EPS", "PCX", "TGA", "SGI", "GIF"])
def test_other_formats_named_png_are_refused_naming_the_format(
    run_cli, tmp_path: Path, monkeypatch, fmt: str
) -> None:
    calls = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: calls.append(a))
    make_images(tmp_path / "in", 2, size=(24, 24))
    bad = tmp_path / "in" / "z.png"
    Image.new("RGB", (24, 24), (10, 200, 30)).save(bad, format=fmt)
    line = _one_bad_among_good(run_cli, tmp_path, bad)
    assert f"format {fmt}" in line
    assert not calls  # Ghostscript never ran


def test_other_format_as_a_16bit_medical_raster_is_refused(run_cli, tmp_path: Path) -> None:
    # The medical readers (16-bit PNG/TIFF, raw values) open files the same way.
    from unpaired.data.images import ImageReadError
    from unpaired.medical.arrays import raster_dtype, read_raster

    bad = tmp_path / "ct.tif"
    Image.new("L", (8, 8), 3).save(bad, format="PCX")
    for reader in (read_raster, raster_dtype):
        with pytest.raises(ImageReadError, match=r"ct\.tif.*format PCX"):
            reader(bad)


@pytest.mark.parametrize("cut", ["header", "half", "empty"])
def test_corrupt_png_among_good_ones(run_cli, tmp_path: Path, cut: str) -> None:
    make_images(tmp_path / "in", 3, size=(24, 24))
    bad = tmp_path / "in" / "img 002.png"
    data = bad.read_bytes()
    bad.write_bytes({"header": data[:20], "half": data[: len(data) // 2], "empty": b""}[cut])
    _one_bad_among_good(run_cli, tmp_path, bad)


def test_folder_named_like_an_image_is_skipped(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    make_images(tmp_path / "in", 1, size=(24, 24))
    (tmp_path / "in" / "folder.png").mkdir()
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", tmp_path / "out")
    assert result.code == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["img 000.png"]
    # Given by name, it is an (empty) folder: one line.
    result = run_cli(
        "translate", model, "-i", tmp_path / "in" / "folder.png", "-o", tmp_path / "o2"
    )
    assert result.code == 2
    result.one_error_line("folder.png", "no image files")


def test_empty_input_folder_is_one_line(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    (tmp_path / "in").mkdir()
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", tmp_path / "out")
    assert result.code == 2
    result.one_error_line(str(tmp_path / "in"), "no image files")
    assert not (tmp_path / "out").exists()


def test_output_that_is_an_existing_file_is_one_line(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    make_images(tmp_path / "in", 1, size=(24, 24))
    (tmp_path / "out").write_text("keep me")
    result = run_cli(
        "translate", model, "-i", tmp_path / "in", "-o", tmp_path / "out", "--overwrite"
    )
    assert result.code == 2
    result.one_error_line("--output", "not a folder")
    assert (tmp_path / "out").read_text() == "keep me"


@pytest.mark.parametrize("content", [b"plain text, not a picture", b""])
def test_style_image_that_is_not_an_image(run_cli, tmp_path: Path, content: bytes) -> None:
    make_images(tmp_path / "in", 1, size=(24, 24))
    style = tmp_path / "style.png"
    style.write_bytes(content)
    result = run_cli(
        "translate", shutil.copytree(MUNIT, tmp_path / "munit"), "-i", tmp_path / "in",
        "-o", tmp_path / "out", "--style-image", style,
    )  # fmt: skip
    assert result.code == 2
    result.one_error_line("--style-image", str(style))
    assert not (tmp_path / "out").exists()


def test_image_over_the_pixel_limit_is_named_and_the_limit_can_be_raised(
    run_cli, tmp_path: Path, monkeypatch
) -> None:
    # Between 1x and 2x the limit Pillow only warns (naming no file), then decodes; here it is
    # an error naming the file, and --max-pixels lets a genuine large image through.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    make_images(tmp_path / "in", 2, size=(24, 24))  # 576 pixels: under the limit
    big = make_images(tmp_path / "big", 1, size=(40, 40))[0]  # 1600: 1.6x the limit
    shutil.move(big, tmp_path / "in" / "z.png")
    with _no_bomb_warning():
        line = _one_bad_among_good(run_cli, tmp_path, tmp_path / "in" / "z.png")
    assert "1,600 pixels" in line and "--max-pixels" in line
    result = run_cli(
        "translate", tmp_path / "model", "-i", tmp_path / "in", "-o", tmp_path / "o2",
        "--max-pixels", "2000",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert len(list((tmp_path / "o2").iterdir())) == 3
    assert Image.MAX_IMAGE_PIXELS == 1000  # the option lasts for the command only


def test_max_pixels_must_be_positive(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    make_images(tmp_path / "in", 1)
    result = run_cli(
        "translate", model, "-i", tmp_path / "in", "-o", tmp_path / "o", "--max-pixels", "0"
    )
    assert result.code == 2
    result.one_error_line("--max-pixels 0")


def test_image_larger_than_the_memory_is_refused_before_reading(
    run_cli, tmp_path: Path, monkeypatch
) -> None:
    make_images(tmp_path / "in", 2, size=(24, 24))
    make_images(tmp_path / "big", 1, size=(200, 150))
    shutil.move(tmp_path / "big" / "img 000.png", tmp_path / "in" / "z.png")
    # Room for 24x24 images, not for 200x150 (fake available memory).
    budget = memory.translation_bytes(24, 24, 3, 3, 24 * 24) * 2
    monkeypatch.setattr(memory, "available_memory", lambda: budget)
    line = _one_bad_among_good(run_cli, tmp_path, tmp_path / "in" / "z.png")
    assert "200x150" in line and "of memory" in line and "--size" in line


def test_out_of_memory_while_decoding_names_the_file(run_cli, tmp_path: Path, monkeypatch) -> None:
    from unpaired.data import images

    make_images(tmp_path / "in", 3, size=(24, 24))
    real = images._decode

    def decode(img):
        if img.size == (24, 24) and getattr(img, "filename", "") == "":
            state["n"] += 1
            if state["n"] == 3:
                raise MemoryError("Unable to allocate 10.9 GiB for an array")
        return real(img)

    state = {"n": 0}
    monkeypatch.setattr(images, "_decode", decode)
    model = make_model(tmp_path / "model")
    result = run_cli("translate", model, "-i", tmp_path / "in", "-o", tmp_path / "out")
    assert result.code == 1
    errors = _errors(result)
    assert len(errors) == 2 and "img 002.png" in errors[0] and "out of memory" in errors[0]
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_out_of_memory_while_translating_names_the_file(
    run_cli, tmp_path: Path, monkeypatch
) -> None:
    from unpaired.translate import Translator

    make_images(tmp_path / "in", 2, size=(24, 24))
    make_images(tmp_path / "big", 1, size=(32, 28))
    shutil.move(tmp_path / "big" / "img 000.png", tmp_path / "in" / "z.png")
    real = Translator.translate_unit

    def translate_unit(self, x, *args, **kwargs):
        if x.shape[-1] == 32:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB")
        return real(self, x, *args, **kwargs)

    monkeypatch.setattr(Translator, "translate_unit", translate_unit)
    line = _one_bad_among_good(run_cli, tmp_path, tmp_path / "in" / "z.png")
    assert "out of memory" in line


def test_augment_names_a_mask_in_another_format(run_cli, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    make_images(tmp_path / "images", 1, size=(24, 24))
    (tmp_path / "masks").mkdir()
    Image.new("L", (24, 24), 1).save(tmp_path / "masks" / "img 000.png", format="TGA")
    before = snapshot(tmp_path)
    result = run_cli(
        "augment", model, "--images", tmp_path / "images", "--masks", tmp_path / "masks",
        "-o", tmp_path / "aug",
    )  # fmt: skip
    assert result.code == 2
    result.one_error_line("mask", "img 000.png", "format TGA")
    assert_unchanged(tmp_path, before)


class _no_bomb_warning:
    """Fails if Pillow's anonymous DecompressionBombWarning escapes."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self._seen = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        bombs = [w for w in self._seen if issubclass(w.category, Image.DecompressionBombWarning)]
        assert not bombs
        return False
