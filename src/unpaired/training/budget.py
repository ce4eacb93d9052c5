"""``--time-budget``: a run that plans its own length from its measured speed.

The run trains ``WARMUP_STEPS`` steps (first iterations are slow: allocations, caches), then
``MEASURE_STEPS`` more whose time is measured. At step ``WARMUP_STEPS + MEASURE_STEPS`` it
times once whatever periodic work it has not done yet (a sample grid, a checkpoint, an
evaluation), then fixes the plan: the number of steps whose training, periodic work and final
outputs fit in what is left of the budget. The learning rate stays at its initial value for
the first half of the planned steps, then falls linearly to zero at the planned last step
(after step ``s`` the rate is ``lr * (N - s) / (N - H)``; ``H`` is where the decay starts).

Speeds drift (a shared machine, a laptop that warms up), so the plan is revised: every
``REPLAN_FRACTION`` of the planned steps (at least ``REPLAN_MIN_STEPS`` apart) the run fits
what is left of the budget to the speed of its last ``RECENT_STEPS`` plain steps. A revision
before the decay moves the decay's start to the new half-way point; one during the decay
keeps the rate where it is and lets it fall linearly from there to zero at the new last step,
so the learning rate never jumps.

The plan is a few numbers saved in every checkpoint (``budget``), so a resumed run keeps it
and continues exactly; the budget counts training time (from the start of the run, set-up
included), not the time a run was stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from torch.optim import Optimizer

#: Steps before the measurement starts (not counted in the speed).
WARMUP_STEPS = 20
#: Steps whose time gives the training speed; the plan is fixed after them.
MEASURE_STEPS = 20

#: A revision of the plan every this fraction of the planned steps...
REPLAN_FRACTION = 0.1
#: ...but never closer than this many steps, nor within this many of the planned end.
REPLAN_MIN_STEPS = 50
#: The speed of a revision: the mean of this many of the latest plain steps.
RECENT_STEPS = 50

#: Seconds on a monotonic clock; tests replace it to fix the measured speed.
clock: Callable[[], float] = time.perf_counter

#: The periodic work whose cost is part of the plan.
KINDS = ("sample", "save", "eval")


def plan_at() -> int:
    """The global step at which the plan is fixed."""
    return WARMUP_STEPS + MEASURE_STEPS


@dataclass(frozen=True)
class Plan:
    """The plan: ``planned_steps`` in all, the decay from step ``decay_from`` (where the
    factor is ``decay_factor``: 1 unless a revision came during the decay)."""

    planned_steps: int
    decay_from: int
    planned_at: int
    sec_per_step: float  # training alone, measured
    sec_per_step_all: float  # with the periodic sample grids, checkpoints and evaluations
    costs: dict[str, float] = field(default_factory=dict)  # seconds of one of each kind
    decay_factor: float = 1.0
    revision: int = 0  # 0: the first plan; n: its n-th revision

    def lr_factor(self, step: int) -> float:
        """The learning rate's factor after ``step`` steps (for step ``step + 1``):
        ``decay_factor`` (1 for a first plan) up to ``decay_from``, then linear to 0 at
        ``planned_steps``."""
        if step >= self.planned_steps:
            return 0.0
        if step <= self.decay_from:
            return self.decay_factor
        left = (self.planned_steps - step) / (self.planned_steps - self.decay_from)
        return self.decay_factor * left

    def replan_due(self, step: int) -> bool:
        """Whether the plan is revised after ``step`` (see the module docs)."""
        gap = max(REPLAN_MIN_STEPS, math.ceil(REPLAN_FRACTION * self.planned_steps))
        return step - self.planned_at >= gap and step + REPLAN_MIN_STEPS < self.planned_steps


def make_plan(
    budget_s: float,
    elapsed_s: float,
    step: int,
    sec_per_step: float,
    costs: dict[str, float],
    every: dict[str, float],
    previous: Plan | None = None,
) -> Plan:
    """The plan fixed at ``step`` after ``elapsed_s`` seconds of a ``budget_s`` budget.

    ``sec_per_step``: one training step; ``costs``: seconds of one sample grid / checkpoint /
    evaluation; ``every``: how many steps apart each comes (``math.inf``: never). The final
    outputs (one of each kind in ``costs``) are reserved at the end. With ``previous``, this
    is a revision of that plan: past its decay's start, the decay goes on from the rate it
    has reached at ``step``.
    """
    per_step = sec_per_step + sum(costs.get(k, 0.0) / every[k] for k in every)
    final = sum(costs.values())  # the last sample grid, checkpoint and evaluation
    left = budget_s - elapsed_s - final
    more = max(0, math.floor(left / per_step)) if per_step > 0 else 0
    total = step + more
    decay_from, decay_factor = max(step, total // 2), 1.0
    if previous is not None and step > previous.decay_from:  # revised during the decay
        decay_from, decay_factor = step, previous.lr_factor(step)
    return Plan(
        planned_steps=total,
        decay_from=decay_from,
        planned_at=step,
        sec_per_step=sec_per_step,
        sec_per_step_all=per_step,
        costs=dict(costs),
        decay_factor=decay_factor,
        revision=0 if previous is None else previous.revision + 1,
    )


class Budget:
    """Measures the run's speed step by step and holds the plan once fixed.

    :meth:`tick` is called once after each step with the periodic work that step did; the
    time between two ticks is that step's cost. A step's time above the plain steps' mean is
    the cost of its periodic work.
    """

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.plan: Plan | None = None
        self.elapsed_s = 0.0  # training time up to the last tick, over every process
        self.ticks = 0  # steps done by this process
        self.plain: list[float] = []  # measured steps without periodic work
        self.every_tick: list[float] = []  # every step of this process
        self.busy: list[tuple[tuple[str, ...], float]] = []  # (kinds, seconds)
        self.costs: dict[str, float] = {}  # timed directly (see :meth:`timed`)
        self.pending: set[str] = set()  # work done between ticks (an epoch's checkpoint)
        self._last: float | None = None

    # --- measuring -------------------------------------------------------------------------
    def start(self, setup_s: float = 0.0) -> None:
        """The training loop starts; ``setup_s`` seconds of set-up before it count too."""
        self._last = clock()
        self.elapsed_s += setup_s

    def tick(self, step: int, kinds: Iterable[str] = ()) -> None:
        """Step ``step`` is done, with the periodic work ``kinds``."""
        now = clock()
        last = now if self._last is None else self._last
        seconds, self._last = now - last, now
        self.elapsed_s += seconds
        self.ticks += 1
        self.every_tick.append(seconds)
        done = tuple(sorted(set(kinds) | self.pending))
        self.pending = set()
        if done:
            self.busy.append((done, seconds))
        elif step > WARMUP_STEPS and self.ticks > 1:  # not the first step after a resume
            self.plain.append(seconds)

    def timed(self, kind: str, work: Callable[[], Any]) -> None:
        """Run ``work`` (one ``kind`` of periodic work) and keep its cost."""
        before = clock()
        work()
        after = clock()
        self.costs[kind] = after - before
        self.elapsed_s += after - before
        self._last = after

    def due(self, step: int) -> bool:
        return self.plan is None and step >= plan_at()

    def step_seconds(self, recent: int | None = None) -> float:
        """One plain training step: the mean of the measured ones (the last ``recent``)."""
        # None measured (resumed just before the plan): every step this process did.
        steps = self.plain or self.every_tick
        if recent is not None:
            steps = steps[-recent:]
        return sum(steps) / len(steps) if steps else 0.0

    def measured_costs(self) -> dict[str, float]:
        """Seconds of one of each kind of periodic work: timed directly, or what a busy step
        took above a plain one (shared between the kinds it did)."""
        plain = self.step_seconds()
        sums: dict[str, list[float]] = {}
        for kinds, seconds in self.busy:
            for kind in kinds:
                sums.setdefault(kind, []).append(max(0.0, seconds - plain) / len(kinds))
        out = {k: sum(v) / len(v) for k, v in sums.items()}
        out.update(self.costs)
        return out

    def fix(self, step: int, every: dict[str, float]) -> Plan:
        self.plan = make_plan(
            self.budget_s, self.elapsed_s, step, self.step_seconds(), self.measured_costs(), every
        )
        return self.plan

    def replan_due(self, step: int) -> bool:
        return self.plan is not None and self.plan.replan_due(step)

    def revise(self, step: int, every: dict[str, float]) -> Plan:
        """The plan fitted at ``step`` to the recent speed and the budget left."""
        speed = self.step_seconds(RECENT_STEPS)
        costs = self.measured_costs()
        self.plan = make_plan(self.budget_s, self.elapsed_s, step, speed, costs, every, self.plan)
        return self.plan

    # --- checkpoints -----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "budget_s": self.budget_s,
            "elapsed_s": self.elapsed_s,
            "plan": None if self.plan is None else asdict(self.plan),
        }

    def load(self, state: dict[str, Any]) -> None:
        self.elapsed_s = float(state.get("elapsed_s", 0.0))
        plan = state.get("plan")
        self.plan = None if plan is None else Plan(**plan)


def set_lrs(optimizers: Iterable[tuple[Optimizer, list[float]]], factor: float) -> None:
    """Every parameter group at its configured rate times ``factor``."""
    for optimizer, bases in optimizers:
        for group, base in zip(optimizer.param_groups, bases, strict=False):
            group["lr"] = base * factor
