"""``onecycle plot``: learning rate and momentum against step, one curve per configuration."""

from __future__ import annotations

import argparse
import hashlib
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from onecycle._schedule import schedule
from onecycle.cli._config import PARAMETERS, Config, UsageError, configs, describe, varying
from onecycle.cli._generate import replacing

__all__ = ["MAX_POINTS", "add_arguments", "curve", "run"]

FORMATS = (".png", ".svg")
# Longer schedules are drawn through this many evenly spaced steps (and the phase ends).
MAX_POINTS = 20_000

Array = npt.NDArray[Any]


def curve(config: Config) -> tuple[Array, Array, Array]:
    """The steps to draw and the learning rate and momentum at each: every step of the
    cycle, or for long cycles :data:`MAX_POINTS` evenly spaced ones plus the steps around
    each phase end."""
    total = config.total_steps
    if total <= MAX_POINTS:
        lr, momentum = schedule(**config.kwargs())
        return np.arange(total, dtype=np.int64), lr, momentum
    picked = {i * (total - 1) // (MAX_POINTS - 1) for i in range(MAX_POINTS)}
    for end in config.phase_ends():
        below = int(end)
        picked.update(s for s in (below - 1, below, below + 1, below + 2) if 0 <= s < total)
    steps = np.array(sorted(picked), dtype=np.int64)
    lr = np.empty(len(steps))
    momentum = np.empty(len(steps))
    for i, step in enumerate(steps.tolist()):
        (lr[i],), (momentum[i],) = schedule(**config.kwargs(), start=step, stop=step + 1)
    return steps, lr, momentum


def _digest(curves: list[tuple[Config, Array, Array, Array]]) -> str:
    """A fingerprint of what is drawn (the configurations and every value, by their bits),
    written into the image so a test can tell whether it shows what the code computes."""
    h = hashlib.sha256()
    for config, steps, lr, momentum in curves:
        h.update(describe(config).encode())
        for a in (steps, lr, momentum):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def run(args: argparse.Namespace) -> int:
    """Run ``onecycle plot``; returns the exit status."""
    path = Path(args.output)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"--output must end in .png or .svg, got {str(path)!r}")
    all_configs, values = configs(args)
    if len(all_configs) > 20:
        raise UsageError(f"plot draws at most 20 configurations in one figure, got {len(all_configs)}")
    for config in all_configs:
        schedule(**config.kwargs(), start=0, stop=0)  # checks every argument before any work
    try:
        import matplotlib
        import matplotlib.style
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
    except ModuleNotFoundError as e:
        raise UsageError("plot needs matplotlib, which is not installed: pip install 'onecycle[plot]'") from e

    curves = [(config, *curve(config)) for config in all_configs]
    swept = varying(values)
    fixed = [name for name in PARAMETERS if name not in swept]
    # The default style whatever the user's matplotlibrc says, and no dates or random ids
    # in the file: the same arguments give the same image.
    with matplotlib.style.context("default"), matplotlib.rc_context({"svg.hashsalt": "onecycle"}):
        fig = Figure(figsize=(args.width, args.height), dpi=args.dpi, layout="constrained")
        ax_lr, ax_momentum = fig.subplots(2, 1, sharex=True)
        for i, (config, steps, lr, momentum) in enumerate(curves):
            color = f"C{i % 10}"
            ax_lr.plot(steps, lr, color=color, label=describe(config, swept) if swept else None)
            ax_momentum.plot(steps, momentum, color=color)
            for end in config.phase_ends():
                for ax in (ax_lr, ax_momentum):
                    ax.axvline(end, color=color, linestyle="--", linewidth=0.8, alpha=0.7)
            ax_lr.axhline(config.max_lr, color=color, linestyle=":", linewidth=0.8)
            ax_lr.annotate(
                f"max_lr {config.max_lr:g}",
                xy=(0, config.max_lr),
                xycoords=("axes fraction", "data"),
                xytext=(3, 2),
                textcoords="offset points",
                color=color,
                fontsize=8,
            )
            for ax, values_ in ((ax_lr, lr), (ax_momentum, momentum)):
                ax.plot([steps[-1]], [values_[-1]], "o", color=color, markersize=4)
        # Each distinct final value labelled once, beside its point.
        for ax, column in ((ax_lr, 2), (ax_momentum, 3)):
            labelled: set[str] = set()
            for i, (_, steps, *values_drawn) in enumerate(curves):
                last = float(values_drawn[column - 2][-1])
                text = f"final {last:.3g}"
                if text not in labelled:
                    labelled.add(text)
                    ax.annotate(
                        text,
                        xy=(float(steps[-1]), last),
                        xytext=(-5, 4),
                        textcoords="offset points",
                        ha="right",
                        va="bottom",
                        color=f"C{i % 10}",
                        fontsize=8,
                    )
        for ax in (ax_lr, ax_momentum):
            ax.margins(y=0.1)  # room for the labels above the highest values
        if args.log_lr:
            ax_lr.set_yscale("log")
        ax_lr.set_ylabel("learning rate")
        ax_momentum.set_ylabel("momentum")
        ax_momentum.set_xlabel("step")
        markers = [
            Line2D([], [], color="gray", linestyle="--", linewidth=0.8, label="phase boundary"),
            Line2D([], [], color="gray", linestyle=":", linewidth=0.8, label="max_lr"),
            Line2D([], [], color="gray", marker="o", markersize=4, linestyle="none", label="final value"),
        ]
        handles, _ = ax_lr.get_legend_handles_labels()
        ax_lr.legend(handles=[*handles, *markers], fontsize=8, loc="best")
        title = args.title or "1cycle schedule: " + describe(all_configs[0], fixed)
        fig.suptitle("\n".join(textwrap.wrap(title, 90)), fontsize=10)
        description = f"onecycle plot data sha256 {_digest(curves)}"
        # PNGs keep matplotlib's "Software" entry: it names the version that drew them.
        metadata = (
            {"Description": description} if suffix == ".png" else {"Description": description, "Date": None}
        )
        with replacing(path, force=args.force) as target:
            fig.savefig(target.temporary, format=suffix[1:], metadata=metadata)
    if not args.quiet:
        drew = f"Drew {len(curves)} configuration{'s' if len(curves) > 1 else ''}"
        print(f"{path} already held this figure." if target.unchanged else f"{drew} to {path}.")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``onecycle plot`` besides the schedule's."""
    parser.add_argument(
        "-o", "--output", default="schedule.png", metavar="FILE", help=".png or .svg (default: schedule.png)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    parser.add_argument("--title", default=None, help="the figure's title (default: the fixed parameters)")
    parser.add_argument("--log-lr", action="store_true", help="a logarithmic learning-rate axis")
    parser.add_argument("--width", type=float, default=8.0, help="inches (default: 8)")
    parser.add_argument("--height", type=float, default=6.0, help="inches (default: 6)")
    parser.add_argument("--dpi", type=float, default=100.0, help="pixels per inch of a PNG (default: 100)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
