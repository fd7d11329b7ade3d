"""The `onecycle` console command, run as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onecycle
import pytest


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "onecycle", *args], cwd=cwd, capture_output=True, text=True)


def read_csv(path: Path) -> tuple[list[int], np.ndarray, np.ndarray]:
    lines = path.read_text().splitlines()
    assert lines[0] == "step,lr,momentum"
    rows = [line.split(",") for line in lines[1:]]
    return (
        [int(r[0]) for r in rows],
        np.array([float(r[1]) for r in rows]),
        np.array([float(r[2]) for r in rows]),
    )


def test_console_script_on_defaults(tmp_path: Path) -> None:
    script = shutil.which("onecycle", path=str(Path(sys.executable).parent))
    assert script is not None, "the onecycle console script is not installed"
    done = subprocess.run([script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    steps, lr, momentum = read_csv(tmp_path / "schedule.csv")
    expected = onecycle.schedule(10_000, 0.01)
    assert steps == list(range(10_000))
    # Full precision: the file reads back bit-identical.
    assert np.array_equal(lr, expected.lr) and np.array_equal(momentum, expected.momentum)
    summary = done.stdout
    assert "10000 steps" in summary and "schedule.csv" in summary
    assert f"peaks at {expected.lr.max():.4e} at step {int(expected.lr.argmax())}" in summary
    assert f"ends at {expected.lr[-1]:.4e}" in summary
    assert "Computed in" in summary and summary.count("\n") == 1


def test_options_and_npz(tmp_path: Path) -> None:
    done = run(
        "--total-steps",
        "500",
        "--max-lr",
        "0.3",
        "--pct-start",
        "0.25",
        "--anneal-strategy",
        "linear",
        "--three-phase",
        "--start",
        "100",
        "--stop",
        "501",
        "--dtype",
        "float32",
        "-o",
        "out.npz",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "out.npz") as data:
        expected = onecycle.schedule(
            500,
            0.3,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            start=100,
            stop=501,
            dtype=np.float32,
        )
        assert data["lr"].dtype == np.float32
        assert np.array_equal(data["lr"], expected.lr)
        assert np.array_equal(data["momentum"], expected.momentum)
        assert data["step"].tolist() == list(range(100, 501))


def test_float32_csv_reads_back_exactly(tmp_path: Path) -> None:
    done = run("--total-steps", "300", "--dtype", "float32", "-o", "f.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _, lr, _ = read_csv(tmp_path / "f.csv")
    assert np.array_equal(lr.astype(np.float32), onecycle.schedule(300, 0.01, dtype=np.float32).lr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--total-steps", "0"], "total_steps must be a positive integer"),
        (["--total-steps", "10", "--pct-start", "0.1"], "pct_start * total_steps == 1"),
        (["--max-lr", "-1"], "max_lr must be a finite number greater than 0, got -1.0"),
        (["--stop", "999999"], "0 <= start <= stop <= total_steps + 1"),
        (["-o", "out.txt"], "--output must end in .csv or .npz"),
        (["-o", "missing-dir/out.csv"], "cannot write"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = run(*args, cwd=tmp_path)
    assert done.returncode != 0
    assert message in done.stderr
    assert done.stderr.startswith("onecycle: error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_help() -> None:
    done = subprocess.run([sys.executable, "-m", "onecycle", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for option in (
        "--total-steps",
        "--max-lr",
        "--pct-start",
        "--anneal-strategy",
        "--three-phase",
        "--output",
    ):
        assert option in done.stdout
