"""CUT and FastCUT: networks parameter for parameter, PatchNCE by hand, the step, and the whole
tool (train, exact resume, samples, one-direction model folders, translate, evaluate, export,
torchrun)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unpaired import Translator, cli, load_pretrained
from unpaired import config as cfg
from unpaired.losses import patch_nce_loss
from unpaired.models.cut import (
    CUT,
    BlurDownsample,
    BlurUpsample,
    CUTDiscriminator,
    CUTGenerator,
    PatchSampleF,
    binomial_filter,
    build_cut,
)
from unpaired.recipes.cut import CUTConfig, FastCUTConfig, cut_step
from unpaired.recipes.cut.__init__ import _optimizers
from unpaired.recipes.steps import GradScalers, StepOptions
from unpaired.training import checkpoint

from conftest import make_images, records


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# --- networks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("antialias", [True, False])
def test_parameter_counts_match_the_reference(antialias: bool) -> None:
    g = CUTGenerator(3, 3, antialias=antialias)
    assert count(g) == 11_378_179
    assert count(CUTDiscriminator(3, antialias=antialias)) == 2_764_737
    assert count(PatchSampleF(g.feature_channels((0, 4, 8, 12, 16)))) == 560_384


def test_feature_layers_of_the_generator() -> None:
    g = CUTGenerator(3, 3)
    assert g.feature_channels((0, 4, 8, 12, 16)) == [3, 128, 256, 256, 256]
    x = torch.rand(2, 3, 32, 40) * 2 - 1
    with torch.no_grad():
        feats = g(x, (0, 4, 8, 12, 16))
    assert [tuple(f.shape) for f in feats] == [
        (2, 3, 38, 46),  # the reflection-padded input
        (2, 128, 32, 40),  # stride-1 conv before the first blur-pool
        (2, 256, 16, 20),
        (2, 256, 8, 10),
        (2, 256, 8, 10),
    ]
    assert g(x).shape == (2, 3, 32, 40)
    with pytest.raises(ValueError, match="NCE layers"):
        g.feature_channels((0, 99))


def test_blur_filters_are_fixed_buffers() -> None:
    assert torch.equal(binomial_filter(3) * 16, torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]))
    assert torch.equal(binomial_filter(4)[0] * 64, torch.tensor([1.0, 3, 3, 1]))
    down, up = BlurDownsample(2), BlurUpsample(2)
    assert list(down.parameters()) == [] and list(up.parameters()) == []
    constant = torch.full((1, 2, 6, 10), 0.25)
    assert torch.allclose(down(constant), torch.full((1, 2, 3, 5), 0.25))
    assert torch.allclose(up(constant), torch.full((1, 2, 12, 20), 0.25))
    # An impulse is spread by [1, 2, 1] / 4 in each direction.
    impulse = torch.zeros(1, 1, 5, 5)
    impulse[0, 0, 2, 2] = 16.0
    assert torch.equal(BlurDownsample(1)(impulse)[0, 0, 1, 1], torch.tensor(4.0))


def test_heads_sample_the_same_places() -> None:
    torch.manual_seed(0)
    heads = PatchSampleF([4, 8], nc=16)
    feats = [torch.rand(2, 4, 6, 6), torch.rand(2, 8, 3, 3)]
    out, ids = heads(feats, num_patches=5)
    assert [tuple(o.shape) for o in out] == [(10, 16), (10, 16)]
    assert torch.allclose(out[0].norm(dim=1), torch.ones(10), atol=1e-5)
    again, same = heads(feats, num_patches=5, ids=ids)
    assert all(torch.equal(a, b) for a, b in zip(ids, same, strict=True))
    assert all(torch.allclose(a, b) for a, b in zip(out, again, strict=True))


# --- PatchNCE ----------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_patch_nce_by_hand(temperature: float) -> None:
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # logits of patch 0: [q0.k0, -10 (itself among the negatives), q0.k1] / T
    expected = math.log(math.exp(1 / temperature) + math.exp(-10 / temperature) + 1) - (
        1 / temperature
    )
    loss = patch_nce_loss(q, q.clone(), batch_size=1, temperature=temperature)
    assert loss.shape == (2,)
    assert torch.allclose(loss, torch.full((2,), expected, dtype=torch.float32), atol=1e-6)


def test_patch_nce_negatives_from_the_same_image_or_the_batch() -> None:
    torch.manual_seed(1)
    q = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
    k = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
    own = patch_nce_loss(q, k, batch_size=2)  # 2 images x 3 patches: 2 negatives each
    batch = patch_nce_loss(q, k, batch_size=2, negatives_from_minibatch=True)  # 5 each
    assert own.shape == batch.shape == (6,)
    assert (batch > own).all()  # more negatives, never an easier task
    # No gradient reaches the keys.
    q.requires_grad_(True)
    k.requires_grad_(True)
    patch_nce_loss(q, k, batch_size=2).sum().backward()
    assert q.grad is not None and k.grad is None


# --- one step ----------------------------------------------------------------------------------
def tiny_bundle(config: CUTConfig) -> CUT:
    torch.manual_seed(0)
    layers = tuple(int(i) for i in config.nce_layers.split(","))
    return build_cut(3, 3, 6, 4, 4, 3, nce_layers=layers, nce_nc=8)


def one_step(config: CUTConfig, options: StepOptions | None = None) -> dict:
    model = tiny_bundle(config)
    train_config = cfg.build_config({"model": "cut", "cut": {"ngf": 4, "ndf": 4}})
    opts = _optimizers(model, train_config)
    batch = {k: torch.rand(2, 3, 32, 32) * 2 - 1 for k in "AB"}
    options = options or StepOptions()
    scalers = GradScalers(torch.amp.GradScaler("cpu"), torch.amp.GradScaler("cpu"))
    return cut_step(
        model,
        opts.opt_g,
        opts.opt_d,
        batch,
        config,
        options,
        scalers if options.precision == "fp16" else None,
    )


def test_cut_step_losses() -> None:
    out = one_step(CUTConfig(num_patches=16))
    assert set(out) == {"D", "G_GAN", "NCE", "NCE_Y", "G_total"}
    assert all(v.dim() == 0 and torch.isfinite(v) and not v.requires_grad for v in out.values())
    assert torch.allclose(out["G_total"], out["G_GAN"] + (out["NCE"] + out["NCE_Y"]) / 2)


def test_fastcut_step_has_no_identity_term() -> None:
    out = one_step(FastCUTConfig(num_patches=16))
    assert set(out) == {"D", "G_GAN", "NCE", "G_total"}
    assert torch.allclose(out["G_total"], out["G_GAN"] + out["NCE"])


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_steps_run(precision: str) -> None:
    out = one_step(CUTConfig(num_patches=16), StepOptions(precision=precision))
    assert all(torch.isfinite(v) for v in out.values())


# --- through the tool --------------------------------------------------------------------------
CUT_TINY = ["--model", "cut", "--image-size", "32", "--load-size", "36", "--num-workers", "0"]
CUT_TINY += ["--progress", "lines", "--set", "data.num_samples=2", "--log-every", "1"]
for _option in ("ngf=4", "ndf=4", "num_patches=16", "nce_nc=8", "generator=resnet_6blocks"):
    CUT_TINY += ["--set", f"cut.{_option}"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cut") / "data"
    make_images(root / "trainA", 4, seed=1)
    make_images(root / "trainB", 5, seed=2)  # 5 steps per epoch
    make_images(root / "testA", 3, seed=3)
    make_images(root / "testB", 3, seed=4)
    return root


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("cut-runs")
    argv = ["train", str(data), "--runs-dir", str(runs), "--max-steps", "2", *CUT_TINY]
    assert cli.main([*argv, "--sample-every", "1"]) == 0
    return runs / "data"


def test_run_folder_one_direction_model(run: Path) -> None:
    saved = cfg.load_yaml(run / "config.yaml")
    assert saved["model"] == "cut" and saved["cut"]["ngf"] == 4
    assert (saved["epochs"], saved["epochs_decay"]) == (200, 200)  # the reference's schedule
    got = records(run)
    assert [r["step"] for r in got] == [1, 2]
    assert set(got[0]) == {"step", "epoch", "lr", "D", "G_GAN", "NCE", "NCE_Y", "G_total"}
    grid = Image.open(run / "samples" / "step_000002.png")
    assert grid.width > grid.height  # 2 rows of real A | G(A) | real B | G(B)
    state = checkpoint.load_checkpoint(run / "checkpoints" / "latest.pt")
    assert set(state["models"]) == {"g_ab", "d_b", "h"} and state["pools"] == {}
    model, info = load_pretrained(run)
    assert isinstance(model, CUT) and model.d_b is None and model.h is None
    assert info["model"] == "cut" and info["antialias"] is True


def test_fastcut_defaults(data: Path, tmp_path: Path, capsys) -> None:
    argv = [str(data), "--runs-dir", str(tmp_path), "--dry-run"]
    argv += [a.replace("cut.", "fastcut.") for a in CUT_TINY[2:]]
    capsys.readouterr()
    assert cli.main(["train", *argv, "--model", "fastcut"]) == 0
    saved = cfg.yaml.safe_load(capsys.readouterr().out)
    assert (saved["epochs"], saved["epochs_decay"]) == (150, 50)
    fast = saved["fastcut"]
    assert (fast["lambda_nce"], fast["nce_idt"], fast["flip_equivariance"]) == (10.0, False, True)
    # The user's epochs win over the family's defaults.
    assert cli.main(["train", *argv, "--model", "fastcut", "--epochs", "3"]) == 0
    assert cfg.yaml.safe_load(capsys.readouterr().out)["epochs"] == 3


def test_resume_continues_exactly(data: Path, tmp_path: Path) -> None:
    """3 + 3 steps (across the epoch boundary, flips drawn) equal 6 uninterrupted steps."""
    base = ["train", str(data), *CUT_TINY, "--set", "cut.flip_equivariance=true"]
    base += ["--epochs", "1", "--epochs-decay", "1"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert cli.main([*base, "--runs-dir", str(full), "--max-steps", "6"]) == 0
    assert cli.main([*base, "--runs-dir", str(part), "--max-steps", "3"]) == 0
    assert cli.main(["train", "--resume", str(part / "data"), "--max-steps", "6"]) == 0
    assert records(full / "data") == records(part / "data")
    a = checkpoint.load_checkpoint(full / "data" / "checkpoints" / "latest.pt")["models"]
    b = checkpoint.load_checkpoint(part / "data" / "checkpoints" / "latest.pt")["models"]
    for name, weights in a.items():
        for key, value in weights.items():
            assert torch.equal(value, b[name][key]), (name, key)


def test_plain_sampling_trains(data: Path, tmp_path: Path) -> None:
    argv = ["train", str(data), *CUT_TINY, "--set", "cut.antialias=false", "--max-steps", "1"]
    assert cli.main([*argv, "--runs-dir", str(tmp_path)]) == 0
    model, info = load_pretrained(tmp_path / "data")
    assert info["antialias"] is False
    assert not any(isinstance(m, BlurDownsample) for m in model.g_ab.modules())


def test_translate_a2b_only(run: Path, data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert cli.main(["translate", str(run), "-i", str(data / "testA"), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"img {i:03d}.png" for i in range(3)]
    assert Image.open(out / "img 000.png").size == (40, 40)
    capsys.readouterr()
    argv = ["translate", str(run), "-i", str(data / "testB"), "-o", str(tmp_path / "b")]
    assert cli.main([*argv, "--direction", "b2a"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: direction b2a: this cut model translates a2b only"
    assert not (tmp_path / "b").exists()
    translator = Translator.load(run)
    y = translator(np.zeros((20, 28, 3), np.uint8))
    assert y.shape == (20, 28, 3)


def test_evaluate_scores_a2b(run: Path, capsys) -> None:
    assert cli.main(["evaluate", str(run), "--features", "tiny"]) == 0
    record = json.loads((run / "eval" / "step_000002.json").read_text())
    assert {"fid_a2b", "kid_a2b"} <= set(record["metrics"])
    assert not any(k.endswith("_b2a") for k in record["metrics"])


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_export_parity(run: Path, tmp_path: Path, fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    path = tmp_path / f"g.{fmt}"
    assert cli.main(["export", str(run), "--format", fmt, "-o", str(path)]) == 0
    net = Translator.load(run).generator("a2b")
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        expected = net(x)
    if fmt == "onnx":
        from unpaired.export.onnx import onnx_session, run_onnx

        got = torch.from_numpy(run_onnx(onnx_session(path), x.numpy()))
    else:
        got = torch.export.load(path).module()(x)
    assert (got - expected).abs().max() < 1e-4


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ("cut.nce_layers=8,4", "option cut.nce_layers: expected ascending"),
        ("cut.nce_layers=0,40", "option cut.nce_layers: the generator has layers 0..28"),
        ("cut.gan_mode=wgangp", "option cut.gan_mode: unknown value 'wgangp'"),
        ("cut.num_patches=0", "option cut.num_patches: must be positive"),
    ],
)
def test_bad_options_are_one_line(data: Path, tmp_path: Path, capsys, option, needle) -> None:
    argv = ["train", str(data), "--runs-dir", str(tmp_path), *CUT_TINY, "--set", option]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_two_ranks_under_torchrun_stay_identical(data: Path, tmp_path: Path) -> None:
    from test_distributed import latest, torchrun

    args = ["--runs-dir", str(tmp_path), "--max-steps", "2", *CUT_TINY]
    done = torchrun(str(data), *args)
    assert done.returncode == 0, done.stderr[-3000:]
    state = latest(tmp_path / "data")
    assert state["world_size"] == 2 and state["position"]["step"] == 2
    assert state["weights_sha256"] == state["other_ranks"][0]["weights_sha256"]


def test_volumes_and_tiles_through_the_one_pipeline(run: Path, tmp_path: Path) -> None:
    """A one-sided model goes through the same pipeline: a .npy volume slice by slice in its
    own format, and a large image in blended tiles."""
    folder = tmp_path / "in"
    folder.mkdir()
    volume = np.random.default_rng(0).uniform(-100, 200, (3, 32, 40)).astype(np.float32)
    np.save(folder / "ct.npy", volume)
    out = tmp_path / "out"
    assert cli.main(["translate", str(run), "-i", str(folder), "-o", str(out)]) == 0
    result = np.load(out / "ct.npy")
    assert result.shape == volume.shape and result.dtype == np.float32
    tiled = Translator.load(run, tile=48, overlap=8)
    x = torch.rand(1, 3, 80, 104) * 2 - 1
    assert tiled.uses_tiles(80, 104)
    y = tiled.translate(x)
    assert y.shape == (1, 3, 80, 104) and torch.isfinite(y).all()
