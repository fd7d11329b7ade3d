"""onecycle.plot(): the lines' data are schedule()'s values, the marks are the core's
phase ends, and the picture is the console command's."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import onecycle
import pytest
from matplotlib.figure import Figure
from onecycle import _core
from test_schedule import assert_bits_equal

matplotlib.use("Agg")


def curves(ax: object) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x, y) of each curve drawn on ``ax`` (lines of more than one point that are not the
    vertical or horizontal marks)."""
    out = []
    for line in ax.get_lines():  # type: ignore[attr-defined]
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        if len(x) > 2:
            out.append((x, y))
    return out


def vertical_marks(ax: object, linestyle: str = "--") -> list[float]:
    return sorted(
        {
            float(line.get_xdata()[0])
            for line in ax.get_lines()  # type: ignore[attr-defined]
            if line.get_linestyle() == linestyle and len(set(map(float, line.get_xdata()))) == 1
        }
    )


def two_axes() -> tuple[object, object]:
    fig = Figure()
    ax_lr, ax_momentum = fig.subplots(2, 1, sharex=True)
    return ax_lr, ax_momentum


@pytest.mark.parametrize("three_phase", [False, True])
def test_lines_are_schedules_values_and_marks_the_cores_phase_ends(three_phase: bool) -> None:
    kwargs = dict(pct_start=0.37, three_phase=three_phase, anneal_strategy="linear", base_momentum=0.8)
    ax_lr, ax_momentum = onecycle.plot(1_000, 0.2, ax=two_axes(), **kwargs)
    want = onecycle.schedule(1_000, 0.2, **kwargs)
    [(x, lr)] = curves(ax_lr)
    [(x2, momentum)] = curves(ax_momentum)
    assert_bits_equal(x, np.arange(1_000))
    assert_bits_equal(x2, x)
    assert_bits_equal(lr, want.lr)
    assert_bits_equal(momentum, want.momentum)
    ends = _core.phase_ends(total_steps=1_000, pct_start=0.37, three_phase=three_phase)[:-1]
    assert vertical_marks(ax_lr) == vertical_marks(ax_momentum) == ends


def test_a_long_cycle_is_drawn_through_sampled_steps_with_exact_values() -> None:
    ax_lr, ax_momentum = onecycle.plot(10**9, 0.02, ax=two_axes(), three_phase=True)
    [(x, lr)] = curves(ax_lr)
    assert 20_000 <= len(x) < 20_020 and x[0] == 0 and x[-1] == 10**9 - 1
    assert {299_999_999, 599_999_998} <= set(x.tolist())  # the phase ends are drawn
    want = onecycle.schedule(10**9, 0.02, three_phase=True, steps=x.astype(np.int64))
    assert_bits_equal(lr, want.lr)
    assert_bits_equal(curves(ax_momentum)[0][1], want.momentum)


def test_a_sweep_draws_each_configuration_labelled() -> None:
    max_lr, pct_start = np.array([[0.1], [0.5]]), [0.2, 0.3, 0.4]
    ax_lr, _ = onecycle.plot(300, max_lr, pct_start=pct_start, ax=two_axes())
    drawn = curves(ax_lr)
    assert len(drawn) == 6
    want = onecycle.schedule(300, max_lr, pct_start=pct_start)
    for (_, lr), row in zip(drawn, want.lr.reshape(6, 300), strict=True):
        assert_bits_equal(lr, row)
    labels = [t.get_text() for t in ax_lr.get_legend().get_texts()]
    assert labels[:2] == ["max_lr=0.1, pct_start=0.2", "max_lr=0.1, pct_start=0.3"]
    assert vertical_marks(ax_lr) == sorted(
        {_core.phase_ends(total_steps=300, pct_start=p, three_phase=False)[0] for p in pct_start}
    )


def test_one_axes_takes_momentum_on_a_twin_and_none_makes_a_figure() -> None:
    ax = Figure().subplots()
    ax_lr, ax_momentum = onecycle.plot(100, 0.1, ax=ax)
    assert ax_lr is ax and ax_momentum is not ax and ax_momentum.get_shared_x_axes().joined(ax, ax_momentum)
    assert_bits_equal(curves(ax_momentum)[0][1], onecycle.schedule(100, 0.1).momentum)
    import matplotlib.pyplot as plt

    ax_lr, ax_momentum = onecycle.plot(100, 0.1, log_lr=True)
    assert ax_lr.figure is ax_momentum.figure and ax_lr.get_yscale() == "log"
    plt.close("all")


def test_the_console_command_draws_the_same_lines(tmp_path: object) -> None:
    """`onecycle plot` and onecycle.plot() draw through one function: the same lines."""
    import argparse

    from onecycle.cli import _plot as cli_plot
    from onecycle.cli._config import Config

    config = Config(5_000, 0.3, 0.25, "cos", 0.85, 0.95, 25.0, 1e4, True)
    args = argparse.Namespace(width=8.0, height=6.0, dpi=100.0, log_lr=False, title=None)
    fig = cli_plot.figure([(config, cli_plot.curve(config))], [], args)
    ours = onecycle.plot(5_000, 0.3, pct_start=0.25, three_phase=True, ax=two_axes())
    for cli_ax, our_ax in zip(fig.axes, ours, strict=True):
        lines = [(list(a.get_xdata()), list(a.get_ydata())) for a in cli_ax.get_lines()]
        assert lines == [(list(b.get_xdata()), list(b.get_ydata())) for b in our_ax.get_lines()]


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (dict(max_lr=-1.0), ValueError, "max_lr must be a finite number greater than 0"),
        (dict(max_lr=np.linspace(0.1, 1, 21)), ValueError, "at most 20 configurations in one figure, got 21"),
        (dict(start=3), TypeError, "unexpected keyword argument 'start'"),
        (dict(ax="left"), TypeError, "ax must be a matplotlib Axes or a pair of them, got str"),
    ],
)
def test_bad_arguments_draw_nothing(kwargs: dict, error: type, pattern: str) -> None:
    kwargs = {"total_steps": 100, "max_lr": 0.1, **kwargs}
    with pytest.raises(error, match=pattern):
        onecycle.plot(**kwargs)


