"""onecycle.LRRangeTest, onecycle.lr_range_test and onecycle.RangeTestResult: the
learning rates against their formulas, the smoothed loss against its closed form, the
divergence rule, the suggestions against brute-force versions of their definitions,
state_dict(), errors, training after lr_range_test() bit-identical to training without
it, and the scheduler inside Lightning and accelerate."""

from __future__ import annotations

import copy
import io
import itertools
import logging
import math
import random
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import onecycle
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from onecycle import LRRangeTest, RangeTestResult, lr_range_test
from parity import same
from torch.optim.lr_scheduler import LRScheduler

# --- Helpers -------------------------------------------------------------------------------


# Tiny tensors: torch's threads would only contend.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def optimizer(kind: str = "sgd", groups: int = 1) -> torch.optim.Optimizer:
    torch.manual_seed(0)
    params = [{"params": [torch.nn.Parameter(torch.randn(3))], "lr": 0.5 * (i + 1)} for i in range(groups)]
    if kind == "adam":
        return torch.optim.Adam(params, lr=0.1)
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def expected_lr(step: int, start: float, end: float, n: int, mode: str) -> float:
    """The documented schedule, computed another way: in log space (exp), or exactly in
    rationals (linear); the last step and later are end_lr exactly."""
    if step >= n - 1:
        return end
    t = Fraction(step, n - 1)
    if mode == "exp":
        return math.exp(math.log(start) + (math.log(end) - math.log(start)) * float(t))
    return float(Fraction(start) + (Fraction(end) - Fraction(start)) * t)


def closed_form_smoothing(losses: list[float], beta: float) -> list[float]:
    """The debiased moving average as its sum: (1 - b) * sum b**(k-j) * loss_j / (1 - b**(k+1))."""
    return [
        (1 - beta) * math.fsum(beta ** (k - j) * losses[j] for j in range(k + 1)) / (1 - beta ** (k + 1))
        for k in range(len(losses))
    ]


def geometric(n: int, start: float = 1e-6, end: float = 1.0) -> np.ndarray:
    return np.geomspace(start, end, n)


# --- Import ----------------------------------------------------------------------------


def test_import_onecycle_does_not_import_torch() -> None:
    code = (
        "import sys, onecycle, numpy as np\n"
        "r = onecycle.RangeTestResult(np.geomspace(1e-3, 1, 4), [3, 2, 1, 2], [3, 2, 1, 2], num_steps=4)\n"
        "print(r.suggest(skip_start=0, skip_end=0), 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[1] == "False"


@pytest.mark.parametrize("name", ["LRRangeTest", "lr_range_test"])
def test_clear_error_without_torch(name: str) -> None:
    code = f"import sys; sys.modules['torch'] = None\nimport onecycle\nonecycle.{name}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"ModuleNotFoundError: onecycle.{name} needs torch, which is not installed: "
        "pip install 'onecycle[torch]' (onecycle.schedule works without it)"
    )
    assert name in onecycle.__all__ and name in dir(onecycle)


USAGE = """
import numpy as np
import torch

import onecycle

model = torch.nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
test = onecycle.LRRangeTest(opt, start_lr=1e-6, end_lr=1.0, num_steps=10, mode="linear")
stop: bool = test.record(torch.tensor(1.0))
result: onecycle.RangeTestResult = onecycle.lr_range_test(model, opt, [], torch.nn.functional.mse_loss)
lr: float = result.suggest("steepest", skip_start=0)
index: int = result.suggest_index()
window: range = result.window()
lrs: np.ndarray = result.lrs
"""


def test_types_of_the_api_as_a_user_sees_them(tmp_path: Any) -> None:
    # The types come through onecycle's lazy exports; a mistake is caught.
    pytest.importorskip("mypy")  # not in the older releases' venvs (nox -s compat)
    script = tmp_path / "usage.py"
    script.write_text(USAGE + 'onecycle.LRRangeTest(opt, mode="log")\nbad: str = result.suggest()\n')
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(script)],
        cwd=root, capture_output=True, text=True,
    )  # fmt: skip
    errors = [line.split(": error: ")[1] for line in done.stdout.splitlines() if ": error: " in line]
    assert len(errors) == 2, done.stdout + done.stderr
    assert 'Argument "mode" to "LRRangeTest" has incompatible type' in errors[0]
    assert (
        'Incompatible types in assignment (expression has type "float", variable has type "str")' in errors[1]
    )


