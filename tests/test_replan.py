"""OneCycleLR.replan(): the rest of a running cycle re-planned onto a new length, without a
jump, in torch's own state format. The reference is the installed torch's OneCycleLR,
loaded from the re-planned state: from there on both must step alike, bit for bit."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import onecycle
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from onecycle import OneCycleLR
from parity import (
    assert_same_failure,
    assert_same_state,
    configurations,
    groups_state,
    make_optimizer,
    outcome,
    same,
    step_together,
)
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def step_to(scheduler: OneCycleLR, step: int) -> None:
    """Step ``scheduler`` (each after an optimizer step) until ``last_epoch == step``."""
    while scheduler.last_epoch < step:
        scheduler.optimizer.step()
        scheduler.step()


def torch_from(ours: OneCycleLR, optimizer: str, groups: int, kwargs: dict[str, Any]) -> TorchOneCycleLR:
    """torch's OneCycleLR resumed from ``ours``' state: built on a fresh optimizer, then the
    optimizer's state and the scheduler's loaded, as a training loop resumes."""
    t_opt = make_optimizer(optimizer, groups)
    theirs = TorchOneCycleLR(t_opt, **kwargs)
    t_opt.load_state_dict(copy.deepcopy(ours.optimizer.state_dict()))
    theirs.load_state_dict(copy.deepcopy(ours.state_dict()))
    return theirs


def step_both_to_the_end(theirs: TorchOneCycleLR, ours: OneCycleLR) -> None:
    """Step both through the extra step and one past it, comparing everything after each."""
    assert_same_state(theirs, ours, "after loading")
    step_together(theirs, ours, theirs.total_steps + 1 - theirs.last_epoch)


@st.composite
def replans(draw: st.DrawFn, total_steps: int) -> list[tuple[int, int]]:
    """One or two re-plans: a step each (in order, at most the extra step) and a length
    leaving at least one step, growing or shrinking."""
    plans, total, step = [], total_steps, 0
    for _ in range(draw(st.integers(1, 2))):
        step = draw(st.integers(step, total - 1))
        total = draw(st.integers(step + 2, max(step + 2, 3 * total)))
        plans.append((step, total))
    return plans


@given(st.data(), configurations())
def test_torch_loads_the_replanned_state_and_steps_alike(
    data: st.DataObject, config: tuple[str, int, dict[str, Any]]
) -> None:
    optimizer, groups, kwargs = config
    ours, err = outcome(lambda: OneCycleLR(make_optimizer(optimizer, groups), **kwargs))
    if err is not None:
        return
    for step, total in data.draw(replans(kwargs["total_steps"])):
        _, err = outcome(lambda: step_to(ours, step))  # noqa: B023
        if err is not None:  # a phase of zero width on the way (torch fails there too)
            return
        held = [g["lr"] for g in ours.optimizer.param_groups]
        ours.replan(total)
        assert ours.total_steps == total and ours.last_epoch == step
        assert same([g["lr"] for g in ours.optimizer.param_groups], held)  # nothing jumps now
    theirs = torch_from(ours, optimizer, groups, kwargs)
    back = OneCycleLR(make_optimizer(optimizer, groups), **kwargs)
    back.optimizer.load_state_dict(copy.deepcopy(ours.optimizer.state_dict()))
    back.load_state_dict(copy.deepcopy(ours.state_dict()))
    step_both_to_the_end(theirs, ours)
    step_both_to_the_end(torch_from(back, optimizer, groups, kwargs), back)


def lrs_of(scheduler: OneCycleLR, through: int) -> list[float]:
    """group 0's lr at each step from the next one through ``through``."""
    out = []
    while scheduler.last_epoch < through:
        scheduler.optimizer.step()
        scheduler.step()
        out.append(scheduler.optimizer.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize(("step", "total"), [(10, 200), (50, 200), (50, 60), (29, 150), (80, 120), (5, 20)])
def test_no_jump_and_the_end_at_min_lr(
    three_phase: bool, anneal_strategy: str, step: int, total: int
) -> None:
    kwargs = dict(max_lr=0.1, total_steps=100, three_phase=three_phase, anneal_strategy=anneal_strategy)
    ours = OneCycleLR(make_optimizer("sgd"), **kwargs)
    step_to(ours, step)
    held = ours.optimizer.param_groups[0]["lr"]
    # What torch's road does: a new scheduler of the new length at last_epoch=step.
    naive = lrs_of(OneCycleLR(make_optimizer("sgd"), **{**kwargs, "total_steps": total}), step)[-1]
    ours.replan(total)
    after = lrs_of(ours, total - 1)
    group = ours.optimizer.param_groups[0]
    # The first step moves on from the held value as any later step moves (cos starts
    # slowly, linear evenly): no larger than the largest later step, with the curvature
    # of cos allowed for. Where the naive resume lands far off, this is the jump it makes.
    moves = [abs(b - a) for a, b in zip([held, *after], after, strict=False)]
    assert moves[0] <= 1.6 * max(moves[1:]) + 1e-15, (moves[0], max(moves[1:]), naive)
    assert math.isclose(after[-1], group["min_lr"], rel_tol=1e-9)
    assert ours.last_epoch == total - 1


def test_a_replan_at_the_peak_anneals_from_there() -> None:
    ours = OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=100)
    step_to(ours, 29)  # the warm-up ends at step 29: the peak
    ours.replan(300)
    lrs = lrs_of(ours, 40)
    assert lrs[0] < 0.1 and all(b < a for a, b in itertools.pairwise(lrs))


