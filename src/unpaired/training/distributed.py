"""Several processes, one run: torchrun's environment, the process group, and the few points
where the ranks must agree. Every function is a no-op (or the identity) in one process.

``torchrun --nproc_per_node=N -m unpaired train ...`` starts N copies of the command with
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set. Each process trains on its own shard of the
data with per-rank batch ``batch_size``; :class:`~torch.nn.parallel.DistributedDataParallel`
averages the gradients, so the ranks hold bit-identical weights after every step. Rank 0
alone writes the run folder. Objects (config, checkpoint, per-rank state) travel over gloo on
the CPU, so the same code serves single-node and multi-node runs, shared file system or not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")

# Long enough for rank 0 to evaluate FID or write a checkpoint while the others wait.
TIMEOUT = timedelta(minutes=30)
_CPU = torch.device("cpu")


@dataclass(frozen=True)
class Dist:
    """Where this process stands: ``rank`` of ``world_size``, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """True when torchrun (or another launcher) asked for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup() -> Dist:
    """Join the process group torchrun describes (idempotent); ``Dist()`` in one process.

    The group has gloo for CPU tensors and, when CUDA is present, NCCL for CUDA tensors, so it
    can be created before the run's device is known.
    """
    if not launched():
        return Dist()
    env = Dist(
        int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    )
    if not dist.is_initialized():
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        store = _restart_store(env)
        if store is None:
            dist.init_process_group(backend, timeout=TIMEOUT)
        else:
            dist.init_process_group(
                backend, store=store, rank=env.rank, world_size=env.world_size, timeout=TIMEOUT
            )
    return env


def _restart_store(env: Dist) -> Any:
    """In a worker group that ``torchrun --max-restarts`` restarted: the agent's store under a
    prefix of its own for this attempt (None otherwise).

    The restarted group meets in the same agent store as the failed one, and the keys the
    process group exchanges its addresses under are the same in every attempt, so a new rank
    could read a dead rank's address and fail to connect, or wait for it (seen with torch
    2.13 and ``--standalone``: about one restart in three).
    """
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    if attempt in ("", "0") or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    base = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        env.world_size,
        is_master=False,
        timeout=TIMEOUT,
    )
    return dist.PrefixStore(f"unpaired/attempt_{attempt}", base)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: torch.device, where: Dist) -> torch.device:
    """Each process of a CUDA run takes the GPU of its local rank."""
    if not where.enabled or device.type != "cuda":
        return device
    if device.index is not None:
        raise ValueError(
            f"{device} is fixed, but under torchrun each process takes cuda:LOCAL_RANK; "
            "use auto or cuda"
        )
    device = torch.device("cuda", where.local_rank)
    torch.cuda.set_device(device)
    return device


def share(make: Any, where: Dist) -> Any:
    """``make()`` on rank 0, its result handed to every rank (or its exception raised on all).

    For what must be decided once: the run's name (the next free ``demo-N``), or a loaded
    checkpoint that only rank 0's file system may hold.
    """
    if not where.enabled:
        return make()
    box: list[Any] = [None]
    if where.is_main:
        try:
            box[0] = ("ok", make())
        except Exception as exc:  # noqa: BLE001 - re-raised on every rank below
            box[0] = ("error", exc)
    dist.broadcast_object_list(box, src=0, device=_CPU)
    status, value = box[0]
    if status == "error":
        raise value
    return value


def gather(obj: T, where: Dist) -> list[T] | None:
    """Every rank's ``obj`` on rank 0 (in rank order), None elsewhere; ``[obj]`` alone."""
    if not where.enabled:
        return [obj]
    out: list[Any] | None = [None] * where.world_size if where.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def barrier(where: Dist) -> None:
    if where.enabled:
        dist.barrier()


def mean(tensors: list[torch.Tensor], where: Dist) -> list[torch.Tensor]:
    """The mean over ranks of each 0-dim tensor, in one all-reduce."""
    if not where.enabled or not tensors:
        return tensors
    flat = torch.stack([t.detach().double() for t in tensors])
    dist.all_reduce(flat)
    return list((flat / where.world_size).unbind())


def any_rank(flag: bool, where: Dist) -> bool:
    """True on every rank when ``flag`` is true on at least one (e.g. a stop request)."""
    if not where.enabled:
        return flag
    t = torch.tensor([int(flag)], dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def sync_batchnorm(net: nn.Module, device: torch.device, where: Dist) -> nn.Module:
    """``net`` with batch norm computed over all ranks' samples (SyncBatchNorm needs CUDA; on
    the CPU each rank keeps its own statistics). Instance norm needs nothing."""
    if where.enabled and device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(net)
    return net


def wrap(net: nn.Module, device: torch.device, where: Dist) -> nn.Module:
    """``net`` in DistributedDataParallel across the ranks; ``net`` itself in one process.

    DDP broadcasts rank 0's weights when it is built, so every rank starts from the same state,
    and averages the gradients in ``backward``.
    """
    if not where.enabled:
        return net
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=ids)