def test_without_matplotlib_says_how_to_get_it() -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import onecycle\n"
        "try:\n    onecycle.plot(10, 0.1)\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (
        out.stdout.strip()
        == "onecycle.plot needs matplotlib, which is not installed: pip install 'onecycle[plot]'"
    )


# --- the range test's result -------------------------------------------------------------


def range_result() -> onecycle.RangeTestResult:
    """A loss that falls, then diverges, recorded over an exponential range of lrs."""
    lrs = np.geomspace(1e-5, 10.0, 120)
    raw = 2.0 - np.tanh(4 * (np.log10(lrs) + 2.5)) + np.where(lrs > 1.0, 50 * (lrs - 1.0), 0.0)
    smoothed, average = [], 0.0
    for i, loss in enumerate(raw, start=1):
        average = 0.9 * average + 0.1 * loss
        smoothed.append(average / (1 - 0.9**i))
    return onecycle.RangeTestResult(lrs, raw, np.array(smoothed), num_steps=120)


@pytest.mark.parametrize("method", ["valley", "steepest"])
def test_range_result_plot_draws_its_data_and_marks_the_suggestion(method: str) -> None:
    result = range_result()
    ax = Figure().subplots()
    assert result.plot(ax, method=method) is ax
    raw, smoothed = curves(ax)
    assert_bits_equal(raw[0], result.lrs)
    assert_bits_equal(raw[1], result.losses)
    assert_bits_equal(smoothed[1], result.smoothed_losses)
    suggested = result.suggest(method)
    [dot] = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert list(dot.get_xdata()) == [suggested]
    assert list(dot.get_ydata()) == [result.smoothed_losses[result.suggest_index(method)]]
    assert vertical_marks(ax, ":") == [suggested]
    assert ax.get_xscale() == "log"
    assert f"suggested ({method}): {suggested:.3g}" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_range_result_plot_without_a_suggestion_and_bad_axes() -> None:
    result = range_result()
    ax = Figure().subplots()
    result.plot(ax, method=None)
    assert not [line for line in ax.get_lines() if line.get_marker() == "o"]
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes, got list"):
        result.plot([ax])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method must be one of"):
        result.plot(ax, method="fastest")  # type: ignore[arg-type]


# --- a live scheduler's planned curve --------------------------------------------------------


def test_scheduler_plot_draws_each_groups_planned_curve_as_torch_will_step_it() -> None:
    """Mid-run, with a group's max_lr edited: the curve drawn for each group is what
    torch's scheduler sets at every remaining step, and the current step is marked."""
    from parity import make_optimizer
    from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

    def run(cls: type) -> tuple[object, object]:
        opt = make_optimizer("sgd", groups=2)
        sched = cls(opt, max_lr=[0.1, 0.4], total_steps=500, three_phase=True)
        for _ in range(120):
            opt.step()
            sched.step()
        opt.param_groups[1]["max_lr"] = 0.25  # torch reads it at each later step
        return opt, sched

    opt, sched = run(onecycle.OneCycleLR)
    keys = ("lr", "momentum", "initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")
    before = [[g[k] for k in keys] for g in opt.param_groups], sched.state_dict()
    ax_lr, ax_momentum = sched.plot(ax=two_axes())
    assert (
        [[g[k] for k in keys] for g in opt.param_groups],
        sched.state_dict(),
    ) == before  # drawing changes nothing
    drawn_lr, drawn_momentum = curves(ax_lr), curves(ax_momentum)
    assert len(drawn_lr) == 2 and [t.get_text() for t in ax_lr.get_legend().get_texts()][:2] == [
        "group 0",
        "group 1",
    ]
    torch_opt, torch_sched = run(TorchOneCycleLR)
    planned = {g: ([], []) for g in range(2)}
    for _ in range(121, 500):
        torch_opt.step()
        torch_sched.step()
        for g, group in enumerate(torch_opt.param_groups):
            planned[g][0].append(group["lr"])
            planned[g][1].append(group["momentum"])
    for g in range(2):
        x, lr = drawn_lr[g]
        assert_bits_equal(x, np.arange(500))
        assert lr[121:].tolist() == planned[g][0] and drawn_momentum[g][1][121:].tolist() == planned[g][1]
    assert vertical_marks(ax_lr, "-") == [120.0]  # the current step
    ends = [p["end_step"] for p in sched._schedule_phases[:-1]]
    assert vertical_marks(ax_lr) == ends


def test_scheduler_plot_of_a_long_cycle_samples_steps() -> None:
    from parity import make_optimizer

    sched = onecycle.OneCycleLR(make_optimizer("sgd"), max_lr=0.3, total_steps=10**8)
    ax_lr, _ = sched.plot(ax=Figure().subplots())
    [(x, lr)] = curves(ax_lr)
    assert 20_000 <= len(x) < 20_020
    assert_bits_equal(lr, onecycle.schedule(10**8, 0.3, steps=x.astype(np.int64)).lr)
