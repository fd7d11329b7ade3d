"""The fast paths of onecycle.schedule(): out=, shared-cosine sweeps, float32, blocks and
threads, and the opt-in fast cosine. Each is compared with the plain path and with the
installed torch, bit for bit (the fast cosine: with its documented bound)."""

from __future__ import annotations

import numpy as np
import onecycle
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onecycle import _core
from test_schedule import assert_bits_equal, torch_curve

# --- out= ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
def test_out_equals_the_returned_arrays(dtype: type, anneal_strategy: str) -> None:
    kwargs = dict(anneal_strategy=anneal_strategy, three_phase=True, stop=100_001)
    want = onecycle.schedule(100_000, 0.2, dtype=dtype, **kwargs)
    lr, momentum = np.full(100_001, np.nan, dtype), np.full(100_001, np.nan, dtype)
    got = onecycle.schedule(100_000, 0.2, out=(lr, momentum), **kwargs)
    assert got.lr is lr and got.momentum is momentum
    assert_bits_equal(lr, want.lr)
    assert_bits_equal(momentum, want.momentum)


def test_out_takes_its_dtype_and_sweep_shapes() -> None:
    max_lr, pct_start = np.geomspace(0.01, 1.0, 5)[:, None], [0.2, 0.3, 0.2]
    want = onecycle.schedule(3_000, max_lr, pct_start=pct_start, dtype=np.float32)
    out = (np.empty((5, 3, 3_000), np.float32), np.empty((5, 3, 3_000), np.float32))
    got = onecycle.schedule(3_000, max_lr, pct_start=pct_start, out=out)
    assert got.lr.dtype == np.float32
    assert_bits_equal(got.lr, want.lr)
    assert_bits_equal(got.momentum, want.momentum)


