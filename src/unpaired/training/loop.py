"""``train(config)``: assemble the run, iterate, log, sample, checkpoint and resume.

The run folder ``<runs_dir>/<name>/`` receives ``config.yaml``, ``metrics.jsonl``,
``samples/step_XXXXXX.png``, ``checkpoints/latest.pt`` (+ ``epoch_XXXX.pt`` every
``checkpoint_every`` epochs), ``model/`` (config.json + model.safetensors) and ``report.html``;
with ``eval_every``, FID/KID records in ``metrics.jsonl`` and ``model_best/`` (see
:mod:`unpaired.metrics.during_training`).
"""

from __future__ import annotations

import itertools
import math
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from .. import config as cfg
from ..image_pool import ImagePool
from ..models.cyclegan import CycleGAN, build_cyclegan
from ..pretrained import save_pretrained
from ..report import write_report
from .assemble import build_data, build_evaluator, model_info, resolve_device
from .checkpoint import CheckpointError, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .samples import write_samples
from .schedules import build_scheduler, step_scheduler
from .steps import CycleGANWeights, GradScalers, StepOptions, cyclegan_step
from .tracking import (
    JsonlLogger,
    Progress,
    check_trackers,
    hardware_info,
    open_trackers,
    truncate_after,
)

LOSS_KEYS = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")


class TrainingInterrupted(Exception):
    """Raised after Ctrl-C / SIGTERM once the checkpoint has been written."""

    def __init__(self, run_dir: Path, step: int) -> None:
        super().__init__(
            f"interrupted at step {step}; resume with: unpaired train --resume {run_dir}"
        )
        self.run_dir, self.step = run_dir, step


@dataclass
class Position:
    """Where the run is: global step, epoch (0-based), batches done within the epoch."""

    step: int = 0
    epoch: int = 0
    batch: int = 0


