"""Robustness: every bad input is a clear exception, huge requests fail before allocating,
garbage never crashes, threads see serial results, and nothing leaks."""

from __future__ import annotations

import decimal
import fractions
import json
import math
import operator
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import onecycle
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from onecycle import OneCycleLR
from parity import (
    assert_same_failure,
    assert_same_state,
    make_optimizer,
    outcome,
    run_side_by_side,
    torch_values_at,
)
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

NAN, INF = float("nan"), float("inf")
MAX_STEPS = 2**63 - 1
EXPECTED = (TypeError, ValueError, OverflowError, MemoryError)


def assert_bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    as_int = np.uint64 if a.dtype == np.float64 else np.uint32
    assert np.array_equal(a.view(as_int), b.view(as_int))


def short_id(value: object) -> str:
    """A test id: the repr, cut short (and one that works for ints beyond 4300 digits)."""
    if isinstance(value, dict):
        return ",".join(f"{k}={short_id(v)}" for k, v in value.items())
    if isinstance(value, int) and value.bit_length() > 64:
        return f"<int of {value.bit_length()} bits>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def run_python(code: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter (so its memory figures are its own), with `rss()`
    and `peak()` defined, and return the JSON object it prints last."""
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# Memory figures read by the subprocesses: resident now and at peak, in bytes (Linux).
MEMORY_PRELUDE = """
import json, resource
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""

# --- 1. bad inputs to schedule(): exception type and message ----------------------------

