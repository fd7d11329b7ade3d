"""The planning tools of re-planning: onecycle.plot(replan=...) draws schedule(replan=...)'s
values, and OneCycleLR.plot() draws a re-planned run as it went (each step by the plan in
force then) and as planned (what torch's class, loaded from the state, steps next), with
each re-plan marked."""

from __future__ import annotations

import copy
from typing import Any

import matplotlib
import numpy as np
import onecycle
import pytest
from matplotlib.figure import Figure
from parity import make_optimizer
from test_plot import curves, two_axes, vertical_marks
from test_schedule import assert_bits_equal
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# (layout, re-plans): growing and shrinking, in warm-up, at the peak and in annealing, twice.
CASES = [
    (dict(total_steps=1_000), [(400, 1_500)]),
    (dict(total_steps=1_000), [(100, 3_000)]),
    (dict(total_steps=1_000), [(200, 500)]),  # shrinking in warm-up: the rest of it skipped
    (dict(total_steps=1_000), [(299, 2_000)]),  # at the peak
    (dict(total_steps=1_000, anneal_strategy="linear"), [(400, 1_500), (1_100, 1_300)]),
    (dict(total_steps=900, three_phase=True, pct_start=0.25), [(100, 600), (400, 1_000)]),
    (dict(total_steps=900, three_phase=True), [(500, 700)]),
    (dict(total_steps=300), [(300, 450)]),  # at the extra step
]


def replan_marks(ax: Any) -> list[float]:
    return vertical_marks(ax, ":")


def run(
    kind: str, groups: int, kwargs: dict[str, Any], replans: list[tuple[int, int]], until: int
) -> tuple[onecycle.OneCycleLR, list[list[tuple[float, float]]]]:
    """onecycle's scheduler stepped to ``last_epoch == until``, re-planned at each step of
    ``replans`` (one at ``until`` too), and what each group held at every step."""
    opt = make_optimizer(kind, groups)
    sched = onecycle.OneCycleLR(opt, **kwargs)
    held: list[list[tuple[float, float]]] = [[] for _ in range(groups)]

    def record() -> None:
        for g, group in enumerate(opt.param_groups):
            momentum = group["betas"][0] if "betas" in group else group.get("momentum", float("nan"))
            held[g].append((float(group["lr"]), float(momentum)))

    record()
    while True:
        for step, total in replans:
            if sched.last_epoch == step:
                sched.replan(total)
        if sched.last_epoch >= until:
            return sched, held
        opt.step()
        sched.step()
        record()


def torch_steps_on(
    sched: onecycle.OneCycleLR, kind: str, groups: int, kwargs: dict[str, Any]
) -> list[list[float]]:
    """torch's own OneCycleLR loaded from ``sched``'s state (and its optimizer's), stepped
    to ``total_steps - 1``: each group's lr at every step after the current one."""
    t_opt = make_optimizer(kind, groups)
    theirs = TorchOneCycleLR(t_opt, **kwargs)
    t_opt.load_state_dict(copy.deepcopy(sched.optimizer.state_dict()))
    theirs.load_state_dict(copy.deepcopy(sched.state_dict()))
    lrs: list[list[float]] = [[] for _ in range(groups)]
    while theirs.last_epoch < theirs.total_steps - 1:
        t_opt.step()
        theirs.step()
        for g, group in enumerate(t_opt.param_groups):
            lrs[g].append(group["lr"])
    return lrs


# --- onecycle.plot(replan=...) ---------------------------------------------------------------


@pytest.mark.parametrize(("layout", "replans"), CASES)
def test_plot_draws_the_replanned_schedule_and_marks_each_replan(
    layout: dict[str, Any], replans: list[tuple[int, int]]
) -> None:
    kwargs = {k: v for k, v in layout.items() if k != "total_steps"}
    ax_lr, ax_momentum = onecycle.plot(layout["total_steps"], 0.2, replan=replans, ax=two_axes(), **kwargs)
    want = onecycle.schedule(layout["total_steps"], 0.2, replan=replans, **kwargs)
    [(x, lr)] = curves(ax_lr)
    [(x2, momentum)] = curves(ax_momentum)
    assert_bits_equal(x, np.arange(replans[-1][1]))
    assert_bits_equal(x2, x)
    assert_bits_equal(lr, want.lr)
    assert_bits_equal(momentum, want.momentum)
    steps = [float(step) for step, _ in replans]
    assert replan_marks(ax_lr) == replan_marks(ax_momentum) == steps
    texts = [t.get_text() for t in ax_lr.texts]
    assert all(f"re-planned to {total:,} steps" in texts for _, total in replans)
    assert "re-plan" in [t.get_text() for t in ax_lr.get_legend().get_texts()]