# --- The learning rates --------------------------------------------------------------------


def test_is_a_torch_scheduler() -> None:
    test = LRRangeTest(optimizer())
    assert isinstance(test, LRScheduler)
    assert test.last_epoch == 0


@given(
    start=st.floats(1e-9, 1.0),
    decades=st.floats(0.01, 12.0),
    n=st.integers(2, 200),
    mode=st.sampled_from(["exp", "linear"]),
    groups=st.integers(1, 3),
)
def test_learning_rates_follow_the_formula(
    start: float, decades: float, n: int, mode: str, groups: int
) -> None:
    end = start * 10**decades
    opt = optimizer(groups=groups)
    test = LRRangeTest(opt, start_lr=start, end_lr=end, num_steps=n, mode=mode)  # type: ignore[arg-type]
    seen = []
    for step in range(n + 3):  # and a few steps past the end
        lrs = [g["lr"] for g in opt.param_groups]
        assert lrs == [lrs[0]] * groups
        assert test.get_last_lr() == lrs
        seen.append(lrs[0])
        assert math.isclose(lrs[0], expected_lr(step, start, end, n, mode), rel_tol=1e-12)
        opt.step()
        test.step()
    assert seen[0] == start  # exactly
    assert seen[n - 1 :] == [end] * 4  # exactly, and held
    assert all(a < b for a, b in itertools.pairwise(seen[:n]))


def test_exp_steps_are_evenly_spaced_in_log_lr() -> None:
    opt = optimizer()
    test = LRRangeTest(opt, start_lr=1e-7, end_lr=10.0, num_steps=9)
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        test.step()
    # 8 factors spanning 8 decades: each step multiplies the lr by 10.
    assert np.allclose(np.diff(np.log10(lrs)), 1.0, rtol=0, atol=1e-12)


def test_adam_and_a_tensor_lr_are_driven_too() -> None:
    opt = optimizer("adam", groups=2)
    LRRangeTest(opt, start_lr=1e-5, end_lr=1.0, num_steps=3)
    assert [g["lr"] for g in opt.param_groups] == [1e-5, 1e-5]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.5, 1.0]


# --- Recording, smoothing, divergence ----------------------------------------------------------


def run(losses: list[Any], n: int | None = None, **kwargs: Any) -> tuple[LRRangeTest, list[bool]]:
    """Record `losses`, stepping between them; the return values of record()."""
    opt = optimizer()
    test = LRRangeTest(opt, num_steps=n or max(2, len(losses)), **kwargs)
    stops = []
    for loss in losses:
        stops.append(test.record(loss))
        opt.step()
        test.step()
    return test, stops


@given(
    losses=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=60),
    beta=st.sampled_from([0.0, 0.5, 0.9, 0.98]),
)
def test_smoothed_loss_is_the_debiased_moving_average(losses: list[float], beta: float) -> None:
    test, _ = run(losses, smoothing=beta, divergence_factor=1e300)
    result = test.result()
    assert result.losses.tolist() == losses
    assert np.allclose(result.smoothed_losses, closed_form_smoothing(losses, beta), rtol=1e-12, atol=0)
    if beta == 0:
        assert result.smoothed_losses.tolist() == losses
    expected = [expected_lr(i, 1e-7, 10.0, test.num_steps, "exp") for i in range(len(losses))]
    assert np.allclose(result.lrs, expected, rtol=1e-12, atol=0)


def test_losses_as_tensors_and_numpy_numbers() -> None:
    loss = torch.tensor(2.5, requires_grad=True) * 1.0
    test, _ = run([loss, torch.tensor([1.5]), np.float32(0.5), 1], smoothing=0)
    assert test.result().losses.tolist() == [2.5, 1.5, 0.5, 1.0]


