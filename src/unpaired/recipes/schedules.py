"""Learning-rate policies, stepped once per epoch.

linear (CycleGAN): keep the base LR for ``epochs`` epochs, then decay linearly towards zero over
``epochs_decay`` epochs: epoch k (counted from 0) runs at lr * (1 - max(0, k + 1 - epochs) /
(epochs_decay + 1)), so the first ``epochs`` epochs are at full rate and the last at
lr / (epochs_decay + 1), as in the official code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.optim import Optimizer, lr_scheduler

from ..registry import Registry

SchedulerFactory = Callable[[Optimizer, int, int, int], Any]
SCHEDULES: Registry[SchedulerFactory] = Registry("lr_policy")


@SCHEDULES.register("linear")
def linear(optimizer: Optimizer, epochs: int, epochs_decay: int, decay_epochs: int) -> Any:
    def factor(epoch: int) -> float:
        # LambdaLR evaluates factor(k) after its k-th step(), i.e. for epoch k (0-based).
        return 1.0 - max(0, epoch + 1 - epochs) / float(epochs_decay + 1)

    return lr_scheduler.LambdaLR(optimizer, factor)


@SCHEDULES.register("step")
def step(optimizer: Optimizer, epochs: int, epochs_decay: int, decay_epochs: int) -> Any:
    return lr_scheduler.StepLR(optimizer, step_size=decay_epochs, gamma=0.1)


@SCHEDULES.register("cosine")
def cosine(optimizer: Optimizer, epochs: int, epochs_decay: int, decay_epochs: int) -> Any:
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs + epochs_decay))


@SCHEDULES.register("plateau")
def plateau(optimizer: Optimizer, epochs: int, epochs_decay: int, decay_epochs: int) -> Any:
    return lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=0.2, threshold=0.01, patience=5
    )


def build_scheduler(
    policy: str, optimizer: Optimizer, epochs: int, epochs_decay: int, decay_epochs: int
) -> Any:
    """The scheduler for ``policy`` (a name in :data:`SCHEDULES`)."""
    return SCHEDULES.get(policy)(optimizer, epochs, epochs_decay, decay_epochs)


def step_scheduler(scheduler: Any, epoch_loss: float) -> None:
    """Advance one epoch; ``epoch_loss`` (mean generator loss) drives the plateau policy."""
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        scheduler.step(epoch_loss)
    else:
        scheduler.step()