# (arguments, exception, words the message must hold: the argument, the value, what is allowed)
SCHEDULE_BAD: list[tuple[dict[str, Any], type[Exception], list[str]]] = [
    # total_steps: zero, negative, bools, floats, strings, None, too large
    (dict(total_steps=0), ValueError, ["total_steps", "got 0", "positive integer (1 to 2**63 - 1)"]),
    (dict(total_steps=-1), ValueError, ["total_steps", "got -1", "positive integer"]),
    (dict(total_steps=-(2**70)), ValueError, ["total_steps", f"got {-(2**70)}", "positive integer"]),
    (dict(total_steps=True), TypeError, ["total_steps", "integer", "bool True"]),
    (dict(total_steps=np.bool_(True)), TypeError, ["total_steps", "integer", "bool"]),
    (dict(total_steps=10.0), TypeError, ["total_steps", "integer", "float 10.0"]),
    (dict(total_steps=NAN), TypeError, ["total_steps", "integer", "float nan"]),
    (dict(total_steps=np.float64(10)), TypeError, ["total_steps", "integer", "float64"]),
    (dict(total_steps="10"), TypeError, ["total_steps", "integer", "str '10'"]),
    (dict(total_steps=None), TypeError, ["total_steps", "integer", "NoneType None"]),
    (dict(total_steps=np.array([10, 20])), TypeError, ["total_steps", "integer", "ndarray"]),
    (dict(total_steps=2**63), OverflowError, ["total_steps", "at most 2**63 - 1", f"got {2**63}"]),
    (dict(total_steps=2**64 + 1), OverflowError, ["total_steps", "at most 2**63 - 1", f"got {2**64 + 1}"]),
    (
        dict(total_steps=10**5000),
        OverflowError,
        ["total_steps", "at most 2**63 - 1", "integer of 16610 bits"],
    ),
    # max_lr: zero, negative, NaN, infinite, wrong types
    (dict(max_lr=0.0), ValueError, ["max_lr", "got 0.0", "finite number greater than 0"]),
    (dict(max_lr=0), ValueError, ["max_lr", "got 0.0", "greater than 0"]),
    (dict(max_lr=-0.01), ValueError, ["max_lr", "got -0.01", "greater than 0"]),
    (dict(max_lr=NAN), ValueError, ["max_lr", "got NaN", "finite"]),
    (dict(max_lr=INF), ValueError, ["max_lr", "got inf", "finite"]),
    (dict(max_lr=-INF), ValueError, ["max_lr", "got -inf", "finite"]),
    (dict(max_lr=np.float32("nan")), ValueError, ["max_lr", "got NaN", "finite"]),
    (dict(max_lr=10**400), OverflowError, ["max_lr", "integer of 1329 bits", "finite number"]),
    (dict(max_lr=True), TypeError, ["max_lr", "real number", "bool"]),
    (dict(max_lr="0.1"), TypeError, ["max_lr", "real number", "'0.1'"]),
    (dict(max_lr=None), TypeError, ["max_lr", "real number", "NoneType"]),
    (dict(max_lr=1j), TypeError, ["max_lr", "real number", "complex"]),
    (dict(max_lr=decimal.Decimal("0.1")), TypeError, ["max_lr", "real number", "Decimal"]),
    (dict(max_lr=np.array(["a"])), TypeError, ["max_lr", "real number", "dtype <U1"]),
    (dict(max_lr=np.array([True])), TypeError, ["max_lr", "real number", "dtype bool"]),
    (dict(max_lr=[[0.1], [0.2, 0.3]]), TypeError, ["max_lr", "real number", "[[0.1], [0.2, 0.3]]"]),
    (dict(max_lr=[0.1, NAN]), ValueError, ["max_lr", "got NaN", "finite", "configuration 1"]),
    # pct_start: outside [0, 1], NaN, infinite
    (dict(pct_start=-0.1), ValueError, ["pct_start", "got -0.1", "between 0.0 and 1.0 inclusive"]),
    (dict(pct_start=1.0000001), ValueError, ["pct_start", "got 1.0000001", "between 0.0 and 1.0"]),
    (dict(pct_start=NAN), ValueError, ["pct_start", "got NaN", "between 0.0 and 1.0"]),
    (dict(pct_start=INF), ValueError, ["pct_start", "got inf", "between 0.0 and 1.0"]),
    (dict(pct_start=[0.3, 2.0]), ValueError, ["pct_start", "got 2.0", "between", "configuration 1"]),
    # momenta: NaN and infinities
    (dict(base_momentum=NAN), ValueError, ["base_momentum", "got NaN", "finite number"]),
    (dict(base_momentum=-INF), ValueError, ["base_momentum", "got -inf", "finite number"]),
    (dict(max_momentum=INF), ValueError, ["max_momentum", "got inf", "finite number"]),
    (dict(max_momentum="high"), TypeError, ["max_momentum", "real number", "'high'"]),
    # div_factor, final_div_factor: zero (torch divides by it), negative, NaN, infinite
    (dict(div_factor=0), ValueError, ["div_factor", "got 0.0", "finite number greater than 0"]),
    (dict(div_factor=-0.0), ValueError, ["div_factor", "got -0.0", "greater than 0"]),
    (dict(div_factor=-25.0), ValueError, ["div_factor", "got -25.0", "greater than 0"]),
    (dict(div_factor=NAN), ValueError, ["div_factor", "got NaN", "finite"]),
    (dict(div_factor=INF), ValueError, ["div_factor", "got inf", "finite"]),
    (dict(final_div_factor=0.0), ValueError, ["final_div_factor", "got 0.0", "greater than 0"]),
    (dict(final_div_factor=-1), ValueError, ["final_div_factor", "got -1.0", "greater than 0"]),
    (dict(final_div_factor=INF), ValueError, ["final_div_factor", "got inf", "finite"]),
    (
        dict(final_div_factor=np.array([1e4, 0.0])),
        ValueError,
        ["final_div_factor", "got 0.0", "configuration 1"],
    ),
    # anneal_strategy, three_phase, dtype
    (dict(anneal_strategy="cosine"), ValueError, ["anneal_strategy", "'cos' or 'linear'", '"cosine"']),
    (dict(anneal_strategy=b"cos"), TypeError, ["anneal_strategy", "'cos' or 'linear'", "bytes"]),
    (dict(three_phase=1), TypeError, ["three_phase", "a bool", "int"]),
    (dict(three_phase="False"), TypeError, ["three_phase", "a bool", "str"]),
    (dict(dtype=np.int64), ValueError, ["dtype", "numpy.float64 or numpy.float32", "got int64"]),
    (dict(dtype=np.float16), ValueError, ["dtype", "numpy.float64 or numpy.float32", "got float16"]),
    (dict(dtype="complex128"), ValueError, ["dtype", "got complex128"]),
    (dict(dtype="nonsense"), TypeError, ["dtype", "numpy.float64 or numpy.float32", "'nonsense'"]),
    # shapes that do not broadcast
    (
        dict(max_lr=[0.1, 0.2], pct_start=[0.1, 0.2, 0.3]),
        ValueError,
        ["do not broadcast", "max_lr (2,)", "pct_start (3,)"],
    ),
    (
        dict(max_lr=np.ones((2, 3)), div_factor=np.ones((3, 2))),
        ValueError,
        ["do not broadcast", "max_lr (2, 3)", "div_factor (3, 2)"],
    ),
    # windows: start > stop, stop > total_steps + 1, negative, floats, bools, huge
    (dict(start=5, stop=4), ValueError, ["0 <= start <= stop <= total_steps + 1 = 101", "start=5, stop=4"]),
    (dict(stop=102), ValueError, ["total_steps + 1 = 101", "stop=102"]),
    (dict(start=-1), ValueError, ["0 <= start", "start=-1"]),
    (dict(start=200, stop=300), ValueError, ["total_steps + 1 = 101", "start=200, stop=300"]),
    (dict(start=2**64), ValueError, ["total_steps + 1 = 101", f"start={2**64}"]),
    (dict(start=10**5000), ValueError, ["total_steps + 1 = 101", "start=an integer of 16610 bits"]),
    (dict(start=1.0), TypeError, ["start", "integer", "float 1.0"]),
    (dict(stop=False), TypeError, ["stop", "integer", "bool False"]),
    (dict(stop=np.float32(5)), TypeError, ["stop", "integer", "float32"]),
    # a step where torch's OneCycleLR divides by zero
    (
        dict(pct_start=0.01),
        ValueError,
        ["step 0 falls in phase 1", "zero width", "ZeroDivisionError", "pct_start * total_steps == 1"],
    ),
    (
        dict(pct_start=1.0, stop=101),
        ValueError,
        ["step 100 falls in phase 2", "ZeroDivisionError", "pct_start=1.0"],
    ),
    # outputs too large to allocate
    (
        dict(total_steps=10**13),
        MemoryError,
        ["lr needs 10000000000000 values (72.8 TiB)", "start= and stop="],
    ),
    (
        dict(total_steps=MAX_STEPS, dtype=np.float32),
        MemoryError,
        [f"lr needs {MAX_STEPS} values (32.0 EiB)"],
    ),
    (dict(total_steps=10**13, max_lr=[0.1, 0.2]), MemoryError, ["lr needs 20000000000000 values"]),
    # a bad value in a call that is also too large: the value is named, not the size
    (dict(total_steps=10**13, max_lr=math.nan), ValueError, ["max_lr", "NaN", "greater than 0"]),
    (dict(total_steps=10**13, div_factor=math.inf), ValueError, ["div_factor", "inf"]),
    (dict(total_steps=10**13, pct_start=1.5), ValueError, ["pct_start", "1.5", "between 0.0 and 1.0"]),
    (  # 2**40 configurations: refused before the parameters are broadcast (8 TiB each)
        dict(max_lr=np.full((2**20, 1), 0.1), pct_start=np.full((1, 2**20), 0.3), stop=10),
        MemoryError,
        [f"lr needs {10 * 2**40} values (80.0 TiB)"],
    ),
    (
        dict(max_lr=np.full((2**20, 1), 0.1), pct_start=np.full((1, 2**20), 0.3), stop=0),
        MemoryError,
        [f"broadcast parameters make {2**40} configurations (48.0 TiB)"],
    ),
]