def test_out_is_not_held_to_the_memory_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory check guards the outputs schedule() would allocate; arrays given with
    out= (a memmap may be larger than memory) already exist and are filled as they are."""
    from onecycle import _schedule

    monkeypatch.setattr(_schedule, "_MEMORY", 10_000)  # bytes: less than two 1,000-step arrays
    with pytest.raises(MemoryError, match="lr needs 1000 values"):
        onecycle.schedule(1_000, 0.1)
    lr, momentum = np.empty(1_000), np.empty(1_000)
    onecycle.schedule(1_000, 0.1, out=(lr, momentum))
    monkeypatch.undo()
    want = onecycle.schedule(1_000, 0.1)
    assert_bits_equal(lr, want.lr)
    assert_bits_equal(momentum, want.momentum)


def test_memmap_window_by_window_equals_torch(tmp_path: object) -> None:
    """A schedule written to disk in windows (as one larger than memory would be) equals
    the whole schedule, and torch."""
    import pathlib

    total = 3_000
    path = pathlib.Path(str(tmp_path))
    lr = np.lib.format.open_memmap(path / "lr.npy", mode="w+", dtype=np.float64, shape=(total + 1,))
    momentum = np.memmap(path / "momentum.bin", mode="w+", dtype=np.float64, shape=(total + 1,))
    for start in range(0, total + 1, 700):
        stop = min(start + 700, total + 1)
        onecycle.schedule(total, 0.3, start=start, stop=stop, out=(lr[start:stop], momentum[start:stop]))
    lr.flush()
    momentum.flush()
    del lr, momentum
    lr_back = np.load(path / "lr.npy")
    momentum_back = np.fromfile(path / "momentum.bin", dtype=np.float64)
    t_lr, t_momentum, failed = torch_curve(total, total + 1, max_lr=0.3)
    assert failed is None
    assert_bits_equal(lr_back, t_lr)
    assert_bits_equal(momentum_back, t_momentum)


def _arrays(n: int = 100, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, dtype), np.zeros(n, dtype)


@pytest.mark.parametrize(
    ("make_out", "kwargs", "error", "pattern"),
    [
        (lambda: [np.zeros(100), np.zeros(100)], {}, TypeError, r"out must be a tuple of two numpy arrays"),
        (lambda: (np.zeros(100),), {}, TypeError, r"out must be a tuple of two numpy arrays"),
        (lambda: (np.zeros(100), [0.0] * 100), {}, TypeError, r"out must be a tuple of two numpy arrays"),
        (
            lambda: (np.zeros(100), np.zeros(100, np.float32)),
            {},
            ValueError,
            r"out: the momentum array has dtype float32, the schedule's dtype is float64",
        ),
        (
            lambda: _arrays(),
            dict(dtype=np.float32),
            ValueError,
            r"the lr array has dtype float64, .* float32",
        ),
        (
            lambda: _arrays(dtype=np.int64),
            {},
            ValueError,
            r"dtype must be numpy.float64 or numpy.float32, got int64",
        ),
        (
            lambda: _arrays(99),
            {},
            ValueError,
            r"the lr array has shape \(99,\), the schedule's shape is \(100,\)",
        ),
        (
            lambda: (np.zeros((1, 100)), np.zeros((1, 100))),
            {},
            ValueError,
            r"has shape \(1, 100\), the schedule's shape is \(100,\)",
        ),
        (lambda: (np.zeros(200)[::2], np.zeros(100)), {}, ValueError, r"the lr array must be C-contiguous"),
        (
            lambda: (np.zeros(100), np.zeros((100, 2))[:, 0]),
            {},
            ValueError,
            r"the momentum array must be C-contiguous",
        ),
        (lambda: (np.zeros(100), np.zeros(100)), dict(stop=50), ValueError, r"shape \(100,\), .* \(50,\)"),
    ],
)
def test_bad_out(make_out: object, kwargs: dict, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        onecycle.schedule(100, 0.1, out=make_out(), **kwargs)  # type: ignore[operator]


def test_read_only_and_overlapping_outputs_are_refused_untouched() -> None:
    lr = np.zeros(100)
    read_only = np.zeros(100)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"out: the momentum array is read-only"):
        onecycle.schedule(100, 0.1, out=(lr, read_only))
    both = np.zeros(150)
    for out in ((lr, lr), (both[:100], both[50:])):
        with pytest.raises(ValueError, match=r"the lr and momentum arrays overlap in memory"):
            onecycle.schedule(100, 0.1, out=out)
    assert not lr.any() and not both.any()
    # The binding is where the check lives: it never writes through an overlap.
    with pytest.raises(ValueError, match=r"out: the momentum array"):
        _core.schedule(
            shape=(),
            at=(0, 100),
            output={"dtype": None, "exact": True, "out": (lr, lr), "memory": None},
            total_steps=100,
            three_phase=False,
            anneal_strategy="cos",
            max_lr=0.1,
            pct_start=0.3,
            div_factor=25.0,
            final_div_factor=1e4,
            base_momentum=0.85,
            max_momentum=0.95,
        )
    assert not lr.any()
    # Invalid parameters are reported before anything is written.
    with pytest.raises(ValueError, match="max_lr"):
        onecycle.schedule(100, -0.1, out=(lr, np.zeros(100)))
    assert not lr.any()


def test_empty_out() -> None:
    lr, momentum = np.zeros(0), np.zeros(0)
    assert onecycle.schedule(10, 0.1, start=3, stop=3, out=(lr, momentum)).lr is lr


# --- sweeps sharing the cosine, blocks, threads ----------------------------------------


def test_sweep_rows_sharing_a_cosine_equal_torch() -> None:
    """Rows of one pct_start share the cosine (and rows of other pct_starts are interleaved
    with them); each row still equals torch's scheduler with that configuration."""
    max_lr = [0.05, 0.3, 1.0]
    pct_start = np.array([[0.25], [0.4], [0.25]])  # (3, 1): groups interleave row by row
    got = onecycle.schedule(400, max_lr, pct_start=pct_start, base_momentum=[0.8, 0.85, 0.9], stop=401)
    assert got.lr.shape == (3, 3, 401)
    for i in range(3):
        for j in range(3):
            lr, momentum, failed = torch_curve(
                400,
                401,
                max_lr=max_lr[j],
                pct_start=float(pct_start[i, 0]),
                base_momentum=[0.8, 0.85, 0.9][j],
            )
            assert failed is None
            assert_bits_equal(got.lr[i, j], lr)
            assert_bits_equal(got.momentum[i, j], momentum)


@given(
    total_steps=st.integers(1, 20_000),
    window=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    pct_starts=st.lists(st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.7]), min_size=1, max_size=6),
    anneal_strategy=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(),
    float32=st.booleans(),
)
def test_property_sweeps_equal_separate_calls(
    total_steps: int,
    window: tuple[float, float],
    pct_starts: list[float],
    anneal_strategy: str,
    three_phase: bool,
    float32: bool,
) -> None:
    start, stop = sorted(int(w * (total_steps + 1)) for w in window)
    kwargs = dict(anneal_strategy=anneal_strategy, three_phase=three_phase, start=start, stop=stop)
    dtype = np.float32 if float32 else np.float64
    max_lrs = np.linspace(0.01, 1.0, len(pct_starts))
    try:
        sweep = onecycle.schedule(total_steps, max_lrs, pct_start=pct_starts, dtype=dtype, **kwargs)
    except ValueError as e:
        assert "zero width" in str(e)
        return
    for k, (max_lr, pct) in enumerate(zip(max_lrs, pct_starts, strict=True)):
        single = onecycle.schedule(total_steps, float(max_lr), pct_start=pct, **kwargs)
        assert_bits_equal(sweep.lr[k], single.lr.astype(dtype))
        assert_bits_equal(sweep.momentum[k], single.momentum.astype(dtype))


