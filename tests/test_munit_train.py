"""MUNIT through the whole tool: train (run folder, exact resume), translate with styles,
evaluate (diversity), export (ONNX / pt2 parity), model folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unpaired import Translator, cli, load_pretrained
from unpaired import config as cfg
from unpaired.metrics.diversity import pairwise_diversity
from unpaired.models.munit import MUNIT
from unpaired.training import checkpoint

from conftest import make_images, make_model, records

# A MUNIT small enough for milliseconds per step; 2 discriminator layers allow 32 x 32.
MUNIT_TINY = ["--model", "munit", "--image-size", "32", "--load-size", "36"]
MUNIT_TINY += ["--num-workers", "0", "--progress", "lines", "--set", "data.num_samples=2"]
for _option in ("dim=4", "style_dim=2", "n_res=1", "mlp_dim=8", "n_layer_d=2"):
    MUNIT_TINY += ["--set", f"munit.{_option}"]
LOSS_KEYS = {"D_A", "D_B", "G_adv_A", "G_adv_B", "G_total"}
LOSS_KEYS |= {f"recon_{t}_{d}" for t in "xsc" for d in "AB"}


def train(*args: str) -> int:
    return cli.main(["train", *args])


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("munit") / "data"
    make_images(root / "trainA", 5, seed=1)
    make_images(root / "trainB", 7, seed=2)  # 7 steps per epoch
    make_images(root / "testA", 3, seed=3)
    make_images(root / "testB", 3, size=(36, 40), seed=4)
    return root


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("munit-runs")
    argv = [str(data), "--runs-dir", str(runs), "--max-steps", "2", *MUNIT_TINY]
    assert train(*argv, "--log-every", "1", "--sample-every", "1") == 0
    return runs / "data"


def test_two_steps_write_the_run_folder(run: Path) -> None:
    saved = cfg.load_yaml(run / "config.yaml")
    assert saved["model"] == "munit" and saved["munit"]["dim"] == 4
    got = records(run)
    assert [r["step"] for r in got] == [1, 2]
    assert set(got[0]) == {"step", "epoch", "lr"} | LOSS_KEYS
    assert (run / "samples" / "step_000002.png").is_file()
    grid = Image.open(run / "samples" / "step_000002.png")
    assert grid.width > 2 * grid.height  # 2 rows of 1 + 4 styles per direction
    assert (run / "report.html").is_file()
    model, info = load_pretrained(run)
    assert isinstance(model, MUNIT) and model.dis_a is None
    assert info["model"] == "munit" and info["style_dim"] == 2 and info["step"] == 2
    state = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert set(state["models"]) == {"gen_a", "gen_b", "dis_a", "dis_b"} and state["pools"] == {}


def test_resume_continues_exactly(data: Path, tmp_path: Path) -> None:
    opts = [*MUNIT_TINY, "--log-every", "1", "--epochs", "1", "--epochs-decay", "1"]
    opts += ["--set", "munit.lr_step=4"]  # the per-iteration step decay lands inside each part
    full = tmp_path / "full"
    assert train(str(data), "--runs-dir", str(full), "--max-steps", "9", *opts) == 0
    reference = records(full / "data")
    assert len(reference) == 9 and reference[-1]["lr"] == pytest.approx(1e-4 * 0.25)
    parts = tmp_path / "parts"
    assert train(str(data), "--runs-dir", str(parts), "--max-steps", "3", *opts) == 0
    assert train("--resume", str(parts / "data"), "--max-steps", "9") == 0
    assert records(parts / "data") == reference
    state_a = checkpoint.load_checkpoint(full / "data" / "checkpoints" / "latest.pt")
    state_b = checkpoint.load_checkpoint(parts / "data" / "checkpoints" / "latest.pt")
    for name, weights in state_a["models"].items():
        for key, value in weights.items():
            assert torch.equal(value, state_b["models"][name][key]), (name, key)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--image-size", "24", "--set", "munit.n_layer_d=4"], "option data.image_size: model"),
        (["--set", "munit.gan_mode=wgangp"], "option munit.gan_mode"),
        (["--model", "pix2pix"], "option model: unknown value 'pix2pix'"),
    ],
)
def test_bad_options_are_one_line(data: Path, tmp_path: Path, capsys, extra, needle) -> None:
    argv = [str(data), "--runs-dir", str(tmp_path / "r"), *MUNIT_TINY, *extra]
    assert train(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and not (tmp_path / "r").exists()


def test_model_cannot_change_on_resume(run: Path, capsys) -> None:
    assert train("--resume", str(run), "--model", "cyclegan") == 2
    assert "option model: cannot change when resuming" in capsys.readouterr().err


def test_two_ranks_under_torchrun_stay_identical(data: Path, tmp_path: Path) -> None:
    from test_distributed import latest, torchrun

    args = ["--runs-dir", str(tmp_path), "--max-steps", "3", "--log-every", "1", *MUNIT_TINY]
    done = torchrun(str(data), *args)
    assert done.returncode == 0, done.stderr[-3000:]
    state = latest(tmp_path / "data")
    assert state["world_size"] == 2 and state["position"]["step"] == 3
    assert state["weights_sha256"] == state["other_ranks"][0]["weights_sha256"]
    assert [r["step"] for r in records(tmp_path / "data")] == [1, 2, 3]


# --- translate -------------------------------------------------------------------------------
def translate(*args: str) -> int:
    return cli.main(["translate", *args])


def test_translate_styles_are_seeded(run: Path, data: Path, tmp_path: Path) -> None:
    inputs = str(data / "testA")
    assert translate(str(run), "-i", inputs, "-o", str(tmp_path / "s1"), "--styles", "3",
                     "--seed", "7") == 0  # fmt: skip
    assert translate(str(run), "-i", inputs, "-o", str(tmp_path / "s2"), "--styles", "3",
                     "--seed", "7") == 0  # fmt: skip
    names = sorted(p.name for p in (tmp_path / "s1").iterdir())
    assert len(names) == 9 and names[:3] == [f"img 000_style{k}.png" for k in range(3)]
    outs = [np.asarray(Image.open(tmp_path / "s1" / n)) for n in names[:3]]
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])
    for name in names:
        assert (tmp_path / "s1" / name).read_bytes() == (tmp_path / "s2" / name).read_bytes()
    # Existing outputs are never overwritten silently.
    assert translate(str(run), "-i", inputs, "-o", str(tmp_path / "s1"), "--styles", "3") == 2


def test_translate_style_image(run: Path, data: Path, tmp_path: Path, capsys) -> None:
    reference = str(data / "testB" / "img 000.png")
    out = tmp_path / "ref"
    argv = [str(run), "-i", str(data / "testA"), "-o", str(out), "--style-image", reference]
    assert translate(*argv) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"img {i:03d}.png" for i in range(3)]
    assert Image.open(out / "img 000.png").size == (40, 40)
    assert translate(*argv, "--seed", "1", "--overwrite") == 2
    assert "--style-image: give it alone" in capsys.readouterr().err


def test_style_options_on_a_cyclegan_model_are_one_line(tmp_path: Path, capsys) -> None:
    model = make_model(tmp_path / "cg")
    make_images(tmp_path / "in", 1)
    argv = [str(model), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--styles", "2"]
    assert translate(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert (
        "--styles: only models with a style input have styles; this one is cyclegan" in err
        and len(err.splitlines()) == 1
    )


def test_python_api_styles(run: Path, data: Path) -> None:
    translator = Translator.load(run)
    assert list(translator.inputs) == ["style"]
    image = Image.open(data / "testA" / "img 000.png")
    styles = translator.random_styles(2, seed=0)
    first, second = (np.asarray(translator(image, style=s)) for s in styles)
    assert first.shape == (40, 40, 3) and not np.array_equal(first, second)
    again = np.asarray(translator(image, style=styles[0].flatten()))  # (style_dim,)
    assert np.array_equal(first, again)
    x = torch.rand(2, 3, 36, 44) * 2 - 1
    y = translator(x, style=styles)  # (N, style_dim, 1, 1)
    assert y.shape == (2, 3, 36, 44) and y.abs().max() <= 1
    assert torch.allclose(y[0], translator(x[:1], style=styles[:1])[0], atol=1e-5)
    reference = Image.open(data / "testB" / "img 000.png")
    by_image = translator(image, style=reference)
    ref = torch.from_numpy(np.array(reference)).permute(2, 0, 1)[None].float() / 127.5 - 1
    code = translator.style_of(ref)
    assert np.array_equal(np.asarray(by_image), np.asarray(translator(image, style=code)))
    assert translator(x, "b2a").shape == (2, 3, 36, 44)  # None: a random style
    with pytest.raises(ValueError, match="style: 3 styles for 2 images"):
        translator(x, style=torch.zeros(3, 2, 1, 1))


# --- evaluate, export --------------------------------------------------------------------------
def test_evaluate_reports_diversity(run: Path, capsys) -> None:
    assert cli.main(["evaluate", str(run), "--features", "tiny"]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[:1] == ["diversity"] for line in out.splitlines())
    record = json.loads((run / "eval" / "step_000002.json").read_text())
    assert {"fid_a2b", "kid_b2a", "diversity_a2b", "diversity_b2a"} <= set(record["metrics"])
    assert record["metrics"]["diversity_a2b"] > 0


def test_diversity_of_known_features() -> None:
    features = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]], dtype=torch.float64)
    assert pairwise_diversity(features) == pytest.approx((5 + 0 + 5) / 3)
    assert pairwise_diversity(torch.ones(4, 3, 5)) == 0


def test_diversity_needs_styles(tmp_path: Path, capsys) -> None:
    model = make_model(tmp_path / "cg")
    make_images(tmp_path / "d" / "testA", 2, size=(32, 32))
    make_images(tmp_path / "d" / "testB", 2, size=(32, 32), seed=1)
    argv = ["evaluate", str(model), str(tmp_path / "d"), "--features", "tiny"]
    assert cli.main([*argv, "--metrics", "diversity"]) == 2
    assert "needs a model with styles" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_export_takes_the_style_as_an_input(run: Path, tmp_path: Path, fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    path = tmp_path / f"a2b.{fmt}"
    assert cli.main(["export", str(run), "--format", fmt, "-o", str(path)]) == 0
    net = Translator.load(run).generator("a2b")
    generator = torch.Generator().manual_seed(1)
    for batch, height, width in [(1, 32, 32), (3, 40, 56)]:
        x = torch.rand(batch, 3, height, width, generator=generator) * 2 - 1
        s = torch.randn(batch, 2, 1, 1, generator=generator)
        with torch.no_grad():
            expected = net(x, s)
        if fmt == "onnx":
            from unpaired.export.onnx import onnx_session, run_onnx

            got = torch.from_numpy(run_onnx(onnx_session(path), x.numpy(), style=s.numpy()))
        else:
            got = torch.export.load(path).module()(x, s)
        assert got.shape == (batch, 3, height, width)
        assert (got - expected).abs().max() < 1e-4


# --- one pipeline: volumes, augment, tiles ----------------------------------------------------
def test_volumes_and_batches_with_styles(run: Path, tmp_path: Path) -> None:
    """A .npy volume goes slice by slice through a MUNIT model, once per style, in its own
    format; 16-bit gray PNGs and batches work as for any model."""
    volumes = tmp_path / "vol"
    volumes.mkdir()
    rng = np.random.default_rng(0)
    np.save(volumes / "ct.npy", rng.uniform(-200, 300, (3, 32, 40)).astype(np.float32))
    out = tmp_path / "vout"
    argv = [str(run), "-i", str(volumes), "-o", str(out), "--styles", "2", "--batch-size", "2"]
    assert translate(*argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ct_style0.npy", "ct_style1.npy"]
    first, second = (np.load(out / f"ct_style{k}.npy") for k in range(2))
    assert first.shape == (3, 32, 40) and first.dtype == np.float32
    assert not np.array_equal(first, second)


def test_augment_with_styles_copies_a_mask_per_output(run: Path, tmp_path: Path) -> None:
    images, masks = tmp_path / "lab" / "images", tmp_path / "lab" / "masks"
    make_images(images, 2, seed=5)
    masks.mkdir(parents=True)
    for path in sorted(images.iterdir()):
        Image.new("L", Image.open(path).size, 1).save(masks / path.name)
    out = tmp_path / "aug"
    argv = ["augment", str(run), "--images", str(images), "--masks", str(masks)]
    assert cli.main([*argv, "-o", str(out), "--styles", "2", "--progress", "lines"]) == 0
    written = sorted(p.name for p in (out / "images").iterdir())
    assert written == sorted(p.name for p in (out / "masks").iterdir())
    assert len(written) == 4 and all("_style" in name for name in written)
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(r["variant"] for r in lines) == ["style0", "style0", "style1", "style1"]
    for record in lines:
        mask_bytes = (out / record["mask"]).read_bytes()
        assert mask_bytes == Path(record["mask_source"]).read_bytes()


def test_tiles_share_one_style(run: Path) -> None:
    """A tiled MUNIT translation uses one style for the whole image: the same as translating
    each tile with that style, and closer to the untiled output than another style is."""
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0)) * 2 - 1
    whole = Translator.load(run, tile=0)
    tiled = Translator.load(run, tile=48, overlap=8)
    s, other = whole.random_styles(2, seed=3).split(1)
    assert tiled.uses_tiles(64, 96)
    y_tiled = tiled.translate(x, style=s)
    y_whole = whole.translate(x, style=s)
    y_other = whole.translate(x, style=other)
    assert y_tiled.shape == (1, 3, 64, 96)
    seam_gap = (y_tiled - y_whole).abs().mean()
    style_gap = (y_other - y_whole).abs().mean()
    assert seam_gap < style_gap
    # None draws one random style per image, not one per tile: the translator's first draw.
    first_draw = Translator.load(run, tile=48, overlap=8).random_styles(1)
    fresh = Translator.load(run, tile=48, overlap=8)
    assert torch.equal(fresh.translate(x), tiled.translate(x, style=first_draw))
