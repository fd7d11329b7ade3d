"""The drop-in class against the installed torch's OneCycleLR: every step, every group key,
get_last_lr(), last_epoch and state_dict(), compared bit for bit."""

from __future__ import annotations

import copy
import pickle
import warnings
from typing import Any

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from onecycle import OneCycleLR
from parity import (
    MOMENTUM_OPTIMIZERS,
    TORCH_TAKES_VERBOSE,
    assert_same_failure,
    assert_same_state,
    configurations,
    groups_state,
    make_optimizer,
    outcome,
    run_side_by_side,
    same,
    torch_fills_tensor_lr,
    torch_round_trip,
    torch_side,
    unit,
)
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR


def test_is_torch_scheduler() -> None:
    sched = OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=10)
    assert isinstance(sched, TorchOneCycleLR)
    assert isinstance(sched, LRScheduler)
    assert not callable(sched)


@pytest.mark.parametrize("optimizer", MOMENTUM_OPTIMIZERS)
@pytest.mark.parametrize("groups", [1, 2, 3])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
def test_whole_schedule(optimizer: str, groups: int, three_phase: bool, anneal_strategy: str) -> None:
    kwargs = dict(
        max_lr=[0.1 * (i + 1) for i in range(groups)],
        total_steps=97,
        three_phase=three_phase,
        anneal_strategy=anneal_strategy,
        base_momentum=[0.8 - 0.05 * i for i in range(groups)],
        max_momentum=0.95,
    )
    theirs, ours = run_side_by_side(optimizer, groups, kwargs)
    assert theirs is not None and ours is not None
    assert ours.last_epoch == 98  # the extra step, then one more that fails


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(total_steps=1),
        dict(total_steps=2),
        dict(total_steps=2, three_phase=True),
        dict(total_steps=3, pct_start=0.5, three_phase=True),
        dict(total_steps=10, pct_start=0.0),
        dict(total_steps=10, pct_start=0.0, three_phase=True),
        dict(total_steps=10, pct_start=1.0),  # zero-width annealing at the extra step
        dict(total_steps=10, pct_start=1.0, anneal_strategy="linear"),
        dict(total_steps=10, pct_start=1.0, three_phase=True),
        dict(total_steps=10, pct_start=0.1),  # pct_start * total_steps == 1: step 0
        dict(total_steps=10, pct_start=0.1, three_phase=True),
        dict(total_steps=20, pct_start=0.05),
        dict(total_steps=11, pct_start=0.5454545454545454, three_phase=True),  # 2pT == T + 1
        dict(total_steps=100, pct_start=0.25),  # phase ends on an integer
        dict(total_steps=100, pct_start=0.3),  # 0.3 * 100 is 30.000000000000004
        dict(total_steps=1000, pct_start=0.123, anneal_strategy="linear"),
        dict(epochs=4, steps_per_epoch=25),
        dict(total_steps=50, div_factor=1.0, final_div_factor=1.0),
        dict(total_steps=50, max_momentum=0.85, base_momentum=0.95),  # inverted bounds
        dict(total_steps=50, max_momentum=1, base_momentum=0),  # ints, as torch allows
        dict(total_steps=50, cycle_momentum=False),
    ],
    ids=repr,
)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_edges(kwargs: dict, optimizer: str) -> None:
    run_side_by_side(optimizer, 2, {"max_lr": 0.1, **kwargs})


def test_int_max_lr_and_huge_int_momentum_take_torch_arithmetic() -> None:
    # An int max_lr is kept as an int in the group; ints beyond 2**53 cannot be reproduced
    # in f64 and go through torch's own arithmetic.
    run_side_by_side("sgd", 1, dict(max_lr=1, total_steps=30))
    run_side_by_side("sgd", 1, dict(max_lr=0.1, total_steps=30, max_momentum=2**60 + 1, base_momentum=3))


def test_optimizer_without_momentum() -> None:
    run_side_by_side("adagrad", 2, dict(max_lr=0.1, total_steps=30))  # same ValueError
    run_side_by_side("adagrad", 2, dict(max_lr=0.1, total_steps=30, cycle_momentum=False))


