"""Building blocks shared by the generators and discriminators.

* :data:`NORM_LAYERS` / :func:`norm_layer` / :func:`uses_bias` pick a normalisation layer by name.
* :class:`ResnetBlock` is the residual block of the CycleGAN ResNet generator (Zhu et al. 2017,
  after Johnson et al. 2016).
* :func:`init_weights` applies the CycleGAN weight initialisation (``N(0, 0.02)`` by default).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

NormFactory = Callable[[int], nn.Module]


def _identity(num_features: int) -> nn.Module:
    """A norm "layer" that does nothing (``norm="none"``); ``num_features`` is ignored."""
    return nn.Identity()


#: Normalisation name -> factory ``num_features -> nn.Module``.
#: ``instance`` has no learned affine and no running statistics (the CycleGAN default);
#: ``batch`` has both.
NORM_LAYERS: dict[str, NormFactory] = {
    "instance": functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False),
    "batch": functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True),
    "none": _identity,
}


def norm_layer(name: str) -> NormFactory:
    """Return the factory ``num_features -> nn.Module`` for the normalisation called ``name``.

    Raises ``ValueError`` naming the option ``norm`` and the valid choices for unknown names.
    """
    try:
        return NORM_LAYERS[name]
    except KeyError:
        choices = ", ".join(sorted(NORM_LAYERS))
        raise ValueError(f"unknown norm {name!r}; choose one of: {choices}") from None


def uses_bias(norm: str) -> bool:
    """Whether convolutions followed by ``norm`` get a bias term.

    As in the official CycleGAN code, only batch norm (which has its own learned shift) drops the
    bias; convolutions before instance norm or no norm keep it.
    """
    norm_layer(norm)  # validate the name
    return norm != "batch"


_PADDING_LAYERS: dict[str, Callable[[int], nn.Module]] = {
    "reflect": nn.ReflectionPad2d,
    "replicate": nn.ReplicationPad2d,
}
_PADDING_TYPES = ("reflect", "replicate", "zero")


class ResnetBlock(nn.Module):
    """Residual block ``x + conv_block(x)`` with ``dim`` channels at constant resolution.

    ``conv_block`` is pad - conv3x3 - norm - ReLU - [Dropout(0.5)] - pad - conv3x3 - norm. Input and
    output are ``(N, dim, H, W)``. ``padding_type`` is ``reflect``, ``replicate`` or ``zero``
    (zero padding is done by the convolution itself). The submodule is called ``conv_block`` so
    that state-dict keys match the official pytorch-CycleGAN-and-pix2pix checkpoints.
    """

    def __init__(
        self, dim: int, norm: str, use_dropout: bool, padding_type: str = "reflect"
    ) -> None:
        super().__init__()
        if padding_type not in _PADDING_TYPES:
            choices = ", ".join(_PADDING_TYPES)
            raise ValueError(f"unknown padding_type {padding_type!r}; choose one of: {choices}")
        make_norm = norm_layer(norm)
        bias = uses_bias(norm)
        layers: list[nn.Module] = []
        for second in (False, True):
            conv_padding = 0
            if padding_type == "zero":
                conv_padding = 1
            else:
                layers.append(_PADDING_LAYERS[padding_type](1))
            layers += [
                nn.Conv2d(dim, dim, kernel_size=3, padding=conv_padding, bias=bias),
                make_norm(dim),
            ]
            if not second:
                layers.append(nn.ReLU(True))
                if use_dropout:
                    layers.append(nn.Dropout(0.5))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, dim, H, W) -> (N, dim, H, W)``: ``x + conv_block(x)``."""
        return x + self.conv_block(x)


_WEIGHT_LAYERS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _init_normal(weight: torch.Tensor, gain: float) -> None:
    nn.init.normal_(weight, 0.0, gain)


def _init_xavier(weight: torch.Tensor, gain: float) -> None:
    nn.init.xavier_normal_(weight, gain=gain)


def _init_kaiming(weight: torch.Tensor, gain: float) -> None:
    nn.init.kaiming_normal_(weight, a=0, mode="fan_in")


def _init_orthogonal(weight: torch.Tensor, gain: float) -> None:
    nn.init.orthogonal_(weight, gain=gain)


#: ``init_type`` -> function ``(weight, gain) -> None`` for conv/linear weights.
INIT_FUNCTIONS: dict[str, Callable[[torch.Tensor, float], None]] = {
    "normal": _init_normal,
    "xavier": _init_xavier,
    "kaiming": _init_kaiming,
    "orthogonal": _init_orthogonal,
}


@torch.no_grad()
def init_weights(net: nn.Module, init_type: str = "normal", gain: float = 0.02) -> None:
    """Initialise ``net`` in place, as in the CycleGAN paper (weights from ``N(0, 0.02)``).

    Conv / transposed-conv / linear weights: ``normal`` = ``N(0, gain)`` (``gain`` is the std),
    ``xavier`` = Xavier-normal scaled by ``gain``, ``kaiming`` = Kaiming-normal (``a=0``, fan-in;
    ``gain`` unused), ``orthogonal`` = orthogonal scaled by ``gain``; their biases become 0.
    Batch-norm weights (``gamma``) are drawn from ``N(1, gain)`` and biases (``beta``) set to 0.
    Draws from the global torch RNG: seed it first for reproducible weights.
    """
    try:
        init_fn = INIT_FUNCTIONS[init_type]
    except KeyError:
        choices = ", ".join(sorted(INIT_FUNCTIONS))
        raise ValueError(f"unknown init_type {init_type!r}; choose one of: {choices}") from None
    for module in net.modules():
        if isinstance(module, _WEIGHT_LAYERS):
            init_fn(module.weight, gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, _BATCH_NORMS) and module.weight is not None:
            nn.init.normal_(module.weight, 1.0, gain)
            nn.init.zeros_(module.bias)