@pytest.mark.parametrize(("changes", "error", "words"), SCHEDULE_BAD, ids=short_id)
def test_schedule_bad_input(changes: dict[str, Any], error: type[Exception], words: list[str]) -> None:
    kwargs: dict[str, Any] = {"total_steps": 100, "max_lr": 0.1, **changes}
    with pytest.raises(error) as info:
        onecycle.schedule(**kwargs)
    assert type(info.value) is error
    message = str(info.value)
    for word in words:
        assert word in message, f"{message!r} lacks {word!r}"


@pytest.mark.parametrize(
    "integer",
    [np.int8(40), np.int16(40), np.int32(40), np.int64(40), np.uint8(40), np.uint64(40), np.array(40)],
    ids=repr,
)
def test_numpy_integers_are_accepted_everywhere(integer: Any) -> None:
    plain = onecycle.schedule(40, 0.1, start=3, stop=41)
    for kwargs in (
        dict(total_steps=integer, start=3, stop=41),
        # (numpy 1.x turns uint64 + int into a float64: keep the integer's dtype)
        dict(total_steps=40, start=3, stop=integer + np.array(1, dtype=integer.dtype)),
        dict(total_steps=40, start=integer - np.array(37, dtype=integer.dtype), stop=41),
    ):
        got = onecycle.schedule(max_lr=0.1, **kwargs)
        assert_bits_equal(got.lr, plain.lr)
        assert_bits_equal(got.momentum, plain.momentum)


# --- 1. bad inputs to OneCycleLR: torch's exception, or a ValueError where torch divides by
# zero; torch's values wherever torch accepts the input ------------------------------------

