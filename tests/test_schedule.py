"""onecycle.schedule() against the installed torch's OneCycleLR, bit for bit."""

from __future__ import annotations

import numpy as np
import onecycle
import pytest
from hypothesis import given
from hypothesis import strategies as st
from parity import make_optimizer, outcome, torch_values_at
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR


def torch_curve(total_steps: int, steps: int, **kwargs: object) -> tuple[np.ndarray, np.ndarray, int | None]:
    """lr and momentum of torch's scheduler (one SGD group) at last_epoch 0, 1, ...,
    steps - 1, stepping as a training loop does; and the step at which torch failed, if it
    did (the arrays then stop there)."""
    opt = make_optimizer("sgd")
    lrs, momenta = [], []
    sched, err = outcome(lambda: TorchOneCycleLR(opt, total_steps=total_steps, **kwargs))
    if err is not None:
        assert isinstance(err, ZeroDivisionError), err
        return np.array(lrs), np.array(momenta), 0
    for step in range(steps):
        if step:
            opt.step()
            _, err = outcome(sched.step)
            if err is not None:
                assert isinstance(err, ZeroDivisionError), err
                return np.array(lrs), np.array(momenta), step
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0]["momentum"])
    return np.array(lrs), np.array(momenta), None


def assert_bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(
        a.view(np.uint64 if a.dtype == np.float64 else np.uint32),
        b.view(np.uint64 if b.dtype == np.float64 else np.uint32),
    )


def test_import_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, onecycle; onecycle.schedule(10, 0.1); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_drop_in_without_torch_says_how_to_get_it() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
        "import onecycle\n"
        "assert onecycle.schedule(5, 0.1).lr.shape == (5,)\n"
        "try:\n    onecycle.OneCycleLR\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'onecycle[torch]'" in out.stdout


def test_result_shape_and_type() -> None:
    result = onecycle.schedule(100, 0.1)
    assert isinstance(result, onecycle.Schedule)
    lr, momentum = result
    assert lr.shape == momentum.shape == (100,)
    assert lr.dtype == momentum.dtype == np.float64
    assert result.lr is lr and result.momentum is momentum
    assert lr.flags.c_contiguous and lr.flags.writeable


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize(
    ("total_steps", "pct_start"),
    [
        (1, 0.3),
        (2, 0.3),
        (2, 0.5),
        (3, 0.0),
        (10, 0.0),
        (10, 1.0),
        (10, 0.1),
        (10, 0.25),
        (100, 0.3),
        (100, 0.25),
        (1000, 0.123),
        (4096, 0.5),
        (20, 0.05),
    ],
)
def test_whole_curve_equals_torch(
    total_steps: int, pct_start: float, three_phase: bool, anneal_strategy: str
) -> None:
    kwargs = dict(max_lr=0.1, pct_start=pct_start, three_phase=three_phase, anneal_strategy=anneal_strategy)
    lr, momentum, failed_at = torch_curve(total_steps, total_steps + 1, **kwargs)
    if failed_at is None:
        got = onecycle.schedule(total_steps, stop=total_steps + 1, **kwargs)
        assert_bits_equal(got.lr, lr)
        assert_bits_equal(got.momentum, momentum)
    else:
        # Where torch divides by zero, a window containing that step is a clear ValueError;
        # the steps before it still match.
        with pytest.raises(ValueError, match=rf"step {failed_at} falls in phase .*\(zero width\)"):
            onecycle.schedule(total_steps, stop=total_steps + 1, **kwargs)
        got = onecycle.schedule(total_steps, stop=failed_at, **kwargs)
        assert_bits_equal(got.lr, lr)
        assert_bits_equal(got.momentum, momentum)


def test_default_stop_is_total_steps() -> None:
    full = onecycle.schedule(50, 0.1, stop=51)
    assert_bits_equal(onecycle.schedule(50, 0.1).lr, full.lr[:50])


