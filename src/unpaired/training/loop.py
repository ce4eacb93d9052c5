"""``train(config)``: assemble the run, iterate, log, sample, checkpoint and resume.

The run folder ``<runs_dir>/<name>/`` receives ``config.yaml``, ``metrics.jsonl``,
``samples/step_XXXXXX.png``, ``checkpoints/latest.pt`` (+ ``epoch_XXXX.pt`` every
``checkpoint_every`` epochs), ``model/`` (config.json + model.safetensors) and ``report.html``;
with ``eval_every``, FID/KID records in ``metrics.jsonl`` and ``model_best/`` (see
:mod:`unpaired.training.evaluator`).
"""

from __future__ import annotations

import signal
import time
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from .. import config as cfg
from ..fs import atomic_write
from ..recipes import configure
from ..report import write_report
from . import distributed, rundir
from .assemble import build_evaluator
from .checkpoint import CheckpointError, load_checkpoint
from .run import (  # noqa: F401 - also what loop.Run & co. name for callers
    STOP_CHECK_EVERY,
    DataChanged,
    Position,
    Run,
    TrainingDiverged,
    weights_digest,
)
from .tracking import (
    JsonlLogger,
    NullLogger,
    Progress,
    Quiet,
    check_trackers,
    hardware_info,
    open_trackers,
    truncate_after,
)


class TrainingInterrupted(Exception):
    """Raised after Ctrl-C / SIGTERM once the checkpoint has been written."""

    def __init__(self, run_dir: Path, step: int, processes: int = 1) -> None:
        launch = (
            "unpaired" if processes == 1 else f"torchrun --nproc_per_node={processes} -m unpaired"
        )
        super().__init__(
            f"interrupted at step {step}; resume with: {launch} train --resume {run_dir}"
        )
        self.run_dir, self.step = run_dir, step


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


def new_run_dir(config: cfg.TrainConfig) -> Path:
    """``<runs_dir>/<name>`` for a new run; an existing run is never overwritten. Not created
    here (see :func:`unpaired.training.rundir.claim_new`, which creates and locks it)."""
    run_dir = Path(config.runs_dir) / str(config.name)
    if rundir.run_contents(run_dir):
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
    *,
    locked: bool = False,
    allow_data_change: bool = False,
) -> Path:
    """Train the model ``config.model`` names as ``config`` says; returns the run folder.

    ``resume`` is a loaded checkpoint (see :func:`resume_config`), and ``run_dir`` its folder.
    The run folder is locked for the whole run (see :mod:`unpaired.training.rundir`), unless
    the caller holds its lock already (``locked``). ``allow_data_change``: resume although the
    training images differ from the checkpoint's (a warning instead of an error).
    Raises :class:`TrainingInterrupted` after a signal, once the checkpoint is safely written;
    :class:`TrainingDiverged` when a loss stops being finite (nothing of it saved).
    """
    where = distributed.setup()  # under torchrun: join the group; else a no-op
    with ExitStack() as held:
        if run_dir is None:

            def claim() -> Path:
                runs_dir = Path(config.runs_dir)
                name, lock = rundir.claim_new(runs_dir, str(config.name), explicit=True)
                held.enter_context(lock)
                return runs_dir / name

            run_dir = distributed.share(claim, where)
        elif not locked:

            def lock() -> None:
                held.enter_context(rundir.lock_folder(Path(run_dir)))

            distributed.share(lock, where)
        run_dir = Path(run_dir)
        if where.is_main:
            rundir.clean_stale_temporaries(run_dir)
        return _train(config, run_dir, resume, progress, where, allow_data_change)