CLASS_INPUTS: list[dict[str, Any]] = [
    # NaN, infinite, negative and zero floats: torch takes them all and computes with them
    dict(max_lr=NAN, total_steps=10),
    dict(max_lr=INF, total_steps=10),
    dict(max_lr=-INF, total_steps=10),
    dict(max_lr=-0.1, total_steps=10),
    dict(max_lr=0.0, total_steps=10),
    dict(max_lr=[0.1, NAN], total_steps=10),
    dict(max_lr=0.1, total_steps=10, pct_start=NAN),
    dict(max_lr=0.1, total_steps=10, base_momentum=NAN),
    dict(max_lr=0.1, total_steps=10, max_momentum=-INF),
    dict(max_lr=0.1, total_steps=10, base_momentum=-1.0),
    dict(max_lr=0.1, total_steps=10, div_factor=NAN),
    dict(max_lr=0.1, total_steps=10, div_factor=INF),
    dict(max_lr=0.1, total_steps=10, div_factor=-2.0),
    dict(max_lr=0.1, total_steps=10, div_factor=1e-320),
    dict(max_lr=0.1, total_steps=10, final_div_factor=INF),
    dict(max_lr=0.1, total_steps=10, final_div_factor=NAN),
    dict(max_lr=1e308, total_steps=10, div_factor=1e-10),
    dict(max_lr=2**60 + 1, total_steps=10),
    # pct_start outside [0, 1], or not a float: torch's ValueError
    dict(max_lr=0.1, total_steps=10, pct_start=INF),
    dict(max_lr=0.1, total_steps=10, pct_start=-0.0),
    dict(max_lr=0.1, total_steps=10, pct_start=1),
    # bools and floats where integers belong: torch takes True (an int), refuses the rest
    dict(max_lr=0.1, total_steps=True),
    dict(max_lr=0.1, total_steps=False),
    dict(max_lr=0.1, total_steps=10.0),
    dict(max_lr=0.1, total_steps=np.int64(10)),  # not an int to torch
    dict(max_lr=0.1, epochs=True, steps_per_epoch=5),
    dict(max_lr=0.1, epochs=2.0, steps_per_epoch=5),
    dict(max_lr=0.1, epochs=2, steps_per_epoch=np.int32(5)),
    dict(max_lr=0.1, epochs=-2, steps_per_epoch=5),
    dict(max_lr=0.1, epochs=2, steps_per_epoch=0),
    dict(max_lr=0.1, total_steps=10, three_phase=1),
    dict(max_lr=0.1, total_steps=10, three_phase=None),
    dict(max_lr=0.1, total_steps=10, cycle_momentum=0),
    dict(max_lr=0.1, total_steps=10, cycle_momentum=1),
    dict(max_lr=0.1, total_steps=10, last_epoch=1.5),
    dict(max_lr=0.1, total_steps=10, anneal_strategy=None),
    # total_steps beyond 2**63 - 1: torch takes any int that converts to a float
    dict(max_lr=0.1, total_steps=2**63 + 5),
    dict(max_lr=0.1, total_steps=2**64 * 3, three_phase=True),
    dict(max_lr=0.1, total_steps=10**400),
    dict(max_lr=10**400, total_steps=10),
    # lists of the wrong length, per parameter group (the optimizer has 2 groups)
    dict(max_lr=[0.1], total_steps=10),
    dict(max_lr=[0.1, 0.2, 0.3], total_steps=10),
    dict(max_lr=(0.1, 0.2), total_steps=10),
    dict(max_lr=[], total_steps=10),
    dict(max_lr=0.1, total_steps=10, base_momentum=[0.8, 0.8, 0.8]),
    dict(max_lr=0.1, total_steps=10, max_momentum=[0.9]),
    # wrong types
    dict(max_lr=None, total_steps=10),
    dict(max_lr="0.1", total_steps=10),
    dict(max_lr=decimal.Decimal("0.1"), total_steps=10),
    dict(max_lr=fractions.Fraction(1, 10), total_steps=10),
    dict(max_lr=0.1, total_steps=10, div_factor="25"),
    # division by zero in torch: ValueErrors that explain it
    dict(max_lr=0.1, total_steps=10, div_factor=0),
    dict(max_lr=0.1, total_steps=10, div_factor=False),
    dict(max_lr=0.0, total_steps=10, div_factor=0.0),
    dict(max_lr=0.1, total_steps=10, final_div_factor=-0.0),
    dict(max_lr=[0.1, 0.2], total_steps=10, final_div_factor=0),
    dict(max_lr=0.1, total_steps=10, pct_start=0.1),
    dict(max_lr=0.1, total_steps=100, pct_start=0.01, three_phase=True),
]