@contextmanager
def stop_on_signals():
    """Turn SIGINT / SIGTERM into a flag the loop checks after each step."""
    flag = {"stop": False}

    def handler(signum, frame):  # noqa: ARG001
        if flag["stop"]:  # a second Ctrl-C means now
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: no handlers, no graceful stop
        pass
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _ignore_sigint(worker_id: int) -> None:  # noqa: ARG001
    # Ctrl-C reaches the whole process group; the workers must live on so that the main
    # process can finish its step and write the checkpoint.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Run:
    """The assembled pieces of one training run and the operations on them."""

    def __init__(self, config: cfg.TrainConfig, run_dir: Path) -> None:
        self.config, self.run_dir = config, run_dir
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        cg, data = config.cyclegan, config.data
        self.dataset, self.sampler, (self.sample_a, self.sample_b) = build_data(config)
        self.model: CycleGAN = build_cyclegan(
            data.channels_a,
            data.channels_b,
            cg.generator,
            cg.discriminator,
            cg.ngf,
            cg.ndf,
            cg.n_layers_d,
            cg.norm,
            cg.use_dropout,
            cg.init_type,
            cg.init_gain,
        ).to(self.device)
        if config.channels_last:
            self.model.to(memory_format=torch.channels_last)
        opt = config.optim
        betas = (opt.beta1, opt.beta2)
        g_params = itertools.chain(self.model.g_ab.parameters(), self.model.g_ba.parameters())
        d_params = itertools.chain(self.model.d_a.parameters(), self.model.d_b.parameters())
        self.opt_g = torch.optim.Adam(g_params, lr=opt.lr, betas=betas)
        self.opt_d = torch.optim.Adam(d_params, lr=opt.lr, betas=betas)
        self.sched_g, self.sched_d = (
            build_scheduler(
                opt.lr_policy, o, config.epochs, config.epochs_decay, opt.lr_decay_epochs
            )
            for o in (self.opt_g, self.opt_d)
        )
        self.pool_a = ImagePool(cg.pool_size, seed=config.seed * 2 + 1)
        self.pool_b = ImagePool(cg.pool_size, seed=config.seed * 2 + 2)
        self.weights = CycleGANWeights(
            cg.gan_mode, cg.lambda_a, cg.lambda_b, cg.lambda_identity, cg.lambda_gp
        )
        self.options = StepOptions(
            fused=(
                (
                    config.fused_passes
                    if config.fused_passes is not None
                    else self.device.type == "cuda"
                )
                and cg.norm != "batch"  # batch norm mixes the samples of a batch
            ),
            precision=config.precision,
            channels_last=config.channels_last,
        )
        fp16 = config.precision == "fp16"
        self.scalers = GradScalers(
            *(torch.amp.GradScaler(self.device.type) if fp16 else None for _ in range(2))
        )
        self.pos = Position()
        # Running sums stay tensors (float64) until logged, so no step waits for a .item().
        self.log_sums: dict[str, torch.Tensor] = {}
        self.log_count = 0
        self.epoch_loss = torch.zeros((), dtype=torch.float64)  # drives the plateau policy
        self.epoch_steps = 0
        self.interval_start = time.perf_counter()
        self.evaluator = None  # a TrainingEvaluator with eval_every (see build_evaluator)

    # --- checkpoints ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        m = self.model
        return {
            "config": cfg.to_dict(self.config),
            "position": vars(self.pos).copy(),
            "models": {n: getattr(m, n).state_dict() for n in ("g_ab", "g_ba", "d_a", "d_b")},
            "optimizers": {"g": self.opt_g.state_dict(), "d": self.opt_d.state_dict()},
            "schedulers": {"g": self.sched_g.state_dict(), "d": self.sched_d.state_dict()},
            "pools": {"a": self.pool_a.state_dict(), "b": self.pool_b.state_dict()},
            "scalers": {k: s.state_dict() for k, s in vars(self.scalers).items() if s},
            "rng": rng_state(),
            "log": {
                "sums": {k: v.cpu() for k, v in self.log_sums.items()},
                "count": self.log_count,
            },
            "epoch_loss": {"sum": self.epoch_loss.cpu(), "steps": self.epoch_steps},
        }

    def restore(self, state: dict[str, Any]) -> None:
        for name, sd in state["models"].items():
            getattr(self.model, name).load_state_dict(sd)
        self.opt_g.load_state_dict(state["optimizers"]["g"])
        self.opt_d.load_state_dict(state["optimizers"]["d"])
        self.sched_g.load_state_dict(state["schedulers"]["g"])
        self.sched_d.load_state_dict(state["schedulers"]["d"])
        self.pool_a.load_state_dict(state["pools"]["a"], self.device)
        self.pool_b.load_state_dict(state["pools"]["b"], self.device)
        for key, scaler_state in state["scalers"].items():
            getattr(self.scalers, key).load_state_dict(scaler_state)
        self.pos = Position(**state["position"])
        self.log_sums = {k: v.to(self.device) for k, v in state["log"]["sums"].items()}
        self.log_count = state["log"]["count"]
        self.epoch_loss = state["epoch_loss"]["sum"].to(self.device)
        self.epoch_steps = state["epoch_loss"]["steps"]
        set_rng_state(state["rng"])

    def save(self, epoch_copy: bool = False) -> None:
        """Write checkpoints/latest.pt (and an epoch copy) and the shareable model folder."""
        state = self.state()
        ckpt_dir = self.run_dir / "checkpoints"
        save_checkpoint(ckpt_dir / "latest.pt", state)
        if epoch_copy:
            save_checkpoint(ckpt_dir / f"epoch_{self.pos.epoch:04d}.pt", state)
        info = model_info(self.config) | {"step": self.pos.step, "epoch": self.pos.epoch}
        save_pretrained(self.run_dir / "model", self.model, info)

    def evaluate(self, logger: JsonlLogger, progress: Progress) -> None:
        """FID/KID of the current generators into metrics.jsonl (leaves every RNG as it was)."""
        from ..metrics.during_training import format_record

        info = model_info(self.config) | {"step": self.pos.step, "epoch": self.pos.epoch}
        record = self.evaluator(self.model, self.pos.step, info)
        logger.log(record)
        progress.write(format_record(record))

    def write_samples(self) -> Path:
        path = self.run_dir / "samples" / f"step_{self.pos.step:06d}.png"
        return write_samples(path, self.model, self.sample_a, self.sample_b)

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
        record.update({k: float(self.log_sums[k]) / n for k in LOSS_KEYS if k in self.log_sums})
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
        g_keys = ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")
        self.epoch_loss = self.epoch_loss.to(losses["G_A"].device) + sum(
            losses[k].double() for k in g_keys
        )
        self.epoch_steps += 1

    def end_epoch(self) -> None:
        mean = float(self.epoch_loss) / max(self.epoch_steps, 1)
        step_scheduler(self.sched_g, mean)
        step_scheduler(self.sched_d, mean)
        self.pos.epoch += 1
        self.pos.batch = 0
        self.epoch_loss, self.epoch_steps = torch.zeros_like(self.epoch_loss), 0

    def run(self, logger: JsonlLogger, progress: Progress, stop: dict[str, bool]) -> bool:
        """Train until the end or a stop request; returns True when stopped early by a signal."""
        c = self.config
        total_epochs, total = c.epochs + c.epochs_decay, self.total_steps()
        loader = self.loader()
        self.interval_start = time.perf_counter()
        while self.pos.epoch < total_epochs and self.pos.step < total:
            self.sampler.set_epoch(self.pos.epoch, start=self.pos.batch * c.batch_size)
            for batch in loader:
                batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
                out = cyclegan_step(
                    self.model,
                    self.opt_g,
                    self.opt_d,
                    batch,
                    self.pool_a,
                    self.pool_b,
                    self.weights,
                    self.options,
                    self.scalers,
                )
                self.pos.step += 1
                self.pos.batch += 1
                self.accumulate(out)
                if self.pos.step % c.log_every == 0:
                    self.log(logger, progress)
                if self.evaluator is not None and self.pos.step % c.eval_every == 0:
                    self.evaluate(logger, progress)
                if self.pos.step % c.sample_every == 0:
                    self.write_samples()
                    write_report(self.run_dir)
                if self.pos.step % c.latest_every == 0:
                    self.save()
                progress.update(self.pos.step)
                if stop["stop"] or self.pos.step >= total:
                    break
            if self.pos.batch >= self.steps_per_epoch():
                self.end_epoch()
                self.save(epoch_copy=self.pos.epoch % c.checkpoint_every == 0)
            if stop["stop"]:
                return True
        return False


