"""onecycle.schedule(..., steps=...): values at chosen steps, against windows and against
the installed torch, bit for bit; the parameter list the core exports; the phase ends."""

from __future__ import annotations

import inspect

import numpy as np
import onecycle
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onecycle import _core
from parity import make_optimizer, outcome, torch_values_at
from test_schedule import assert_bits_equal, assert_runs_with_the_gil_released, torch_curve
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

# --- values at chosen steps ------------------------------------------------------------


@given(
    total_steps=st.integers(1, 400),
    picks=st.lists(st.floats(0.0, 1.0), max_size=60),
    pct_start=st.floats(0.0, 1.0),
    anneal_strategy=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(),
    max_lr=st.floats(1e-6, 1e3),
)
def test_property_chosen_steps_equal_torch(
    total_steps: int,
    picks: list[float],
    pct_start: float,
    anneal_strategy: str,
    three_phase: bool,
    max_lr: float,
) -> None:
    """Unsorted and repeated steps anywhere in 0..=total_steps take torch's values there;
    a step where torch fails (a phase of zero width) fails the call as a window does."""
    kwargs = dict(pct_start=pct_start, anneal_strategy=anneal_strategy, three_phase=three_phase)
    lr, momentum, _ = torch_curve(total_steps, total_steps + 1, max_lr=max_lr, **kwargs)
    steps = np.array([min(int(p * (total_steps + 1)), total_steps) for p in picks], dtype=np.int64)
    got, err = outcome(lambda: onecycle.schedule(total_steps, max_lr, steps=steps, **kwargs))
    reachable = len(lr)  # torch's stepping stops where it fails, if it does
    if err is not None:
        assert isinstance(err, ValueError) and "zero width" in str(err), err
        bad = [s for s in steps.tolist() if s >= reachable]
        assert bad, "only a step torch could not reach may fail"
        return
    keep = steps < reachable
    assert_bits_equal(got.lr[keep], lr[steps[keep]])
    assert_bits_equal(got.momentum[keep], momentum[steps[keep]])
    for step in steps[~keep].tolist()[:3]:  # beyond where stepping failed: reached directly
        want = torch_values_at(total_steps, step, max_lr=max_lr, **kwargs)
        i = steps.tolist().index(step)
        assert (got.lr[i], got.momentum[i]) == want


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
def test_chosen_steps_equal_the_window(dtype: type, exact: bool, anneal_strategy: str) -> None:
    """Any order, repeats, a 2-d array of steps, the extra step, a sweep: each value is the
    window's at that step, for every dtype and accuracy."""
    total = 100_003
    max_lr = np.array([0.1, 0.5, 1.0])[:, None]
    pct_start = [0.3, 0.45]
    kwargs = dict(
        pct_start=pct_start, anneal_strategy=anneal_strategy, three_phase=True, dtype=dtype, exact=exact
    )
    whole = onecycle.schedule(total, max_lr, stop=total + 1, **kwargs)
    rng = np.random.default_rng(7)
    steps = rng.integers(0, total + 1, size=(40, 1_000))
    steps[0, :3] = [total, 0, total]
    got = onecycle.schedule(total, max_lr, steps=steps, **kwargs)
    assert got.lr.shape == got.momentum.shape == (3, 2, 40, 1_000)
    assert got.lr.dtype == np.dtype(dtype)
    assert_bits_equal(got.lr, whole.lr[..., steps])
    assert_bits_equal(got.momentum, whole.momentum[..., steps])


def test_chosen_steps_of_huge_schedules_land_in_torchs_phase() -> None:
    """Steps beyond 2**53 in one call: the int/float phase comparison is exact."""
    total = 2**60 + 2**10
    for pct_start in (0.5, 0.25, 0.7):
        end = int(pct_start * total - 1)
        steps = [end + 2, end - 1, end + 1, end, 0, total - 1, total]
        got = onecycle.schedule(total, 0.1, pct_start=pct_start, steps=steps)
        for i, step in enumerate(steps):
            assert (got.lr[i], got.momentum[i]) == torch_values_at(
                total, step, max_lr=0.1, pct_start=pct_start
            )


