"""History buffer of generated images (Shrivastava et al. 2017, used by CycleGAN Sec. 4).

The discriminators see a mix of the newest fakes and fakes from earlier steps, which damps
oscillation. The pool has its own RNG so that its choices, and therefore training, resume
exactly from :meth:`ImagePool.state_dict`.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from torch import Tensor


class ImagePool:
    """Stores up to ``size`` generated images; ``size == 0`` disables the pool.

    For each incoming image (while the pool is full) a stored image is returned in its place
    with probability 1/2, and the new image takes the stored one's slot.
    """

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        if size < 0:
            raise ValueError(f"pool size must be 0 or more, got {size}")
        self.size = size
        self.images: list[Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: Tensor) -> Tensor:
        """Take a batch (N, C, H, W) of new fakes, return a batch of the same shape to train D on.

        Returned images are detached; stored images are kept on the device they arrived on.
        """
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.random() > 0.5:
                slot = self.rng.randrange(self.size)
                out.append(self.images[slot].clone())
                self.images[slot] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: the stored images (on CPU) and the RNG state."""
        return {
            "size": self.size,
            "images": [img.cpu() for img in self.images],
            "rng": self.rng.getstate(),
        }

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        """Restore from :meth:`state_dict`; images move to ``device``."""
        if state["size"] != self.size:
            raise ValueError(f"pool size mismatch: checkpoint {state['size']}, config {self.size}")
        self.images = [img.to(device) for img in state["images"]]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