def new_run_dir(config: cfg.TrainConfig) -> Path:
    """``<runs_dir>/<name>`` for a new run; an existing run is never overwritten. Not created
    here: the caller creates it once the run has been assembled without error."""
    run_dir = Path(config.runs_dir) / str(config.name)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise cfg.ConfigError(
            f"run folder {run_dir} already exists; continue it with --resume {run_dir} "
            "or pick another --name"
        )
    return run_dir


def train(
    config: cfg.TrainConfig,
    run_dir: str | Path | None = None,
    resume: dict[str, Any] | None = None,
    progress: bool | None = None,
) -> Path:
    """Train CycleGAN as ``config`` says; returns the run folder.

    ``resume`` is a loaded checkpoint (see :func:`resume_config`), and ``run_dir`` its folder.
    Raises :class:`TrainingInterrupted` after a signal, once the checkpoint is safely written.
    """
    check_trackers(config.tensorboard, config.wandb)
    evaluator = build_evaluator(config)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(config)
    run = Run(config, run_dir)  # bad data or device fail here, before any folder is made
    run_dir.mkdir(parents=True, exist_ok=True)
    if evaluator is not None:
        evaluator.run_dir = run_dir
        run.evaluator = evaluator
    metrics_path = run_dir / "metrics.jsonl"
    if resume is not None:
        try:
            run.restore(resume)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            # A checkpoint from another version of unpaired, or edited by hand.
            raise CheckpointError(
                f"checkpoint in {run_dir / 'checkpoints'} does not fit this version of unpaired "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
            ) from None
        truncate_after(metrics_path, run.pos.step)
    else:
        (run_dir / "config.yaml").write_text(cfg.dump_yaml(config))
    trackers = open_trackers(
        run_dir, str(config.name), cfg.to_dict(config), config.tensorboard, config.wandb
    )
    logger = JsonlLogger(metrics_path, also=trackers)
    event = "resume" if resume is not None else "start"
    logger.log(
        {
            "event": event,
            "step": run.pos.step,
            "time": time.time(),
            "device": str(run.device),
            "hardware": hardware_info(run.device),
        }
    )
    bar = Progress(run.total_steps(), run.pos.step, progress)
    try:
        with stop_on_signals() as stop:
            stopped = run.run(logger, bar, stop)
    finally:
        bar.close()
    if run.log_count and not stopped:
        run.log(logger, bar)
    if run.evaluator is not None and not stopped and run.evaluator.last_step != run.pos.step:
        run.evaluate(logger, bar)  # the final model is always scored
    run.save()
    run.write_samples()
    write_report(run_dir)
    logger.log(
        {"event": "interrupted" if stopped else "end", "step": run.pos.step, "time": time.time()}
    )
    logger.close()
    if stopped:
        raise TrainingInterrupted(run_dir, run.pos.step)
    return run_dir


def resume_config(run_dir: Path, overrides: dict[str, Any]) -> tuple[cfg.TrainConfig, dict]:
    """Load ``run_dir/checkpoints/latest.pt`` and apply the ``overrides`` a resume may change."""
    state = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
    saved = state["config"]
    for key, value in cfg.flatten(overrides).items():
        if key not in cfg.RESUMABLE_KEYS and cfg.flatten(saved).get(key, object()) != value:
            raise cfg.ConfigError(
                f"option {key}: cannot change when resuming (the run used "
                f"{cfg.flatten(saved).get(key)!r}); start a new run instead"
            )
    return cfg.build_config(saved, overrides), state