def test_chosen_steps_scalar_empty_out_and_integer_types() -> None:
    one = onecycle.schedule(1_000, 0.1, steps=np.uint16(299))
    assert one.lr.shape == () and one.lr == onecycle.schedule(1_000, 0.1, start=299, stop=300).lr[0]
    assert onecycle.schedule(1_000, 0.1, steps=[]).lr.shape == (0,)
    assert onecycle.schedule(1_000, [0.1, 0.2], steps=np.zeros((0, 3), np.int8)).lr.shape == (2, 0, 3)
    steps = np.array([5, 999, 5], np.uint64)
    out = (np.empty(3, np.float32), np.empty(3, np.float32))
    got = onecycle.schedule(1_000, 0.1, steps=steps, out=out)
    assert got.lr is out[0] and got.momentum is out[1]
    want = onecycle.schedule(1_000, 0.1, stop=1_000, dtype=np.float32)
    assert_bits_equal(out[0], want.lr[[5, 999, 5]])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (dict(steps=[0, 11]), ValueError, r"steps must lie in 0..=total_steps = 10, got steps\[1\] = 11"),
        (dict(steps=[[3], [-1]]), ValueError, r"got steps\[1\] = -1"),
        (dict(steps=[1, 2], start=1), TypeError, r"steps= takes the place of start= and stop="),
        (dict(steps=[1, 2], stop=5), TypeError, r"steps= takes the place of start= and stop="),
        (dict(steps=[1.0, 2.0]), TypeError, r"steps must be an integer or an array of integers"),
        (dict(steps=[True]), TypeError, r"steps must be an integer or an array of integers"),
        (dict(steps="3"), TypeError, r"steps must be an integer or an array of integers"),
        (dict(steps=[[1], [1, 2]]), TypeError, r"steps must be an integer or an array of integers"),
        (dict(steps=np.array([2**64 - 1], np.uint64)), OverflowError, r"steps must be at most 2\*\*63 - 1"),
        (
            dict(steps=[0], pct_start=0.1),
            ValueError,
            r"step 0 falls in phase 1 .* pct_start \* total_steps == 1",
        ),
        (dict(steps=[3], max_lr=-1.0), ValueError, r"max_lr must be a finite number greater than 0"),
        (
            dict(steps=[3], out=(np.empty(2), np.empty(2))),
            ValueError,
            r"has shape \(2,\), the schedule's shape is \(1,\)",
        ),
    ],
)
def test_bad_steps(kwargs: dict, error: type, pattern: str) -> None:
    kwargs = {"max_lr": 0.1, **kwargs}
    with pytest.raises(error, match=pattern):
        onecycle.schedule(10, **kwargs)


def test_chosen_steps_run_with_the_gil_released() -> None:
    """As for windows: another thread runs in the middle half of a large call."""
    steps = np.random.default_rng(1).integers(0, 10**9, size=20_000_000)
    assert_runs_with_the_gil_released(lambda: onecycle.schedule(10**9, 0.1, steps=steps))


# --- the parameter list and the phase layout --------------------------------------------------


def test_the_core_lists_schedules_parameters_as_its_signature_does() -> None:
    """One list in the core names every parameter; schedule()'s signature (written out for
    readers and type checkers) has the same names, order and defaults, and torch's
    OneCycleLR the same defaults."""
    signature = inspect.signature(onecycle.schedule).parameters
    torch_signature = inspect.signature(TorchOneCycleLR.__init__).parameters
    names = [name for name, *_ in _core.PARAMETERS]
    assert names == list(signature)[: len(names)]
    for name, kind, default, text, choices in _core.PARAMETERS:
        assert text and kind in ("int", "float", "str", "bool")
        if default is None:
            assert signature[name].default is inspect.Parameter.empty
            continue
        assert signature[name].default == default and type(signature[name].default) is type(default)
        assert torch_signature[name].default == default
        if kind == "str":
            assert default in choices
    assert dict((n, c) for n, _, _, _, c in _core.PARAMETERS)["anneal_strategy"] == ("cos", "linear")


@given(total_steps=st.integers(1, 10**7), pct_start=st.floats(0.0, 1.0), three_phase=st.booleans())
def test_phase_ends_are_torchs(total_steps: int, pct_start: float, three_phase: bool) -> None:
    sched, err = outcome(
        lambda: TorchOneCycleLR(
            make_optimizer("sgd"), 0.1, total_steps=total_steps, pct_start=pct_start, three_phase=three_phase
        )
    )
    ends = _core.phase_ends(total_steps=total_steps, pct_start=pct_start, three_phase=three_phase)
    if err is None:
        assert ends == [p["end_step"] for p in sched._schedule_phases]
        assert [type(e) for e in ends] == [float] * len(ends)
    else:  # torch fails at step 0, whose warm-up ends there: the layout is still defined
        assert isinstance(err, ZeroDivisionError) and ends[0] == 0.0


def test_bad_phase_layout_arguments() -> None:
    with pytest.raises(ValueError, match="total_steps must be a positive integer"):
        _core.phase_ends(total_steps=0, pct_start=0.3, three_phase=False)
    with pytest.raises(ValueError, match=r"pct_start must be a float between 0\.0 and 1\.0"):
        _core.phase_ends(total_steps=10, pct_start=1.5, three_phase=False)


def test_binding_refuses_unknown_parameters() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'float32'"):
        _core.schedule(
            shape=(),
            at=(0, None),
            output={"dtype": None, "exact": True, "out": None, "memory": None},
            float32=False,
            **{n: d for n, _, d, _, _ in _core.PARAMETERS if d is not None},
        )


def test_console_options_and_descriptions_come_from_the_parameter_list() -> None:
    """Every parameter in the core's list is an option of each schedule command, with the
    core's help text and default, and describe() names it."""
    from onecycle.cli import _parser
    from onecycle.cli._config import REQUIRED_DEFAULTS, Config, describe

    parser = _parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]
    for name in ("generate", "plot", "compare"):
        options = {a.dest: a for a in commands[name]._actions}
        for param, kind, default, text, _ in _core.PARAMETERS:
            action = options[param]
            assert action.option_strings == ["--" + param.replace("_", "-")]
            assert text in action.help
            want = REQUIRED_DEFAULTS.get(param, default)
            if kind != "bool":
                assert action.default in (want, [want])
    values = [REQUIRED_DEFAULTS.get(p, d) for p, _, d, _, _ in _core.PARAMETERS]
    assert describe(Config(*values)) == ", ".join(
        f"{p}={v!r}" for (p, *_), v in zip(_core.PARAMETERS, values, strict=True)
    )
