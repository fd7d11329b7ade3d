"""Pictures of schedules: the one drawing function behind ``onecycle plot``,
:func:`onecycle.plot`, ``OneCycleLR.plot()`` and ``RangeTestResult.plot()``.

matplotlib is an optional extra (``pip install 'onecycle[plot]'``); it is imported when a
picture is drawn, never by ``import onecycle``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from onecycle import _core
from onecycle._schedule import FLOAT_PARAMETERS, PARAMETER_NAMES, schedule

if TYPE_CHECKING:
    from matplotlib.axes import Axes


__all__ = ["MAX_CONFIGS", "MAX_POINTS", "Curve", "check_axes", "curve", "draw", "ends_in_force", "plot"]

# Longer schedules are drawn through this many evenly spaced steps (and the phase ends).
MAX_POINTS = 20_000
# A figure holds at most this many configurations.
MAX_CONFIGS = 20

Array = npt.NDArray[Any]

# The default of each optional parameter of ``schedule()``, from the core's list.
_DEFAULTS = {name: default for name, _, default, *_ in _core.PARAMETERS if default is not None}


def matplotlib_or_explain(what: str) -> Any:
    """The matplotlib module, or ModuleNotFoundError saying how to get it."""
    try:
        import matplotlib
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(
            f"{what} needs matplotlib, which is not installed: pip install 'onecycle[plot]'",
            name="matplotlib",
        ) from e
    return matplotlib


@dataclass(frozen=True)
class Curve:
    """One schedule as drawn: its label, the steps drawn, the values there, the steps where
    its phases before the last end (those of the plan in force there), its peak learning
    rate, and the ``(step, total_steps)`` of each re-plan."""

    label: str | None
    steps: Array
    lr: Array
    momentum: Array
    phase_ends: Sequence[float]
    max_lr: float
    replans: Sequence[tuple[int, int]] = ()


def curve(params: dict[str, Any], label: str | None = None, replan: Sequence[tuple[int, int]] = ()) -> Curve:
    """One configuration (all of ``schedule()``'s parameters, scalars) as drawn: the steps
    to draw (see :func:`steps_to_draw`), the learning rate and momentum at each, computed
    in one call, and its phase ends and ``max_lr``; re-planned at each ``(step,
    total_steps)`` of ``replan`` (as ``schedule(replan=...)``), up to the last length."""
    replans = [(int(step), int(total)) for step, total in replan]
    ends = ends_in_force(_plans_ends(params, replans), replans)
    total = replans[-1][1] if replans else params["total_steps"]
    steps = steps_to_draw(total, [*ends, *(step for step, _ in replans)])
    lr, momentum = schedule(**params, steps=steps, replan=replans or None)
    return Curve(label, steps, lr, momentum, ends, float(params["max_lr"]), tuple(replans))


def ends_in_force(plans: Sequence[Sequence[float]], replans: Sequence[tuple[int, int]]) -> list[float]:
    """The phase ends a re-planned run passes: ``plans[0]``'s (the ends of the phases
    before the last of the plan it was built with) up to the first re-plan's step, then
    each later plan's from the step after its re-plan's (the first the core computes by
    it) up to the next re-plan's step. ``plans`` holds one list more than ``replans``."""
    steps = [step for step, _ in replans]
    bounds = zip([-math.inf, *(s + 1 for s in steps)], [*steps, math.inf], strict=True)
    return [end for ends, (lo, hi) in zip(plans, bounds, strict=True) for end in ends if lo <= end <= hi]


