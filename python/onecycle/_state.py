"""A ``OneCycleLR`` state: its checks on loading, and re-planning a running cycle onto a new
length (the rule itself is the core's: ``Cycle.replan``)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import OneCycleLR as _TorchOneCycleLR

from onecycle._core import PHASE_KEYS, STRATEGIES, Cycle

__all__ = ["REPLANS", "check_state_dict", "replan", "torch_total_steps"]

#: The state key (and scheduler attribute) listing each re-plan as ``[step, total_steps]``;
#: present only once a scheduler has been re-planned.
REPLANS = "onecycle_replans"


def replan(scheduler: Any, cycle: Cycle, total: int, layout: tuple[float, bool]) -> None:
    """Re-plan ``scheduler`` (a ``OneCycleLR`` whose phases make ``cycle``) at its
    ``last_epoch`` onto ``total`` steps, for the layout of ``(pct_start, three_phase)``:
    the phases the core computes, the values held now written into each group under the
    keys the core names, the length and the list of re-plans updated. Nothing changes where
    the core refuses."""
    replans = scheduler.__dict__.get(REPLANS, [])
    pct_start, three_phase = layout
    rows, (lr_key, momentum_key) = cycle.replan(
        step=scheduler.last_epoch,
        total_steps=total,
        pct_start=pct_start,
        three_phase=three_phase,
        index=len(replans),
    )
    for group in scheduler.optimizer.param_groups:
        group[lr_key] = _held(group["lr"])
        if scheduler.cycle_momentum:
            group[momentum_key] = _held(group["betas"][0] if scheduler.use_beta1 else group["momentum"])
    scheduler._schedule_phases = [dict(zip(PHASE_KEYS, row, strict=True)) for row in rows]
    scheduler.total_steps = total
    scheduler.__dict__[REPLANS] = [*replans, [scheduler.last_epoch, total]]


def _held(value: Any) -> Any:
    """A group value as a re-plan keeps it: a tensor copied (the group's own is filled in
    place at later steps), anything else as it is."""
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def torch_total_steps(total_steps: Any, epochs: Any, steps_per_epoch: Any) -> int:
    """The ``total_steps`` torch's constructor makes of these arguments, with its errors: a
    one-parameter torch ``OneCycleLR`` is built with them and asked."""
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the probe's own warnings are nobody's concern
        # pct_start=0: no phase of zero width at step 0, whatever the length.
        probe = _TorchOneCycleLR(
            optimizer,
            max_lr=0.1,
            total_steps=total_steps,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            pct_start=0.0,
        )
    return int(probe.total_steps)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_state_dict(state_dict: Any, groups: int) -> None:
    """Raise a clear error unless ``state_dict`` is a ``OneCycleLR`` state that fits an
    optimizer with ``groups`` parameter groups. Reads only; changes nothing."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"state_dict must be a dict, as OneCycleLR.state_dict() returns it, got {type(state_dict).__name__}"
        )
    required = ["total_steps", "_schedule_phases", "cycle_momentum", "base_lrs", "last_epoch"]
    if "anneal_func" not in state_dict:  # older torch releases stored the function itself
        required.append("_anneal_func_type")
    if state_dict.get("cycle_momentum"):
        required.append("use_beta1")
    missing = [key for key in required if key not in state_dict]
    if missing:
        raise ValueError(
            f"state_dict is not a OneCycleLR state: it lacks {', '.join(map(repr, missing))} "
            f"(its keys: {', '.join(map(repr, state_dict))})"
        )

    def bad(key: str, allowed: str, error: type[Exception] = TypeError) -> Exception:
        return error(f"state_dict[{key!r}] must be {allowed}, got {state_dict[key]!r}")

    def integer(key: str, least: int) -> None:
        if key in state_dict:
            if not _is_int(state_dict[key]):
                raise bad(key, f"an int >= {least}")
            if state_dict[key] < least:
                raise bad(key, f"an int >= {least}", ValueError)

    integer("total_steps", 1)
    integer("last_epoch", -1)
    integer("_step_count", 0)
    for key in ("cycle_momentum", "use_beta1", "_is_initial", "_get_lr_called_within_step"):
        if key in state_dict and not isinstance(state_dict[key], int):
            raise bad(key, "True or False")
    anneal = state_dict.get("_anneal_func_type", STRATEGIES[0])
    if anneal not in STRATEGIES:
        raise bad("_anneal_func_type", " or ".join(map(repr, STRATEGIES)), ValueError)
    for key in ("base_lrs", "_last_lr"):
        if key in state_dict:
            if not isinstance(state_dict[key], list):
                raise bad(key, "a list with one value per parameter group")
            if len(state_dict[key]) != groups:
                raise ValueError(
                    f"state_dict[{key!r}] has {len(state_dict[key])} values, but the optimizer has "
                    f"{groups} parameter groups: the state is from another optimizer setup"
                )
    phases = state_dict["_schedule_phases"]
    if not isinstance(phases, list) or not phases:
        raise bad("_schedule_phases", "a non-empty list of phase dicts")
    replans = state_dict.get(REPLANS, [])
    if not isinstance(replans, list) or not all(
        isinstance(r, (list, tuple)) and len(r) == 2 and all(_is_int(x) for x in r) for r in replans
    ):
        raise bad(REPLANS, "a list of [step, total_steps] pairs")
    for i, phase in enumerate(phases):
        where = f"state_dict['_schedule_phases'][{i}]"
        if not isinstance(phase, Mapping) or any(key not in phase for key in PHASE_KEYS):
            raise TypeError(f"{where} must be a dict with the keys {', '.join(PHASE_KEYS)}, got {phase!r}")
        end_step = phase["end_step"]
        if isinstance(end_step, bool) or not isinstance(end_step, (int, float)) or end_step != end_step:
            raise TypeError(f"{where}['end_step'] must be a number (not NaN), got {end_step!r}")
        for key in PHASE_KEYS[1:]:
            if not isinstance(phase[key], str):
                raise TypeError(f"{where}[{key!r}] must be the name of a param_group key, got {phase[key]!r}")