@pytest.mark.parametrize(
    ("losses", "factor", "diverges_at"),
    [
        # Raw losses (smoothing=0): best 0.5, so 4x is 2.0: 1.9 is fine, 2.1 diverges.
        ([1.0, 0.5, 1.9, 2.1, 0.1], 4.0, 3),
        ([1.0, 0.5, 1.9, 2.0], 4.0, None),  # not above the threshold
        ([1.0, 0.5, 1.4, 1.6], 3.0, 3),  # 3x: 1.5
        # Negative losses: best -1, threshold -1 + 3 * 1 = 2.
        ([0.0, -1.0, 1.9, 2.1], 4.0, 3),
        ([1.0, float("nan"), 0.5], 4.0, 1),
        ([1.0, float("inf")], 4.0, 1),
        ([float("-inf")], 4.0, 0),
    ],
)
def test_divergence_rule(losses: list[float], factor: float, diverges_at: int | None) -> None:
    test, stops = run(losses, n=10, smoothing=0, divergence_factor=factor)
    expected = [diverges_at is not None and i >= diverges_at for i in range(len(losses))]
    assert stops == expected  # and it stays diverged, even after a low loss
    assert test.diverged == test.result().diverged == (diverges_at is not None)


def test_divergence_is_judged_on_the_smoothed_loss() -> None:
    # One spike of 10x: the raw loss is far above 4x its best, the smoothed one is not.
    losses = [1.0] * 20 + [10.0] + [1.0] * 5
    test, stops = run(losses, n=30, smoothing=0.98)
    smoothed = closed_form_smoothing(losses, 0.98)
    assert smoothed[20] < 4 * min(smoothed[:21])
    assert not any(stops)
    assert not test.should_stop


def test_should_stop_after_the_last_step() -> None:
    test, stops = run([3.0, 2.0, 1.0], n=3)
    assert stops == [False, False, True]
    assert test.should_stop and not test.diverged
    with pytest.raises(RuntimeError, match=r"the range test is over: it has taken its num_steps=3 steps"):
        test.record(1.0)


def test_record_once_per_step() -> None:
    opt = optimizer()
    test = LRRangeTest(opt, num_steps=5)
    test.record(1.0)
    with pytest.raises(RuntimeError, match="a loss was already recorded for step 0"):
        test.record(1.0)
    opt.step()
    test.step()
    test.record(1.0)
    assert len(test.result().lrs) == 2


@pytest.mark.parametrize("loss", ["1.0", True, None, torch.ones(2), [1.0]])
def test_record_refuses_what_is_not_a_loss(loss: Any) -> None:
    test = LRRangeTest(optimizer())
    with pytest.raises(TypeError, match="loss must be a number or a tensor of one element"):
        test.record(loss)
    assert test.result().lrs.size == 0


