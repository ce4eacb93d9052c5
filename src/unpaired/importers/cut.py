"""The generator of the CUT / FastCUT reference code (taesungp/contrastive-unpaired-translation,
``latest_net_G.pth``) as our CUT generator G: X -> Y.

CUT's ``ResnetGenerator`` is the CycleGAN ResNet with anti-aliased sampling: after each of the
two downsampling convolutions (stride 1 there) a blur-pool ``Downsample`` whose only tensor is
the fixed filter buffer ``filt`` ([1, 2, 1] x [1, 2, 1] / 16 per channel, ``(C, 1, 3, 3)``),
and before each upsampling convolution an ``Upsample`` with the [1, 3, 3, 1] filter
(``(C, 1, 4, 4)``). Our :class:`~unpaired.models.cut.CUTGenerator` has the same layers at the
same ``model.<i>`` indices, so the key mapping is the identity again (checked key by key by
:func:`.cyclegan.map_state`). With ``--no_antialias --no_antialias_up`` the file has no
``filt`` and is exactly a CycleGAN ResNet generator; the weights cannot tell which project
wrote it, so such a file becomes a CUT folder only when asked (``family="cut"``).
Only one of the two flags (blur-pools on one side) has no counterpart here and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from ..models.cut import CUT, CUTGenerator
from ..recipes.cut.options import GENERATOR_BLOCKS
from .cyclegan import Inferred, generator_name, infer, map_state
from .errors import CheckpointImportError

__all__ = ["FORMAT", "convert", "has_blur_pools"]

#: ``config.json``'s ``source.format`` for these files.
FORMAT = "contrastive-unpaired-translation"


def has_blur_pools(state: Any) -> bool:
    """Whether a state dict holds CUT's anti-aliasing filters (``model.<i>.filt``)."""
    return isinstance(state, Mapping) and any(
        isinstance(k, str) and k.startswith("model.") and k.endswith(".filt") for k in state
    )


def convert(
    state: Mapping[str, Tensor], source: str, family: str = "cut"
) -> tuple[Inferred, CUT, dict[str, Any]]:
    """What was inferred, the generators bundle (``g_ab`` only, eval mode) and the
    ``config.json`` architecture of a CUT reference generator, for the ``family`` ``"cut"``
    or ``"fastcut"`` (the same networks; FastCUT is CUT with other loss weights)."""
    spec = infer(state, source)
    if spec.kind != "resnet":
        raise CheckpointImportError(
            f"{source}: a U-Net generator; unpaired's {family} generator is a ResNet "
            "(import it as a cyclegan folder instead)"
        )
    name = generator_name(spec, source, sorted(GENERATOR_BLOCKS))
    net = CUTGenerator(
        spec.in_channels,
        spec.out_channels,
        spec.ngf,
        spec.norm,
        spec.use_dropout,
        GENERATOR_BLOCKS[name],
        spec.antialias,
    )
    net.load_state_dict(map_state(state, net, source, spec.norm))
    info = {
        "model": family,
        "channels_a": spec.in_channels,
        "channels_b": spec.out_channels,
        "generator": name,
        "ngf": spec.ngf,
        "norm": spec.norm,
        "use_dropout": spec.use_dropout,
        "antialias": spec.antialias,
    }
    return spec, CUT(net.eval()), info