@pytest.mark.parametrize(("layout", "replans"), CASES)
def test_plot_and_a_replanned_scheduler_draw_the_same_lines_and_phase_ends(
    layout: dict[str, Any], replans: list[tuple[int, int]]
) -> None:
    """The phase ends onecycle.plot marks (its own reading of the re-plan rule) are those
    of the phases the scheduler's re-plans made (the core's rule itself)."""
    kwargs = {"max_lr": 0.2, **layout}
    sched, _ = run("sgd", 1, kwargs, replans, replans[-1][0])
    theirs = sched.plot(ax=two_axes())
    ours = onecycle.plot(**kwargs, replan=replans, ax=two_axes())
    for their_ax, our_ax in zip(theirs, ours, strict=True):
        [(x, y)] = curves(their_ax)
        [(x2, y2)] = curves(our_ax)
        assert_bits_equal(x, x2)
        assert_bits_equal(y, y2)
        assert vertical_marks(their_ax) == vertical_marks(our_ax)
        assert replan_marks(their_ax) == replan_marks(our_ax)
    # The re-planned phases after the last re-plan: their ends are marked.
    last = replans[-1][0]
    ends = [p["end_step"] for p in sched._schedule_phases[:-1] if p["end_step"] > last]
    assert [e for e in vertical_marks(ours[0]) if e > last] == ends


def test_plot_samples_a_long_replanned_cycle_around_each_replan() -> None:
    replans = [(3_000_000, 50_000_000), (40_000_000, 45_000_000)]
    ax_lr, _ = onecycle.plot(10**7, 0.3, replan=replans, ax=two_axes())
    [(x, lr)] = curves(ax_lr)
    assert 20_000 <= len(x) < 20_050 and x[-1] == 45_000_000 - 1
    for step, _ in replans:
        assert {step - 1, step, step + 1, step + 2} <= set(x.tolist())
    assert_bits_equal(lr, onecycle.schedule(10**7, 0.3, replan=replans, steps=x.astype(np.int64)).lr)


def test_plot_of_a_replanned_sweep_marks_the_replans_once() -> None:
    ax_lr, _ = onecycle.plot(1_000, [0.1, 0.3], replan=[(500, 800)], ax=two_axes())
    drawn = curves(ax_lr)
    want = onecycle.schedule(1_000, [0.1, 0.3], replan=[(500, 800)])
    assert len(drawn) == 2
    for (_, lr), expected in zip(drawn, want.lr, strict=True):
        assert_bits_equal(lr, expected)
    assert replan_marks(ax_lr) == [500.0]
    assert [t.get_text() for t in ax_lr.texts].count("re-planned to 800 steps") == 1


@pytest.mark.parametrize(
    ("replan", "error", "pattern"),
    [
        ([(500, 400)], ValueError, "at least one step must remain, so total_steps must be at least 502"),
        ([(300, 900), (200, 800)], ValueError, r"replan\[1\] is at step 200"),
        ([(1_001, 2_000)], ValueError, r"replan\[0\] is at step 1001"),
        ([300, 900], TypeError, "replan must be a sequence of \\(step, total_steps\\) pairs"),
        ([(300.0, 900)], TypeError, "replan step must be an integer"),
    ],
)
def test_plot_refuses_a_bad_replan_before_drawing(replan: Any, error: type, pattern: str) -> None:
    fig = Figure()
    ax = fig.subplots()
    with pytest.raises(error, match=pattern):
        onecycle.plot(1_000, 0.1, replan=replan, ax=ax)
    assert not ax.get_lines()


# --- OneCycleLR.plot() after re-plans --------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "kwargs", "replans", "until"),
    [
        ("sgd", dict(max_lr=[0.1, 0.4], total_steps=1_000), [(400, 1_500), (900, 1_200)], 1_000),
        ("adam", dict(max_lr=[0.2, 0.05], total_steps=800, three_phase=True), [(100, 400)], 250),
        ("adamw", dict(max_lr=0.3, total_steps=600, anneal_strategy="linear"), [(350, 500)], 350),
        ("sgd-no-momentum", dict(max_lr=0.1, total_steps=500, cycle_momentum=False), [(50, 900)], 60),
    ],
)
def test_scheduler_plot_draws_the_run_as_it_went_then_as_torch_steps_it(
    kind: str, kwargs: dict[str, Any], replans: list[tuple[int, int]], until: int
) -> None:
    groups = len(kwargs["max_lr"]) if isinstance(kwargs["max_lr"], list) else 1
    sched, held = run(kind, groups, kwargs, replans, until)
    before = copy.deepcopy(sched.state_dict()), copy.deepcopy(sched.optimizer.state_dict())
    ax_lr, ax_momentum = sched.plot(ax=two_axes())
    assert (sched.state_dict(), sched.optimizer.state_dict()) == before  # drawing changes nothing
    ahead = torch_steps_on(sched, kind, groups, kwargs)
    drawn_lr, drawn_momentum = curves(ax_lr), curves(ax_momentum)
    assert len(drawn_lr) == groups
    for g in range(groups):
        x, lr = drawn_lr[g]
        assert_bits_equal(x, np.arange(replans[-1][1]))
        taken = until + 1
        assert lr[:taken].tolist() == [h[0] for h in held[g]]  # as it went
        assert lr[taken:].tolist() == ahead[g]  # as torch's class steps on from the state
        if kwargs.get("cycle_momentum", True):
            assert drawn_momentum[g][1][:taken].tolist() == [h[1] for h in held[g]]
    assert replan_marks(ax_lr) == [float(s) for s, _ in replans]
    assert vertical_marks(ax_lr, "-") == [float(until)]  # the current step