@pytest.mark.parametrize("kwargs", CLASS_INPUTS, ids=short_id)
def test_class_inputs_follow_torch(kwargs: dict[str, Any]) -> None:
    """Construct torch's class and ours from the same input, then step both through the
    schedule (at most 12 steps): the same values, or the same exception; a ValueError
    naming the cause where torch fails with ZeroDivisionError."""
    _, theirs = outcome(lambda: TorchOneCycleLR(make_optimizer("sgd", 2), **kwargs))
    _, ours = outcome(lambda: OneCycleLR(make_optimizer("sgd", 2), **kwargs))
    assert_same_failure(theirs, ours, "construction")
    if isinstance(theirs, ZeroDivisionError):
        message = str(ours)
        named = [k for k in ("div_factor", "final_div_factor") if message.startswith(f"{k} must be nonzero")]
        if named:
            assert f"got {kwargs[named[0]]!r}" in message, message
            assert "initial_lr = max_lr / div_factor" in message or "min_lr =" in message, message
        else:
            assert "zero width" in message and "step 0" in message, message
    run_side_by_side("sgd", 2, kwargs, steps=12)


def test_class_zero_width_phase_mid_run_explains_itself() -> None:
    """pct_start=1.0 empties the annealing phase: torch fails at the extra step with
    ZeroDivisionError; ours raises a ValueError there naming the step and the fix."""
    theirs, ours = run_side_by_side("adam", 2, dict(max_lr=0.1, total_steps=10, pct_start=1.0), steps=9)
    assert theirs is not None and ours is not None
    _, t_err = outcome(theirs.step)
    _, o_err = outcome(ours.step)
    assert isinstance(t_err, ZeroDivisionError)
    assert type(o_err) is ValueError
    assert "step 10 falls in phase 2" in str(o_err) and "pct_start=1.0" in str(o_err)


# --- 2. memory: too large fails before allocating; far windows cost their own length -------


def test_too_large_fails_before_allocating() -> None:
    result = run_python(
        """
        import tracemalloc, onecycle
        onecycle.schedule(1000, 0.1)
        before = peak()
        tracemalloc.start()
        try:
            onecycle.schedule(10**13, 0.1)
        except MemoryError as e:
            message = str(e)
        traced = tracemalloc.get_traced_memory()[1]
        print(json.dumps(dict(message=message, traced=traced, grew=peak() - before)))
        """
    )
    assert "10000000000000 values (72.8 TiB)" in result["message"]
    assert result["traced"] < 1 << 20  # no array was allocated from Python's side
    assert result["grew"] < 16 << 20  # and no memory was touched: resident peak within 16 MiB


FAR_WINDOWS = [
    (10**18, 10**15),
    (MAX_STEPS, 10**15),
    (MAX_STEPS, MAX_STEPS + 1 - 300),  # the last steps, through the extra step 2**63 - 1
    (MAX_STEPS, 2**62 + 12345),
    (2**62 + 2**10 + 1, 2**61),
]


@pytest.mark.parametrize(("total_steps", "start"), FAR_WINDOWS, ids=short_id)
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
def test_far_windows_equal_torch(
    total_steps: int, start: int, three_phase: bool, anneal_strategy: str
) -> None:
    """Windows far into huge schedules equal torch's values at those steps (reached by
    setting last_epoch, as resuming does), step by step."""
    kwargs: dict[str, Any] = dict(pct_start=0.3, three_phase=three_phase, anneal_strategy=anneal_strategy)
    stop = min(start + 300, total_steps + 1)
    got = onecycle.schedule(total_steps, 0.05, start=start, stop=stop, **kwargs)
    assert got.lr.shape == (stop - start,)
    for k in [*range(0, stop - start, 37), stop - start - 1]:
        expected = torch_values_at(total_steps, start + k, max_lr=0.05, **kwargs)
        assert (got.lr[k], got.momentum[k]) == expected, start + k


def test_far_windows_cost_only_their_length() -> None:
    """A window of 10**5 steps anywhere in a schedule of up to 2**63 - 1 steps raises the
    resident peak by about its own 1.6 MB, whatever the schedule's length."""
    result = run_python(
        """
        import onecycle
        onecycle.schedule(10**5, 0.1)  # warm-up: threads, numpy
        before = peak()
        for total, start in [(10**18, 10**15), (2**63 - 1, 2**63 - 10**5), (2**63 - 1, 2**62)]:
            for three_phase in (False, True):
                r = onecycle.schedule(total, 0.1, start=start, stop=start + 10**5, three_phase=three_phase)
                assert r.lr.shape == (10**5,)
        print(json.dumps(dict(grew=peak() - before)))
        """
    )
    assert result["grew"] < 32 << 20, result