# --- Arguments --------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    ({"start_lr": 0.0}, ValueError, "start_lr must be finite and greater than 0, got 0.0"),
    ({"start_lr": -1e-3}, ValueError, "start_lr must be finite and greater than 0"),
    ({"start_lr": math.nan}, ValueError, "start_lr must be finite and greater than 0, got nan"),
    ({"start_lr": "1e-7"}, TypeError, "start_lr must be a number, got str '1e-7'"),
    ({"start_lr": True}, TypeError, "start_lr must be a number, got bool True"),
    ({"end_lr": 1e-8}, ValueError, "end_lr must be finite and greater than start_lr=1e-07, got 1e-08"),
    ({"end_lr": 1e-7}, ValueError, "end_lr must be finite and greater than start_lr"),
    ({"end_lr": math.inf}, ValueError, "end_lr must be finite and greater than start_lr=1e-07, got inf"),
    ({"num_steps": 1}, ValueError, "num_steps must be an int >= 2, got 1"),
    ({"num_steps": 10.0}, TypeError, r"num_steps must be an int, got 10.0 \(float\)"),
    ({"num_steps": True}, TypeError, "num_steps must be an int, got True"),
    ({"mode": "log"}, ValueError, "mode must be one of 'exp', 'linear', got 'log'"),
    ({"smoothing": 1.0}, ValueError, r"smoothing must be in \[0, 1\), got 1.0"),
    ({"smoothing": -0.1}, ValueError, r"smoothing must be in \[0, 1\), got -0.1"),
    ({"divergence_factor": 1.0}, ValueError, "divergence_factor must be finite and greater than 1, got 1.0"),
    ({"divergence_factor": math.inf}, ValueError, "divergence_factor must be finite and greater than 1"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_before_any_work(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    opt = optimizer()
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(error, match=message):
        LRRangeTest(opt, **kwargs)
    model = torch.nn.Linear(3, 1)
    calls: list[Any] = []
    with pytest.raises(error, match=message):
        lr_range_test(model, opt, [None], step_fn=calls.append, **kwargs)
    assert same(opt.state_dict(), before)
    assert calls == []


def test_numpy_arguments_are_welcome() -> None:
    test = LRRangeTest(optimizer(), start_lr=np.float32(1e-3), end_lr=np.int64(1), num_steps=np.int32(4))
    assert (test.start_lr, test.end_lr, test.num_steps) == (float(np.float32(1e-3)), 1.0, 4)
    assert type(test.num_steps) is int


class NoLr(torch.optim.Optimizer):
    """An optimizer without a learning rate."""

    def __init__(self, params: Any) -> None:
        super().__init__(params, {"scale": 1.0})

    def step(self, closure: Any = None) -> None:
        return None


def test_optimizer_without_lr() -> None:
    opt = NoLr([torch.nn.Parameter(torch.zeros(1))])
    message = (
        r"needs an optimizer with a learning rate: param_groups\[0\] of NoLr has no 'lr' \(its keys: scale\)"
    )
    with pytest.raises(TypeError, match="LRRangeTest " + message):
        LRRangeTest(opt)
    with pytest.raises(TypeError, match="lr_range_test " + message):
        lr_range_test(torch.nn.Linear(1, 1), opt, [None], step_fn=lambda batch: 1.0)
    with pytest.raises(TypeError, match=r"optimizer must be a torch\.optim\.Optimizer, got list"):
        LRRangeTest([])  # type: ignore[arg-type]


# --- state_dict ----------------------------------------------------------------------------


def test_state_dict_round_trips_through_weights_only_load() -> None:
    losses = [2.0, 1.5, float("nan"), 1.0, 0.9]
    opt = optimizer()
    test = LRRangeTest(opt, start_lr=1e-4, end_lr=1.0, num_steps=8, mode="linear", smoothing=0.5)
    for loss in losses[:3]:
        test.record(loss)
        opt.step()
        test.step()
    buffer = io.BytesIO()
    torch.save(test.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    other_opt = optimizer()
    other = LRRangeTest(other_opt)  # other settings: all replaced by the loaded state
    other.load_state_dict(state)
    assert same(other.state_dict(), test.state_dict())
    for scheduler, o in ((test, opt), (other, other_opt)):
        for loss in losses[3:]:
            scheduler.record(loss)
            o.step()
            scheduler.step()
    a, b = test.result(), other.result()
    for field in ("lrs", "losses", "smoothed_losses"):
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes()
    assert a.diverged and b.diverged  # the NaN, recorded before saving
    assert same(other.state_dict(), test.state_dict())
    assert other_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert a.losses.size == 5


# --- Suggestions ------------------------------------------------------------------------------


def gradient_by_hand(x: list[float], y: list[float]) -> list[float]:
    """The documented gradient, point by point: the one-sided slope at each end; inside,
    the slopes to both neighbours, each weighted by the other side's spacing."""
    n = len(y)
    grads = [(y[1] - y[0]) / (x[1] - x[0])]
    for i in range(1, n - 1):
        h0, h1 = x[i] - x[i - 1], x[i + 1] - x[i]
        left, right = (y[i] - y[i - 1]) / h0, (y[i + 1] - y[i]) / h1
        grads.append((h0 * right + h1 * left) / (h0 + h1))
    grads.append((y[-1] - y[-2]) / (x[-1] - x[-2]))
    return grads


def test_the_gradient_is_numpys() -> None:
    x = np.log(np.linspace(1e-3, 1.0, 50))
    y = np.sin(3 * x) + x**2
    assert np.allclose(gradient_by_hand(x.tolist(), y.tolist()), np.gradient(y, x), rtol=1e-10, atol=1e-12)


def valley_by_hand(y: list[float]) -> int | None:
    """fastai's valley, brute force: for each i the longest strictly decreasing
    subsequence ending there; the first longest one, of length L ending at e; the point
    e - L + floor(L/3) + floor(L/6), at least 0."""
    best = [1] * len(y)
    for i in range(len(y)):
        for j in range(i):
            if y[j] > y[i]:
                best[i] = max(best[i], best[j] + 1)
    length = max(best)
    if length < 2:
        return None
    end = best.index(length)
    return max(0, end - length + length // 3 + length // 6)


def result_of(smoothed: list[float], lrs: Any = None, **kwargs: Any) -> RangeTestResult:
    lrs = geometric(len(smoothed)) if lrs is None else lrs
    return RangeTestResult(lrs, smoothed, smoothed, **{"num_steps": len(smoothed), **kwargs})


@given(
    smoothed=st.lists(st.integers(0, 6).map(float), min_size=3, max_size=40),
    linear=st.booleans(),
)
def test_suggestions_match_their_definitions(smoothed: list[float], linear: bool) -> None:
    n = len(smoothed)
    lrs = np.linspace(1e-3, 1.0, n) if linear else geometric(n)
    result = result_of(smoothed, lrs)
    options = {"skip_start": 0, "skip_end": 0}

    grads = gradient_by_hand(np.log(lrs).tolist(), smoothed)
    steepest = min(range(n), key=lambda i: (grads[i], i))
    if grads[steepest] < 0:
        # Allow the last bits of the float arithmetic to pick a near-tie differently.
        index = result.suggest_index("steepest", **options)
        assert index == steepest or math.isclose(grads[index], grads[steepest], rel_tol=1e-9)
        assert result.suggest("steepest", **options) == lrs[index]
    else:
        with pytest.raises(ValueError, match="the smoothed loss never falls"):
            result.suggest("steepest", **options)

    valley = valley_by_hand(smoothed)
    if valley is not None:
        assert result.suggest_index("valley", **options) == valley
        assert result.suggest(**options) == lrs[valley]
    else:
        with pytest.raises(ValueError, match="the smoothed loss never falls"):
            result.suggest(**options)


def test_steepest_finds_the_centre_of_a_descent() -> None:
    # A smooth step down in log(lr), centred on lrs[37]: steepest there (by symmetry).
    lrs = geometric(100, 1e-7, 10.0)
    x = np.log(lrs)
    smoothed = (2.0 - np.tanh((x - x[37]) / 1.5)).tolist()
    result = result_of(smoothed, lrs)
    assert result.suggest("steepest") == lrs[37]


def test_valley_of_a_clean_curve() -> None:
    # Flat, then down for 30 steps, then up: the valley is the 30 steps (and the flat step
    # before them: strictly decreasing from index 19 to 49), L = 31 ending at 49.
    smoothed = [5.0] * 20 + [5.0 - 0.1 * i for i in range(1, 31)] + [2.0 + 0.5 * i for i in range(20)]
    result = result_of(smoothed, num_steps=70)
    length, end = 31, 49
    assert result.suggest_index(skip_start=0, skip_end=0) == end - length + length // 3 + length // 6 == 33


def test_window_trims_the_start_the_end_and_after_the_first_non_finite() -> None:
    # The steepest fall is in the first tenth: skipped by default.
    smoothed = [9.0, 1.0] + [5.0 - 0.01 * i for i in range(16)] + [6.0, 7.0]
    result = result_of(smoothed)  # num_steps=20: skip 2 at the start, 5 at the end
    assert result.window() == range(2, 15)
    assert result.suggest_index("steepest") in result.window()
    assert result_of(smoothed).suggest_index("steepest", skip_start=0) == 0
    with_nan = result_of([*smoothed[:12], math.nan, *smoothed[13:]])
    assert with_nan.window() == range(2, 12)
    assert with_nan.window(skip_start=0, skip_end=0) == range(0, 12)
    assert with_nan.suggest_index("valley") < 12


def test_too_few_points_to_suggest() -> None:
    result = result_of([3.0, 2.0, 1.0, 0.5, 0.2, 0.1], num_steps=100)
    with pytest.raises(
        ValueError, match=r"too few points to suggest a learning rate: 6 recorded, 0 left from index 10"
    ):
        result.suggest()
    assert result.suggest(skip_start=0, skip_end=3) == result.lrs[0]  # 3 points: 3, 2, 1
    with pytest.raises(ValueError, match="need at least 3"):
        result.suggest(skip_start=0, skip_end=4)
    with pytest.raises(ValueError, match="method must be one of 'valley', 'steepest', got 'min'"):
        result.suggest("min", skip_start=0, skip_end=0)  # type: ignore[arg-type]


def test_result_checks_its_arrays() -> None:
    with pytest.raises(ValueError, match="one length, got lrs 3, losses 2, smoothed_losses 3"):
        RangeTestResult([1.0, 2.0, 3.0], [1.0, 2.0], [1.0, 2.0, 3.0], num_steps=3)
    with pytest.raises(ValueError, match="lrs must be finite, greater than 0 and increasing"):
        RangeTestResult([1.0, 1.0], [1.0, 2.0], [1.0, 2.0], num_steps=3)
    with pytest.raises(ValueError, match="num_steps must be an int >= 2"):
        RangeTestResult([1.0], [1.0], [1.0], num_steps=1)
    result = RangeTestResult([1.0, 2.0], [1.0, 2.0], [1.0, 2.0], num_steps=3)
    assert result.lrs.dtype == np.float64 and not result.lrs.flags.writeable


# --- lr_range_test: a plain loop, and everything put back ---------------------------------


class Net(torch.nn.Module):
    """Dropout (torch's RNG in the forward pass) and batch norm (buffers)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 16),
            torch.nn.BatchNorm1d(16),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.2),
            torch.nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


OPTIMIZERS: dict[str, Callable[[Any], torch.optim.Optimizer]] = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-4),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
}


def setup(kind: str) -> tuple[Net, torch.optim.Optimizer, torch.utils.data.DataLoader[Any]]:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    x = torch.randn(96, 6)
    y = x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(96, 1)
    dataset = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=True)  # shuffled by torch's RNG
    model = Net()
    return model, OPTIMIZERS[kind](model.parameters()), loader


def train(model: Net, opt: torch.optim.Optimizer, loader: Any, steps: int) -> None:
    """A loop that draws from Python's, numpy's and torch's random generators; leaves
    the gradients of its last step in place."""
    step = noisy_step(model, opt)
    done = 0
    while done < steps:
        for batch in loader:
            step(batch)
            done += 1
            if done == steps:
                return


def everything(model: Net, opt: torch.optim.Optimizer) -> dict[str, Any]:
    """All the state that training depends on, copied."""
    return copy.deepcopy(
        {
            "tensors": [t.detach() for t in [*model.parameters(), *model.buffers()]],
            "grads": [p.grad for p in model.parameters()],
            "modes": [m.training for m in model.modules()],
            "optimizer": opt.state_dict(),
            "optimizer_attributes": sorted(opt.__dict__),
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
        }
    )


def noisy_step(model: Net, opt: torch.optim.Optimizer) -> Callable[[Any], torch.Tensor]:
    """A step_fn that draws from every random generator, as train() does."""

    def step_fn(batch: Any) -> torch.Tensor:
        x, y = batch
        noise = float(np.random.normal(0, 0.01)) + random.gauss(0, 0.01)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x + noise), y)
        loss.backward()
        opt.step()
        return loss

    return step_fn


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("warmup", [0, 5])
@pytest.mark.parametrize("how", ["loss_fn", "step_fn"])
def test_training_after_the_test_is_bit_identical(kind: str, warmup: int, how: str) -> None:
    # Without the test.
    model, opt, loader = setup(kind)
    train(model, opt, loader, warmup)
    start = everything(model, opt)
    train(model, opt, loader, 20)
    reference = everything(model, opt)

    # With it, in the middle (a fresh optimizer when warmup is 0).
    model, opt, loader = setup(kind)
    train(model, opt, loader, warmup)
    assert same(everything(model, opt), start)
    buffers = [state.get("momentum_buffer", state.get("exp_avg")) for state in opt.state.values()]
    grads = [p.grad for p in model.parameters()]
    functions: dict[str, Any] = (
        {"loss_fn": torch.nn.functional.mse_loss} if how == "loss_fn" else {"step_fn": noisy_step(model, opt)}
    )
    result = lr_range_test(
        model, opt, loader, start_lr=1e-5, end_lr=10.0, num_steps=30, progress=False, **functions
    )
    assert 6 <= len(result.lrs) <= 30  # it ran (more than one pass over the 12 batches)
    assert same(everything(model, opt), start)
    # In place: the same tensors.
    after = [state.get("momentum_buffer", state.get("exp_avg")) for state in opt.state.values()]
    assert len(after) == len(buffers) and all(a is b for a, b in zip(after, buffers, strict=True))
    assert all(a is b for a, b in zip([p.grad for p in model.parameters()], grads, strict=True))
    train(model, opt, loader, 20)
    assert same(everything(model, opt), reference)

    # And the same test without putting things back leaves them changed: the check above
    # can fail.
    model, opt, loader = setup(kind)
    train(model, opt, loader, warmup)
    test = LRRangeTest(opt, start_lr=1e-5, end_lr=10.0, num_steps=30)
    train(model, opt, loader, 2)
    changed = everything(model, opt)
    for key in ("tensors", "optimizer", "optimizer_attributes", "torch", "python", "numpy"):
        assert not same({**start, key: changed[key]}, start), key
    del test


def test_a_loader_with_its_own_generator_is_put_back() -> None:
    generator = torch.Generator().manual_seed(5)
    dataset = torch.utils.data.TensorDataset(torch.randn(40, 2), torch.randn(40, 1))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True, generator=generator)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    state = generator.get_state()
    order = [y.tolist() for _, y in loader]
    generator.set_state(state)
    lr_range_test(model, opt, loader, torch.nn.functional.mse_loss, num_steps=15, progress=False)
    assert torch.equal(generator.get_state(), state)
    assert [y.tolist() for _, y in loader] == order


def test_a_tensor_lr_is_put_back_in_place() -> None:
    model = torch.nn.Linear(2, 1)
    lr = torch.tensor(0.01)
    opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=False)
    seen: list[float] = []

    def step_fn(batch: Any) -> torch.Tensor:
        seen.append(float(opt.param_groups[0]["lr"]))
        opt.zero_grad()
        loss = model(torch.ones(2)).square().sum()
        loss.backward()
        opt.step()
        return loss

    lr_range_test(
        model, opt, range(4), step_fn=step_fn, start_lr=1e-4, end_lr=1.0, num_steps=4, progress=False
    )
    assert seen[-1] == 1.0  # the tensor was driven (filled in place, or replaced)
    assert opt.param_groups[0]["lr"] is lr and lr.item() == torch.tensor(0.01).item()
    assert "initial_lr" not in opt.param_groups[0]


def test_step_fn_and_cycling_batches() -> None:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [torch.ones(2), 2 * torch.ones(2), 3 * torch.ones(2)]
    seen: list[tuple[float, float]] = []
    model.eval()

    def step_fn(batch: torch.Tensor) -> torch.Tensor:
        seen.append((batch[0].item(), opt.param_groups[0]["lr"]))
        model.train()
        opt.zero_grad()
        loss = model(batch).square().sum()
        loss.backward()
        opt.step()
        return loss

    result = lr_range_test(
        model, opt, batches, step_fn=step_fn, start_lr=1e-6, end_lr=1e-3, num_steps=8, progress=False
    )
    assert [b for b, _ in seen] == [1.0, 2.0, 3.0] * 2 + [1.0, 2.0]  # the list, twice and more
    assert [lr for _, lr in seen] == result.lrs.tolist()
    expected = [expected_lr(i, 1e-6, 1e-3, 8, "exp") for i in range(8)]
    assert np.allclose(result.lrs, expected, rtol=1e-12, atol=0)
    assert opt.param_groups[0]["lr"] == 0.1 and "initial_lr" not in opt.param_groups[0]
    assert not model.training  # step_fn's model.train() undone


def test_an_iterator_that_runs_out_ends_the_test() -> None:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = iter([(torch.ones(1, 2), torch.zeros(1, 1))] * 4)
    result = lr_range_test(model, opt, batches, torch.nn.functional.mse_loss, num_steps=10, progress=False)
    assert len(result.lrs) == 4


def test_stops_on_divergence_unless_told_not_to() -> None:
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def losses() -> Callable[[Any], float]:
        values = iter([1.0] * 5 + [100.0] * 20)

        def step_fn(batch: Any) -> float:
            opt.step()
            return next(values)

        return step_fn

    result = lr_range_test(
        model, opt, range(25), step_fn=losses(), num_steps=25, smoothing=0.0, progress=False
    )
    assert result.diverged and len(result.lrs) == 6
    result = lr_range_test(
        model,
        opt,
        range(25),
        step_fn=losses(),
        num_steps=25,
        smoothing=0.0,
        stop_on_divergence=False,
        progress=False,
    )
    assert result.diverged and len(result.lrs) == 25


def test_errors_of_the_helper_and_the_state_put_back_after_them() -> None:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    weights = [p.detach().clone() for p in model.parameters()]
    pair = (torch.ones(3, 2), torch.ones(3, 1))

    with pytest.raises(ValueError, match="batches yielded no batch"):
        lr_range_test(model, opt, [], torch.nn.functional.mse_loss, progress=False)

    def nan_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output - target).sum() * math.nan

    with pytest.raises(
        ValueError, match=r"the loss of the first batch is nan, before the test changed anything"
    ):
        lr_range_test(model, opt, [pair] * 5, nan_loss, progress=False)
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), weights, strict=True))
    assert opt.param_groups[0]["lr"] == 0.1 and "initial_lr" not in opt.param_groups[0] and not opt.state
    assert "step" not in opt.__dict__  # the scheduler's wrapper, gone

    with pytest.raises(TypeError, match="exactly one of loss_fn and step_fn"):
        lr_range_test(model, opt, [pair])
    with pytest.raises(TypeError, match="exactly one of loss_fn and step_fn"):
        lr_range_test(model, opt, [pair], torch.nn.functional.mse_loss, step_fn=lambda b: 1.0)
    with pytest.raises(TypeError, match=r"each batch must be an \(inputs, targets\) pair, got tuple of 3"):
        lr_range_test(model, opt, [(*pair, pair[0])], torch.nn.functional.mse_loss, progress=False)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got list"):
        lr_range_test([], opt, [pair], torch.nn.functional.mse_loss)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="batches must be an iterable of batches, got int"):
        lr_range_test(model, opt, 3, torch.nn.functional.mse_loss)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="progress must be True, False or None, got 'on'"):
        lr_range_test(model, opt, [pair], torch.nn.functional.mse_loss, progress="on")  # type: ignore[arg-type]
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), weights, strict=True))
    assert not opt.state


def test_progress_bar_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    pairs = [(torch.ones(3, 2), torch.ones(3, 1))]
    lr_range_test(model, opt, pairs, torch.nn.functional.mse_loss, num_steps=6, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "LR range test" in err and "6/6" in err
    lr_range_test(model, opt, pairs, torch.nn.functional.mse_loss, num_steps=6, progress=False)
    assert capsys.readouterr() == ("", "")


# --- In Lightning and accelerate -------------------------------------------------------------


def regression_loader() -> torch.utils.data.DataLoader[Any]:
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(256, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)


@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning")
@pytest.mark.filterwarnings("ignore:.*does not have many workers:UserWarning")
def test_lightning_configure_optimizers(tmp_path: Any) -> None:
    lightning = pytest.importorskip("lightning")  # not in the older releases' venvs (nox -s compat)

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Linear(4, 1)
            self.seen: list[float] = []

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.seen.append(self.optimizers().param_groups[0]["lr"])  # type: ignore[union-attr]
            self.lr_schedulers().record(loss)  # type: ignore[union-attr]
            return loss

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
            test = onecycle.LRRangeTest(optimizer, start_lr=1e-4, end_lr=0.1, num_steps=12)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": test, "interval": "step"}}

    class StopWhenDone(lightning.Callback):
        def on_train_batch_end(self, trainer: Any, module: Any, *args: Any) -> None:
            trainer.should_stop = trainer.should_stop or module.lr_schedulers().should_stop

    log = logging.getLogger("lightning.pytorch")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        module = Module()
        trainer = lightning.Trainer(
            accelerator="cpu", max_steps=50, callbacks=[StopWhenDone()], logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            default_root_dir=tmp_path,
        )  # fmt: skip
        trainer.fit(module, regression_loader())
    finally:
        log.setLevel(level)
    test = trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(test, LRRangeTest)
    result = test.result()
    assert trainer.global_step == 12 and test.should_stop
    assert module.seen == result.lrs.tolist()  # the lr each batch trained with
    assert np.allclose(
        result.lrs, [expected_lr(i, 1e-4, 0.1, 12, "exp") for i in range(12)], rtol=1e-12, atol=0
    )
    assert np.all(np.isfinite(result.losses))


def test_accelerate_prepare() -> None:
    pytest.importorskip("accelerate")  # not in the older releases' venvs (nox -s compat)
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    try:
        accelerator = Accelerator(cpu=True)
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        test = LRRangeTest(opt, start_lr=1e-4, end_lr=0.1, num_steps=10)
        model, opt, loader, scheduler = accelerator.prepare(model, opt, regression_loader(), test)
        assert scheduler is not test and scheduler.scheduler is test
        seen = []
        for x, y in loader:
            seen.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            accelerator.backward(loss)
            opt.step()
            if test.record(loss):
                break
            scheduler.step()
    finally:
        AcceleratorState._reset_state(True)
        GradientState._reset_state()
    result = test.result()
    assert len(seen) == 10 and seen == result.lrs.tolist()
    assert np.allclose(
        result.lrs, [expected_lr(i, 1e-4, 0.1, 10, "exp") for i in range(10)], rtol=1e-12, atol=0
    )