def _plans_ends(params: dict[str, Any], replans: Sequence[tuple[int, int]]) -> list[list[float]]:
    """The ends of the phases before the last that each plan of a re-planned schedule
    holds, by the core's rule (see ``OneCycleLR.replan``): the built plan's phase ends,
    then at each re-plan the new length's, from the phase the next step falls in under the
    plan so far (the same phase of the layout), or the first after it that ends after the
    step. ``schedule()``'s parameters in ``params``."""
    lengths = [params["total_steps"], *(total for _, total in replans)]
    layouts = [[*phase_ends({**params, "total_steps": n}), n - 1] for n in lengths]
    plans, first = [layouts[0][:-1]], 0
    for (step, _), old, new in zip(replans, layouts, layouts[1:], strict=False):
        last = len(new) - 1
        first = next((p for p in range(first, last) if step + 1 <= old[p]), last)
        while first < last and new[first] < step + 1:
            first += 1
        plans.append(new[first:-1])
    return plans


def steps_to_draw(total: int, ends: Sequence[float]) -> Array:
    """Every step of a cycle of ``total`` steps, or for long cycles :data:`MAX_POINTS`
    evenly spaced ones plus the steps around each of ``ends`` (phase ends, re-plans)."""
    if total <= MAX_POINTS:
        return np.arange(total, dtype=np.int64)
    picked = {i * (total - 1) // (MAX_POINTS - 1) for i in range(MAX_POINTS)}
    for end in ends:
        below = int(end)
        picked.update(s for s in (below - 1, below, below + 1, below + 2) if 0 <= s < total)
    return np.array(sorted(picked), dtype=np.int64)


def phase_ends(params: dict[str, Any]) -> list[float]:
    """Where the phases before the last end (torch's ``end_step``\\ s), as the core lays
    them out, for all of ``schedule()``'s parameters."""
    ends = _core.phase_ends(
        total_steps=params["total_steps"],
        pct_start=float(params["pct_start"]),
        three_phase=bool(params["three_phase"]),
    )
    return ends[:-1]


def draw(
    ax_lr: Axes,
    ax_momentum: Axes,
    curves: Sequence[Curve],
    *,
    log_lr: bool = False,
    current_step: int | None = None,
) -> None:
    """Draw ``curves``: the learning rate on ``ax_lr`` and the momentum on ``ax_momentum``,
    one color per curve, with each curve's phase boundaries (dashed), ``max_lr`` (dotted)
    and final values (a dot, labelled), and ``current_step`` (a solid gray line) if given."""
    for i, c in enumerate(curves):
        _draw_curve(ax_lr, ax_momentum, f"C{i % 10}", c)
    _label_finals(ax_lr, ax_momentum, curves)
    replans = list(dict.fromkeys(r for c in curves for r in c.replans))
    last = max((float(c.steps[-1]) for c in curves if len(c.steps)), default=0.0)
    _mark_replans(ax_lr, ax_momentum, replans, last)
    if current_step is not None:
        for ax in (ax_lr, ax_momentum):
            ax.axvline(current_step, color="0.3", linewidth=1.2)
    for ax in (ax_lr, ax_momentum):
        ax.margins(y=0.1)  # room for the labels above the highest values
    if log_lr:
        ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate")
    ax_momentum.set_ylabel("momentum")
    ax_momentum.set_xlabel("step")
    _legend(ax_lr, current_step is not None, bool(replans))


def _mark_replans(ax_lr: Axes, ax_momentum: Axes, replans: Sequence[tuple[int, int]], last: float) -> None:
    """A dotted line at each re-plan's step, labelled with the length it re-planned onto
    (on its left where the step is in the last third of the ``last`` steps drawn)."""
    for step, total in replans:
        for ax in (ax_lr, ax_momentum):
            ax.axvline(step, color=REPLAN_COLOR, linestyle=":", linewidth=1.2)
        left = step > 2 * last / 3
        ax_lr.annotate(
            f"re-planned to {total:,} steps",
            xy=(step, 1),
            xycoords=("data", "axes fraction"),
            xytext=(-3 if left else 3, -3),
            textcoords="offset points",
            ha="right" if left else "left",
            va="top",
            color=REPLAN_COLOR,
            fontsize=8,
        )


def _draw_curve(ax_lr: Axes, ax_momentum: Axes, color: str, c: Curve) -> None:
    """One curve's lines, phase boundaries, max_lr and final points."""
    ax_lr.plot(c.steps, c.lr, color=color, label=c.label)
    ax_momentum.plot(c.steps, c.momentum, color=color)
    for end in c.phase_ends:
        for ax in (ax_lr, ax_momentum):
            ax.axvline(end, color=color, linestyle="--", linewidth=0.8, alpha=0.7)
    ax_lr.axhline(c.max_lr, color=color, linestyle=":", linewidth=0.8)
    ax_lr.annotate(
        f"max_lr {c.max_lr:g}",
        xy=(0, c.max_lr),
        xycoords=("axes fraction", "data"),
        xytext=(3, 2),
        textcoords="offset points",
        color=color,
        fontsize=8,
    )
    for ax, values in ((ax_lr, c.lr), (ax_momentum, c.momentum)):
        ax.plot([c.steps[-1]], [values[-1]], "o", color=color, markersize=4)


def _label_finals(ax_lr: Axes, ax_momentum: Axes, curves: Sequence[Curve]) -> None:
    """Each distinct final value labelled once, beside its point."""
    for ax, which in ((ax_lr, "lr"), (ax_momentum, "momentum")):
        labelled: set[str] = set()
        for i, c in enumerate(curves):
            last = float(getattr(c, which)[-1])
            text = f"final {last:.3g}"
            if text not in labelled:
                labelled.add(text)
                ax.annotate(
                    text,
                    xy=(float(c.steps[-1]), last),
                    xytext=(-5, 4),
                    textcoords="offset points",
                    ha="right",
                    va="bottom",
                    color=f"C{i % 10}",
                    fontsize=8,
                )


# The color of the re-plan marks (a gray between the current step's and the curves').
REPLAN_COLOR = "0.45"


def _legend(ax_lr: Axes, current: bool, replanned: bool) -> None:
    """The curves' labels and the markers' meanings."""
    from matplotlib.lines import Line2D

    markers = [
        Line2D([], [], color="gray", linestyle="--", linewidth=0.8, label="phase boundary"),
        Line2D([], [], color="gray", linestyle=":", linewidth=0.8, label="max_lr"),
        Line2D([], [], color="gray", marker="o", markersize=4, linestyle="none", label="final value"),
    ]
    if current:
        markers.append(Line2D([], [], color="0.3", linewidth=1.2, label="current step"))
    if replanned:
        markers.append(Line2D([], [], color=REPLAN_COLOR, linestyle=":", linewidth=1.2, label="re-plan"))
    handles, _ = ax_lr.get_legend_handles_labels()
    ax_lr.legend(handles=[*handles, *markers], fontsize=8, loc="best")


def axes_pair(ax: Axes | tuple[Axes, Axes] | None, what: str) -> tuple[Axes, Axes]:
    """Where to draw the learning rate and the momentum: the two axes given; one axes
    (the momentum then on a twin with its own scale on the right); or, with none, two
    stacked axes of a new figure (pyplot's, so a notebook shows it), as ``onecycle plot``
    draws them."""
    matplotlib_or_explain(what)
    if ax is None:
        import matplotlib.pyplot as plt

        _, (ax_lr, ax_momentum) = plt.subplots(2, 1, sharex=True, figsize=(8, 6), layout="constrained")
        return ax_lr, ax_momentum
    if isinstance(ax, tuple):
        if len(ax) != 2:
            raise TypeError(f"ax must be a matplotlib Axes or a pair of them, got a tuple of {len(ax)}")
        return ax
    check_axes(ax, "a matplotlib Axes or a pair of them")
    return ax, ax.twinx()


def check_axes(ax: object, wanted: str) -> None:
    """``TypeError`` unless ``ax`` is a matplotlib Axes (``wanted`` says what was)."""
    from matplotlib.axes import Axes as AxesClass

    if not isinstance(ax, AxesClass):
        raise TypeError(f"ax must be {wanted}, got {type(ax).__name__}")


def plot(
    total_steps: int,
    max_lr: npt.ArrayLike,
    *,
    ax: Axes | tuple[Axes, Axes] | None = None,
    log_lr: bool = False,
    replan: Sequence[tuple[int, int]] | None = None,
    **params: Any,
) -> tuple[Axes, Axes]:
    """Draw a schedule, or a sweep of them, as ``onecycle plot`` draws it; re-planned too.

    Parameters
    ----------
    total_steps, max_lr, **params
        :func:`onecycle.schedule`'s parameters (``pct_start``, ``anneal_strategy``, the
        momenta, ``div_factor``, ``final_div_factor``, ``three_phase``); the float ones may
        be arrays that broadcast together (a sweep), up to 20 configurations.
    ax : matplotlib Axes, or a pair of them, optional
        Where to draw: the learning rate on the first and the momentum on the second; a
        single Axes takes the learning rate, with the momentum on a twin axis (its scale
        on the right). Default: a new figure with two stacked axes.
    log_lr : bool, default False
        A logarithmic learning-rate axis.
    replan : sequence of (int, int), optional
        ``(step, total_steps)`` pairs, as :func:`onecycle.schedule` takes them: the
        schedule re-planned when ``last_epoch`` reaches each ``step`` (as
        :meth:`OneCycleLR.replan` re-plans a running scheduler), drawn up to the last
        ``total_steps``. Each re-plan is marked by a dotted vertical line at its step,
        labelled with its length; the phase boundaries are those of the plan in force
        (the built plan's up to the first re-plan, each re-plan's after it).

    Returns
    -------
    (Axes, Axes)
        The learning-rate and momentum axes drawn on. Each curve's line data are the steps
        drawn (every step, or for cycles of more than 20,000 steps 20,000 evenly spaced
        ones plus the steps around each phase end and re-plan) and ``schedule()``'s values
        there (with ``replan``, those of ``schedule(..., replan=replan)``).

    Raises
    ------
    TypeError, ValueError, OverflowError
        As ``schedule()`` for its parameters and ``replan`` (a step out of order, a
        length leaving no step); ``TypeError`` for an argument it does not take.
        ``ValueError`` for more than 20 configurations.
    ModuleNotFoundError
        matplotlib is not installed (``pip install 'onecycle[plot]'``).
    """
    unknown = sorted(set(params) - set(PARAMETER_NAMES))
    if unknown:
        raise TypeError(f"plot() got an unexpected keyword argument {unknown[0]!r}")
    params = {**_DEFAULTS, "total_steps": total_steps, "max_lr": max_lr, **params}
    # Checks every argument first.
    shape = schedule(**params, steps=[], replan=replan).lr.shape[:-1]
    count = math.prod(shape)
    if count > MAX_CONFIGS:
        raise ValueError(f"plot draws at most {MAX_CONFIGS} configurations in one figure, got {count}")
    ax_lr, ax_momentum = axes_pair(ax, "onecycle.plot")
    configs, swept = _configurations(params, shape)
    labels = [", ".join(f"{name}={config[name]!r}" for name in swept) or None for config in configs]
    replans = () if replan is None else replan
    curves = [curve(config, label, replans) for config, label in zip(configs, labels, strict=True)]
    draw(ax_lr, ax_momentum, curves, log_lr=log_lr)
    return ax_lr, ax_momentum


def _configurations(params: dict[str, Any], shape: tuple[int, ...]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each configuration of a sweep as scalar parameters, in C order of the broadcast
    ``shape``, and the float parameters given more than one value."""
    arrays = {
        name: np.broadcast_to(np.asarray(params[name], dtype=np.float64), shape)
        for name in FLOAT_PARAMETERS
        if name in params
    }
    swept = [name for name in FLOAT_PARAMETERS if name in params and np.size(params[name]) > 1]
    configs = []
    for index in np.ndindex(shape):
        config = dict(params)
        config.update((name, float(a[index])) for name, a in arrays.items())
        configs.append(config)
    return configs, swept