def test_scheduler_plot_is_the_replanned_schedule() -> None:
    """One group built by the constructor: the run drawn is schedule(replan=...)'s."""
    replans = [(200, 2_000), (1_500, 1_600)]
    sched, _ = run("sgd", 1, dict(max_lr=0.3, total_steps=1_000, pct_start=0.4), replans, 1_550)
    [(x, lr)] = curves(sched.plot(ax=two_axes())[0])
    want = onecycle.schedule(1_000, 0.3, pct_start=0.4, replan=replans)
    assert_bits_equal(x, np.arange(1_600))
    assert_bits_equal(lr, want.lr)


def test_scheduler_plot_after_replan_on_load_draws_the_loaded_run() -> None:
    """Resuming with a new length: the steps taken before the resume follow the loaded
    state's length, not the length the resuming scheduler was built with."""
    saved, _ = run("sgd", 1, dict(max_lr=0.3, total_steps=800), [], 300)
    opt = make_optimizer("sgd")
    resumed = onecycle.OneCycleLR(opt, max_lr=0.3, total_steps=1_000, replan_on_load=True)
    opt.load_state_dict(saved.optimizer.state_dict())
    resumed.load_state_dict(saved.state_dict())
    assert resumed.state_dict()["onecycle_replans"] == [[300, 1_000]]
    [(x, lr)] = curves(resumed.plot(ax=two_axes())[0])
    assert_bits_equal(x, np.arange(1_000))
    assert_bits_equal(lr, onecycle.schedule(800, 0.3, replan=[(300, 1_000)]).lr)


def test_scheduler_plot_of_a_state_replanned_elsewhere_starts_at_its_last_replan() -> None:
    """A state loaded after re-plans made elsewhere lists them, not the length before: the
    steps before the last re-plan are not drawn; the rest are the re-planned run's."""
    replans = [(100, 700), (400, 900)]
    saved, _ = run("sgd", 1, dict(max_lr=0.3, total_steps=500), replans, 450)
    opt = make_optimizer("sgd")
    loaded = onecycle.OneCycleLR(opt, max_lr=0.3, total_steps=123)
    opt.load_state_dict(saved.optimizer.state_dict())
    loaded.load_state_dict(saved.state_dict())
    ax_lr, _ = loaded.plot(ax=two_axes())
    [(x, lr)] = curves(ax_lr)
    assert_bits_equal(x, np.arange(400, 900))
    assert_bits_equal(lr, onecycle.schedule(500, 0.3, replan=replans).lr[400:])
    assert replan_marks(ax_lr) == [100.0, 400.0]


def test_scheduler_plot_after_loading_a_state_from_before_any_replan() -> None:
    """A state without re-plans, of another length, then re-planned here: the steps before
    the re-plan follow the loaded length."""
    saved, _ = run("sgd", 1, dict(max_lr=0.3, total_steps=600), [], 200)
    opt = make_optimizer("sgd")
    loaded = onecycle.OneCycleLR(opt, max_lr=0.3, total_steps=5_000)
    opt.load_state_dict(saved.optimizer.state_dict())
    loaded.load_state_dict(saved.state_dict())
    for _ in range(50):
        opt.step()
        loaded.step()
    loaded.replan(1_000)
    [(x, lr)] = curves(loaded.plot(ax=two_axes())[0])
    assert_bits_equal(x, np.arange(1_000))
    assert_bits_equal(lr, onecycle.schedule(600, 0.3, replan=[(250, 1_000)]).lr)


def test_torch_is_not_needed_by_plot_replan() -> None:
    """onecycle.plot(replan=...) draws from schedule() alone (torch stays unimported)."""
    import subprocess
    import sys

    code = (
        "import sys, matplotlib; matplotlib.use('Agg'); import onecycle; "
        "onecycle.plot(100, 0.1, replan=[(50, 200)]); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
