"""Draw the README's pictures with `onecycle plot`: `make pictures` (or `python docs/pictures.py`).

tests/test_pictures.py draws them again from this list and compares them with the committed
files, so the pictures always show what the current code computes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

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


if __name__ == "__main__":
    draw(HERE / "img")
