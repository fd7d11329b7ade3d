"""``onecycle plot``: learning rate and momentum against step, one curve per configuration."""

from __future__ import annotations

import argparse
import hashlib
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from onecycle import _plot as drawing
from onecycle._plot import MAX_POINTS
from onecycle._schedule import schedule
from onecycle.cli._config import PARAMETERS, Config, UsageError, configs, describe, varying
from onecycle.cli._generate import replacing

__all__ = ["MAX_POINTS", "add_arguments", "curve", "run"]

FORMATS = (".png", ".svg")


def curve(config: Config, label: str | None = None) -> drawing.Curve:
    """``config`` as drawn (see :func:`onecycle._plot.curve`)."""
    return drawing.curve(config.kwargs(), label, config.replan)


def _digest(curves: list[tuple[Config, drawing.Curve]]) -> str:
    """A fingerprint of what is drawn (the configurations and every value, by their bits),
    written into the image so a test can tell whether it shows what the code computes."""
    h = hashlib.sha256()
    for config, drawn in curves:
        h.update(describe(config).encode())
        for a in (drawn.steps, drawn.lr, drawn.momentum):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def run(args: argparse.Namespace) -> int:
    """Run ``onecycle plot``; returns the exit status."""
    path = Path(args.output)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"--output must end in .png or .svg, got {str(path)!r}")
    all_configs, values = configs(args)
    if len(all_configs) > drawing.MAX_CONFIGS:
        raise UsageError(
            f"plot draws at most {drawing.MAX_CONFIGS} configurations in one figure, got {len(all_configs)}"
        )
    for config in all_configs:
        schedule(**config.schedule_kwargs(), start=0, stop=0)  # checks every argument before any work
    try:
        drawing.matplotlib_or_explain("plot")
    except ModuleNotFoundError as e:
        raise UsageError(str(e)) from e
    import matplotlib.style

    swept = varying(values)
    curves = [(config, curve(config, describe(config, swept) if swept else None)) for config in all_configs]
    # The default style whatever the user's matplotlibrc says, and no dates or random ids
    # in the file: the same arguments give the same image.
    with matplotlib.style.context("default"), matplotlib.rc_context({"svg.hashsalt": "onecycle"}):
        fig = figure(curves, swept, args)
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


def figure(curves: list[tuple[Config, drawing.Curve]], swept: list[str], args: argparse.Namespace) -> Any:
    """A matplotlib figure of ``curves`` (each configuration and its curve, labelled by
    the ``swept`` parameters), drawn by the drawing function ``onecycle.plot`` uses: lr
    above, momentum below, one color per configuration; titled by the fixed parameters."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(args.width, args.height), dpi=args.dpi, layout="constrained")
    ax_lr, ax_momentum = fig.subplots(2, 1, sharex=True)
    drawing.draw(ax_lr, ax_momentum, [drawn for _, drawn in curves], log_lr=args.log_lr)
    fixed = [name for name in PARAMETERS if name not in swept] + ["replan"] * bool(curves[0][0].replan)
    title = args.title or "1cycle schedule: " + describe(curves[0][0], fixed)
    fig.suptitle("\n".join(textwrap.wrap(title, 90)), fontsize=10)
    return fig


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