def test_shrinking_in_warm_up_skips_the_rest_of_it() -> None:
    ours = OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=100)
    step_to(ours, 20)
    held = ours.optimizer.param_groups[0]["lr"]
    ours.replan(40)  # the warm-up of 40 steps ends at step 11, before step 20
    lrs = lrs_of(ours, 39)
    assert max(lrs) < held


def test_the_same_length_changes_nothing_and_never_replanned_is_torchs_state() -> None:
    ours = OneCycleLR(make_optimizer("adam"), max_lr=0.1, total_steps=50)
    theirs = TorchOneCycleLR(make_optimizer("adam"), max_lr=0.1, total_steps=50)
    step_to(ours, 10)
    step_to(theirs, 10)  # type: ignore[arg-type]
    ours.replan(50)
    ours.replan(epochs=5, steps_per_epoch=10)
    assert "onecycle_replans" not in ours.state_dict()
    assert_same_state(theirs, ours, "after re-planning to the same length")


def test_bad_lengths_name_the_step_and_leave_the_scheduler_as_it_was() -> None:
    ours = OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=100)
    step_to(ours, 30)
    before = (copy.deepcopy(ours.state_dict()), copy.deepcopy(groups_state(ours.optimizer)))
    with pytest.raises(ValueError, match=r"at step 30 \(last_epoch\).*at least 32"):
        ours.replan(31)
    torch_errors = []
    for args, kwargs in [((0,), {}), ((None,), {}), ((None,), {"epochs": 0, "steps_per_epoch": 5})]:
        # The constructor's errors, as the installed torch words them.
        _, theirs = outcome(lambda: TorchOneCycleLR(make_optimizer("sgd"), 0.1, *args, **kwargs))  # noqa: B023
        with pytest.raises(type(theirs)) as caught:
            ours.replan(*args, **kwargs)
        torch_errors.append((str(caught.value), str(theirs)))
    assert all(a == b for a, b in torch_errors)
    assert same((ours.state_dict(), groups_state(ours.optimizer)), before)
    ours.replan(epochs=4, steps_per_epoch=10)
    assert ours.total_steps == 40


def test_hold_final_and_the_extra_step_at_the_new_length() -> None:
    ours = OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=20, hold_final=True)
    step_to(ours, 5)
    ours.replan(30)
    lrs = lrs_of(ours, 33)
    assert lrs[-1] == lrs[29 - 6]  # held from step 29 on
    plain = OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=20)
    step_to(plain, 5)
    plain.replan(30)
    step_to(plain, 30)  # the extra step
    plain.optimizer.step()
    with pytest.raises(
        ValueError, match=r"Tried to step 31 times\. The specified number of total steps is 30"
    ):
        plain.step()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_replan_on_load_resumes_onto_the_new_length(optimizer: str) -> None:
    kwargs = dict(max_lr=0.1, total_steps=100)
    first = OneCycleLR(make_optimizer(optimizer), **kwargs)
    step_to(first, 60)
    saved = (copy.deepcopy(first.optimizer.state_dict()), copy.deepcopy(first.state_dict()))
    # Resumed with a new length: optimizer state first, then the scheduler's.
    resumed = OneCycleLR(make_optimizer(optimizer), **{**kwargs, "total_steps": 150}, replan_on_load=True)
    resumed.optimizer.load_state_dict(saved[0])
    resumed.load_state_dict(saved[1])
    assert resumed.total_steps == 150 and resumed.last_epoch == 60
    first.replan(150)
    assert_same_state(first, resumed, "resumed")  # type: ignore[arg-type]
    # Without it, torch's behaviour: the loaded length stays.
    plain = OneCycleLR(make_optimizer(optimizer), **{**kwargs, "total_steps": 150})
    plain.optimizer.load_state_dict(saved[0])
    plain.load_state_dict(saved[1])
    assert plain.total_steps == 100
    with pytest.raises(TypeError, match="replan_on_load must be True or False"):
        OneCycleLR(make_optimizer(optimizer), **kwargs, replan_on_load=1)  # type: ignore[arg-type]