@given(
    total_steps=st.integers(1, 300),
    max_lr=st.floats(1e-8, 1e3),
    pct_start=st.floats(0.0, 1.0),
    anneal_strategy=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(),
    base_momentum=st.floats(0.0, 1.0),
    max_momentum=st.floats(0.0, 1.0),
    div_factor=st.floats(1e-3, 1e6),
    final_div_factor=st.floats(1e-3, 1e6),
)
def test_property_curve_equals_torch(total_steps: int, **kwargs: object) -> None:
    lr, momentum, failed_at = torch_curve(total_steps, total_steps + 1, **kwargs)
    stop = total_steps + 1 if failed_at is None else failed_at
    got = onecycle.schedule(total_steps, stop=stop, **kwargs)
    assert_bits_equal(got.lr, lr)
    assert_bits_equal(got.momentum, momentum)
    if failed_at is not None:
        with pytest.raises(ValueError, match="zero width"):
            onecycle.schedule(total_steps, start=failed_at, stop=failed_at + 1, **kwargs)


@given(
    total_steps=st.one_of(st.integers(1, 10**6), st.integers(1, 2**63 - 1)),
    fraction=st.floats(0.0, 1.0),
    pct_start=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.3, 0.5, 1.0])),
    anneal_strategy=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(),
)
def test_property_any_step_of_huge_schedules(
    total_steps: int, fraction: float, pct_start: float, anneal_strategy: str, three_phase: bool
) -> None:
    """Steps far into huge schedules (up to 2**63 - 1 steps) equal torch's value at that
    step, reached by setting last_epoch as resuming does; including steps beyond 2**53,
    where the int/float phase comparison must be exact."""
    step = min(int(fraction * (total_steps + 1)), total_steps)
    kwargs = dict(max_lr=0.01, pct_start=pct_start, anneal_strategy=anneal_strategy, three_phase=three_phase)
    torch_result, err = outcome(lambda: torch_values_at(total_steps, step, **kwargs))
    ours, our_err = outcome(lambda: onecycle.schedule(total_steps, start=step, stop=step + 1, **kwargs))
    if err is not None:
        assert isinstance(err, ZeroDivisionError), err
        assert isinstance(our_err, ValueError) and "zero width" in str(our_err)
        return
    assert our_err is None, our_err
    assert ours.lr.tolist() == [torch_result[0]] and ours.momentum.tolist() == [torch_result[1]]
    lo, hi = max(step - 3, 0), min(step + 3, total_steps + 1)
    window, window_err = outcome(lambda: onecycle.schedule(total_steps, start=lo, stop=hi, **kwargs))
    if window_err is not None:
        # A neighbouring step lies in a phase of zero width (the extra step of
        # pct_start=1.0, say): that step alone fails the same way.
        assert isinstance(window_err, ValueError) and "zero width" in str(window_err)
        alone = [
            outcome(lambda s=s: onecycle.schedule(total_steps, start=s, stop=s + 1, **kwargs))[1]
            for s in range(lo, hi)
        ]
        assert any(isinstance(e, ValueError) and "zero width" in str(e) for e in alone)
        return
    assert window.lr[step - lo] == torch_result[0]


def test_steps_beyond_2_53_land_in_torchs_phase() -> None:
    # pct_start * total_steps - 1 is a float just below an odd integer step: Python
    # compares the int step exactly, a conversion to float would not.
    total = 2**60 + 2**10
    for pct_start in (0.5, 0.25, 0.7):
        end = pct_start * total - 1
        for step in (int(end) - 1, int(end), int(end) + 1, int(end) + 2):
            expected = torch_values_at(total, step, max_lr=0.1, pct_start=pct_start)
            got = onecycle.schedule(total, 0.1, pct_start=pct_start, start=step, stop=step + 1)
            assert (got.lr[0], got.momentum[0]) == expected, step


@given(
    total_steps=st.integers(1, 5000),
    bounds=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    three_phase=st.booleans(),
    anneal_strategy=st.sampled_from(["cos", "linear"]),
)
def test_property_windows_are_slices_of_the_whole(
    total_steps: int, bounds: tuple[float, float], three_phase: bool, anneal_strategy: str
) -> None:
    kwargs = dict(pct_start=0.4, three_phase=three_phase, anneal_strategy=anneal_strategy)
    whole = onecycle.schedule(total_steps, 0.3, stop=total_steps + 1, **kwargs)
    start, stop = sorted(int(b * (total_steps + 1)) for b in bounds)
    window = onecycle.schedule(total_steps, 0.3, start=start, stop=stop, **kwargs)
    assert_bits_equal(window.lr, whole.lr[start:stop])
    assert_bits_equal(window.momentum, whole.momentum[start:stop])