def _train(
    config: cfg.TrainConfig,
    run_dir: Path,
    resume: dict[str, Any] | None,
    progress: bool | None,
    where: distributed.Dist,
    allow_data_change: bool,
) -> Path:
    main = where.is_main
    check_trackers(config.tensorboard, config.wandb)
    evaluator = build_evaluator(config) if main else None
    run = Run(config, run_dir, where)  # bad data or device fail here, before anything is written
    if resume is not None:
        run.check_data(resume, allow_data_change)
    if main:
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
        if main:
            for old, new in run.lr_changed:
                warnings.warn(
                    f"learning rate {old:g} -> {new:g} from step {run.pos.step}: the run goes on "
                    "from its checkpoint at the new rate (no longer exactly as it would have)",
                    stacklevel=2,
                )
            if run.pos.step >= run.total_steps() and config.time_budget is not None:
                warnings.warn(
                    f"the run is already at step {run.pos.step}, the last step its time budget "
                    "planned: nothing to train (start a new run for more)",
                    stacklevel=2,
                )
            elif run.pos.step >= run.total_steps():
                warnings.warn(
                    f"the run is already at step {run.pos.step}, its end ({run.total_steps()} "
                    "steps with these max_steps/epochs): nothing to train; give a larger "
                    "--max-steps or --epochs to go on",
                    stacklevel=2,
                )
            truncate_after(metrics_path, run.pos.step)
    elif main:
        text = cfg.dump_yaml(config)
        atomic_write(run_dir / "config.yaml", lambda tmp: tmp.write_text(text))
    if main:
        trackers = open_trackers(
            run_dir, str(config.name), cfg.to_dict(config), config.tensorboard, config.wandb
        )
        logger: JsonlLogger | NullLogger = JsonlLogger(metrics_path, also=trackers)
        bar: Progress | Quiet = Progress(run.total_steps(), run.pos.step, progress)
    else:
        logger, bar = NullLogger(), Quiet()
    event = "resume" if resume is not None else "start"
    logger.log(
        {
            "event": event,
            "step": run.pos.step,
            "time": time.time(),
            "device": str(run.device),
            "processes": where.world_size,
            "hardware": hardware_info(run.device),
        }
    )
    try:
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
    except TrainingDiverged:
        _log_quietly(logger, {"event": "diverged", "step": run.pos.step, "time": time.time()})
        logger.close()
        raise
    final_error: OSError | None = None
    if main:
        try:
            run.write_samples()
            write_report(run_dir)
        except OSError as exc:  # a full disk: the checkpoint and model are written already
            final_error = exc
    end = {"event": "interrupted" if stopped else "end", "step": run.pos.step, "time": time.time()}
    _log_quietly(logger, end)
    logger.close()
    # Every rank leaves together: a rank that tears its process group down while rank 0 is
    # still writing the samples and report can abort at exit ("terminate called without an
    # active exception" from gloo), which failed torchrun runs now and then.
    distributed.barrier(where)
    if final_error is not None:
        warnings.warn(
            f"the checkpoint and model/ of step {run.pos.step} are saved in {run_dir}; only the "
            "final samples and report could not be written",
            stacklevel=2,
        )
        raise final_error
    if stopped:
        raise TrainingInterrupted(run_dir, run.pos.step, where.world_size)
    return run_dir


def _log_quietly(logger: JsonlLogger | NullLogger, record: dict[str, Any]) -> None:
    """Log an end event; a full disk must not hide the error being reported."""
    try:
        logger.log(record)
    except OSError:
        pass


_ABSENT = object()


def _dotted(config: cfg.TrainConfig, key: str) -> Any:
    """``config``'s value of a dotted option name (``data.context_slices``), or _ABSENT."""
    value: Any = config
    for part in key.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            return _ABSENT
    return value


def resume_config(run_dir: Path, overrides: dict[str, Any]) -> tuple[cfg.TrainConfig, dict]:
    """Load ``run_dir/checkpoints/latest.pt`` and apply the ``overrides`` a resume may change.

    The checkpoint must belong to the run: its config agrees with the folder's
    ``config.yaml`` (a checkpoint copied in from another run is refused). A run folder without
    a checkpoint (stopped before its first save) says how to start it over.
    """
    path = run_dir / "checkpoints" / "latest.pt"
    if not path.is_file() and run_dir.is_dir() and not rundir.checkpoint_files(run_dir):
        if (run_dir / "config.yaml").is_file():
            raise rundir.RunFolderError(
                f"run folder {run_dir} has no checkpoint to resume (the run stopped before its "
                f"first save); start it over from step 0 with: {rundir.restart_hint(run_dir)}"
            )
    state = load_checkpoint(path)
    saved = state["config"]
    flat_saved = cfg.flatten(saved)
    _check_config_file(run_dir, flat_saved, path)
    step = state.get("position", {}).get("step", 0)
    as_saved = None  # the saved config resolved: the values of keys it leaves out
    for key, value in cfg.flatten(overrides).items():
        before = flat_saved.get(key, _ABSENT)
        if before is _ABSENT and not cfg.resumable(key):
            # Left out of the checkpoint: an option at its default (or added since).
            as_saved = as_saved or configure(saved, {})
            before = _dotted(as_saved, key)
        if not cfg.resumable(key) and before != value:
            raise cfg.ConfigError(
                f"option {key}: cannot change when resuming (the run used "
                f"{None if before is _ABSENT else before!r}); start a new run instead"
            )
        if key == "max_steps" and value is not None and value < step:
            raise cfg.ConfigError(
                f"option max_steps: the run is at step {step} already; --max-steps {value} "
                f"would end it before where it is (give more than {step}, or leave it out)"
            )
    return configure(saved, overrides), state


def _check_config_file(run_dir: Path, flat_saved: dict[str, Any], path: Path) -> None:
    """The folder's config.yaml and the checkpoint must describe the same run."""
    try:
        written = cfg.load_yaml(run_dir / "config.yaml")
    except cfg.ConfigError:
        return  # none (or unreadable): the checkpoint alone says what the run is
    differ = [
        key
        for key, value in cfg.flatten(written).items()
        if not cfg.resumable(key) and key in flat_saved and flat_saved[key] != value
    ]
    if differ:
        key = differ[0]
        more = f" and {len(differ) - 1} more" if len(differ) > 1 else ""
        raise CheckpointError(
            f"checkpoint {path} does not belong to this run: its {key} is {flat_saved[key]!r}, "
            f"{run_dir / 'config.yaml'} says {cfg.flatten(written)[key]!r}{more}; resume the run "
            "the checkpoint came from instead"
        )
