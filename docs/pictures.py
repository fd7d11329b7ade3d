"""Draw the README's pictures: `make pictures` (or `python docs/pictures.py`).

The schedules are drawn with `onecycle plot`; the LR range test is a real one, run and
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


if __name__ == "__main__":
    draw(HERE / "img")