def test_edited_group_values_take_effect() -> None:
    # torch reads initial_lr / max_lr / min_lr / momentum bounds at every step.
    def edit(i: int, opt: torch.optim.Optimizer) -> None:
        if i == 10:
            opt.param_groups[0]["max_lr"] = 0.5
            opt.param_groups[1]["base_momentum"] = 0.7
        if i == 40:
            opt.param_groups[0]["min_lr"] = 1e-3
            opt.param_groups[1]["initial_lr"] = 0.02

    run_side_by_side("sgd", 2, dict(max_lr=0.1, total_steps=60), between=edit)


def test_tensor_values_follow_torch() -> None:
    # A tensor max_lr makes the group values tensors: torch's tensor arithmetic is kept.
    for max_lr in (torch.tensor(0.1), torch.tensor(0.1, dtype=torch.float64)):
        t_opt, o_opt = make_optimizer("adam"), make_optimizer("adam")
        theirs = TorchOneCycleLR(t_opt, max_lr=max_lr, total_steps=20)
        ours = OneCycleLR(o_opt, max_lr=max_lr, total_steps=20)
        for i in range(20):
            assert same(theirs.get_last_lr(), ours.get_last_lr()), i
            assert same(t_opt.param_groups[0]["betas"], o_opt.param_groups[0]["betas"]), i
            t_opt.step(), o_opt.step(), theirs.step(), ours.step()
    # A tensor lr in the optimizer (float max_lr) is filled in place where torch fills it
    # (2.4 on), and replaced with a float where torch replaces it.
    t_opt = torch.optim.Adam([torch.nn.Parameter(torch.ones(2))], lr=torch.tensor(0.01))
    o_opt = torch.optim.Adam([torch.nn.Parameter(torch.ones(2))], lr=torch.tensor(0.01))
    theirs = TorchOneCycleLR(t_opt, max_lr=0.1, total_steps=20)
    ours = OneCycleLR(o_opt, max_lr=0.1, total_steps=20)
    lr_tensor = o_opt.param_groups[0]["lr"]
    for _ in range(20):
        t_opt.step(), o_opt.step(), theirs.step(), ours.step()
        assert same(t_opt.param_groups[0]["lr"], o_opt.param_groups[0]["lr"])
        assert (o_opt.param_groups[0]["lr"] is lr_tensor) is torch_fills_tensor_lr()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_lr=0.1),  # neither total_steps nor epochs
        dict(max_lr=0.1, epochs=3),
        dict(max_lr=0.1, total_steps=0),
        dict(max_lr=0.1, total_steps=-5),
        dict(max_lr=0.1, total_steps=10.0),
        dict(max_lr=0.1, epochs=0, steps_per_epoch=3),
        dict(max_lr=0.1, epochs=2, steps_per_epoch=1.5),
        dict(max_lr=0.1, total_steps=10, pct_start=1.5),
        dict(max_lr=0.1, total_steps=10, pct_start=-0.1),
        dict(max_lr=0.1, total_steps=10, pct_start=1),
        dict(max_lr=0.1, total_steps=10, pct_start="0.3"),
        dict(max_lr=0.1, total_steps=10, anneal_strategy="cosine"),
        dict(max_lr=[0.1, 0.2, 0.3], total_steps=10),
        dict(max_lr=0.1, total_steps=10, max_momentum=[0.9]),
        dict(max_lr=0.1, total_steps=10, div_factor=0),
        dict(max_lr=0.1, total_steps=10, final_div_factor=0.0),
        dict(max_lr=0.1, total_steps=0, div_factor=0),  # torch's own error comes first
        dict(max_lr=0.1, total_steps=10, last_epoch=3),  # resuming without initial_lr
        dict(max_lr="0.1", total_steps=10),
    ],
    ids=repr,
)
def test_invalid_arguments_fail_as_in_torch(kwargs: dict) -> None:
    _, theirs = outcome(lambda: TorchOneCycleLR(make_optimizer("sgd", 2), **kwargs))
    _, ours = outcome(lambda: OneCycleLR(make_optimizer("sgd", 2), **kwargs))
    assert theirs is not None
    assert_same_failure(theirs, ours, repr(kwargs))


@pytest.mark.parametrize("name", ["div_factor", "final_div_factor"])
def test_zero_division_factor_explains_itself(name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be nonzero, got 0"):
        OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=10, **{name: 0})


