"""Draw the README's pictures: `make pictures` (or `python docs/pictures.py`).

The schedules are drawn with `onecycle plot`, the re-planned run with matplotlib from
`onecycle.schedule(..., replan=...)`; the LR range test is a real one, run and
drawn (with `RangeTestResult.plot()`) by examples/range_test.py's code. tests/test_pictures.py
draws them again and compares them with the committed files, so the pictures always show
what the current code computes.
"""

from __future__ import annotations

import hashlib
import platform
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "range_test.py"

# file name -> the arguments of `onecycle plot` that draw it
PICTURES: dict[str, list[str]] = {
    "two-phase.png": ["--title", "The default: two phases, cos annealing (total_steps=10000, max_lr=0.01)"],
    "three-phase.png": ["--three-phase", "--title", "three_phase=True (total_steps=10000, max_lr=0.01, cos)"],
    "linear.png": ["--anneal-strategy", "linear", "--title", "anneal_strategy='linear' (total_steps=10000, max_lr=0.01)"],
    "sweep.png": [
        "--max-lr", "0.001", "0.01", "0.1", "--pct-start", "0.25", "--log-lr",
        "--title", "A sweep over max_lr (pct_start=0.25), on a log scale",
    ],
}  # fmt: skip

# The LR range test of examples/range_test.py, drawn by its `figure()`.
RANGE_TEST = "range-test.png"

# A run of 10,000 steps extended to 15,000 at step 6,000: re-planned, and resumed naively.
REPLAN = "replan.png"


def example() -> dict[str, Any]:
    """The names examples/range_test.py defines (it is a script, not a module of a package)."""
    return runpy.run_path(str(EXAMPLE), run_name="range_test")


def range_test_result() -> Any:
    """The example's range test, run as the example runs it: one thread, deterministic
    kernels (the caller's settings are put back afterwards)."""
    import torch

    names = example()
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        return names["range_test"](names["setup"]())
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def build() -> str:
    """What decides the last bits of the range test's float32 training: torch's version
    and the CPU kernels it picks (its vector instruction level, and the processor)."""
    import torch

    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    capability = torch.backends.cpu.get_cpu_capability()
    return f"torch {torch.__version__}, {platform.system()} {platform.machine()}, {capability}, {cpu}"


def draw_range_test(path: Path, result: Any) -> None:
    """Draw ``result`` with the example's ``figure()`` into the PNG ``path``, in
    matplotlib's default style, with the digest of the data drawn (every learning rate,
    loss and smoothed loss, by their bits) and the build that computed them in its text."""
    import matplotlib.style
    import numpy as np

    digest = hashlib.sha256()
    for values in (result.lrs, result.losses, result.smoothed_losses):
        digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    metadata = {"Description": f"onecycle range test data sha256 {digest.hexdigest()}", "Source": build()}
    with matplotlib.style.context("default"):
        example()["figure"](result).savefig(path, metadata=metadata)


def replan_curves() -> dict[str, tuple[Any, Any]]:
    """The three learning-rate curves of the re-planning picture, as (steps, lr): the plan
    of 10,000 steps, a naive resume at step 6,000 (a new scheduler of 15,000 steps with
    ``last_epoch=6000``: the first 6,001 steps of the old plan, then the new one's), and
    the run re-planned at step 6,000 onto 15,000 steps."""
    import numpy as np
    import onecycle

    step, old, new, max_lr = 6_000, 10_000, 15_000, 0.01
    before = onecycle.schedule(old, max_lr, stop=step + 1).lr
    naive = np.concatenate([before, onecycle.schedule(new, max_lr, start=step + 1).lr])
    replanned = onecycle.schedule(old, max_lr, replan=[(step, new)]).lr
    return {
        f"planned: total_steps={old:,}": (np.arange(old), onecycle.schedule(old, max_lr).lr),
        f"a new scheduler of {new:,} steps with last_epoch={step:,}: jumps": (np.arange(new), naive),
        f"replan({new:,}) at step {step:,}: no jump": (np.arange(new), replanned),
    }


def draw_replan(path: Path) -> None:
    """The re-planning picture, with the digest of every value drawn in its text."""
    import matplotlib.pyplot as plt
    import matplotlib.style
    import numpy as np

    curves = replan_curves()
    digest = hashlib.sha256()
    for _, lr in curves.values():
        digest.update(np.ascontiguousarray(lr, dtype=np.float64).tobytes())
    with matplotlib.style.context("default"):
        fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
        styles = [{"color": "0.6", "linestyle": "--"}, {"color": "C3"}, {"color": "C0", "linewidth": 2}]
        for (label, (steps, lr)), style in zip(curves.items(), styles, strict=True):
            ax.plot(steps, lr, label=label, **style)
        ax.axvline(6_000, color="0.3", linestyle=":", linewidth=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_title("Extending a run at step 6,000: torch's class jumps, replan() does not")
        ax.legend(fontsize=8, loc="upper right")
        fig.savefig(path, metadata={"Description": f"onecycle replan data sha256 {digest.hexdigest()}"})
        plt.close(fig)


def draw(directory: Path) -> None:
    """Draw every picture into ``directory``, replacing what is there."""
    for name, args in PICTURES.items():
        command = [
            sys.executable,
            "-m",
            "onecycle",
            "plot",
            *args,
            "-o",
            str(directory / name),
            "--force",
            "-q",
        ]
        subprocess.run(command, check=True)
    draw_range_test(directory / RANGE_TEST, range_test_result())
    draw_replan(directory / REPLAN)


if __name__ == "__main__":
    draw(HERE / "img")
