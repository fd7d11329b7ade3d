"""The ``onecycle`` console command: write a 1cycle schedule to a file."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from onecycle._schedule import Schedule, schedule

__all__ = ["main"]

_FORMATS = (".csv", ".npz")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="onecycle",
        description=(
            "Generate a 1cycle learning-rate schedule, bit-identical to stepping torch's "
            "OneCycleLR, and write its learning rate and momentum per step to a file "
            "(.csv or .npz, chosen by the extension)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("-o", "--output", default="schedule.csv", help="file to write (.csv or .npz)")
    p.add_argument("--total-steps", type=int, default=10_000, help="steps in the cycle")
    p.add_argument("--max-lr", type=float, default=0.01, help="peak learning rate")
    p.add_argument("--pct-start", type=float, default=0.3, help="fraction of the cycle spent warming up")
    p.add_argument("--anneal-strategy", choices=("cos", "linear"), default="cos")
    p.add_argument("--three-phase", action="store_true", help="use the three-phase layout")
    p.add_argument("--div-factor", type=float, default=25.0, help="initial_lr = max_lr / div_factor")
    p.add_argument(
        "--final-div-factor", type=float, default=1e4, help="min_lr = initial_lr / final_div_factor"
    )
    p.add_argument("--base-momentum", type=float, default=0.85)
    p.add_argument("--max-momentum", type=float, default=0.95)
    p.add_argument("--start", type=int, default=0, help="first step to write")
    p.add_argument(
        "--stop", type=int, default=None, help="step after the last one to write (default: total steps)"
    )
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    return p


def _write(path: Path, steps: np.ndarray, result: Schedule) -> None:
    if path.suffix == ".npz":
        np.savez(path, step=steps, lr=result.lr, momentum=result.momentum)
        return
    # repr() of a float is its shortest round-trip form: the file reads back bit-identical.
    with path.open("w", encoding="ascii", newline="\n") as f:
        f.write("step,lr,momentum\n")
        chunk = 1 << 16
        for i in range(0, len(steps), chunk):
            rows = zip(
                steps[i : i + chunk].tolist(),
                result.lr[i : i + chunk].tolist(),
                result.momentum[i : i + chunk].tolist(),
                strict=True,
            )
            f.write("".join(f"{s},{lr!r},{m!r}\n" for s, lr, m in rows))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    path = Path(args.output)
    if path.suffix not in _FORMATS:
        print(f"onecycle: error: --output must end in .csv or .npz, got {str(path)!r}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    try:
        result = schedule(
            args.total_steps,
            args.max_lr,
            pct_start=args.pct_start,
            anneal_strategy=args.anneal_strategy,
            base_momentum=args.base_momentum,
            max_momentum=args.max_momentum,
            div_factor=args.div_factor,
            final_div_factor=args.final_div_factor,
            three_phase=args.three_phase,
            start=args.start,
            stop=args.stop,
            dtype=args.dtype,
        )
    except (TypeError, ValueError, OverflowError, MemoryError) as e:
        print(f"onecycle: error: {e}", file=sys.stderr)
        return 2
    computed = time.perf_counter()
    stop = args.total_steps if args.stop is None else args.stop
    steps = np.arange(args.start, stop, dtype=np.uint64)
    try:
        _write(path, steps, result)
    except OSError as e:
        print(f"onecycle: error: cannot write {str(path)!r}: {e.strerror or e}", file=sys.stderr)
        return 1
    written = time.perf_counter()

    layout = "three-phase" if args.three_phase else "two-phase"
    if len(steps) == 0:
        shape = "no steps (the window is empty)"
    else:
        peak = int(np.argmax(result.lr))
        shape = (
            f"The learning rate starts at {result.lr[0]:.4e}, peaks at {result.lr[peak]:.4e} "
            f"at step {steps[peak]} and ends at {result.lr[-1]:.4e}; momentum runs from "
            f"{result.momentum[0]:.4g} down to {result.momentum.min():.4g} and back to "
            f"{result.momentum[-1]:.4g}."
        )
    print(
        f"Wrote steps {args.start} to {stop - 1} ({len(steps)} steps) of a {layout} "
        f"{args.anneal_strategy} 1cycle schedule (total_steps={args.total_steps}, "
        f"max_lr={args.max_lr}) to {path}. {shape} "
        f"Computed in {(computed - began) * 1e3:.2f} ms, written in {(written - computed) * 1e3:.1f} ms."
    )
    return 0
