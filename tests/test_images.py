"""Tests for unpaired.data.images: reading every Pillow mode, EXIF, errors, listing, writing."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unpaired.data.images import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    _decode,
    image_size,
    is_16bit,
    list_images,
    read_image,
    write_image,
)

ORIENTATION = 0x0112


def _value(t: torch.Tensor) -> list[float]:
    """Channel values of the top-left pixel."""
    return [float(v) for v in t[:, 0, 0]]


# --------------------------------------------------------------------------- modes


def test_extensions_are_lowercase_with_dot():
    assert {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"} == IMAGE_EXTENSIONS


def test_mode_1_bilevel(tmp_path: Path):
    img = Image.new("1", (4, 3), 0)
    img.putpixel((1, 0), 1)
    img.save(tmp_path / "b.png")
    t = read_image(tmp_path / "b.png", 1)
    assert t.shape == (1, 3, 4) and t.dtype == torch.float32
    assert t[0, 0, 0] == 0.0 and t[0, 0, 1] == 1.0


def test_mode_l_gray(tmp_path: Path):
    Image.new("L", (5, 2), 77).save(tmp_path / "g.png")
    t = read_image(tmp_path / "g.png", 1)
    assert t.shape == (1, 2, 5)
    assert torch.allclose(t, torch.full_like(t, 77 / 255), atol=1e-7)


def test_gray_to_three_channels_repeats(tmp_path: Path):
    Image.new("L", (5, 2), 77).save(tmp_path / "g.png")
    t = read_image(tmp_path / "g.png", 3)
    assert t.shape == (3, 2, 5)
    assert torch.equal(t[0], t[1]) and torch.equal(t[1], t[2])
    assert t[0, 0, 0].item() == pytest.approx(77 / 255, abs=1e-7)


def test_mode_la_composites_on_white(tmp_path: Path):
    img = Image.new("LA", (2, 1))
    img.putpixel((0, 0), (0, 0))  # black, fully transparent -> white
    img.putpixel((1, 0), (0, 255))  # black, opaque -> black
    img.save(tmp_path / "la.png")
    t = read_image(tmp_path / "la.png", 1)
    assert t.shape == (1, 1, 2)
    assert t[0, 0, 0].item() == pytest.approx(1.0)
    assert t[0, 0, 1].item() == pytest.approx(0.0)


def test_mode_rgb_exact(tmp_path: Path):
    Image.new("RGB", (3, 2), (10, 128, 250)).save(tmp_path / "c.png")
    t = read_image(tmp_path / "c.png", 3)
    assert t.shape == (3, 2, 3)
    assert _value(t) == pytest.approx([10 / 255, 128 / 255, 250 / 255], abs=1e-7)


def test_rgb_to_one_channel_uses_601_weights(tmp_path: Path):
    Image.new("RGB", (3, 2), (200, 40, 90)).save(tmp_path / "c.png")
    t = read_image(tmp_path / "c.png", 1)
    assert t.shape == (1, 2, 3)
    expected = (0.299 * 200 + 0.587 * 40 + 0.114 * 90) / 255
    assert t[0, 0, 0].item() == pytest.approx(expected, abs=1e-6)


def test_rgba_alpha_zero_is_white_and_partial_alpha_blends(tmp_path: Path):
    img = Image.new("RGBA", (2, 1))
    img.putpixel((0, 0), (255, 0, 0, 0))
    img.putpixel((1, 0), (0, 0, 0, 51))  # 20% black over white
    img.save(tmp_path / "a.png")
    t = read_image(tmp_path / "a.png", 3)
    assert t.shape == (3, 1, 2)
    assert t[:, 0, 0].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert t[:, 0, 1].tolist() == pytest.approx([0.8, 0.8, 0.8], abs=1e-6)


def test_palette_without_transparency(tmp_path: Path):
    img = Image.new("P", (2, 2), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    img.putpixel((1, 1), 1)
    img.save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    t = read_image(tmp_path / "p.png", 3)
    assert t[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert t[:, 1, 1].tolist() == [0.0, 0.0, 1.0]


def test_palette_with_transparency(tmp_path: Path):
    img = Image.new("P", (2, 2), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    img.putpixel((1, 1), 1)
    img.info["transparency"] = 0  # index 0 (red) is transparent
    img.save(tmp_path / "pt.png", transparency=0)
    reopened = Image.open(tmp_path / "pt.png")
    assert reopened.mode == "P" and "transparency" in reopened.info
    t = read_image(tmp_path / "pt.png", 3)
    assert t[:, 0, 0].tolist() == [1.0, 1.0, 1.0]  # transparent red -> white
    assert t[:, 1, 1].tolist() == [0.0, 0.0, 1.0]


def test_cmyk(tmp_path: Path):
    Image.new("CMYK", (3, 3), (0, 255, 0, 0)).save(tmp_path / "k.tif")
    assert Image.open(tmp_path / "k.tif").mode == "CMYK"
    t = read_image(tmp_path / "k.tif", 3)
    assert t.shape == (3, 3, 3)
    assert _value(t) == [1.0, 0.0, 1.0]  # magenta


def test_cmyk_jpeg(tmp_path: Path):
    Image.new("CMYK", (8, 8), (0, 255, 0, 0)).save(tmp_path / "k.jpg", quality=100)
    assert Image.open(tmp_path / "k.jpg").mode == "CMYK"
    t = read_image(tmp_path / "k.jpg", 3)
    assert _value(t) == pytest.approx([1.0, 0.0, 1.0], abs=0.03)


def test_ycbcr(tmp_path: Path):
    # Our conversion of a YCbCr image, then a YCbCr TIFF from disk. (Pillow 12.3's wheels
    # write uncompressed YCbCr TIFFs they cannot read back, and hand LZW ones over as RGB:
    # the file must read as the gray it is either way.)
    color, alpha = _decode(Image.new("YCbCr", (3, 2), (100, 128, 128)))
    assert alpha is None and color[0, 0] == pytest.approx([100 / 255] * 3, abs=1 / 255 + 1e-6)
    Image.new("YCbCr", (3, 2), (100, 128, 128)).save(tmp_path / "y.tif", compression="tiff_lzw")
    t = read_image(tmp_path / "y.tif", 3)
    assert _value(t) == pytest.approx([100 / 255] * 3, abs=1 / 255 + 1e-6)


def test_16bit_png_keeps_full_precision(tmp_path: Path):
    data = np.array([[1000, 0, 65535]], dtype=np.uint16)
    Image.fromarray(data).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I;16")
    assert is_16bit(tmp_path / "d.png")
    t = read_image(tmp_path / "d.png", 1)
    assert t.shape == (1, 1, 3)
    v = t[0, 0, 0].item()
    assert v == pytest.approx(1000 / 65535, abs=1e-6)
    assert abs(v - round(v * 255) / 255) > 1e-4  # not any 8-bit quantization
    assert t[0, 0, 1].item() == 0.0 and t[0, 0, 2].item() == 1.0
    # Three channels repeat the same precise value.
    t3 = read_image(tmp_path / "d.png", 3)
    assert torch.equal(t3[0], t[0]) and torch.equal(t3[2], t[0])


@pytest.mark.parametrize("rawmode", ["I;16B", "I;16L"])
def test_16bit_byte_orders_tiff(tmp_path: Path, rawmode: str):
    dtype = ">u2" if rawmode == "I;16B" else "<u2"
    data = np.array([[1000, 40000]], dtype=dtype)
    Image.frombytes(rawmode, (2, 1), data.tobytes()).save(tmp_path / "d.tif")
    t = read_image(tmp_path / "d.tif", 1)
    assert t[0, 0].tolist() == pytest.approx([1000 / 65535, 40000 / 65535], abs=1e-6)


def test_mode_i_32bit_treated_as_16bit_and_clipped(tmp_path: Path):
    data = np.array([[1000, 70000, -5]], dtype=np.int32)
    Image.fromarray(data).save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    assert is_16bit(tmp_path / "i.tif")
    t = read_image(tmp_path / "i.tif", 1)
    assert t[0, 0].tolist() == pytest.approx([1000 / 65535, 1.0, 0.0], abs=1e-6)


def test_mode_f_float_clipped(tmp_path: Path):
    data = np.array([[0.25, 1.5, -0.5]], dtype=np.float32)
    Image.fromarray(data).save(tmp_path / "f.tif")
    assert Image.open(tmp_path / "f.tif").mode == "F"
    assert not is_16bit(tmp_path / "f.tif")
    t = read_image(tmp_path / "f.tif", 3)
    assert t.shape == (3, 1, 3)
    assert t[0, 0].tolist() == pytest.approx([0.25, 1.0, 0.0])


def test_eight_bit_is_not_16bit(tmp_path: Path):
    Image.new("RGB", (2, 2)).save(tmp_path / "c.png")
    assert not is_16bit(tmp_path / "c.png")


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"])
def test_every_extension_reads(tmp_path: Path, ext: str):
    path = tmp_path / f"img{ext.upper()}"
    Image.new("RGB", (6, 4), (0, 255, 0)).save(path, format=Image.registered_extensions()[ext])
    t = read_image(path, 3)
    assert t.shape == (3, 4, 6)
    assert _value(t) == pytest.approx([0.0, 1.0, 0.0], abs=0.05)
    assert image_size(path) == (6, 4)


def test_invalid_channels(tmp_path: Path):
    Image.new("L", (2, 2)).save(tmp_path / "g.png")
    with pytest.raises(ValueError, match="channels"):
        read_image(tmp_path / "g.png", 2)


# --------------------------------------------------------------------------- EXIF


def _left_red_right_blue(width: int, height: int) -> Image.Image:
    img = Image.new("RGB", (width, height), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, width // 2, height))
    return img


def test_exif_orientation_6_jpeg(tmp_path: Path):
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = tmp_path / "rot.jpg"
    _left_red_right_blue(48, 16).save(path, exif=exif, quality=95)
    assert Image.open(path).size == (48, 16)
    assert image_size(path) == (16, 48)  # (width, height) as displayed
    t = read_image(path, 3)
    assert t.shape == (3, 48, 16)
    # Orientation 6 = rotate 90 degrees clockwise for display: the left (red) half goes on top.
    assert t[:, 4, 8].tolist() == pytest.approx([1.0, 0.0, 0.0], abs=0.1)
    assert t[:, 44, 8].tolist() == pytest.approx([0.0, 0.0, 1.0], abs=0.1)


def test_exif_orientation_png_header(tmp_path: Path):
    exif = Image.Exif()
    exif[ORIENTATION] = 8
    path = tmp_path / "rot.png"
    _left_red_right_blue(10, 4).save(path, exif=exif)
    assert image_size(path) == (4, 10)
    assert read_image(path, 3).shape == (3, 10, 4)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def test_exif_orientation_png_chunk_after_image_data(tmp_path: Path):
    path = tmp_path / "late.png"
    _left_red_right_blue(10, 4).save(path)
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    raw = path.read_bytes()
    iend = raw.rindex(b"IEND") - 4
    path.write_bytes(raw[:iend] + _png_chunk(b"eXIf", exif.tobytes()) + raw[iend:])
    assert image_size(path) == (4, 10)
    t = read_image(path, 3)
    assert t.shape == (3, 10, 4)
    assert t[:, 0, 0].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff_orientation_applied_once(tmp_path: Path, compression: str | None, dtype):
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = tmp_path / "o.tif"
    data = np.arange(10, dtype=dtype).reshape(2, 5)  # 5 wide, 2 high as stored
    Image.fromarray(data).save(path, exif=exif, compression=compression)
    assert image_size(path) == (2, 5)
    t = read_image(path, 1)
    assert t.shape == (1, 5, 2)
    scale = 255 if dtype == np.uint8 else 65535
    # Rotated 90 degrees clockwise: the stored first column (0, 5) becomes the top row (5, 0).
    expected = np.rot90(data, k=-1).astype(np.float64) / scale
    assert np.allclose(t[0].numpy(), expected, atol=1e-6)


# --------------------------------------------------------------------------- errors & names


def test_file_name_with_spaces(tmp_path: Path):
    path = tmp_path / "my photos" / "a cat picture (1).png"
    path.parent.mkdir()
    Image.new("RGB", (3, 5), (1, 2, 3)).save(path)
    assert list_images(tmp_path) == [path]
    assert read_image(path, 3).shape == (3, 5, 3)
    assert image_size(str(path)) == (3, 5)


def _check_error(excinfo: pytest.ExceptionInfo[ImageReadError], path: Path) -> None:
    message = str(excinfo.value)
    assert message.startswith(f"cannot read image '{path}': ")
    assert "\n" not in message
    assert excinfo.value.path == path
    assert isinstance(excinfo.value, ValueError)


def test_truncated_png_raises(tmp_path: Path):
    rng = np.random.default_rng(0)
    good = tmp_path / "good.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    path = tmp_path / "trunc ated.png"
    path.write_bytes(good.read_bytes()[:-2000])
    # The header is intact, so the size can still be read without decoding...
    assert image_size(path) == (64, 64)
    # ...but reading the pixels fails right away.
    with pytest.raises(ImageReadError) as excinfo:
        read_image(path, 3)
    _check_error(excinfo, path)


def test_truncated_header_raises(tmp_path: Path):
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8)).save(good)
    path = tmp_path / "head.png"
    path.write_bytes(good.read_bytes()[:12])
    for fn in (image_size, lambda p: read_image(p, 3)):
        with pytest.raises(ImageReadError) as excinfo:
            fn(path)
        _check_error(excinfo, path)


def test_text_file_with_png_extension_raises(tmp_path: Path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    for fn in (image_size, is_16bit, lambda p: read_image(p, 1)):
        with pytest.raises(ImageReadError) as excinfo:
            fn(path)
        _check_error(excinfo, path)


def test_empty_file_raises(tmp_path: Path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    for fn in (image_size, lambda p: read_image(p, 3)):
        with pytest.raises(ImageReadError, match="empty") as excinfo:
            fn(path)
        _check_error(excinfo, path)


def test_missing_file_raises_file_not_found(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png", 3)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        image_size(tmp_path / "nope.png")


# --------------------------------------------------------------------------- list_images


def _touch_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")  # list_images only looks at names
    return path


def test_list_images_recursive_sorted_filtered(tmp_path: Path):
    root = tmp_path / "trainA"
    names = [
        "b.png",
        "a.JPG",
        "c.jpeg",
        "sub/z.webp",
        "sub/deeper/y.TIFF",
        "sub-2/x.bmp",
        "d.tif",
        "readme.txt",
        "e.gif",
        "noext",
        ".hidden.png",
        "._a.jpg",
        ".cache/inside.png",
        "sub/.thumbs/t.png",
    ]
    for name in names:
        _touch_image(root / name)
    (root / "dir.png").mkdir()  # a directory with an image-like name is not a file
    found = list_images(root)
    rel = [p.relative_to(root).as_posix() for p in found]
    assert rel == [
        "a.JPG",
        "b.png",
        "c.jpeg",
        "d.tif",
        "sub/deeper/y.TIFF",
        "sub/z.webp",
        "sub-2/x.bmp",
    ]
    assert all(p.parent == root or root in p.parents for p in found)
    assert list_images(str(root)) == found  # str accepted, order stable


def test_list_images_follows_links_but_not_cycles(tmp_path: Path):
    root = tmp_path / "data"
    _touch_image(root / "sub" / "a.png")
    other = _touch_image(tmp_path / "elsewhere" / "b.png").parent
    try:
        (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
        (root / "linked").symlink_to(other, target_is_directory=True)
        (root / "dangling.png").symlink_to(tmp_path / "missing.png")
    except OSError:
        pytest.skip("symlinks not supported here")
    rel = [p.relative_to(root).as_posix() for p in list_images(root)]
    assert rel == ["linked/b.png", "sub/a.png"]


def test_list_images_empty_folder(tmp_path: Path):
    assert list_images(tmp_path) == []


def test_list_images_missing_or_not_a_dir(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="missing") as excinfo:
        list_images(tmp_path / "missing")
    assert "\n" not in str(excinfo.value)
    file = _touch_image(tmp_path / "file.png")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        list_images(file)


# --------------------------------------------------------------------------- write_image


def test_write_read_round_trip_8bit_rgb(tmp_path: Path):
    codes = torch.randint(0, 256, (3, 5, 7), generator=torch.Generator().manual_seed(0))
    image = codes.float() / 255
    path = tmp_path / "out" / "nested" / "rgb.png"  # parent dirs are created
    write_image(image, path)
    back = read_image(path, 3)
    assert torch.allclose(back, image, atol=1e-7)


def test_write_read_round_trip_8bit_gray(tmp_path: Path):
    image = torch.linspace(0, 1, 12).reshape(1, 3, 4)
    write_image(image, tmp_path / "g.bmp")
    back = read_image(tmp_path / "g.bmp", 1)
    assert torch.allclose(back, torch.round(image * 255) / 255, atol=1e-7)


def test_write_rounds_and_clamps(tmp_path: Path):
    image = torch.tensor([100.6 / 255, 100.4 / 255, 1.7, -0.3, float("nan")]).reshape(1, 1, 5)
    write_image(image, tmp_path / "r.png")
    codes = np.asarray(Image.open(tmp_path / "r.png"))
    assert codes.tolist() == [[101, 100, 255, 0, 0]]


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_write_read_round_trip_16bit(tmp_path: Path, ext: str):
    image = torch.tensor([1000 / 65535, 0.0, 1.0, 0.123456789]).reshape(1, 2, 2)
    path = tmp_path / f"d{ext}"
    write_image(image, path, bits=16)
    assert Image.open(path).mode.startswith("I;16")
    assert is_16bit(path)
    back = read_image(path, 1)
    assert torch.allclose(back, image, atol=0.5 / 65535 + 1e-7)
    assert back[0, 0, 0].item() == pytest.approx(1000 / 65535, abs=1e-6)


def test_write_jpeg_and_webp(tmp_path: Path):
    image = torch.full((3, 8, 8), 0.5)
    for name in ("a.jpg", "b.webp", "c.TIFF"):
        write_image(image, tmp_path / name)
        assert read_image(tmp_path / name, 3).sub(0.5).abs().max() < 0.02


def test_write_16bit_rgb_is_rejected(tmp_path: Path):
    with pytest.raises(ValueError, match="16-bit output is only supported for 1-channel"):
        write_image(torch.zeros(3, 2, 2), tmp_path / "x.png", bits=16)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("image", "name", "bits", "match"),
    [
        (torch.zeros(2, 2), "x.png", 8, r"\(C, H, W\)"),
        (torch.zeros(2, 2, 2), "x.png", 8, "1 or 3 channels"),
        (torch.zeros(3, 2, 2, dtype=torch.uint8), "x.png", 8, "float"),
        (torch.zeros(1, 2, 2), "x.gif", 8, "extension"),
        (torch.zeros(1, 2, 2), "x.jpg", 16, "png"),
        (torch.zeros(1, 2, 2), "x.png", 12, "bits"),
    ],
)
def test_write_invalid_arguments(tmp_path: Path, image, name, bits, match):
    with pytest.raises(ValueError, match=match):
        write_image(image, tmp_path / name, bits=bits)