def test_threaded_sweep_and_out_equal_small_serial_windows() -> None:
    """A sweep large enough for threads, written through out=, equals windows filled one
    small call at a time (below the size where threads start)."""
    max_lr = np.linspace(0.1, 1.0, 6)
    pct_start = [0.3, 0.3, 0.45, 0.3, 0.45, 0.3]
    total = 400_000
    out = (np.empty((6, total + 1)), np.empty((6, total + 1)))
    onecycle.schedule(total, max_lr, pct_start=pct_start, stop=total + 1, out=out)
    step = 5_000
    assert step < _core.PARALLEL_MIN_STEPS
    for start in range(0, total + 1, 33_333):
        stop = min(start + step, total + 1)
        for k in range(6):
            small = onecycle.schedule(total, float(max_lr[k]), pct_start=pct_start[k], start=start, stop=stop)
            assert_bits_equal(out[0][k, start:stop], small.lr)
            assert_bits_equal(out[1][k, start:stop], small.momentum)


# --- exact=False ---------------------------------------------------------------------


def _scale_ulp(*values: float) -> float:
    top = max(abs(v) for v in values)
    return float(np.spacing(top))


FAST_CASES = [
    dict(total_steps=1_000_003, max_lr=0.1),
    dict(total_steps=777_777, max_lr=3.0, pct_start=0.45, three_phase=True, div_factor=7.0),
    dict(total_steps=200_000, max_lr=0.01, pct_start=0.0, base_momentum=0.5, max_momentum=0.99),
    dict(total_steps=10, max_lr=0.5, pct_start=0.95),  # the extra step leaves [0, pi]
    dict(total_steps=10, max_lr=0.5, pct_start=0.56, three_phase=True),  # a negative-width phase
    dict(total_steps=2**62, max_lr=0.1, start=2**61, stop=2**61 + 100_000),
]


@pytest.mark.parametrize("case", FAST_CASES)
def test_fast_cosine_stays_within_the_documented_bound(case: dict) -> None:
    """Every value of exact=False differs from the exact value by at most FAST_MAX_ULP ulp
    of the largest value its output anneals between; linear schedules are unchanged."""
    kwargs = dict(case)
    total = kwargs.pop("total_steps")
    kwargs.setdefault("stop", total + 1)
    exact = onecycle.schedule(total, **kwargs)
    fast = onecycle.schedule(total, exact=False, **kwargs)
    max_lr = kwargs["max_lr"]
    initial = max_lr / kwargs.get("div_factor", 25.0)
    lr_ulp = _scale_ulp(max_lr, initial, initial / 1e4)
    m_ulp = _scale_ulp(kwargs.get("base_momentum", 0.85), kwargs.get("max_momentum", 0.95))
    assert np.max(np.abs(fast.lr - exact.lr)) <= _core.FAST_MAX_ULP * lr_ulp
    assert np.max(np.abs(fast.momentum - exact.momentum)) <= _core.FAST_MAX_ULP * m_ulp
    assert not np.array_equal(fast.lr, exact.lr) or total < 1000  # it is another cosine
    linear = dict(kwargs, anneal_strategy="linear")
    assert_bits_equal(
        onecycle.schedule(total, exact=False, **linear).lr, onecycle.schedule(total, **linear).lr
    )


@given(
    total_steps=st.integers(1, 100_000),
    max_lr=st.floats(1e-6, 1e3),
    pct_start=st.floats(0.0, 1.0),
    three_phase=st.booleans(),
    div_factor=st.floats(0.5, 1e4),
)
def test_property_fast_cosine_bound(
    total_steps: int, max_lr: float, pct_start: float, three_phase: bool, div_factor: float
) -> None:
    kwargs = dict(pct_start=pct_start, three_phase=three_phase, div_factor=div_factor, stop=total_steps + 1)
    try:
        exact = onecycle.schedule(total_steps, max_lr, **kwargs)
    except ValueError as e:
        assert "zero width" in str(e)
        return
    fast = onecycle.schedule(total_steps, max_lr, exact=False, **kwargs)
    initial = max_lr / div_factor
    lr_ulp = _scale_ulp(max_lr, initial, initial / 1e4)
    assert np.max(np.abs(fast.lr - exact.lr)) <= _core.FAST_MAX_ULP * lr_ulp
    assert np.max(np.abs(fast.momentum - exact.momentum)) <= _core.FAST_MAX_ULP * _scale_ulp(0.85, 0.95)
    fast32 = onecycle.schedule(total_steps, max_lr, exact=False, dtype=np.float32, **kwargs)
    assert_bits_equal(fast32.lr, fast.lr.astype(np.float32))