def test_not_an_optimizer() -> None:
    _, theirs = outcome(lambda: TorchOneCycleLR(object(), max_lr=0.1, total_steps=10))
    _, ours = outcome(lambda: OneCycleLR(object(), max_lr=0.1, total_steps=10))
    assert_same_failure(theirs, ours, "object()")


@pytest.mark.parametrize(
    ("kwargs", "fails_at", "hint"),
    [
        (dict(total_steps=10, pct_start=0.1), 0, "pct_start * total_steps == 1"),
        (dict(total_steps=10, pct_start=1.0), 10, "pct_start=1.0"),
        (
            dict(total_steps=11, pct_start=0.5454545454545454, three_phase=True),
            11,
            "2 * pct_start * total_steps",
        ),
    ],
)
def test_zero_width_phase_explains_itself(kwargs: dict, fails_at: int, hint: str) -> None:
    opt = make_optimizer("sgd")
    if fails_at == 0:
        with pytest.raises(ZeroDivisionError):
            TorchOneCycleLR(make_optimizer("sgd"), max_lr=0.1, **kwargs)
        with pytest.raises(ValueError, match="zero width") as info:
            OneCycleLR(opt, max_lr=0.1, **kwargs)
    else:
        sched = OneCycleLR(opt, max_lr=0.1, **kwargs)
        for _ in range(fails_at - 1):
            opt.step()
            sched.step()
        opt.step()
        with pytest.raises(ValueError, match="zero width") as info:
            sched.step()
    message = str(info.value)
    assert f"step {fails_at} " in message and hint in message


def test_stepping_past_the_end_fails_as_in_torch() -> None:
    theirs, ours = run_side_by_side("sgd", 1, dict(max_lr=0.1, total_steps=5), steps=9)
    assert theirs is not None and ours is not None
    assert ours.last_epoch == 6  # the failing step still advanced last_epoch, as in torch


def test_resume_with_last_epoch() -> None:
    """Resuming: a fresh optimizer loads the saved state and a new scheduler is built with
    last_epoch=k; it continues exactly as torch's does."""
    kwargs = dict(max_lr=[0.1, 0.3], total_steps=50, three_phase=True)
    for cls in (TorchOneCycleLR, OneCycleLR):
        opt = make_optimizer("adamw", 2)
        sched = cls(opt, **kwargs)
        for _ in range(17):
            opt.step()
            sched.step()
        saved = copy.deepcopy(opt.state_dict())
        if cls is TorchOneCycleLR:
            t_opt = make_optimizer("adamw", 2)
            t_opt.load_state_dict(saved)
            theirs = cls(t_opt, last_epoch=sched.last_epoch, **kwargs)
        else:
            o_opt = make_optimizer("adamw", 2)
            o_opt.load_state_dict(saved)
            ours = cls(o_opt, last_epoch=sched.last_epoch, **kwargs)
    assert_same_state(theirs, ours, "resumed")
    for i in range(30):
        t_opt.step(), o_opt.step(), theirs.step(), ours.step()
        assert_same_state(theirs, ours, f"resumed step {i}")


@pytest.mark.parametrize("direction", ["ours-to-torch", "torch-to-ours"])
def test_state_dict_round_trip(direction: str) -> None:
    kwargs = dict(max_lr=0.1, total_steps=40, anneal_strategy="linear")
    src_cls, dst_cls = (
        (OneCycleLR, TorchOneCycleLR) if direction == "ours-to-torch" else (TorchOneCycleLR, OneCycleLR)
    )
    src_opt = make_optimizer("sgd")
    src = src_cls(src_opt, **kwargs)
    for _ in range(13):
        src_opt.step()
        src.step()
    loaded = torch_round_trip({"scheduler": src.state_dict(), "optimizer": src_opt.state_dict()})
    # The destination starts from another configuration and takes everything from the dict.
    dst_opt = make_optimizer("sgd")
    dst = dst_cls(dst_opt, max_lr=0.5, total_steps=40, three_phase=True)
    dst_opt.load_state_dict(loaded["optimizer"])
    dst.load_state_dict(loaded["scheduler"])
    assert same(src.state_dict(), dst.state_dict())
    for i in range(28):
        src_opt.step(), dst_opt.step()
        _, e1 = outcome(src.step)
        _, e2 = outcome(dst.step)
        assert_same_failure(e1, e2, f"step {i}")
        assert same(src_opt.param_groups[0]["lr"], dst_opt.param_groups[0]["lr"])
        assert same(src_opt.param_groups[0]["momentum"], dst_opt.param_groups[0]["momentum"])
        assert same(src.get_last_lr(), dst.get_last_lr())


