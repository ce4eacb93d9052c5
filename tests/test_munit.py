"""MUNIT: architecture sizes, code shapes, losses by hand, and one training step."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from unpaired import losses
from unpaired.models.munit import (
    LayerNorm2d,
    MultiScaleDiscriminator,
    MUNITGenerator,
    adaptive_instance_norm,
    build_munit,
)
from unpaired.recipes.munit import MUNITConfig, munit_step
from unpaired.recipes.munit.optim import munit_optimizers
from unpaired.recipes.steps import GradScalers, StepOptions

# Small enough that a step takes milliseconds: dim 8 -> content (N, 32, H/4, W/4).
TINY = {"dim": 8, "n_res": 1, "mlp_dim": 16, "n_layer_d": 2}
BASE_KEYS = {
    "D_A",
    "D_B",
    "G_adv_A",
    "G_adv_B",
    "recon_x_A",
    "recon_x_B",
    "recon_s_A",
    "recon_s_B",
    "recon_c_A",
    "recon_c_B",
    "G_total",
}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def images(n: int, channels: int, h: int, w: int, seed: int) -> torch.Tensor:
    return torch.rand(n, channels, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# --- architecture -------------------------------------------------------------------------------


def test_parameter_counts_match_the_reference_architecture() -> None:
    # Summed by hand from the NVlabs layer list (weights + biases; 3 channels, dim 64):
    # E^c: 9,472 + 131,200 + 524,544 + 8 res convs * 590,080 = 5,385,856
    # E^s: 9,472 + 131,200 + 524,544 + 2 * 1,048,832 + 2,056 (1x1 to 8) = 2,764,936
    # G:   4,720,640 (AdaIN res) + 819,328 + 256 (LN) + 204,864 + 128 (LN) + 9,411 = 5,754,627
    # MLP: 2,304 + 65,792 + 1,052,672 (256 -> 4096 AdaIN parameters) = 1,120,768
    gen = MUNITGenerator()
    assert count(gen.enc_content) == 5_385_856
    assert count(gen.enc_style) == 2_764_936
    assert count(gen.dec) == 5_754_627
    assert count(gen.mlp) == 1_120_768
    assert gen.dec.num_adain_params == 4096  # 4 blocks * 2 AdaIN layers * (gamma, beta) * 256
    assert count(gen) == 15_026_187
    # D, per scale: 3,136 + 131,200 + 524,544 + 2,097,664 + 513 = 2,757,057; three scales.
    assert count(MultiScaleDiscriminator()) == 8_271_171
    assert count(MUNITGenerator(in_channels=1)) == 15_007_369
    assert count(MultiScaleDiscriminator(in_channels=1)) == 8_265_027


def test_initialisation_follows_the_reference() -> None:
    torch.manual_seed(0)
    model = build_munit(dim=16, n_res=1, mlp_dim=32, n_layer_d=2)
    conv = model.gen_a.enc_content.model[1][1]  # the first stride-2 conv, fan-in 16 * 4 * 4
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.1)  # Kaiming
    assert torch.count_nonzero(conv.bias) == 0
    dis_conv = model.dis_a.scales[0][1][1]
    assert dis_conv.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.count_nonzero(dis_conv.bias) == 0
    ln = [m for m in model.gen_b.modules() if isinstance(m, LayerNorm2d)]
    assert len(ln) == 2 and all(0 <= m.gamma.min() and m.gamma.max() < 1 for m in ln)


@pytest.mark.parametrize(("channels_in", "channels_out"), [(3, 3), (1, 3)])
def test_generator_shapes_on_non_square_images(channels_in: int, channels_out: int) -> None:
    torch.manual_seed(0)
    gen = MUNITGenerator(channels_in, channels_out, dim=8, n_res=1, mlp_dim=16)
    x = images(2, channels_in, 32, 48, seed=1)
    content, style = gen.encode(x)
    assert content.shape == (2, 32, 8, 12)
    assert style.shape == (2, 8, 1, 1)
    out = gen.decode(content, torch.randn(2, 8, 1, 1))
    assert out.shape == (2, channels_out, 32, 48)
    assert out.abs().max() <= 1
    assert gen(x).shape == gen(x, style=torch.randn(2, 8)).shape == (2, channels_out, 32, 48)


def test_cross_domain_translation_between_1_and_3_channels() -> None:
    torch.manual_seed(0)
    model = build_munit(channels_a=1, channels_b=3, **TINY)
    x_a, x_b = images(2, 1, 32, 32, seed=1), images(2, 3, 32, 32, seed=2)
    s = torch.randn(2, model.style_dim, 1, 1)
    assert model.gen_b.decode(model.gen_a.encode_content(x_a), s).shape == (2, 3, 32, 32)
    assert model.gen_a.decode(model.gen_b.encode_content(x_b), s).shape == (2, 1, 32, 32)


@pytest.mark.parametrize("size", [(30, 32), (32, 30), (12, 12)])
def test_generator_rejects_sizes_it_cannot_round_trip(size: tuple[int, int]) -> None:
    gen = MUNITGenerator(dim=8, n_res=1, mlp_dim=16)
    assert gen.min_size == 16 and gen.size_multiple == 4
    with pytest.raises(ValueError, match="multiples of 4 and at least 16"):
        gen.encode(torch.zeros(1, 3, *size))
    assert gen(torch.zeros(1, 3, 16, 20)).shape == (1, 3, 16, 20)


def test_discriminator_scales_and_minimum_size() -> None:
    dis = MultiScaleDiscriminator(3, dim=8, n_layer=4, num_scales=3)
    assert dis.min_size == 61
    assert [tuple(o.shape) for o in dis(torch.zeros(2, 3, 64, 96))] == [
        (2, 1, 4, 6),
        (2, 1, 2, 3),
        (2, 1, 1, 1),  # pooled twice to 16x24; four stride-2 convs: 24 -> 12 -> 6 -> 3 -> 1
    ]
    dis(torch.zeros(1, 3, 61, 61))
    with pytest.raises(ValueError, match="at least 61"):
        dis(torch.zeros(1, 3, 60, 64))
    # The bound is tight: one pixel less and a reflection pad has nothing to reflect.
    small = MultiScaleDiscriminator(3, dim=8, n_layer=2, num_scales=3)
    assert (small.min_size, MultiScaleDiscriminator(3, 8, 3, 3).min_size) == (13, 29)
    small.min_size = 0
    with pytest.raises(RuntimeError):
        small(torch.zeros(1, 3, 12, 12))


def test_adain_sets_each_channel_to_the_styles_mean_and_std() -> None:
    x = torch.randn(2, 3, 8, 8) * 5 + 2
    gamma, beta = torch.tensor([[1.0, 2.0, 0.5]] * 2), torch.tensor([[0.0, -1.0, 3.0]] * 2)
    y = adaptive_instance_norm(x, gamma, beta)
    assert torch.allclose(y.mean((2, 3)), beta, atol=1e-5)
    assert torch.allclose(y.std((2, 3), unbiased=False), gamma, atol=1e-3)


def test_decoder_takes_its_adain_parameters_from_the_style() -> None:
    torch.manual_seed(0)
    gen = MUNITGenerator(dim=8, n_res=2, mlp_dim=16)
    assert gen.mlp.model[-1].out_features == gen.dec.num_adain_params == 2 * 2 * 2 * 32
    content = gen.encode_content(images(1, 3, 16, 16, seed=3))
    s1, s2 = torch.randn(1, 8, 1, 1), torch.randn(1, 8, 1, 1)
    assert torch.equal(gen.decode(content, s1), gen.decode(content, s1))
    assert not torch.allclose(gen.decode(content, s1), gen.decode(content, s2))
    with pytest.raises(ValueError, match="expected 256 AdaIN parameters"):
        gen.dec(content, torch.zeros(1, 255))


def test_layer_norm_is_per_sample_over_chw() -> None:
    ln = LayerNorm2d(2)
    with torch.no_grad():
        ln.gamma.copy_(torch.tensor([2.0, 0.5]))
        ln.beta.copy_(torch.tensor([1.0, 0.0]))
    x = torch.randn(3, 2, 4, 5)
    flat = x.flatten(1)
    want = (x - flat.mean(1).view(-1, 1, 1, 1)) / (flat.std(1).view(-1, 1, 1, 1) + 1e-5)
    want = want * torch.tensor([2.0, 0.5]).view(1, 2, 1, 1) + torch.tensor([1.0, 0.0]).view(
        1, 2, 1, 1
    )
    assert torch.allclose(ln(x), want, atol=1e-6)


# --- losses -------------------------------------------------------------------------------------


def test_reconstruction_losses_by_hand() -> None:
    recon, target = torch.tensor([[1.0, -1.0], [0.5, 0.0]]), torch.zeros(2, 2)
    for fn in (
        losses.image_reconstruction_loss,
        losses.content_reconstruction_loss,
        losses.style_reconstruction_loss,
        losses.cycle_reconstruction_loss,
    ):
        assert fn(recon, target).item() == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    # The content target c_1 is not detached: its encoder also gets a gradient from it.
    content = torch.tensor([0.5, -0.5], requires_grad=True)
    losses.content_reconstruction_loss(torch.zeros(2), content).backward()
    assert content.grad.tolist() == [0.5, -0.5]


def test_multiscale_lsgan_losses_by_hand() -> None:
    real = [torch.tensor([[1.0, 3.0]]), torch.tensor([[0.0]])]
    fake = [torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0]])]
    # D: scale 0: mean((1-1)^2, (3-1)^2) = 2 and mean(0^2, 2^2) = 2; scale 1: 1 and 1. Summed.
    assert losses.multiscale_discriminator_loss(real, fake).item() == pytest.approx(6.0)
    # G: scale 0: mean((0-1)^2, (2-1)^2) = 1; scale 1: (1-1)^2 = 0.
    assert losses.multiscale_generator_loss(fake).item() == pytest.approx(1.0)
    zeros = [torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 1)]
    # vanilla (NVlabs nsgan): BCE of sigmoid(0) = 1/2 is ln 2 for either target.
    d = losses.multiscale_discriminator_loss(zeros, zeros, "vanilla")
    assert d.item() == pytest.approx(4 * math.log(2))
    assert losses.multiscale_generator_loss(zeros, "vanilla").item() == pytest.approx(
        2 * math.log(2)
    )
    with pytest.raises(ValueError, match="2 real and 1 fake"):
        losses.multiscale_discriminator_loss(real, fake[:1])


# --- training step ------------------------------------------------------------------------------


def make_model(seed: int = 0, cfg: MUNITConfig | None = None):
    torch.manual_seed(seed)
    model = build_munit(**TINY)
    opts = munit_optimizers(model, cfg or MUNITConfig())
    return model, opts


def batch(seed: int = 5, n: int = 2) -> dict[str, torch.Tensor]:
    return {"A": images(n, 3, 32, 32, seed), "B": images(n, 3, 32, 32, seed + 1)}


def run(weights: MUNITConfig, options: StepOptions | None = None, steps: int = 1, seed: int = 0):
    options = options or StepOptions()
    model, opts = make_model(seed)
    scalers = GradScalers(torch.amp.GradScaler("cpu"), torch.amp.GradScaler("cpu"))
    out = []
    for i in range(steps):
        result = munit_step(
            model,
            opts.opt_gen,
            opts.opt_dis,
            batch(5 + 2 * i),
            weights,
            options,
            scalers if options.precision == "fp16" else None,
        )
        out.append(result)
    return model, out


def test_one_step_trains_every_network_and_returns_finite_losses() -> None:
    before = copy.deepcopy(make_model()[0])
    model, [out] = run(MUNITConfig())
    assert set(out) == BASE_KEYS
    for value in out.values():
        assert value.dim() == 0 and not value.requires_grad and torch.isfinite(value)
    for name in ("gen_a", "gen_b", "dis_a", "dis_b"):
        pairs = zip(
            getattr(model, name).parameters(), getattr(before, name).parameters(), strict=True
        )
        assert any(not torch.equal(a, b) for a, b in pairs), name
    assert all(p.requires_grad for p in model.parameters())
    weighted = (
        out["G_adv_A"]
        + out["G_adv_B"]
        + 10 * (out["recon_x_A"] + out["recon_x_B"])
        + out["recon_s_A"]
        + out["recon_s_B"]
        + out["recon_c_A"]
        + out["recon_c_B"]
    )
    assert out["G_total"].item() == pytest.approx(weighted.item(), rel=1e-5)


def test_cycle_terms_join_when_weighted() -> None:
    _, [out] = run(MUNITConfig(recon_x_cyc_w=10.0))
    assert set(out) == BASE_KEYS | {"recon_cyc_A", "recon_cyc_B"}
    assert torch.isfinite(out["recon_cyc_A"]) and torch.isfinite(out["recon_cyc_B"])


def test_same_seed_gives_identical_losses_and_another_seed_does_not() -> None:
    _, first = run(MUNITConfig(), steps=2)
    _, again = run(MUNITConfig(), steps=2)
    for a, b in zip(first, again, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)
    _, other = run(MUNITConfig(), seed=1)
    assert not torch.equal(first[0]["recon_s_A"], other[0]["recon_s_A"])


def test_fused_step_computes_the_same_losses() -> None:
    model, opts = make_model()
    twin = copy.deepcopy((model, opts))
    torch.manual_seed(7)
    plain = munit_step(model, opts.opt_gen, opts.opt_dis, batch(), MUNITConfig())
    torch.manual_seed(7)
    fused = munit_step(
        twin[0], twin[1].opt_gen, twin[1].opt_dis, batch(), MUNITConfig(), StepOptions(fused=True)
    )
    for key, value in plain.items():
        assert fused[key].item() == pytest.approx(value.item(), rel=1e-4, abs=1e-6), key


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_steps_run(precision: str) -> None:
    _, [out] = run(MUNITConfig(), StepOptions(precision=precision, fused=True))
    assert all(torch.isfinite(v) and v.dtype == torch.float32 for v in out.values())


def test_wgangp_is_refused() -> None:
    model, opts = make_model()
    with pytest.raises(ValueError, match="wgangp"):
        munit_step(model, opts.opt_gen, opts.opt_dis, batch(), MUNITConfig(gan_mode="wgangp"))


# --- optimisers, config, weights on disk ----------------------------------------------------------


def test_optimizers_and_step_schedule_follow_the_config() -> None:
    cfg = MUNITConfig(lr_step=2)
    model, opts = make_model(cfg=cfg)
    for opt, nets in ((opts.opt_gen, model.generators()), (opts.opt_dis, model.discriminators())):
        group = opt.param_groups[0]
        assert (group["lr"], group["betas"], group["weight_decay"]) == (1e-4, (0.5, 0.999), 1e-4)
        assert sum(p.numel() for p in group["params"]) == sum(count(n) for n in nets)
    lrs = []
    for _ in range(4):
        lrs.append(opts.opt_gen.param_groups[0]["lr"])
        opts.opt_gen.step()  # no gradients: a no-op, in the order the loop calls them
        opts.sched_gen.step()
    assert lrs == pytest.approx([1e-4, 1e-4, 5e-5, 5e-5])


def test_config_defaults_are_the_nvlabs_ones() -> None:
    cfg = MUNITConfig()
    assert (cfg.dim, cfg.style_dim, cfg.n_downsample, cfg.n_res, cfg.mlp_dim) == (64, 8, 2, 4, 256)
    assert (cfg.n_layer_d, cfg.num_scales, cfg.gan_mode, cfg.init) == (4, 3, "lsgan", "kaiming")
    assert (cfg.lr, cfg.beta1, cfg.beta2, cfg.weight_decay) == (1e-4, 0.5, 0.999, 1e-4)
    assert (cfg.lr_step, cfg.lr_gamma) == (100000, 0.5)
    # The loss weights are read from the config itself (no mirrored copy with its own defaults).
    assert (cfg.gan_w, cfg.recon_x_w, cfg.recon_s_w, cfg.recon_c_w) == (1.0, 10.0, 1.0, 1.0)
    assert cfg.recon_x_cyc_w == 0.0
    with pytest.raises(AttributeError):
        cfg.dim = 32  # type: ignore[misc]


def test_state_dict_round_trips_through_safetensors(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_munit(channels_a=1, **TINY)
    path = tmp_path / "model.safetensors"
    save_file(model.state_dict(), str(path))
    torch.manual_seed(1)
    other = build_munit(channels_a=1, **TINY)
    other.load_state_dict(load_file(str(path)), strict=True)
    x, s = images(1, 1, 32, 32, seed=3), torch.randn(1, 8, 1, 1)
    for net in (model, other):
        net.eval()
    with torch.no_grad():
        assert torch.equal(
            other.gen_b.decode(other.gen_a.encode_content(x), s),
            model.gen_b.decode(model.gen_a.encode_content(x), s),
        )
        assert all(torch.equal(a, b) for a, b in zip(other.dis_a(x), model.dis_a(x), strict=True))