def test_a_tensor_lr_is_held_as_a_copy() -> None:
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=torch.tensor(0.1), momentum=0.9)
    ours = OneCycleLR(opt, max_lr=0.1, total_steps=20)
    step_to(ours, 5)
    ours.replan(40)
    held = opt.param_groups[0]["onecycle_replan0_lr"]
    value = float(held)
    lrs_of(ours, 10)
    assert float(held) == value and held is not opt.param_groups[0]["lr"]


# --- schedule(replan=...): the re-planned curve, bit for bit --------------------------------


def stepped(kwargs: dict[str, Any], plans: list[tuple[int, int]]) -> tuple[list[float], list[float]]:
    """group 0's lr and momentum at each step of a scheduler (one SGD group) re-planned
    when last_epoch reaches each plan's step, through the extra step of the last length."""
    ours = OneCycleLR(make_optimizer("sgd"), **kwargs)
    group = ours.optimizer.param_groups[0]
    lr, momentum = [group["lr"]], [group["momentum"]]
    pending = list(plans)
    while True:
        while pending and pending[0][0] == ours.last_epoch:
            ours.replan(pending.pop(0)[1])
        if ours.last_epoch >= ours.total_steps:
            return lr, momentum
        ours.optimizer.step()
        ours.step()
        lr.append(group["lr"])
        momentum.append(group["momentum"])


@given(st.data(), configurations())
def test_schedule_with_replans_equals_stepping_a_replanned_scheduler(
    data: st.DataObject, config: tuple[str, int, dict[str, Any]]
) -> None:
    _, _, kwargs = config
    kwargs = {**kwargs, "cycle_momentum": True}
    for key in ("max_lr", "base_momentum", "max_momentum"):  # one group
        if isinstance(kwargs[key], list):
            kwargs[key] = kwargs[key][0]
    plans = data.draw(replans(kwargs["total_steps"]))
    curve, err = outcome(lambda: stepped(kwargs, plans))
    params = {k: v for k, v in kwargs.items() if k != "cycle_momentum"}
    got, got_err = outcome(lambda: onecycle.schedule(replan=plans, stop=plans[-1][1] + 1, **params))
    assert_same_failure(err, got_err, "the re-planned curve")
    if err is not None:
        return
    lr, momentum = curve
    assert same(got.lr.tolist(), lr) and same(got.momentum.tolist(), momentum)
    # Chosen steps, in any order, are the window's values there.
    steps = data.draw(st.lists(st.integers(0, plans[-1][1]), max_size=30))
    at = onecycle.schedule(replan=plans, steps=steps, **params)
    assert same(at.lr.tolist(), got.lr[steps].tolist())


def test_schedule_with_replans_sweeps_and_defaults() -> None:
    plans = [(30, 120), (90, 100)]
    sweep = onecycle.schedule(100, [0.1, 0.2, 0.3], replan=plans, dtype=np.float32)
    assert sweep.lr.shape == (3, 100)  # stop: the last total_steps
    for i, max_lr in enumerate([0.1, 0.2, 0.3]):
        one = onecycle.schedule(100, max_lr, replan=plans, dtype=np.float32)
        assert sweep.lr[i].tobytes() == one.lr.tobytes()
    same_length = onecycle.schedule(100, 0.1, replan=[(30, 100)])
    assert same_length.lr.tobytes() == onecycle.schedule(100, 0.1).lr.tobytes()


@pytest.mark.parametrize(
    ("replan", "error", "match"),
    [
        ([(50, 51)], ValueError, r"at step 50 \(last_epoch\).*at least 52"),
        ([(50, 200), (10, 300)], ValueError, r"replan\[1\] is at step 10.*\(50\)"),
        ([(150, 300)], ValueError, r"replan\[0\] is at step 150.*\(100, the extra step"),
        ([(-1, 300)], ValueError, r"replan\[0\] is at step -1"),
        ([(10,)], TypeError, r"replan must be a sequence of \(step, total_steps\) pairs"),
        ("10:200", TypeError, r"replan must be a sequence"),
        ([(1.5, 200)], TypeError, r"replan step must be an integer"),
        ([(10, 2**64)], OverflowError, r"replan total_steps must be at most 2\*\*63 - 1"),
    ],
)
def test_bad_replans(replan: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        onecycle.schedule(100, 0.1, replan=replan)


def test_a_replanned_schedule_steps_through_the_rust_path() -> None:
    from test_phase_keys import NoFallback

    ours = NoFallback(make_optimizer("adam", 2), max_lr=[0.1, 0.2], total_steps=100, three_phase=True)
    step_to(ours, 40)
    ours.replan(150)
    assert ours._cycle() is not None
    step_to(ours, 150)  # every step on the core's path: NoFallback fails otherwise
