"""MUNIT's optimisers and learning-rate schedule (the NVlabs reference settings).

One Adam over both generators (E^c_1, E^s_1, G_1, E^c_2, E^s_2, G_2 with their MLPs) and one
over both discriminators (D_1, D_2): lr 1e-4, betas (0.5, 0.999), L2 weight decay 1e-4. Each has
a StepLR that multiplies the rate by ``lr_gamma`` every ``lr_step`` iterations; step both
schedulers once per training iteration, after :func:`~.step.munit_step`.
(The reference trainer steps them at the start of each iteration instead, so its decays land one
iteration earlier.)
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

from torch.optim import Adam, lr_scheduler

from ...models.munit import MUNIT
from .options import MUNITConfig


class MUNITOptimizers(NamedTuple):
    """The two optimisers and their per-iteration schedulers."""

    opt_gen: Adam
    opt_dis: Adam
    sched_gen: lr_scheduler.StepLR
    sched_dis: lr_scheduler.StepLR


def munit_optimizers(model: MUNIT, config: MUNITConfig) -> MUNITOptimizers:
    """Adam for ``gen_a`` + ``gen_b`` and for ``dis_a`` + ``dis_b``, each with a StepLR."""
    dis = model.discriminators()
    if len(dis) != 2:
        raise ValueError("munit_optimizers: the model has no discriminators (built for inference)")
    hyper = {
        "lr": config.lr,
        "betas": (config.beta1, config.beta2),
        "weight_decay": config.weight_decay,
    }
    gen_params = itertools.chain(model.gen_a.parameters(), model.gen_b.parameters())
    dis_params = itertools.chain(*(d.parameters() for d in dis))
    opt_gen = Adam([p for p in gen_params if p.requires_grad], **hyper)
    opt_dis = Adam([p for p in dis_params if p.requires_grad], **hyper)

    def schedule(opt: Adam) -> lr_scheduler.StepLR:
        return lr_scheduler.StepLR(opt, step_size=config.lr_step, gamma=config.lr_gamma)

    return MUNITOptimizers(opt_gen, opt_dis, schedule(opt_gen), schedule(opt_dis))
