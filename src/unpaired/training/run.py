"""One training run's assembled pieces and the operations on them (:class:`Run`): the
networks (DDP-wrapped under torchrun), optimizers, pools and RNG streams, the data loader, the
step loop with logging, sampling and checkpoints, the checks that keep a non-finite state from
ever being saved, and what a checkpoint holds. :mod:`.loop` drives it (``train``).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import shutil
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from .. import config as cfg
from ..errors import UnpairedError
from ..fs import atomic_write
from ..pretrained import save_pretrained
from ..recipes import RECIPES, StepContext
from ..recipes.samples import centre_slices
from ..recipes.schedules import step_scheduler
from ..recipes.steps import GradScalers, StepOptions
from ..report import write_report
from . import budget as budgets
from . import distributed
from .assemble import build_data, model_info, network_config, resolve_device
from .checkpoint import rng_state, save_checkpoint, set_rng_state
from .ema import GeneratorEMA
from .tracking import (
    JsonlLogger,
    Progress,
)

# Under torchrun the ranks agree on a stop request (Ctrl-C, SIGTERM) every this many steps;
# a collective per step would make every GPU step wait for the host.
STOP_CHECK_EVERY = 10


class TrainingDiverged(UnpairedError):
    """A loss (or a weight) stopped being finite; nothing of that state was saved."""


class DataChanged(UnpairedError):
    """The training images differ from those the checkpoint was trained on."""


@dataclass
class Position:
    """Where the run is: global step, epoch (0-based), batches done within the epoch."""

    step: int = 0
    epoch: int = 0
    batch: int = 0


def _ignore_sigint(worker_id: int) -> None:  # noqa: ARG001
    # Ctrl-C reaches the whole process group; the workers must live on so that the main
    # process can finish its step and write the checkpoint.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Run:
    """The assembled pieces of one training run and the operations on them.

    What differs between model families comes from their recipe (``self.spec``, see
    :mod:`unpaired.recipes`). Under torchrun (``where.enabled``) each rank holds the
    same networks, wrapped in DDP for the step (``self.nets``), its own data shard, image pools
    and RNG streams; rank 0 alone writes the run folder, and checkpoints carry every rank's
    pools and RNG states.
    """

    def __init__(
        self, config: cfg.TrainConfig, run_dir: Path, where: distributed.Dist | None = None
    ) -> None:
        self.created = budgets.clock()  # set-up counts towards a time budget
        self.config, self.run_dir = config, run_dir
        self.dist = where = where or distributed.Dist()
        device = resolve_device(config.device)  # a ConfigError naming the option already
        try:
            self.device = distributed.rank_device(device, where)
        except ValueError as exc:
            raise cfg.ConfigError(f"option device: {exc}") from None
        self.spec = spec = RECIPES.get(config.model)
        if where.enabled:
            spec.check_distributed(config)
        torch.manual_seed(config.seed)
        if not where.is_main:  # rank 0 generates the demo data first (shared file system)
            distributed.barrier(where)
        self.dataset, self.sampler, (self.sample_a, self.sample_b) = build_data(
            config, where.rank, where.world_size, cuda=self.device.type == "cuda"
        )
        if where.is_main:
            distributed.barrier(where)
        self.data_fingerprint = {
            "a": self.dataset.domain_a.fingerprint(),
            "b": self.dataset.domain_b.fingerprint(),
        }
        self.model = spec.build(network_config(config)).to(self.device)
        if config.channels_last:
            self.model.to(memory_format=torch.channels_last)
        for name in spec.nets:
            net = distributed.sync_batchnorm(getattr(self.model, name), self.device, where)
            setattr(self.model, name, net)
        # What the step calls: the networks themselves, or their DDP wrappers.
        self.nets = (
            spec.rebundle(
                [distributed.wrap(getattr(self.model, n), self.device, where) for n in spec.nets]
            )
            if where.enabled
            else self.model
        )
        if where.rank > 0:  # own dropout noise per rank; rank 0 keeps the one-process stream
            torch.manual_seed(config.seed + 1_000_003 * where.rank)
        optimizers = spec.optimizers(self.model, config)
        self.opt_g, self.opt_d = optimizers.opt_g, optimizers.opt_d
        self.sched_g, self.sched_d = optimizers.sched_g, optimizers.sched_d
        # The configured (undecayed) rate of each parameter group: a resume that changes it
        # rescales the restored rates (see restore).
        self.base_lrs = {
            key: [group.get("initial_lr", group["lr"]) for group in opt.param_groups]
            for key, opt in (("g", self.opt_g), ("d", self.opt_d))
        }
        self.lr_changed: list[tuple[float, float]] = []
        self.saved_step: int | None = None  # the step of the last checkpoint (None: none yet)
        self.pools = spec.pools(config, config.seed * 2 + 1_000_003 * where.rank)
        options = StepOptions(
            fused=(
                (
                    config.fused_passes
                    if config.fused_passes is not None
                    else self.device.type == "cuda"
                )
                and spec.fusable(config)
            ),
            precision=config.precision,
            channels_last=config.channels_last,
        )
        fp16 = config.precision == "fp16"
        scalers = GradScalers(
            *(torch.amp.GradScaler(self.device.type) if fp16 else None for _ in range(2))
        )
        self.context = StepContext(config.section(spec.name), options, scalers, self.pools)
        self.pos = Position()
        # Running sums stay tensors (float64) until logged, so no step waits for a .item().
        self.log_sums: dict[str, torch.Tensor] = {}
        self.log_count = 0
        self.epoch_loss = torch.zeros((), dtype=torch.float64)  # drives the plateau policy
        self.epoch_steps = 0
        self.interval_start = time.perf_counter()
        self.evaluator = None  # a TrainingEvaluator with eval_every (see build_evaluator)
        # --time-budget: measures the speed, then plans the run's length (see .budget)
        self.budget = (
            None
            if config.time_budget is None
            else budgets.Budget(cfg.budget_seconds(config.time_budget))
        )
        # --ema: the moving average of the folder's networks (the generators), see .ema
        self.ema = (
            None if config.ema is None else GeneratorEMA(self.model, spec.folder_nets, config.ema)
        )

    # --- checkpoints ------------------------------------------------------------------------
    def rank_state(self) -> dict[str, Any]:
        """What differs between ranks: image pools, RNG streams, unlogged loss sums (on CPU)."""
        return {
            "pools": {k: pool.state_dict() for k, pool in self.pools.items()},
            "rng": rng_state(),
            "log": {
                "sums": {k: v.cpu() for k, v in self.log_sums.items()},
                "count": self.log_count,
            },
            "epoch_loss": {"sum": self.epoch_loss.cpu(), "steps": self.epoch_steps},
            "weights_sha256": weights_digest(self.model) if self.dist.enabled else None,
            # --ema under torchrun: the averages must agree too (they follow the same weights)
            **({"ema_sha256": self.ema.digest()} if self.ema and self.dist.enabled else {}),
        }

    def check_finite(self, collective: bool = True) -> None:
        """Raise :class:`TrainingDiverged` when a loss summed since the last log, the epoch's
        loss or a weight is not finite (one host sync; every rank calls it when
        ``collective``, and all stop together)."""
        flags = [torch.isfinite(v).all() for v in self.log_sums.values()]
        flags.append(torch.isfinite(self.epoch_loss).all())
        flags += [torch.isfinite(p.detach()).all() for p in self.model.parameters()]
        # Gathered on the device and read once: one host sync, not one per parameter.
        bad = not bool(torch.stack([f.to(self.device) for f in flags]).all())
        if collective:
            bad = distributed.any_rank(bad, self.dist)
        if not bad:
            return
        for key, value in self.log_sums.items():
            if not bool(torch.isfinite(value).all()):
                what = f"loss {key} is {float(value / max(self.log_count, 1))}"
                break
        else:
            what = "a weight is not finite"
        raise self.diverged(what, "in the steps since the last log")

    def diverged(self, what: str, when: str = "") -> TrainingDiverged:
        """The one-line error of a divergence at the current step: what is kept and how to
        resume from it (with a lower learning rate)."""
        key = "optim.lr"
        section = self.config.sections.get(self.spec.name)
        if section is not None and hasattr(section, "lr"):
            key = f"{self.spec.name}.lr"
        base = self.base_lrs["g"][0]
        lower = f"{base / 10 if base <= 1e-2 else 1e-4:.3g}"
        where = f"at step {self.pos.step}" + (f" ({when})" if when else "")
        if self.saved_step is None:
            return TrainingDiverged(
                f"training diverged: {what} {where}; "
                "no checkpoint had been saved yet; start over with a lower learning rate: "
                f"unpaired train --resume {self.run_dir} --restart --set {key}={lower}"
            )
        return TrainingDiverged(
            f"training diverged: {what} {where}; nothing after step {self.saved_step} was saved: "
            f"{self.run_dir / 'checkpoints' / 'latest.pt'} and model/ are from step "
            f"{self.saved_step}; resume from there with a lower learning rate: "
            f"unpaired train --resume {self.run_dir} --set {key}={lower}"
        )

    def state(self) -> dict[str, Any] | None:
        """The checkpoint: on rank 0 (None elsewhere); every rank must call it (a gather).

        Rank 0's own part sits at the top level, as in a one-process run; the other ranks'
        parts follow in ``other_ranks``.
        """
        ranks = distributed.gather(self.rank_state(), self.dist)
        if ranks is None:
            return None
        if len({r["weights_sha256"] for r in ranks}) > 1:  # DDP keeps them equal; say if not
            warnings.warn(
                f"step {self.pos.step}: the weights differ between ranks; the checkpoint has "
                "rank 0's",
                stacklevel=2,
            )
        m = self.model
        return {
            "config": cfg.to_dict(self.config),
            "position": vars(self.pos).copy(),
            "models": {n: getattr(m, n).state_dict() for n in self.spec.nets},
            "optimizers": {"g": self.opt_g.state_dict(), "d": self.opt_d.state_dict()},
            "schedulers": {"g": self.sched_g.state_dict(), "d": self.sched_d.state_dict()},
            "scalers": {k: s.state_dict() for k, s in vars(self.context.scalers).items() if s},
            **({"budget": self.budget.state()} if self.budget is not None else {}),
            **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
            **ranks[0],
            "data": self.data_fingerprint,
            "base_lrs": self.base_lrs,
            "world_size": self.dist.world_size,
            "other_ranks": ranks[1:],
        }

    def restore(self, state: dict[str, Any]) -> None:
        for name, sd in state["models"].items():
            getattr(self.model, name).load_state_dict(sd)
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["optimizers"]["g"])
        self.opt_d.load_state_dict(state["optimizers"]["d"])
        self.sched_g.load_state_dict(state["schedulers"]["g"])
        self.sched_d.load_state_dict(state["schedulers"]["d"])
        for key, scaler_state in state["scalers"].items():
            getattr(self.context.scalers, key).load_state_dict(scaler_state)
        self._rescale_lrs(state)
        if self.budget is not None and "budget" in state:
            self.budget.load(state["budget"])
        self.pos = Position(**state["position"])
        self.saved_step = self.pos.step
        saved_world = state.get("world_size", 1)
        if saved_world != self.dist.world_size and self.dist.is_main:
            warnings.warn(
                f"the checkpoint was written by {saved_world} process(es), this run has "
                f"{self.dist.world_size}: training continues, but not exactly as it would have",
                stacklevel=2,
            )
        others = state.get("other_ranks", [])
        if self.dist.rank == 0:
            mine = state
        elif self.dist.rank - 1 < len(others):
            mine = others[self.dist.rank - 1]
        else:
            return  # a rank the checkpoint did not have: fresh pools and RNG streams
        for key, pool in self.pools.items():
            pool.load_state_dict(mine["pools"][key], self.device)
        self.log_sums = {k: v.to(self.device) for k, v in mine["log"]["sums"].items()}
        self.log_count = mine["log"]["count"]
        self.epoch_loss = mine["epoch_loss"]["sum"].to(self.device)
        self.epoch_steps = mine["epoch_loss"]["steps"]
        set_rng_state(mine["rng"])

    def _rescale_lrs(self, state: dict[str, Any]) -> None:
        """A resume with another learning rate: scale the restored (maybe decayed) rates and
        the schedulers' base rates by new / old, group by group."""
        saved = state.get("base_lrs") or {
            key: [g.get("initial_lr") for g in state["optimizers"][key]["param_groups"]]
            for key in ("g", "d")
        }
        for key, opt, sched in (("g", self.opt_g, self.sched_g), ("d", self.opt_d, self.sched_d)):
            pairs = zip(saved.get(key, []), self.base_lrs[key], strict=False)
            for i, (old, new) in enumerate(pairs):
                if old is None or not old or old == new:
                    continue
                ratio = new / old
                group = opt.param_groups[i]
                group["lr"] *= ratio
                if "initial_lr" in group:
                    group["initial_lr"] = new
                if hasattr(sched, "base_lrs"):
                    sched.base_lrs[i] = new
                last = getattr(sched, "_last_lr", None)
                if isinstance(last, list) and i < len(last):
                    last[i] = group["lr"]
                if (old, new) not in self.lr_changed:
                    self.lr_changed.append((old, new))

    def check_data(self, state: dict[str, Any], allow_change: bool) -> None:
        """Refuse (or, with ``allow_change``, warn about) training images that differ from
        those the checkpoint was trained on: exact resume no longer holds."""
        saved = state.get("data")
        if not isinstance(saved, dict):
            return  # written before fingerprints (unpaired 0.1)
        changes = []
        for domain in ("a", "b"):
            old, new = saved.get(domain), self.data_fingerprint[domain]
            if isinstance(old, dict) and old != new:
                count = (
                    f"{old.get('items')} -> {new['items']} images"
                    if old.get("items") != new["items"]
                    else "files renamed or replaced"
                )
                changes.append(f"domain {domain.upper()}: {count}")
        if not changes:
            return
        text = (
            f"the training images changed since the checkpoint in {self.run_dir} was "
            f"written ({'; '.join(changes)}): the run cannot continue exactly"
        )
        if not allow_change:
            raise DataChanged(f"{text}; resume anyway with --allow-data-change")
        if self.dist.is_main:
            warnings.warn(f"{text}; continuing (--allow-data-change)", stacklevel=2)

    def save(self, epoch_copy: bool = False) -> None:
        """Write checkpoints/latest.pt (and an epoch copy) and the shareable model folder.

        Every rank calls it; rank 0 writes. A state that is not finite (a divergence) is
        never saved: :class:`TrainingDiverged` leaves the last finite checkpoint and model."""
        self.check_finite()
        state = self.state()
        if state is None:
            return
        ckpt_dir = self.run_dir / "checkpoints"
        save_checkpoint(ckpt_dir / "latest.pt", state)
        if epoch_copy:  # the same bytes: copied, not serialised and hashed a second time
            copy = ckpt_dir / f"epoch_{self.pos.epoch:04d}.pt"
            atomic_write(copy, lambda tmp: shutil.copyfile(ckpt_dir / "latest.pt", tmp))
        info = model_info(self.config) | {"step": self.pos.step, "epoch": self.pos.epoch}
        with self.shown_weights():
            save_pretrained(self.run_dir / "model", self.model, info)
        self.saved_step = self.pos.step

    def evaluate(self, logger: JsonlLogger, progress: Progress) -> None:
        """FID/KID of the current generators into metrics.jsonl (leaves every RNG as it was)."""
        from .evaluator import format_record

        self.check_finite(collective=False)  # the evaluator runs on rank 0 alone
        info = model_info(self.config) | {"step": self.pos.step, "epoch": self.pos.epoch}
        with self.shown_weights():  # model_best/ too
            record = self.evaluator(self.model, self.pos.step, info)
        logger.log(record)
        progress.write(format_record(record))

    def shown_weights(self) -> contextlib.AbstractContextManager:
        """Inside the block ``self.model`` holds the weights the run shows (samples,
        evaluation, model folders): the generators' moving average with ``--ema``, else its
        own."""
        return self.ema.swapped() if self.ema is not None else contextlib.nullcontext()

    def write_samples(self) -> Path:
        path = self.run_dir / "samples" / f"step_{self.pos.step:06d}.png"
        with centre_slices(self.config.data.context_slices), self.shown_weights():
            # 2.5D: the grid shows the centre slice; --ema: the averaged generators
            return self.spec.write_samples(
                path, self.model, self.sample_a, self.sample_b, self.config.seed
            )

    # --- the loop ---------------------------------------------------------------------------
    def loader(self) -> DataLoader:
        c = self.config
        workers = c.num_workers
        if workers is None:
            workers = 4 if self.device.type == "cuda" else 0
        return DataLoader(
            self.dataset,
            batch_size=c.batch_size,
            sampler=self.sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=workers > 0,
            worker_init_fn=_ignore_sigint if workers > 0 else None,
            # Its own generator: building an iterator must not draw from the global torch RNG,
            # or a run resumed mid-epoch would see different random numbers afterwards.
            generator=torch.Generator(),
        )

    def steps_per_epoch(self) -> int:
        return math.ceil(self.sampler.epoch_size / self.config.batch_size)

    def total_steps(self) -> int:
        c = self.config
        if self.budget is not None:  # planned at the measured speed (until then: open-ended)
            plan = self.budget.plan
            return plan.planned_steps if plan is not None else 2**62
        total = (c.epochs + c.epochs_decay) * self.steps_per_epoch()
        return min(total, c.max_steps) if c.max_steps is not None else total

    def log(self, logger: JsonlLogger, progress: Progress) -> None:
        now = time.perf_counter()
        seconds, self.interval_start = now - self.interval_start, now
        n = max(self.log_count, 1)
        record: dict[str, Any] = {
            "step": self.pos.step,
            "epoch": self.pos.epoch + 1,
            "lr": self.opt_g.param_groups[0]["lr"],
        }
        keys = [k for k in self.spec.loss_keys if k in self.log_sums]
        means = distributed.mean([self.log_sums[k] / n for k in keys], self.dist)
        record.update({k: float(v) for k, v in zip(keys, means, strict=True)})
        for k in keys:  # the means are the same on every rank: all stop together
            if not math.isfinite(record[k]):
                first = self.pos.step - n + 1
                span = "" if n == 1 else f"the mean of steps {first}-{self.pos.step}"
                raise self.diverged(f"loss {k} is {record[k]}", span)
        record["sec_per_step"] = seconds / n
        record["time"] = time.time()
        logger.log(record)
        progress.report(self.pos.step, self.pos.epoch + 1, record)
        self.log_sums, self.log_count = {}, 0

    def accumulate(self, losses: dict[str, torch.Tensor]) -> None:
        """Add one step's losses to the logging interval and to the epoch's generator loss."""
        for k, v in losses.items():
            v = v.double()
            self.log_sums[k] = self.log_sums[k] + v if k in self.log_sums else v
        self.log_count += 1
        g_keys = self.spec.plateau_keys
        self.epoch_loss = self.epoch_loss.to(losses[g_keys[0]].device) + sum(
            losses[k].double() for k in g_keys
        )
        self.epoch_steps += 1

    def end_epoch(self) -> None:
        # The ranks average their losses, so a plateau schedule decides the same on all.
        if not self.spec.per_iteration and self.budget is None:  # a budget sets the LR itself
            (mean,) = distributed.mean([self.epoch_loss / max(self.epoch_steps, 1)], self.dist)
            mean = float(mean)
            step_scheduler(self.sched_g, mean)
            step_scheduler(self.sched_d, mean)
        self.pos.epoch += 1
        self.pos.batch = 0
        self.epoch_loss, self.epoch_steps = torch.zeros_like(self.epoch_loss), 0

    # --- time budget (see .budget) ----------------------------------------------------------
    def budget_lr(self) -> None:
        """The learning rates after this step under a time budget: the initial ones until the
        plan's decay starts, then linear to zero at its last step."""
        assert self.budget is not None
        plan = self.budget.plan
        factor = 1.0 if plan is None else plan.lr_factor(self.pos.step)
        budgets.set_lrs(
            ((self.opt_g, self.base_lrs["g"]), (self.opt_d, self.base_lrs["d"])), factor
        )

    def budget_every(self) -> dict[str, float]:
        """How many steps apart each kind of periodic work comes (``math.inf``: never)."""
        c = self.config
        saves = 1 / c.latest_every + 1 / self.steps_per_epoch()  # latest.pt and epoch ends
        return {
            "sample": float(c.sample_every),
            "save": 1 / saves,
            "eval": float(c.eval_every) if c.eval_every is not None else math.inf,
        }

    def plan_budget(self, logger: JsonlLogger, progress: Progress, done: list[str]) -> int:
        """Time once the periodic work not measured yet, fix the plan (rank 0's, shared with
        every rank) and log it; returns the planned number of steps."""
        budget, c = self.budget, self.config
        assert budget is not None
        measured = set(budget.measured_costs()) | set(done)
        if self.evaluator is not None and "eval" not in measured:
            budget.timed("eval", lambda: self.evaluate(logger, progress))
        if self.dist.is_main and "sample" not in measured:
            budget.timed("sample", lambda: (self.write_samples(), write_report(self.run_dir)))
        if "save" not in measured:
            budget.timed("save", self.save)  # written again below, with the plan
        every = self.budget_every()
        budget.plan = plan = distributed.share(lambda: budget.fix(self.pos.step, every), self.dist)
        self.log_plan(logger, "budget_plan")
        progress.write(
            f"time budget {c.time_budget}: {plan.planned_steps} steps planned "
            f"({plan.sec_per_step:.3g} s/step measured, {plan.sec_per_step_all:.3g} with samples, "
            f"checkpoints and evaluations); LR decays to zero from step {plan.decay_from}"
        )
        _show_total(progress, plan.planned_steps)
        self.budget_lr()
        self.save()  # the checkpoint of this step holds the plan: a resume keeps it
        return plan.planned_steps

    def replan_budget(self, logger: JsonlLogger, progress: Progress) -> int:
        """Revise the plan to the recent speed (see .budget); returns the planned steps."""
        budget = self.budget
        assert budget is not None and budget.plan is not None
        before = budget.plan.planned_steps
        every = self.budget_every()
        plan = distributed.share(lambda: budget.revise(self.pos.step, every), self.dist)
        budget.plan = plan
        self.log_plan(logger, "budget_replan")
        if abs(plan.planned_steps - before) > 0.01 * before:
            progress.write(
                f"time budget {self.config.time_budget}: {plan.planned_steps} steps planned "
                f"instead of {before} ({plan.sec_per_step:.3g} s/step lately)"
            )
        _show_total(progress, plan.planned_steps)
        self.budget_lr()
        return plan.planned_steps

    def log_plan(self, logger: JsonlLogger, event: str) -> None:
        budget = self.budget
        assert budget is not None and budget.plan is not None
        plan = budget.plan
        logger.log(
            {
                "event": event,
                "step": self.pos.step,
                "planned_steps": plan.planned_steps,
                "decay_from": plan.decay_from,
                **({"decay_factor": plan.decay_factor} if plan.revision else {}),
                "sec_per_step": plan.sec_per_step,
                "sec_per_step_all": plan.sec_per_step_all,
                "budget_s": budget.budget_s,
                "elapsed_s": budget.elapsed_s,
                "time": time.time(),
            }
        )

    def stop_requested(self, stop: dict[str, bool], now: bool = False) -> bool:
        """The stop flag, agreed by all ranks (checked every STOP_CHECK_EVERY steps, or ``now``:
        every rank must reach the same checks)."""
        if not self.dist.enabled:
            return stop["stop"]
        if not now and self.pos.step % STOP_CHECK_EVERY:
            return False
        stop["stop"] = distributed.any_rank(stop["stop"], self.dist)
        return stop["stop"]

    def run(self, logger: JsonlLogger, progress: Progress, stop: dict[str, bool]) -> bool:
        """Train until the end or a stop request; returns True when stopped early by a signal."""
        c = self.config
        total_epochs, total = c.epochs + c.epochs_decay, self.total_steps()
        budget = self.budget
        if budget is not None:  # the budget, not the epochs, says how long
            total_epochs = math.inf
            budget.start(setup_s=budgets.clock() - self.created)
            if budget.plan is None:  # until the plan: the progress counts to the planning step
                _show_total(progress, budgets.plan_at())
        loader = self.loader()
        main = self.dist.is_main
        self.interval_start = time.perf_counter()
        while self.pos.epoch < total_epochs and self.pos.step < total:
            self.sampler.set_epoch(self.pos.epoch, start=self.pos.batch * c.batch_size)
            stopping = False
            for batch in loader:
                batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
                out = self.spec.step(self.nets, self.opt_g, self.opt_d, batch, self.context)
                if self.spec.per_iteration and budget is None:
                    self.sched_g.step()
                    self.sched_d.step()
                self.pos.step += 1
                if self.ema is not None:
                    self.ema.update(self.pos.step)
                self.pos.batch += 1
                self.accumulate(out)
                if budget is not None:
                    self.budget_lr()
                if self.pos.step % c.log_every == 0:
                    self.log(logger, progress)
                done = []  # the periodic work of this step (its cost is part of a budget's plan)
                if self.evaluator is not None and self.pos.step % c.eval_every == 0:
                    self.evaluate(logger, progress)
                    done.append("eval")
                if main and self.pos.step % c.sample_every == 0:
                    self.write_samples()
                    write_report(self.run_dir)
                    done.append("sample")
                if self.pos.step % c.latest_every == 0:
                    self.save()
                    done.append("save")
                if budget is not None:
                    budget.tick(self.pos.step, done)
                    if budget.due(self.pos.step):
                        total = self.plan_budget(logger, progress, done)
                    elif budget.replan_due(self.pos.step):
                        total = self.replan_budget(logger, progress)
                progress.update(self.pos.step)
                stopping = self.stop_requested(stop)
                if stopping or self.pos.step >= total:
                    break
            if self.pos.batch >= self.steps_per_epoch():
                self.end_epoch()
                self.save(epoch_copy=self.pos.epoch % c.checkpoint_every == 0)
                if budget is not None:
                    budget.pending.add("save")  # its time falls into the next step's
            if stopping or self.stop_requested(stop, now=True):
                return True
        return False


def _show_total(progress: Progress, total: int) -> None:
    """Let the progress bar or lines count to ``total`` steps."""
    if hasattr(progress, "total"):
        progress.total = total
    bar = getattr(progress, "bar", None)
    if bar is not None:
        bar.total = total
        bar.refresh()


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer, in order: equal digests mean bit-equal weights."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
