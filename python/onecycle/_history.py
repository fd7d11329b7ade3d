"""A ``OneCycleLR``'s run as ``OneCycleLR.plot()`` draws it: each step taken, computed by
the plan in force when it was taken (rebuilt from the scheduler's re-plans, by the core's
rule), then the steps to come by the plan now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from onecycle import _plot
from onecycle._core import GROUP_KEYS, PHASE_KEYS, Cycle
from onecycle._state import REPLANS

__all__ = ["Plan", "curves", "origin", "plans"]

# The peak a plot marks: the group's max_lr, as torch's constructor names it.
_MAX_LR = GROUP_KEYS[1]

Row = tuple[float, str, str, str, str]


def origin(scheduler: Any) -> tuple[list[Row], int] | None:
    """What a scheduler that has not been re-planned yet follows: its phases (as the core's
    rows) and its length, kept so that a plot after later re-plans can rebuild the steps
    taken before them; None where the phases are not torch's usual form."""
    try:
        rows: list[Row] = [tuple(p[k] for k in PHASE_KEYS) for p in scheduler._schedule_phases]
    except (TypeError, KeyError, AttributeError):
        return None
    return rows, int(scheduler.total_steps)


@dataclass(frozen=True)
class Plan:
    """One plan a run followed: its cycle, its length and its phases."""

    cycle: Cycle
    total_steps: int
    rows: list[Row]


def plans(scheduler: Any, cycle: Cycle) -> list[Plan | None]:
    """Each plan the run of ``scheduler`` followed, one more than its re-plans: the plan it
    was built (or loaded) with, each re-plan's in turn, and last the plan now (``cycle``:
    its phases now). The plans before the last are rebuilt from the first by the core's
    rule (``Cycle.replan``, as ``OneCycleLR.replan`` applies it); they are None where the
    first is not known (a state loaded after a re-plan made elsewhere: the state lists the
    re-plans, not the length before them)."""
    replans = scheduler.__dict__.get(REPLANS, [])
    rows, anneal = cycle.__reduce__()[1]
    now = Plan(cycle, int(scheduler.total_steps), rows)
    first = getattr(scheduler, "_onecycle_origin", None)
    if not replans:
        return [now]
    unknown: list[Plan | None] = [None] * len(replans)
    if first is None:
        return [*unknown, now]
    layout = scheduler._onecycle_plan
    try:
        past = [Plan(Cycle(first[0], anneal), first[1], first[0])]
        for index, (step, total) in enumerate(replans[:-1]):
            rows, _ = past[-1].cycle.replan(
                step=step,
                total_steps=total,
                pct_start=layout.pct_start,
                three_phase=layout.three_phase,
                index=index,
            )
            past.append(Plan(Cycle(rows, anneal), total, rows))
    except (TypeError, ValueError, OverflowError):
        return [*unknown, now]
    return [*past, now]


def curves(scheduler: Any, cycle: Cycle) -> list[_plot.Curve]:
    """Each parameter group's curve over steps 0 to ``total_steps - 1``: each step up to
    the current one by the plan in force when it was taken (see :func:`plans`; steps
    before the last re-plan are left out where those plans are not known), each later
    one by the plan now, all from the group's values as they are now; with the phase
    ends each plan passed and the re-plans. ValueError where a group lacks a value the
    plan now anneals between."""
    replans = [(int(step), int(total)) for step, total in scheduler.__dict__.get(REPLANS, [])]
    followed = plans(scheduler, cycle)
    known = [plan for plan in followed if plan is not None]
    groups = scheduler.optimizer.param_groups
    lr_keys, momentum_keys = _phase_keys(known[-1].rows)
    needed = lr_keys + momentum_keys * bool(scheduler.cycle_momentum)
    missing = [key for key in needed if key not in groups[0]]
    if missing:
        raise ValueError(f"plot() needs each group's {', '.join(missing)}, which group 0 lacks")
    ends = _plot.ends_in_force(
        [[] if plan is None else [row[0] for row in plan.rows[:-1]] for plan in followed], replans
    )
    steps = _plot.steps_to_draw(known[-1].total_steps, [*ends, *(step for step, _ in replans)])
    which = np.searchsorted(np.array([step for step, _ in replans], dtype=np.int64), steps, side="left")
    if replans and followed[-2] is None:
        # The plan now holds the values of its re-plan's step (its first phase).
        which[steps == replans[-1][0]] = len(replans)
    keep = np.array([followed[j] is not None for j in which], dtype=bool)
    steps, which = steps[keep], which[keep]
    keys = list(dict.fromkeys(key for plan in known for part in _phase_keys(plan.rows) for key in part))
    drawn = []
    for i, group in enumerate(groups):
        # Momentum not cycled: its curve is NaN where the group lacks a value.
        values = {key: float(group.get(key, float("nan"))) for key in keys}
        lr, momentum = np.empty(len(steps)), np.empty(len(steps))
        for j, plan in enumerate(followed):
            at = which == j
            if plan is not None and at.any():
                lr[at], momentum[at] = plan.cycle.values_at(
                    np.ascontiguousarray(steps[at]), plan.total_steps, values
                )
        label = f"group {i}" if len(groups) > 1 else None
        peak = float(group.get(_MAX_LR, float("nan")))
        drawn.append(_plot.Curve(label, steps, lr, momentum, ends, peak, tuple(replans)))
    return drawn


def _phase_keys(phases: list[Row]) -> tuple[list[str], list[str]]:
    """The group keys ``phases`` anneal the lr and the momentum between, each once, in
    order of appearance."""
    lr = dict.fromkeys(key for row in phases for key in row[1:3])
    momentum = dict.fromkeys(key for row in phases for key in row[3:5])
    return list(lr), [k for k in momentum if k not in lr]