def test_parallel_path_equals_serial_path() -> None:
    """Windows big enough for threads give the same bits as many small windows, which
    are filled serially."""
    total = 3_000_000
    big = onecycle.schedule(total, 0.1, pct_start=0.37, three_phase=True, stop=total + 1)
    step = 20_000
    assert step < onecycle._core.PARALLEL_MIN_STEPS < total
    for start in range(0, total + 1, 250_003):
        small = onecycle.schedule(
            total, 0.1, pct_start=0.37, three_phase=True, start=start, stop=min(start + step, total + 1)
        )
        assert_bits_equal(small.lr, big.lr[start : start + step])
        assert_bits_equal(small.momentum, big.momentum[start : start + step])


def test_float32_is_the_rounded_float64() -> None:
    for anneal in ("cos", "linear"):
        f64 = onecycle.schedule(100_000, 0.1, anneal_strategy=anneal, stop=100_001)
        f32 = onecycle.schedule(100_000, 0.1, anneal_strategy=anneal, stop=100_001, dtype=np.float32)
        assert f32.lr.dtype == f32.momentum.dtype == np.float32
        assert_bits_equal(f32.lr, f64.lr.astype(np.float32))
        assert_bits_equal(f32.momentum, f64.momentum.astype(np.float32))
    assert onecycle.schedule(10, 0.1, dtype="float32").lr.dtype == np.float32


def test_broadcast_sweep_equals_separate_calls() -> None:
    max_lr = np.array([[0.1], [0.2], [0.5]])  # (3, 1)
    pct_start = [0.1, 0.25, 0.3, 0.5]  # (4,)
    result = onecycle.schedule(200, max_lr, pct_start=pct_start, base_momentum=0.8, div_factor=np.float32(10))
    assert result.lr.shape == result.momentum.shape == (3, 4, 200)
    for i in range(3):
        for j in range(4):
            single = onecycle.schedule(
                200, float(max_lr[i, 0]), pct_start=pct_start[j], base_momentum=0.8, div_factor=10.0
            )
            assert_bits_equal(result.lr[i, j], single.lr)
            assert_bits_equal(result.momentum[i, j], single.momentum)
    # A large sweep goes through the threaded path and still equals separate calls.
    big = onecycle.schedule(100_000, np.linspace(0.01, 1.0, 8), three_phase=True)
    for k, lr in enumerate(np.linspace(0.01, 1.0, 8)):
        assert_bits_equal(big.lr[k], onecycle.schedule(100_000, float(lr), three_phase=True).lr)


def test_sweep_matches_torch_per_configuration() -> None:
    max_lrs = [0.05, 0.3]
    momenta = [0.9, 0.99]
    result = onecycle.schedule(60, max_lrs, max_momentum=np.array(momenta), stop=61)
    for k in range(2):
        lr, momentum, failed = torch_curve(60, 61, max_lr=max_lrs[k], max_momentum=momenta[k])
        assert failed is None
        assert_bits_equal(result.lr[k], lr)
        assert_bits_equal(result.momentum[k], momentum)


def test_empty_windows_and_sweeps() -> None:
    assert onecycle.schedule(10, 0.1, start=4, stop=4).lr.shape == (0,)
    assert onecycle.schedule(10, [], start=0, stop=5).lr.shape == (0, 5)


def assert_runs_with_the_gil_released(call: object) -> None:
    """Another Python thread runs while ``call()`` computes: it records times in the
    middle half of the call, which it could not do if the call held the GIL (only the
    moments just before and after the call would be open to it)."""
    import threading
    import time

    stamps: list[float] = []
    done = threading.Event()

    def record() -> None:
        while not done.is_set():
            stamps.append(time.perf_counter())

    thread = threading.Thread(target=record)
    thread.start()
    try:
        began = time.perf_counter()
        call()  # type: ignore[operator]
        ended = time.perf_counter()
    finally:
        done.set()
        thread.join()
    quarter = (ended - began) / 4
    assert any(began + quarter < t < ended - quarter for t in stamps)