# --- 3. no panic: garbage arguments give a correct result or an expected exception ---------

small_ints = st.integers(-3, 300)
huge_ints = st.one_of(st.integers(min_value=10**13), st.integers(max_value=-(10**13)))
numpy_scalars = st.one_of(
    hnp.from_dtype(np.dtype(np.int64), min_value=-3, max_value=300),
    hnp.from_dtype(np.dtype(np.uint8)),
    hnp.from_dtype(np.dtype(np.float64)),
    hnp.from_dtype(np.dtype(np.float32)),
    hnp.from_dtype(np.dtype(np.bool_)),
    hnp.from_dtype(np.dtype(np.complex128)),
)
numpy_arrays = hnp.arrays(
    dtype=st.one_of(
        st.just(np.dtype(np.float64)),
        st.just(np.dtype(np.int32)),
        hnp.scalar_dtypes(),
        hnp.byte_string_dtypes(),
        hnp.unicode_string_dtypes(),
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
)
scalar_leaves = st.one_of(
    st.none(),
    st.booleans(),
    small_ints,
    huge_ints,
    st.floats(),
    st.complex_numbers(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.sampled_from(["cos", "linear", "float32", np.float32, np.float64, np.int8, float, int, object]),
    st.sampled_from([decimal.Decimal("0.5"), fractions.Fraction(1, 3), Ellipsis, range(3), slice(1, 2)]),
    st.builds(object),
    numpy_scalars,
)


def nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`leaves`, and lists, tuples, dicts and sets of them."""
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.tuples(inner, inner),
            st.dictionaries(st.text(max_size=3), inner, max_size=2),
            st.frozensets(st.integers(0, 3), max_size=2),
        ),
        max_leaves=6,
    )


garbage = nested(st.one_of(scalar_leaves, numpy_arrays))
# For the integer arguments: arrays of any kind, but integers only small ones (a valid
# total_steps of 10**8 would be a legitimate 1.6 GB request, not garbage).
shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3)
integer_garbage = nested(
    st.one_of(
        scalar_leaves,
        hnp.arrays(np.int64, shapes, elements=st.integers(-3, 300)),
        hnp.arrays(np.float64, shapes),
        hnp.arrays(np.bool_, shapes),
        hnp.arrays(np.dtype("U2"), shapes),
    )
)


def either(valid: st.SearchStrategy[Any], junk: st.SearchStrategy[Any] = garbage) -> st.SearchStrategy[Any]:
    """Mostly a valid value, otherwise garbage: so that single bad arguments meet valid
    ones, and the checks after each argument are reached too."""
    return st.integers(0, 3).flatmap(lambda k: junk if k == 3 else valid)


schedule_arguments = st.fixed_dictionaries(
    {
        "total_steps": either(st.integers(1, 300), integer_garbage),
        "max_lr": either(st.floats(1e-4, 1.0)),
    },
    optional={
        "pct_start": either(st.floats(0.0, 1.0)),
        "anneal_strategy": either(st.sampled_from(["cos", "linear"])),
        "base_momentum": either(st.floats(0.0, 1.0)),
        "max_momentum": either(st.floats(0.0, 1.0)),
        "div_factor": either(st.floats(1.0, 100.0)),
        "final_div_factor": either(st.floats(1.0, 1e5)),
        "three_phase": either(st.booleans()),
        "start": either(st.integers(0, 20), integer_garbage),
        "stop": either(st.integers(0, 301), integer_garbage),
        "dtype": either(st.sampled_from([np.float64, np.float32, "float32", "f8"])),
    },
)


# Garbage examples are cheap: four times the suite's hypothesis budget (600 by default).
GARBAGE = settings(max_examples=4 * settings.default.max_examples)


@GARBAGE
@given(schedule_arguments)
# float32 beyond its range: inf, as numpy casts (found on numpy 2.5, which warns of it).
@example({"total_steps": 1, "max_lr": 8.507058919493342e43, "pct_start": 0.0, "dtype": np.float32})
def test_property_schedule_garbage(kwargs: dict[str, Any]) -> None:
    """Any Python objects for any argument: a correct result or TypeError / ValueError /
    OverflowError / MemoryError, never another exception or a crash."""
    try:
        result = onecycle.schedule(**kwargs)
    except EXPECTED as e:
        event(f"raised {type(e).__name__}")
        assert str(e), repr(e)
        return
    event("returned a schedule")
    # It succeeded: the arguments were usable; check the result against torch.
    total = operator.index(kwargs["total_steps"])
    start = operator.index(kwargs.get("start", 0))
    stop = total if kwargs.get("stop") is None else operator.index(kwargs["stop"])
    floats = {
        k: np.asarray(kwargs.get(k, d), dtype=np.float64)
        for k, d in dict(
            max_lr=0.1,
            pct_start=0.3,
            base_momentum=0.85,
            max_momentum=0.95,
            div_factor=25.0,
            final_div_factor=1e4,
        ).items()
        if k in kwargs or k == "max_lr"
    }
    shape = np.broadcast_shapes(*(a.shape for a in floats.values()))
    assert result.lr.shape == result.momentum.shape == (*shape, stop - start)
    assert result.lr.dtype == np.dtype(kwargs.get("dtype", np.float64))
    if math.prod(shape) == 0 or stop == start:
        return
    first = {k: float(np.broadcast_to(a, shape).flat[0]) for k, a in floats.items()}
    extra = {k: kwargs[k] for k in ("anneal_strategy",) if k in kwargs}
    three_phase = bool(kwargs.get("three_phase", False))
    for step in {start, stop - 1}:
        lr, momentum = torch_values_at(total, step, three_phase=three_phase, **first, **extra)
        index = (0,) * len(shape) + (step - start,)
        # float32: torch's float64 rounded to nearest, to inf beyond float32's range (as
        # numpy casts; numpy 2.5 warns of that overflow, the schedule does not).
        with np.errstate(over="ignore"):
            expected = (result.lr.dtype.type(lr), result.momentum.dtype.type(momentum))
        assert result.lr[index] == expected[0], step
        assert result.momentum[index] == expected[1], step


# No numpy arrays here (torch keeps max_lr and the momenta in the groups, where == on an
# array is not a bool) and only complex numbers whose arithmetic stays finite (a NaN
# complex never equals itself, so no comparison could pass).
class_garbage = nested(
    st.one_of(
        scalar_leaves.filter(lambda v: not isinstance(v, complex | np.complexfloating)),
        st.sampled_from([1j, 0.5 + 0.5j, 2 + 0j]),
    )
)


def either_scalar(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return either(valid, class_garbage)


class_arguments = st.fixed_dictionaries(
    {"max_lr": either_scalar(st.floats(1e-4, 1.0)), "total_steps": either_scalar(st.integers(1, 30))},
    optional={
        "epochs": either_scalar(st.integers(1, 5)),
        "steps_per_epoch": either_scalar(st.integers(1, 5)),
        "pct_start": either_scalar(st.floats(0.0, 1.0)),
        "anneal_strategy": either_scalar(st.sampled_from(["cos", "linear"])),
        "cycle_momentum": either_scalar(st.booleans()),
        "base_momentum": either_scalar(st.floats(0.0, 1.0)),
        "max_momentum": either_scalar(st.floats(0.0, 1.0)),
        "div_factor": either_scalar(st.floats(1.0, 100.0)),
        "final_div_factor": either_scalar(st.floats(1.0, 1e5)),
        "three_phase": either_scalar(st.booleans()),
    },
)


@GARBAGE
@given(class_arguments)
# A divisor holding a zero, which numpy divides by element: torch's ZeroDivisionError.
@example({"max_lr": [np.int64(0), None], "total_steps": 1, "div_factor": (False, None)})
def test_property_class_garbage_follows_torch(kwargs: dict[str, Any]) -> None:
    """Any Python objects for the class's arguments: whatever torch does, ours does (the
    same values, or the same exception and message; a clear ValueError where torch fails
    with ZeroDivisionError), over the first steps."""
    total = kwargs.get("total_steps")
    steps = min(total + 1, 6) if type(total) is int and total > 0 else 6
    theirs, _ = run_side_by_side("sgd", 2, kwargs, steps=steps)
    event("constructed" if theirs is not None else "construction failed in both")


# --- 4. threads ------------------------------------------------------------------------------

THREAD_CALLS: list[dict[str, Any]] = [
    dict(total_steps=1_000_000, max_lr=0.1),  # threaded fill (rayon) inside each call
    dict(total_steps=300_000, max_lr=0.3, three_phase=True, anneal_strategy="linear", stop=300_001),
    dict(total_steps=10**18, max_lr=0.01, start=10**15, stop=10**15 + 100_000),
    dict(total_steps=50_000, max_lr=np.geomspace(1e-3, 1, 8), pct_start=[[0.2], [0.4]]),  # a sweep
    dict(total_steps=1000, max_lr=0.1, dtype=np.float32),
    dict(total_steps=77, max_lr=0.5, start=10, stop=60),
    dict(total_steps=10, max_lr=0.1, pct_start=0.1),  # fails: zero-width phase
    dict(total_steps=10**13, max_lr=0.1),  # fails: too large
]


def _call(kwargs: dict[str, Any]) -> tuple[Any, ...]:
    try:
        lr, momentum = onecycle.schedule(**kwargs)
    except (ValueError, MemoryError) as e:
        return (type(e), str(e))
    return (lr, momentum)


def _assert_same_call(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    if isinstance(a[0], np.ndarray):
        assert_bits_equal(a[0], b[0])
        assert_bits_equal(a[1], b[1])
    else:
        assert a == b


def test_schedule_from_8_threads_equals_serial() -> None:
    serial = [_call(kwargs) for kwargs in THREAD_CALLS]
    barrier = threading.Barrier(8)

    def worker(index: int) -> list[tuple[Any, ...]]:
        barrier.wait()  # all 8 start together
        # Each thread runs every call, starting at a different one.
        return [_call(THREAD_CALLS[(index + k) % 8]) for k in range(8) for _ in range(2)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    for index, calls in enumerate(results):
        for k, got in enumerate(calls):
            _assert_same_call(serial[(index + k // 2) % 8], got)


def _in_thread(fn: Callable[[], Any]) -> Any:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(outcome(fn)))
    thread.start()
    thread.join()
    value, err = box[0]
    if err is not None:
        raise err
    return value


def test_class_used_from_another_thread_gives_torchs_values() -> None:
    kwargs: dict[str, Any] = dict(max_lr=[0.1, 0.3], total_steps=40, three_phase=True)
    t_opt, o_opt = make_optimizer("adam", 2), make_optimizer("adam", 2)
    theirs = TorchOneCycleLR(t_opt, **kwargs)
    ours = _in_thread(lambda: OneCycleLR(o_opt, **kwargs))  # created in another thread

    def step_ours() -> None:
        o_opt.step()
        ours.step()

    for i in range(40):
        t_opt.step()
        theirs.step()
        _in_thread(step_ours)  # stepped in yet another thread each time
        assert_same_state(theirs, ours, f"step {i}")


def test_many_schedulers_in_parallel_threads() -> None:
    """8 threads, each stepping its own scheduler at the same time, against torch's
    stepped serially."""
    configs = [dict(max_lr=0.05 * (i + 1), total_steps=200, pct_start=0.1 * (i + 1)) for i in range(8)]
    barrier = threading.Barrier(8)

    def worker(index: int) -> list[list[float]]:
        opt = make_optimizer("sgd", 2)
        sched = OneCycleLR(opt, **configs[index])
        barrier.wait()
        lrs = []
        for _ in range(200):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr())
        return lrs

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    for index, lrs in enumerate(results):
        opt = make_optimizer("sgd", 2)
        sched = TorchOneCycleLR(opt, **configs[index])
        for step, got in enumerate(lrs):
            opt.step()
            sched.step()
            assert got == sched.get_last_lr(), (index, step)


# --- 5. leaks ----------------------------------------------------------------------------------


def test_100000_calls_leave_resident_memory_flat() -> None:
    """100,000 calls of schedule() (and 10,000 failing ones) and 100,000 OneCycleLR.step()
    after a warm-up: resident memory grows by less than 8 MiB, i.e. under 80 bytes per
    call (a leaked array would be hundreds)."""
    result = run_python(
        """
        import warnings
        import numpy as np
        import onecycle, torch
        from onecycle import OneCycleLR

        def calls(n):
            for _ in range(n):
                onecycle.schedule(20, 0.1, start=2, stop=12)
            for _ in range(n // 10):
                try:
                    onecycle.schedule(10, 0.1, pct_start=2.0)
                except ValueError:
                    pass

        calls(5_000)
        before = rss()
        calls(100_000)
        schedule_growth = rss() - before

        opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
        sched = OneCycleLR(opt, max_lr=[0.1], total_steps=200_000)
        opt.step()
        for _ in range(5_000):
            sched.step()
        before = rss()
        for _ in range(100_000):
            sched.step()
        step_growth = rss() - before
        print(json.dumps(dict(schedule=schedule_growth, step=step_growth, lr=sched.get_last_lr()[0])))
        """
    )
    assert result["schedule"] < 8 << 20, result
    assert result["step"] < 8 << 20, result
    assert result["lr"] > 0  # the scheduler really stepped