def test_state_dict_is_plain_data_with_torch_keys() -> None:
    theirs = TorchOneCycleLR(
        make_optimizer("sgd"), max_lr=0.1, total_steps=10, **torch_side({"verbose": True})
    )
    ours = OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=10, verbose=True)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert same(ours.state_dict(), theirs.state_dict())


def test_pickle_and_deepcopy() -> None:
    opt = make_optimizer("sgd")
    ours = OneCycleLR(opt, max_lr=0.1, total_steps=30)
    for _ in range(5):
        opt.step()
        ours.step()
    clone = copy.deepcopy(ours)
    assert same(clone.state_dict(), ours.state_dict())
    for _ in range(5):
        clone.optimizer.step(), opt.step(), clone.step(), ours.step()
        assert same(clone.get_last_lr(), ours.get_last_lr())
    # The schedule state pickles as plain data.
    assert same(pickle.loads(pickle.dumps(ours.state_dict())), ours.state_dict())


def test_warnings_match_torch() -> None:
    def record(cls: type) -> list[tuple[type, str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            opt = make_optimizer("sgd")
            sched = cls(opt, max_lr=0.1, total_steps=20)
            sched.step()  # before optimizer.step()
            sched.step()
            opt.step()
            sched.step(5)  # the deprecated epoch argument
            lrs = sched.get_lr()  # called directly
            opt2 = make_optimizer("sgd")
            sched2 = cls(opt2, max_lr=0.1, total_steps=20)
            opt2.step = lambda closure=None: None  # step overridden after construction
            sched2.step()
        return [(w.category, str(w.message)) for w in caught] + [("lrs", repr(lrs))]

    assert record(OneCycleLR) == record(TorchOneCycleLR)


def test_verbose_prints_each_update(capsys: pytest.CaptureFixture[str]) -> None:
    """Where torch has no `verbose` (2.7 on), ours prints the seed's line for each group at
    each update. Where it has one, ours does exactly what it does (test_verbose_as_torchs)."""
    if TORCH_TAKES_VERBOSE:
        pytest.skip("this torch takes verbose itself; ours passes it on (test_verbose_as_torchs)")
    opt = make_optimizer("sgd", 2)
    sched = OneCycleLR(opt, max_lr=[0.1, 0.2], total_steps=5, verbose=True)
    for _ in range(3):
        opt.step()
        sched.step()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 4  # the initial step and three more, for two groups
    last = sched.get_last_lr()
    assert lines[-2:] == [
        f"Adjusting learning rate of group 0 to {last[0]:.4e}.",
        f"Adjusting learning rate of group 1 to {last[1]:.4e}.",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched.step(2)
    assert (
        capsys.readouterr()
        .out.splitlines()[0]
        .startswith("Epoch 00002: adjusting learning rate of group 0 to ")
    )
    # verbose changes nothing else.
    plain_opt = make_optimizer("sgd", 2)
    plain = OneCycleLR(plain_opt, max_lr=[0.1, 0.2], total_steps=5)
    for _ in range(3):
        plain_opt.step()
        plain.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain.step(2)
    assert same(plain.state_dict(), sched.state_dict())
    assert isinstance(sched, OneCycleLR) and not callable(sched)


@pytest.mark.parametrize("verbose", ["default", False, True])
def test_verbose_as_torchs(verbose: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Where torch takes `verbose` (2.0-2.6), ours behaves exactly as torch's: the same
    printed lines (2.0-2.1 print each update), the same deprecation warning (2.2-2.6 give it
    whenever the argument is passed, False included), the same state."""
    if not TORCH_TAKES_VERBOSE:
        pytest.skip(
            "this torch has no verbose; ours prints the seed's line (test_verbose_prints_each_update)"
        )
    kwargs = {} if verbose == "default" else {"verbose": verbose}

    def run(cls: type) -> tuple[Any, list[tuple[type, str]], str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            opt = make_optimizer("sgd", 2)
            sched = cls(opt, max_lr=[0.1, 0.2], total_steps=6, **kwargs)
            for epoch in (None, None, None, 4, None):
                opt.step()
                sched.step(epoch)
        trace = (groups_state(opt), sched.get_last_lr(), sched.state_dict())
        return trace, [(w.category, str(w.message)) for w in caught], capsys.readouterr().out

    theirs, ours = run(TorchOneCycleLR), run(OneCycleLR)
    assert same(ours[0], theirs[0])
    assert ours[1:] == theirs[1:]


# --- property-based: the whole parameter space -------------------------------------------


@given(configurations())
def test_property_every_step_matches_torch(config: tuple[str, int, dict]) -> None:
    optimizer, groups, kwargs = config
    run_side_by_side(optimizer, groups, kwargs)


@given(configurations(), st.data())
def test_property_resume_at_any_step_matches_torch(
    config: tuple[str, int, dict], data: st.DataObject
) -> None:
    """Construct with last_epoch=k on an optimizer that already holds the group keys."""
    optimizer, groups, kwargs = config
    total = kwargs["total_steps"]
    k = data.draw(st.integers(0, total))
    t_opt, o_opt = make_optimizer(optimizer, groups), make_optimizer(optimizer, groups)
    _, err = outcome(lambda: TorchOneCycleLR(make_optimizer(optimizer, groups), **kwargs))
    assume(err is None)
    for opt in (t_opt, o_opt):
        # What a fresh scheduler writes; then a new one resumes from step k.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TorchOneCycleLR(opt, **kwargs)
    theirs, t_err = outcome(lambda: TorchOneCycleLR(t_opt, last_epoch=k - 1, **kwargs))
    ours, o_err = outcome(lambda: OneCycleLR(o_opt, last_epoch=k - 1, **kwargs))
    assert_same_failure(t_err, o_err, f"resume at {k}")
    if t_err is None:
        assert_same_state(theirs, ours, f"resume at {k}")


@given(
    total_steps=st.one_of(st.integers(1, 10**6), st.integers(1, 2**63 - 1)),
    fraction=st.floats(0.0, 1.0),
    pct_start=st.one_of(unit, st.sampled_from([0.0, 0.3, 0.5, 1.0])),
    three_phase=st.booleans(),
    anneal_strategy=st.sampled_from(["cos", "linear"]),
)
def test_property_any_step_of_huge_schedules(
    total_steps: int, fraction: float, pct_start: float, three_phase: bool, anneal_strategy: str
) -> None:
    """Jump both schedulers to one step of a schedule of up to 2**63 - 1 steps (setting
    last_epoch, then step(), as torch's step(epoch) path does) and compare."""
    kwargs = dict(
        max_lr=[0.01, 0.2],
        total_steps=total_steps,
        pct_start=pct_start,
        three_phase=three_phase,
        anneal_strategy=anneal_strategy,
    )
    t_opt, o_opt = make_optimizer("adam", 2), make_optimizer("adam", 2)
    theirs, t_err = outcome(lambda: TorchOneCycleLR(t_opt, **kwargs))
    ours, o_err = outcome(lambda: OneCycleLR(o_opt, **kwargs))
    assert_same_failure(t_err, o_err, "construction")
    if t_err is not None:
        return
    step = min(int(fraction * (total_steps + 1)), total_steps)
    for sched in (theirs, ours):
        sched.last_epoch = step - 1
    t_opt.step(), o_opt.step()
    _, t_err = outcome(theirs.step)
    _, o_err = outcome(ours.step)
    assert_same_failure(t_err, o_err, f"step {step}")
    assert_same_state(theirs, ours, f"step {step}")


def test_numpy_scalar_values_follow_torch() -> None:
    # np.float64 is a float subclass whose arithmetic returns np.float64: torch's values
    # keep that type, and so do ours.
    import numpy as np

    theirs, ours = run_side_by_side("sgd", 2, dict(max_lr=np.float64(0.1), total_steps=20))
    assert theirs is not None and ours is not None
    assert type(ours.get_last_lr()[0]) is np.float64
    run_side_by_side("adam", 1, dict(max_lr=0.1, total_steps=20, max_momentum=np.float32(0.95)))