def test_exact_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match=r"exact must be a bool, got str"):
        onecycle.schedule(10, 0.1, exact="no")  # type: ignore[arg-type]


# --- memory --------------------------------------------------------------------------


def test_float32_schedule_allocates_only_its_outputs() -> None:
    """No float64 array of the full length is made for a float32 schedule: the peak
    resident memory of a fresh process (VmHWM, which unlike ru_maxrss does not inherit
    the parent's peak) grows by the two outputs and little more."""
    import subprocess
    import sys

    code = (
        "import re, numpy as np, onecycle\n"
        "def peak():\n"
        "    return int(re.search(r'VmHWM:\\s*(\\d+) kB', open('/proc/self/status').read())[1]) * 1024\n"
        "onecycle.schedule(100_000, 0.1, dtype=np.float32)\n"
        "before = peak()\n"
        "s = onecycle.schedule(10_000_000, 0.1, dtype=np.float32)\n"
        "print((peak() - before) / (s.lr.nbytes + s.momentum.nbytes))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 0.9 < float(out.stdout) < 1.1


# --- vector instruction levels -------------------------------------------------------

_LEVEL_SCRIPT = """
import sys, numpy as np, onecycle
from onecycle import _core
arrays = {}
for i, kwargs in enumerate([
    dict(total_steps=200_000, max_lr=0.3),
    dict(total_steps=70_001, max_lr=0.3, three_phase=True, pct_start=0.45, stop=70_002),
    dict(total_steps=200_000, max_lr=0.3, anneal_strategy="linear", dtype=np.float32),
    dict(total_steps=200_000, max_lr=0.3, exact=False),
    dict(total_steps=50_000, max_lr=0.3, exact=False, dtype=np.float32, three_phase=True),
    dict(total_steps=50_000, max_lr=[0.1, 0.2, 0.3], start=17, stop=49_990),
    dict(total_steps=50_000, max_lr=[0.1, 0.2, 0.3], exact=False, anneal_strategy="linear"),
]):
    s = onecycle.schedule(**kwargs)
    arrays[f"lr{i}"], arrays[f"m{i}"] = s.lr, s.momentum
np.savez(sys.argv[1], **arrays)
print(_core.simd())
"""


def test_every_simd_level_gives_the_same_bits(tmp_path: object) -> None:
    """ONECYCLE_SIMD caps the vector instructions the fill loops use; every level this
    CPU has gives the bits of the default one (which the tests above hold to torch)."""
    import os
    import pathlib
    import subprocess
    import sys

    names = ["baseline", "avx2", "avx512f"]
    runs = {}
    for cap in [None, *names]:
        env = {k: v for k, v in os.environ.items() if k != "ONECYCLE_SIMD"}
        if cap is not None:
            env["ONECYCLE_SIMD"] = cap
        path = pathlib.Path(str(tmp_path)) / f"{cap}.npz"
        done = subprocess.run(
            [sys.executable, "-c", _LEVEL_SCRIPT, str(path)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        level = done.stdout.strip()
        assert level in names
        if cap is not None:
            assert names.index(level) <= names.index(cap)
        runs[cap] = (level, dict(np.load(path)))
    assert runs[None][0] == _core.simd()
    assert runs["baseline"][0] == "baseline"
    default = runs[None][1]
    torch_lr, torch_momentum, _ = torch_curve(200_000, 3_000, max_lr=0.3)
    for cap, (_level, arrays) in runs.items():
        assert arrays.keys() == default.keys(), cap
        for key, value in arrays.items():
            assert_bits_equal(value, default[key])
        assert_bits_equal(arrays["lr0"][:3_000], torch_lr)
        assert_bits_equal(arrays["m0"][:3_000], torch_momentum)
    # In this process too: the default level's values are the module's.
    here = onecycle.schedule(200_000, 0.3)
    assert_bits_equal(here.lr, default["lr0"])


def test_an_unknown_simd_level_is_refused_by_name() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "ONECYCLE_SIMD": "sse9"}
    done = subprocess.run([sys.executable, "-c", "import onecycle"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "ValueError: ONECYCLE_SIMD='sse9': must be one of baseline, avx2, avx512f" in done.stderr