def test_runs_with_the_gil_released() -> None:
    assert_runs_with_the_gil_released(lambda: onecycle.schedule(40_000_000, 0.1))


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "pattern"),
    [
        ((0, 0.1), {}, ValueError, r"total_steps must be a positive integer .* got 0"),
        ((-3, 0.1), {}, ValueError, r"total_steps must be a positive integer .* got -3"),
        ((10.0, 0.1), {}, TypeError, r"total_steps must be an integer, got float"),
        ((True, 0.1), {}, TypeError, r"total_steps must be an integer, got bool"),
        ((2**63, 0.1), {}, OverflowError, r"total_steps must be at most 2\*\*63 - 1"),
        ((10, 0.0), {}, ValueError, r"max_lr must be a finite number greater than 0, got 0.0"),
        ((10, float("nan")), {}, ValueError, r"max_lr must be a finite number greater than 0, got NaN"),
        ((10, float("inf")), {}, ValueError, r"max_lr must be a finite number greater than 0, got inf"),
        ((10, "0.1"), {}, TypeError, r"max_lr must be a real number"),
        ((10, True), {}, TypeError, r"max_lr must be a real number"),
        (
            (10, 0.1),
            dict(pct_start=1.01),
            ValueError,
            r"pct_start must be a float between 0.0 and 1.0 inclusive, got 1.01",
        ),
        ((10, 0.1), dict(pct_start=-0.5), ValueError, r"pct_start must be .* got -0.5"),
        (
            (10, 0.1),
            dict(div_factor=0),
            ValueError,
            r"div_factor must be a finite number greater than 0, got 0.0",
        ),
        ((10, 0.1), dict(final_div_factor=-1), ValueError, r"final_div_factor must be .* got -1.0"),
        (
            (10, 0.1),
            dict(base_momentum=float("nan")),
            ValueError,
            r"base_momentum must be a finite number, got NaN",
        ),
        (
            (10, 0.1),
            dict(anneal_strategy="cosine"),
            ValueError,
            r"anneal_strategy must be 'cos' or 'linear', got \"cosine\"",
        ),
        ((10, 0.1), dict(anneal_strategy=None), TypeError, r"anneal_strategy must be 'cos' or 'linear'"),
        ((10, 0.1), dict(three_phase="yes"), TypeError, r"three_phase must be a bool"),
        (
            (10, 0.1),
            dict(start=5, stop=4),
            ValueError,
            r"0 <= start <= stop <= total_steps \+ 1 = 11, got start=5, stop=4",
        ),
        ((10, 0.1), dict(stop=12), ValueError, r"got start=0, stop=12"),
        ((10, 0.1), dict(start=-1), ValueError, r"got start=-1"),
        ((10, 0.1), dict(start=1.5), TypeError, r"start must be an integer, got float"),
        (
            (10, 0.1),
            dict(dtype=np.int64),
            ValueError,
            r"dtype must be numpy.float64 or numpy.float32, got int64",
        ),
        ((10, 0.1), dict(dtype="nonsense"), TypeError, r"dtype must be numpy.float64 or numpy.float32"),
        (
            (10, [0.1, 0.2]),
            dict(pct_start=[0.1, 0.2, 0.3]),
            ValueError,
            r"do not broadcast together: max_lr \(2,\), pct_start \(3,\)",
        ),
        (
            (10, [0.1, -0.2]),
            {},
            ValueError,
            r"max_lr must be .* got -0.2 \(in configuration 1 of the broadcast parameters\)",
        ),
        (
            (10, 0.1),
            dict(pct_start=0.1),
            ValueError,
            r"step 0 falls in phase 1 .* pct_start \* total_steps == 1",
        ),
        ((10**13, 0.1), {}, MemoryError, r"lr needs 10000000000000 values \(72.8 TiB\)"),
    ],
)
def test_bad_input(args: tuple, kwargs: dict, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        onecycle.schedule(*args, **kwargs)


def test_numpy_integers_are_integers() -> None:
    a = onecycle.schedule(np.int64(50), 0.1, start=np.int32(3), stop=np.uint8(40))
    b = onecycle.schedule(50, 0.1, start=3, stop=40)
    assert_bits_equal(a.lr, b.lr)


def test_far_window_of_a_huge_schedule_is_cheap() -> None:
    result = onecycle.schedule(10**18, 0.1, start=10**15, stop=10**15 + 1000)
    assert result.lr.shape == (1000,)
    assert np.all(np.diff(result.lr) >= 0)  # still warming up at 0.1 % of the cycle
