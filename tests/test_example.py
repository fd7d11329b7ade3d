"""examples/digits.py: a real training run with torch's scheduler and with ours, identical."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits.py"


def test_example_runs_and_finds_the_runs_identical() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE), "--epochs", "4"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "identical: all 96 losses, learning rates and the final weights, bit for bit"
    for row in lines[1:5]:
        _, theirs, ours, _ = row.split()
        assert theirs == ours and math.isfinite(float(theirs))


def test_the_comparison_can_fail() -> None:
    """The example's check is sharp: it tells apart schedules one ulp apart."""
    spec = importlib.util.spec_from_file_location("digits", EXAMPLE)
    assert spec is not None and spec.loader is not None
    digits = importlib.util.module_from_spec(spec)
    sys.modules["digits"] = digits  # for its dataclass
    try:
        spec.loader.exec_module(digits)
    finally:
        del sys.modules["digits"]
    from torch.optim.lr_scheduler import OneCycleLR

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        base = digits.train(OneCycleLR, epochs=2)
        assert digits.identical(base, digits.train(OneCycleLR, epochs=2))
        # One ulp of max_lr: the learning rates differ (the float32 weights may not).
        ulp = digits.train(OneCycleLR, epochs=2, max_lr=math.nextafter(0.2, 1.0))
        # A millionth of max_lr: the losses differ.
        nudged = digits.train(OneCycleLR, epochs=2, max_lr=0.2 * (1 + 1e-6))
    finally:
        torch.set_num_threads(threads)
    assert not digits.identical(base, ulp) and base.lrs != ulp.lrs
    assert not digits.identical(base, nudged) and base.losses != nudged.losses
