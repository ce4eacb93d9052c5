"""NVlabs MUNIT generator checkpoints (``gen_<iteration>.pt``) -> our MUNIT generators.

The NVlabs trainer saves ``{"a": gen_a.state_dict(), "b": gen_b.state_dict()}``: two AdaIN
auto-encoders (``AdaINGen``), each a style encoder E^s (``enc_style``), a content encoder E^c
(``enc_content``), a decoder G (``dec``) and the MLP that turns a style code into the decoder's
AdaIN parameters (``mlp``). Their layers are the ones of :mod:`unpaired.models.munit`; only the
key names differ:

============================================  ================================================
NVlabs                                        unpaired
============================================  ================================================
``enc_style.model.<i>.conv.*``                ``enc_style.model.<i>.<conv>.*``
``enc_style.model.<last>.*`` (1x1 conv)       ``enc_style.model.<last>.*``
``enc_content.model.<i>.conv.*``              ``enc_content.model.<i>.<conv>.*``
``enc_content.model.<n+1>.model.<j>``         ``enc_content.model.<n+1+j>.conv_block``
``  .model.<k>.conv.*``                       ``  .<k-th conv>.*``
``dec.model.0.model.<j>.model.<k>.conv.*``    ``dec.res_blocks.<j>.conv<k+1>.<conv>.*``
``dec.model.<i>.conv.*`` / ``.norm.*`` (i>0)  ``dec.upsample.<i-1>.<conv>.*`` / ``.<norm>.*``
``mlp.model.<t>.fc.*``                        ``mlp.model.<t-th Linear>.*``
============================================  ================================================

(``<conv>`` / ``<norm>``: the position of the Conv2d / LayerNorm2d inside our
pad -> conv -> norm -> activation ``nn.Sequential``, read from the built module; n is
``n_downsample``.) Two kinds of NVlabs buffers carry nothing and are dropped after a shape check:
the AdaIN layers' ``running_mean`` / ``running_var`` (registered "just dummy buffers": AdaIN
always normalises with the statistics of each image), and the content encoder's instance-norm
``running_mean`` / ``running_var`` of checkpoints written by PyTorch 0.3 (NVlabs' own loader
deletes them; its instance norm keeps no running statistics, so its eval-mode output, which
``test.py`` and ``test_batch.py`` produce, uses per-image statistics like ours).

Everything is inferred from the tensors: channels of each domain (first style conv), ``dim``,
``style_dim`` (last style conv), ``n_downsample`` (content encoder convs), ``n_res`` (residual
blocks), ``mlp_dim`` (first MLP layer). Not in a checkpoint and assumed as in every NVlabs
config: ``pad_type: reflect`` and ``activ: relu``. NVlabs' UNIT checkpoints (``VAEGen``: no
style encoder) have the same ``{"a", "b"}`` form and are refused, as are its discriminator
files (``dis_*.pt``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..models.munit import MUNIT, Decoder, MUNITGenerator
from ..recipes import RECIPES
from .errors import CheckpointImportError

__all__ = ["FORMAT", "convert", "looks_like"]

#: ``config.json``'s ``source.format`` for these checkpoints.
FORMAT = "NVlabs/MUNIT"

#: Key prefixes of a MUNIT ``AdaINGen``, of a UNIT ``VAEGen``, of a ``MsImageDis``.
_MUNIT_ROOTS = ("enc_style.", "enc_content.", "dec.", "mlp.")
_UNIT_ROOTS = ("enc.", "dec.")
_DIS_ROOTS = ("cnns.",)

#: NVlabs buffers that hold nothing the translation reads (see the module docstring).
_DUMMY = (
    re.compile(r"dec\.model\.0\.model\.\d+\.model\.[01]\.norm\.running_(mean|var)"),
    re.compile(r"enc_content\.model\.\d+(\.model\.\d+\.model\.[01])?\.norm\.running_(mean|var)"),
)


def _generators(checkpoint: Any) -> tuple[dict[str, Tensor], dict[str, Tensor]] | None:
    """The two state dicts of an NVlabs ``{"a": ..., "b": ...}`` file (a DataParallel
    ``module.`` prefix dropped), or None when ``checkpoint`` has not that form."""
    if not isinstance(checkpoint, Mapping) or set(checkpoint) != {"a", "b"}:
        return None
    states = []
    for tag in ("a", "b"):
        state = checkpoint[tag]
        if not isinstance(state, Mapping) or not state:
            return None
        if not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
            return None
        if all(k.startswith("module.") for k in state):
            state = {k[len("module.") :]: v for k, v in state.items()}
        states.append(dict(state))
    return states[0], states[1]


def _kind(state: Mapping[str, Tensor]) -> str:
    """``"munit"``, ``"unit"``, ``"dis"`` or ``"other"``, from the key prefixes."""
    keys = list(state)
    if any(k.startswith(("enc_style.", "mlp.")) for k in keys):
        return "munit" if all(k.startswith(_MUNIT_ROOTS) for k in keys) else "other"
    if any(k.startswith("enc.") for k in keys):
        return "unit" if all(k.startswith(_UNIT_ROOTS) for k in keys) else "other"
    if all(k.startswith(_DIS_ROOTS) for k in keys):
        return "dis"
    return "other"


def looks_like(checkpoint: Any) -> bool:
    """Whether ``checkpoint`` (what ``torch.load`` returned) is a file of NVlabs' MUNIT/UNIT
    trainers: ``{"a": state_dict, "b": state_dict}`` of MUNIT generators (``gen_*.pt``), and
    also of UNIT generators or of discriminators (``dis_*.pt``), so that :func:`convert`
    can say what they are instead of an unknown-format error."""
    states = _generators(checkpoint)
    if states is None:
        return False
    kinds = {_kind(state) for state in states}
    return len(kinds) == 1 and kinds != {"other"}


def _fail(source: str, message: str) -> CheckpointImportError:
    return CheckpointImportError(f"{source}: {message}")


def _count(state: Mapping[str, Tensor], pattern: str, start: int = 0) -> int:
    """How many consecutive ``i`` (from ``start``) give a key ``pattern.format(i)``."""
    i = start
    while pattern.format(i) in state:
        i += 1
    return i - start


def _architecture(state: Mapping[str, Tensor], tag: str, source: str) -> dict[str, int]:
    """channels, dim, style_dim, n_downsample, n_res, mlp_dim of generator ``tag``."""

    def tensor(key: str, rank: int) -> Tensor:
        value = state.get(key)
        if value is None:
            raise _fail(source, f"generator {tag} lacks {key!r} (not an NVlabs MUNIT generator)")
        if value.dim() != rank:
            raise _fail(source, f"{tag}.{key} has shape {tuple(value.shape)}, not {rank}-D")
        return value

    first = tensor("enc_style.model.0.conv.weight", 4)
    style_blocks = _count(state, "enc_style.model.{}.conv.weight")
    if style_blocks != 5:
        raise _fail(
            source,
            f"generator {tag}'s style encoder has {style_blocks - 1} stride-2 convolutions; "
            "NVlabs' AdaINGen (and unpaired's MUNIT) have 4",
        )
    content_blocks = _count(state, "enc_content.model.{}.conv.weight")
    if content_blocks == 0:
        tensor("enc_content.model.0.conv.weight", 4)
    n_downsample = content_blocks - 1
    n_res = _count(state, f"enc_content.model.{content_blocks}.model.{{}}.model.0.conv.weight")
    return {
        "channels": int(first.shape[1]),
        "dim": int(first.shape[0]),
        "style_dim": int(tensor(f"enc_style.model.{style_blocks + 1}.weight", 4).shape[0]),
        "n_downsample": n_downsample,
        "n_res": n_res,
        "mlp_dim": int(tensor("mlp.model.0.fc.weight", 2).shape[0]),
    }


def _block(theirs: str, ours: str, seq: nn.Module) -> Iterator[tuple[str, str]]:
    """An NVlabs ``Conv2dBlock`` (``conv``, ``norm``) against our pad -> conv -> norm -> act
    ``nn.Sequential``: every parameter of our conv and of our norm (if it has any)."""
    for name, child in seq.named_children():
        role = "conv" if isinstance(child, nn.Conv2d) else "norm"
        for key in child.state_dict():
            yield f"{theirs}.{role}.{key}", f"{ours}.{name}.{key}"


def _convs(theirs: str, ours: str, module: nn.Module) -> Iterator[tuple[str, str]]:
    """An NVlabs ``ResBlock`` (``model.0``, ``model.1``: two Conv2dBlocks, norms without
    parameters) against the Conv2d layers of our residual block, in order."""
    convs = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Conv2d)]
    for k, (name, conv) in enumerate(convs):
        for key in conv.state_dict():
            yield f"{theirs}.model.{k}.conv.{key}", f"{ours}.{name}.{key}"


def _key_pairs(gen: MUNITGenerator) -> list[tuple[str, str]]:
    """(NVlabs key, our key) for every tensor of our generator ``gen``, built by walking our
    modules alongside the NVlabs layout (see the table in the module docstring)."""
    pairs: list[tuple[str, str]] = []
    for i, child in enumerate(gen.enc_style.model):
        if isinstance(child, nn.Sequential):  # a Conv2dBlock
            pairs += _block(f"enc_style.model.{i}", f"enc_style.model.{i}", child)
        else:  # the pooling (nothing) and the last plain 1x1 conv: same names
            pairs += [(f"enc_style.model.{i}.{k}",) * 2 for k in child.state_dict()]
    content = list(gen.enc_content.model)
    res_start = next(
        (i for i, m in enumerate(content) if not isinstance(m, nn.Sequential)), len(content)
    )
    for i, child in enumerate(content):
        ours = f"enc_content.model.{i}"
        if i < res_start:
            pairs += _block(ours, ours, child)
        else:  # NVlabs keeps its residual blocks in one ResBlocks at index res_start
            pairs += _convs(f"enc_content.model.{res_start}.model.{i - res_start}", ours, child)
    dec: Decoder = gen.dec
    for j, block in enumerate(dec.res_blocks):
        for k, conv in enumerate((block.conv1, block.conv2)):
            theirs = f"dec.model.0.model.{j}.model.{k}"
            pairs += _block(theirs, f"dec.res_blocks.{j}.conv{k + 1}", conv)
    for i, child in enumerate(dec.upsample):  # NVlabs: dec.model.0 holds the residual blocks
        if isinstance(child, nn.Sequential):
            pairs += _block(f"dec.model.{i + 1}", f"dec.upsample.{i}", child)
    linears = [(n, m) for n, m in gen.mlp.model.named_children() if isinstance(m, nn.Linear)]
    for t, (name, linear) in enumerate(linears):
        pairs += [(f"mlp.model.{t}.fc.{k}", f"mlp.model.{name}.{k}") for k in linear.state_dict()]
    return pairs


def _load(
    gen: MUNITGenerator, state: Mapping[str, Tensor], tag: str, source: str
) -> dict[str, Tensor]:
    """Our state dict of ``gen`` from NVlabs' ``state``: every key mapped, every shape and
    value checked (one-line errors naming ``source`` and the key)."""
    ours = gen.state_dict()
    pairs = _key_pairs(gen)
    mapped = dict(pairs)
    covered = sorted(set(ours) ^ {o for _, o in pairs})
    if covered or len(mapped) != len(pairs):  # a bug in the table, never the user's file
        raise RuntimeError(f"NVlabs MUNIT key map does not cover our generator: {covered[:3]}")
    for key, value in state.items():
        if key in mapped:
            continue
        if any(p.fullmatch(key) for p in _DUMMY):
            conv = state.get(f"{key.rsplit('.norm.', 1)[0]}.conv.weight")
            if conv is not None and value.shape == conv.shape[:1]:
                continue  # one value per channel of the convolution it follows: unused
            if conv is not None:
                raise _fail(
                    source,
                    f"{tag}.{key} has shape {tuple(value.shape)}; its layer has "
                    f"{conv.shape[0]} channels",
                )
        raise _fail(source, f"key {tag}.{key} maps to nothing in unpaired's MUNIT generator")
    result: dict[str, Tensor] = {}
    for theirs, mine in pairs:
        value = state.get(theirs)
        if value is None:
            raise _fail(source, f"generator {tag} lacks {theirs!r}")
        if value.shape != ours[mine].shape:
            raise _fail(
                source,
                f"{tag}.{theirs} has shape {tuple(value.shape)}; the architecture inferred "
                f"from the other tensors needs {tuple(ours[mine].shape)}",
            )
        if not value.is_floating_point() or not bool(torch.isfinite(value).all()):
            raise _fail(source, f"{tag}.{theirs} is not finite floating-point weights")
        result[mine] = value.detach().to(torch.float32)
    return result


def convert(checkpoint: Mapping[str, Any], source: str) -> tuple[nn.Module, dict[str, Any]]:
    """Our MUNIT generators (``gen_a``, ``gen_b``, eval mode, float32, CPU) holding the weights
    of an NVlabs ``gen_*.pt`` (``source`` names it in errors), and the ``info`` for
    :func:`unpaired.pretrained.save_pretrained`: ``model``, ``channels_a``, ``channels_b``
    and the MUNIT architecture (dim, style_dim, n_downsample, n_res, mlp_dim), all inferred
    from the tensors. Raises :class:`CheckpointImportError` (one line) for anything else."""
    states = _generators(checkpoint)
    if states is None:
        raise _fail(source, 'not an NVlabs MUNIT checkpoint (a dict {"a": ..., "b": ...})')
    kinds = [_kind(state) for state in states]
    if "unit" in kinds:
        raise _fail(
            source,
            "an NVlabs UNIT checkpoint (VAEGen generators, no style encoder), not MUNIT; "
            "unpaired has no UNIT model",
        )
    if "dis" in kinds:
        raise _fail(
            source, "NVlabs MUNIT discriminators (dis_*.pt); import the gen_*.pt next to it"
        )
    for tag, kind, state in zip("ab", kinds, states, strict=True):
        if kind != "munit":
            stray = next(k for k in state if not k.startswith(_MUNIT_ROOTS))
            raise _fail(source, f"key {tag}.{stray} maps to nothing in unpaired's MUNIT generator")
    arch_a, arch_b = (_architecture(s, tag, source) for s, tag in zip(states, "ab", strict=True))
    for key in ("dim", "style_dim", "n_downsample", "n_res", "mlp_dim"):
        if arch_a[key] != arch_b[key]:
            raise _fail(
                source,
                f"generators a and b differ in {key} ({arch_a[key]} vs {arch_b[key]}); "
                "unpaired's MUNIT builds both with one architecture",
            )
    info: dict[str, Any] = {
        "model": "munit",
        "channels_a": arch_a.pop("channels"),
        "channels_b": arch_b.pop("channels"),
        **arch_a,
    }
    with torch.random.fork_rng(devices=[]):  # building initialises weights: keep the RNG
        model: MUNIT = RECIPES.get("munit").build_generators(info)
    for tag, state in zip("ab", states, strict=True):
        gen = getattr(model, f"gen_{tag}")
        gen.load_state_dict(_load(gen, state, tag, source))
    return model.eval(), info
