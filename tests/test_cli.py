"""The `onecycle` console command, run as a user runs it (a subprocess each time)."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onecycle
import onecycle.cli
import pyarrow.parquet as pq
import pytest
from onecycle import _core

SCRIPT = shutil.which("onecycle", path=str(Path(sys.executable).parent))


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m onecycle ARGS`."""
    return subprocess.run(
        [sys.executable, "-m", "onecycle", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )


def run_without(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in an interpreter where `import MODULE` fails, as if it were not installed."""
    code = (
        f"import sys; sys.modules[{module!r}] = None; from onecycle.cli import main; raise SystemExit(main())"
    )
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True)


def assert_one_line_error(done: subprocess.CompletedProcess[str], message: str, status: int = 2) -> None:
    assert done.returncode == status, (done.returncode, done.stderr)
    assert message in done.stderr, done.stderr
    assert done.stderr.startswith("onecycle") and ": error: " in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


# --- the bare command: the README's quick start ----------------------------------------


def test_bare_command_writes_the_default_schedule_and_is_safe_to_run_twice(tmp_path: Path) -> None:
    assert SCRIPT is not None, "the onecycle console script is not installed"
    done = subprocess.run([SCRIPT], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    header, rows = read_csv(tmp_path / "schedule.csv")
    expected = onecycle.schedule(10_000, 0.01)
    assert header == ["step", "lr", "momentum"]
    assert [int(r[0]) for r in rows] == list(range(10_000))
    # Full precision: the file reads back bit-identical.
    assert same_bits(np.array([float(r[1]) for r in rows]), expected.lr)
    assert same_bits(np.array([float(r[2]) for r in rows]), expected.momentum)
    summary, hint = done.stdout.splitlines()
    assert "(10000 steps)" in summary and "schedule.csv" in summary
    # A bare `onecycle` ends with one line of what to try next.
    assert hint == onecycle.cli.NEXT and "`onecycle plot`" in hint and "`onecycle compare`" in hint
    assert f"peaks at {expected.lr.max():.4e} at step {int(expected.lr.argmax())}" in summary
    assert f"ends at {expected.lr[-1]:.4e}" in summary
    assert done.stderr == ""  # a quick job shows no progress bar

    # Again: the file already holds exactly this schedule, so it is left as it is.
    before = (tmp_path / "schedule.csv").stat().st_mtime_ns
    again = subprocess.run([SCRIPT], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "schedule.csv already held" in again.stdout
    assert again.stdout.splitlines()[-1] == onecycle.cli.NEXT
    assert (tmp_path / "schedule.csv").stat().st_mtime_ns == before

    # Other arguments would change it: refused without --force, done with it.
    changed = run("--max-lr", "0.1", cwd=tmp_path)
    assert_one_line_error(changed, "'schedule.csv' exists and holds something else; pass --force")
    assert (tmp_path / "schedule.csv").stat().st_mtime_ns == before
    forced = run("--max-lr", "0.1", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.count("\n") == 1 and onecycle.cli.NEXT not in forced.stdout  # not bare
    _, rows = read_csv(tmp_path / "schedule.csv")
    assert same_bits(np.array([float(r[1]) for r in rows]), onecycle.schedule(10_000, 0.1).lr)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


# --- generate: every format, full precision ------------------------------------------------


def expected_sweep(swept: dict[str, list[Any]], **fixed: Any) -> onecycle.Schedule:
    """onecycle.schedule over the grid of `swept` (one axis each, in order)."""
    names = list(swept)
    arrays = {}
    for axis, name in enumerate(names):
        shape = [1] * len(names)
        shape[axis] = len(swept[name])
        arrays[name] = np.reshape(swept[name], shape)
    return onecycle.schedule(**fixed, **arrays)


OPTIONS = ["--total-steps", "700", "--pct-start", "0.25", "--start", "100", "--stop", "701"]
FIXED = {"total_steps": 700, "pct_start": 0.25, "start": 100, "stop": 701}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_npy_and_npz(tmp_path: Path, dtype: str) -> None:
    sweep = ["--max-lr", "0.01", "0.3", "1.5", "--final-div-factor", "1e4", "30"]
    for name in ("s.npy", "s.npz", "one.npz"):
        extra = sweep if name.startswith("s") else ["--max-lr", "0.3"]
        done = run(*OPTIONS, *extra, "--dtype", dtype, "-o", name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    expected = expected_sweep(
        {"max_lr": [0.01, 0.3, 1.5], "final_div_factor": [1e4, 30.0]}, **FIXED, dtype=dtype
    )
    lr, momentum = np.load(tmp_path / "s.npy")
    assert same_bits(lr, expected.lr) and same_bits(momentum, expected.momentum)
    assert lr.shape == (3, 2, 601)
    with np.load(tmp_path / "s.npz") as data:
        assert sorted(data) == ["final_div_factor", "lr", "max_lr", "momentum", "step"]
        assert same_bits(data["lr"], expected.lr) and same_bits(data["momentum"], expected.momentum)
        assert data["step"].tolist() == list(range(100, 701))
        assert data["max_lr"].tolist() == [0.01, 0.3, 1.5] and data["final_div_factor"].tolist() == [
            1e4,
            30.0,
        ]
    with np.load(tmp_path / "one.npz") as data:
        single = onecycle.schedule(**FIXED, max_lr=0.3, dtype=dtype)
        assert sorted(data) == ["lr", "momentum", "step"]
        assert same_bits(data["lr"], single.lr) and same_bits(data["momentum"], single.momentum)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_csv_and_parquet(tmp_path: Path, dtype: str) -> None:
    sweep = ["--max-lr", "0.3", "0.7", "--anneal-strategy", "cos", "linear", "--three-phase", "false", "true"]
    for name in ("s.csv", "s.parquet"):
        done = run(*OPTIONS, *sweep, "--dtype", dtype, "-o", name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "8 1cycle schedules (2 max_lr x 2 anneal_strategy x 2 three_phase" in done.stdout
    header, rows = read_csv(tmp_path / "s.csv")
    assert header == ["max_lr", "anneal_strategy", "three_phase", "step", "lr", "momentum"]
    table = pq.read_table(tmp_path / "s.parquet").to_pydict()
    assert list(table) == header
    assert len(rows) == len(table["step"]) == 8 * 601
    i = 0
    for max_lr in (0.3, 0.7):
        for strategy in ("cos", "linear"):
            for three_phase in (False, True):
                expected = onecycle.schedule(
                    **FIXED, max_lr=max_lr, anneal_strategy=strategy, three_phase=three_phase, dtype=dtype
                )
                block = rows[i : i + 601]
                assert {(r[0], r[1], r[2]) for r in block} == {(repr(max_lr), strategy, str(three_phase))}
                assert [int(r[3]) for r in block] == list(range(100, 701))
                # CSV: each value parses back to the very same float (float32 values widened exactly).
                assert same_bits(np.array([float(r[4]) for r in block]).astype(dtype), expected.lr)
                assert same_bits(np.array([float(r[5]) for r in block]).astype(dtype), expected.momentum)
                assert np.array([float(r[4]) for r in block]).tolist() == expected.lr.tolist()
                assert table["max_lr"][i : i + 601] == [max_lr] * 601
                assert table["anneal_strategy"][i] == strategy and table["three_phase"][i] is three_phase
                assert table["step"][i : i + 601] == list(range(100, 701))
                assert same_bits(np.array(table["lr"][i : i + 601], dtype=dtype), expected.lr)
                assert same_bits(np.array(table["momentum"][i : i + 601], dtype=dtype), expected.momentum)
                i += 601
    schema = pq.read_schema(tmp_path / "s.parquet")
    assert str(schema.field("lr").type) == ("double" if dtype == "float64" else "float")


def test_many_windows_every_format(tmp_path: Path) -> None:
    """More steps than one window holds (2**18), two configurations: every window lands in
    its place."""
    steps = 600_000
    args = ["--total-steps", str(steps), "--max-lr", "0.01", "0.2", "--anneal-strategy", "linear"]
    expected = onecycle.schedule(steps, [[0.01], [0.2]], anneal_strategy="linear")
    for name in ("w.npy", "w.npz", "w.parquet", "w.csv"):
        done = run(*args, "-o", name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    lr, momentum = np.load(tmp_path / "w.npy")
    assert same_bits(lr, expected.lr.reshape(2, steps)) and same_bits(
        momentum, expected.momentum.reshape(2, steps)
    )
    with np.load(tmp_path / "w.npz") as data:
        assert same_bits(data["lr"], lr) and same_bits(data["momentum"], momentum)
        assert same_bits(data["step"], np.arange(steps, dtype=np.int64))
    table = pq.read_table(tmp_path / "w.parquet")
    assert table.num_rows == 2 * steps and pq.ParquetFile(tmp_path / "w.parquet").metadata.num_row_groups > 2
    assert same_bits(table["lr"].to_numpy(), lr.reshape(-1))
    assert same_bits(table["step"].to_numpy(), np.tile(np.arange(steps, dtype=np.int64), 2))
    values = np.loadtxt(tmp_path / "w.csv", delimiter=",", skiprows=1)
    assert same_bits(values[:, 2], lr.reshape(-1)) and same_bits(values[:, 3], momentum.reshape(-1))


def test_memory_stays_bounded(tmp_path: Path) -> None:
    """A schedule of 10 million steps (two 80 MB arrays) is written window by window: the
    command's peak memory grows by far less than the output's size."""

    def peak_mib(steps: int, name: str) -> float:
        code = (
            "import resource, sys; from onecycle.cli import main; status = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024); raise SystemExit(status)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, "--total-steps", str(steps), "-o", name, "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return float(done.stdout)

    for suffix in (".npy", ".npz"):
        small = peak_mib(10_000, "small" + suffix)
        large = peak_mib(10_000_000, "large" + suffix)
        assert (tmp_path / ("large" + suffix)).stat().st_size > 160e6
        assert large - small < 40, (suffix, small, large)


def test_progress_bar(tmp_path: Path) -> None:
    shown = run("--total-steps", "300000", "--progress", "on", "-o", "a.npy", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "100%" in shown.stderr and "300k/300k" in shown.stderr
    hidden = run("--total-steps", "300000", "--progress", "off", "-o", "b.npy", cwd=tmp_path)
    assert hidden.returncode == 0 and hidden.stderr == ""
    quiet = run("--total-steps", "3000", "-q", "-o", "c.npy", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_progress_auto_draws_only_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A job that takes seconds, its stderr a file: `auto` (the default) draws nothing there
    # (`on` draws, as test_progress_bar shows).
    with (tmp_path / "log").open("w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "onecycle", "--total-steps", "2000000", "-o", "a.csv"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert done.returncode == 0
    assert (tmp_path / "log").read_text() == ""

    # On a terminal, `auto` asks for the bar that appears once the work takes half a second.
    from onecycle.cli import _generate

    asked: list[bool | None] = []

    def progress_bar(show: bool | None, total: int, **options: Any) -> Any:
        asked.append(show)
        return contextlib.nullcontext(None)

    monkeypatch.setattr(_generate, "progress_bar", progress_bar)
    monkeypatch.chdir(tmp_path)
    for terminal in (True, False):
        monkeypatch.setattr(sys.stderr, "isatty", lambda terminal=terminal: terminal)
        for progress in ("auto", "on"):
            assert (
                onecycle.cli.main(
                    ["--total-steps", "100", "--progress", progress, "-o", f"{terminal}{progress}.csv"]
                )
                == 0
            )
    assert asked == [None, True, False, True]


def test_window_up_to_the_extra_step_and_empty(tmp_path: Path) -> None:
    done = run("--total-steps", "50", "--start", "40", "--stop", "51", "-o", "w.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "w.npz") as data:
        assert same_bits(data["lr"], onecycle.schedule(50, 0.01, start=40, stop=51).lr)
    empty = run("--total-steps", "50", "--start", "7", "--stop", "7", "-o", "e.csv", cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "no steps" in empty.stdout
    assert (tmp_path / "e.csv").read_text() == "step,lr,momentum\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--total-steps", "0"], "total_steps must be a positive integer"),
        (["--total-steps", str(2**63)], "total_steps must be at most 2**63 - 1"),
        (["--total-steps", "10", "--pct-start", "0.1"], "pct_start * total_steps == 1"),
        (["--max-lr", "-1"], "max_lr must be a finite number greater than 0, got -1.0"),
        (["--max-lr", "0.1", "nan"], "max_lr must be a finite number greater than 0, got NaN"),
        (["--div-factor", "0"], "div_factor"),
        (["--stop", "999999"], "0 <= start <= stop <= total_steps + 1"),
        # The window error names the start given, or 0 when none was.
        (["--total-steps", "10", "--stop", "20"], "<= total_steps + 1 = 11, got start=0, stop=20"),
        (["--total-steps", "10", "--start", "3", "--stop", "20"], "got start=3, stop=20"),
        (["--start", "20", "--stop", "10"], "0 <= start <= stop <= total_steps + 1"),
        (["-o", "out.txt"], "--output must end in .csv, .npy, .npz, .parquet"),
        (["--max-lr", "abc"], "argument --max-lr: invalid float value: 'abc'"),
        (["--total-steps", "10", "20"], "unrecognized arguments: 20"),
        (["--anneal-strategy", "cosine"], "argument --anneal-strategy: invalid choice: 'cosine'"),
        (["--three-phase", "maybe"], "expected true or false, got 'maybe'"),
        (["--dtype", "float16"], "invalid choice: 'float16'"),
        (["--bogus"], "unrecognized arguments: --bogus (see onecycle generate --help)"),
        # A misspelt option gets the nearest one.
        (["--max_lr", "0.02"], "unrecognized arguments: --max_lr 0.02; did you mean --max-lr?"),
        (["--totl-steps", "5"], "did you mean --total-steps?"),
        (["--Start=3"], "did you mean --start?"),
        (
            ["--max_lr", "0.02", "--pct_strat", "0.3"],
            "did you mean --max-lr for --max_lr, --pct-start for --pct_strat?",
        ),
    ],
)
def test_generate_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    assert_one_line_error(run("generate", *args, cwd=tmp_path), message)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_no_suggestion_for_what_is_not_near_an_option(tmp_path: Path) -> None:
    done = run("--frobnicate", cwd=tmp_path)
    assert_one_line_error(done, "unrecognized arguments: --frobnicate")
    assert "did you mean" not in done.stderr


def test_misspelt_options_of_other_commands(tmp_path: Path) -> None:
    assert_one_line_error(
        run("plot", "--log_lr", cwd=tmp_path), "did you mean --log-lr? (see onecycle plot --help)"
    )
    assert_one_line_error(run("compare", "--three_phase"), "did you mean --three-phase?")


def test_float32_summary_peaks_at_the_core_phase_end(tmp_path: Path) -> None:
    """In float32 the steps before the peak round to the peak's value; the summary still
    names the step where the core ends the first phase, as it does in float64."""
    total, start, stop = 100_000_000, 29_990_000, 30_010_000
    end = _core.phase_ends(total_steps=total, pct_start=0.3, three_phase=False)[0]
    assert end.is_integer() and start <= end < stop
    window = ["--total-steps", str(total), "--start", str(start), "--stop", str(stop)]
    for dtype in ("float32", "float64"):
        done = run(*window, "--dtype", dtype, "-o", f"{dtype}.npy", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        lr = np.load(tmp_path / f"{dtype}.npy")[0]
        assert lr[int(end) - start] == lr.max()
        assert f"peaks at {lr.max():.4e} at step {int(end)} " in done.stdout
    # The trap the summary avoids: in float32, the first step holding the highest value
    # comes earlier.
    assert start + int(np.argmax(np.load(tmp_path / "float32.npy")[0])) < int(end)


def test_memory_errors_in_binary_units() -> None:
    done = run("compare", "--total-steps", "2000000000000")
    assert_one_line_error(done, "lr needs 2000000000000 values (", status=1)
    assert " bytes" not in done.stderr
    assert re.search(r"the call needs [\d.]+ [KMGTPE]iB, the machine has [\d.]+ [KMGTPE]iB\)", done.stderr)
    # The core writes the size: 2e12 float64 values, in TiB to one decimal.
    assert f"values ({2_000_000_000_000 * 8 / 2**40:.1f} TiB)" in done.stderr


def test_unwritable_output(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    assert_one_line_error(run("-o", "d.csv", cwd=tmp_path), "--output 'd.csv' is a directory")
    assert_one_line_error(
        run("-o", "missing-dir/out.csv", cwd=tmp_path),
        "cannot write 'missing-dir/out.csv': No such file or directory",
        status=1,
    )


def test_refuses_to_overwrite_a_large_output_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "big.npy").write_bytes(b"precious")
    done = run("--total-steps", "5000000", "-o", "big.npy", cwd=tmp_path)
    assert_one_line_error(done, "'big.npy' exists; pass --force to overwrite it")
    assert (tmp_path / "big.npy").read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["big.npy"]


def test_parquet_without_pyarrow(tmp_path: Path) -> None:
    done = run_without("pyarrow", "-o", "s.parquet", cwd=tmp_path)
    assert_one_line_error(
        done, "writing .parquet needs pyarrow, which is not installed: pip install 'onecycle[parquet]'"
    )
    assert list(tmp_path.iterdir()) == []


# --- plot ------------------------------------------------------------------------------------


def png_text(path: Path) -> dict[str, str]:
    from PIL import Image

    with Image.open(path) as image:
        return dict(image.text)  # type: ignore[attr-defined]


def test_plot_png_and_svg(tmp_path: Path) -> None:
    done = run("plot", "--max-lr", "0.01", "0.1", "--three-phase", "-o", "f.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Drew 2 configurations to f.png.\n"
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    description = png_text(tmp_path / "f.png")["Description"]
    assert description.startswith("onecycle plot data sha256 ")
    svg = run("plot", "--anneal-strategy", "linear", "-o", "f.svg", cwd=tmp_path)
    assert svg.returncode == 0, svg.stderr
    text = (tmp_path / "f.svg").read_text()
    assert text.startswith("<?xml") and "<svg" in text and "onecycle plot data sha256" in text
    # The same arguments draw the same image; the command says so and leaves the file.
    again = run("plot", "--anneal-strategy", "linear", "-o", "f.svg", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == "f.svg already held this figure.\n"
    other = run("plot", "-o", "f.svg", cwd=tmp_path)
    assert_one_line_error(other, "'f.svg' exists and holds something else; pass --force")
    forced = run("plot", "-o", "f.svg", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and (tmp_path / "f.svg").read_text() != text


def test_plot_draws_what_schedule_computes(tmp_path: Path) -> None:
    """The fingerprint written into the image covers every drawn value: it changes with the
    configuration, and a long cycle is drawn through sampled steps computed exactly."""
    from onecycle.cli._config import Config
    from onecycle.cli._plot import MAX_POINTS, curve

    config = Config(10**9, 0.02, 0.3, "cos", 0.85, 0.95, 25.0, 1e4, True)
    drawn = curve(config)
    steps, lr, momentum = drawn.steps, drawn.lr, drawn.momentum
    assert MAX_POINTS <= len(steps) < MAX_POINTS + 20 and steps[0] == 0 and steps[-1] == 10**9 - 1
    for i in (0, 1234, len(steps) - 1):
        window = onecycle.schedule(10**9, 0.02, three_phase=True, start=int(steps[i]), stop=int(steps[i]) + 1)
        assert lr[i] == window.lr[0] and momentum[i] == window.momentum[0]
    assert {299_999_999, 599_999_998} <= set(steps.tolist())  # the phase ends are drawn
    digests = set()
    for max_lr in ("0.01", "0.010000000000000002"):
        done = run("plot", "--max-lr", max_lr, "-o", f"{max_lr}.png", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        digests.add(png_text(tmp_path / f"{max_lr}.png")["Description"])
    assert len(digests) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "f.pdf"], "--output must end in .png or .svg"),
        (["--max-lr", "0.1", "-1"], "max_lr must be a finite number greater than 0"),
        (["--total-steps", "10", "--pct-start", "0.1"], "pct_start * total_steps == 1"),
        (["--max-lr", *[str(i + 1) for i in range(21)]], "at most 20 configurations"),
        (["--width", "wide"], "argument --width: invalid float value"),
    ],
)
def test_plot_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    assert_one_line_error(run("plot", *args, cwd=tmp_path), message)
    assert list(tmp_path.iterdir()) == []


def test_plot_without_matplotlib(tmp_path: Path) -> None:
    done = run_without("matplotlib", "plot", cwd=tmp_path)
    assert_one_line_error(done, "plot needs matplotlib, which is not installed: pip install 'onecycle[plot]'")


# --- compare ---------------------------------------------------------------------------------


def test_compare_counts_identical_steps() -> None:
    import torch

    done = run("compare", "--total-steps", "300", "--max-lr", "0.01", "0.5", "--three-phase", "false", "true")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4 * 3
    assert (
        sum(f"torch {torch.__version__} OneCycleLR against onecycle (total_steps=300, " in x for x in lines)
        == 4
    )
    assert_every_step_identical(lines, configurations=4, steps=300)


def assert_every_step_identical(lines: list[str], configurations: int, steps: int) -> None:
    """`onecycle compare`'s lines: for each configuration, onecycle's class and schedule()
    agree with torch at every one of the `steps`, bit for bit."""
    for name in ("onecycle.OneCycleLR", "onecycle.schedule()"):
        matching = [x for x in lines if x.strip().startswith(name)]
        assert len(matching) == configurations
        want = f"{steps} of {steps} steps bit-identical; largest difference 0 (lr), 0 (momentum)"
        assert all(x.endswith(want) for x in matching)


def test_compare_reports_differences() -> None:
    """The comparison can fail: with one value of schedule() nudged by an ulp, it says so
    and exits with status 1."""
    code = (
        "import numpy as np, onecycle.cli._compare as c\n"
        "real = c.schedule\n"
        "def nudged(*a, **k):\n"
        "    s = real(*a, **k); s.lr[7] = np.nextafter(s.lr[7], 1.0); return s\n"
        "c.schedule = nudged\n"
        "from onecycle.cli import main\n"
        "raise SystemExit(main(['compare', '--total-steps', '100']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    line = next(x for x in done.stdout.splitlines() if "onecycle.schedule()" in x)
    ulp = np.spacing(onecycle.schedule(100, 0.01).lr[7])
    assert f"99 of 100 steps bit-identical; largest difference {ulp:.3g} (lr), 0 (momentum)" in line
    assert "100 of 100 steps bit-identical" in next(
        x for x in done.stdout.splitlines() if "OneCycleLR  " in x
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--total-steps", "10", "--pct-start", "0.1"], "pct_start * total_steps == 1"),
        (["--max-momentum", "inf"], "max_momentum"),
        (["--start", "3"], "unrecognized arguments: --start 3"),
    ],
)
def test_compare_errors_are_one_line(args: list[str], message: str) -> None:
    assert_one_line_error(run("compare", *args), message)


def test_compare_without_torch(tmp_path: Path) -> None:
    done = run_without("torch", "compare", "--total-steps", "10", cwd=tmp_path)
    assert_one_line_error(done, "compare needs torch, which is not installed: pip install 'onecycle[torch]'")


# --- re-plans (--replan STEP:TOTAL) ---------------------------------------------------------

REPLANS = [(400, 1_500), (1_100, 1_300)]
REPLAN_ARGS = [a for step, total in REPLANS for a in ("--replan", f"{step}:{total}")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_generate_replan_writes_schedules_replanned_values(tmp_path: Path, dtype: str) -> None:
    want = onecycle.schedule(1_000, 0.02, three_phase=True, replan=REPLANS, dtype=dtype)
    common = ["--total-steps", "1000", "--max-lr", "0.02", "--three-phase", "--dtype", dtype, *REPLAN_ARGS]
    for name in ("r.npy", "r.npz", "r.csv"):
        done = run("generate", *common, "-o", name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    lr, momentum = np.load(tmp_path / "r.npy")
    assert same_bits(lr, want.lr) and same_bits(momentum, want.momentum)
    with np.load(tmp_path / "r.npz") as npz:
        assert same_bits(npz["lr"], want.lr) and same_bits(npz["step"], np.arange(1_300))
    header, rows = read_csv(tmp_path / "r.csv")
    assert header == ["step", "lr", "momentum"] and len(rows) == 1_300
    assert same_bits(np.array([float(r[1]) for r in rows], dtype=dtype), want.lr)
    # A window of it, up to the extra step of the last length.
    done = run("generate", *common, "--start", "1000", "--stop", "1301", "-o", "w.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    window = onecycle.schedule(
        1_000, 0.02, three_phase=True, replan=REPLANS, dtype=dtype, start=1_000, stop=1_301
    )
    assert same_bits(np.load(tmp_path / "w.npy")[0], window.lr)


def test_generate_replan_summary_names_the_replans_and_the_peak(tmp_path: Path) -> None:
    """Re-planned in warm-up onto a longer cycle, the peak moves to the new plan's."""
    done = run("generate", "--total-steps", "1000", "--replan", "100:3000", "-o", "r.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lr = np.load(tmp_path / "r.npy")[0]
    assert same_bits(lr, onecycle.schedule(1_000, 0.01, replan=[(100, 3_000)]).lr)
    assert "(total_steps=1000, max_lr=0.01, re-planned at step 100 onto 3000 steps)" in done.stdout
    assert f"peaks at {lr.max():.4e} at step {int(np.argmax(lr))} " in done.stdout
    assert int(_core.phase_ends(total_steps=3_000, pct_start=0.3, three_phase=False)[0]) == int(np.argmax(lr))


def test_plot_replan_draws_schedules_replanned_values(tmp_path: Path) -> None:
    from onecycle.cli._config import Config
    from onecycle.cli._plot import curve

    config = Config(1_000, 0.02, 0.3, "linear", 0.85, 0.95, 25.0, 1e4, False, replan=tuple(REPLANS))
    drawn = curve(config)
    want = onecycle.schedule(1_000, 0.02, anneal_strategy="linear", replan=REPLANS)
    assert same_bits(drawn.steps, np.arange(1_300))
    assert same_bits(drawn.lr, want.lr) and same_bits(drawn.momentum, want.momentum)
    assert list(drawn.replans) == REPLANS
    digests = set()
    for name, args in (("plain.png", []), ("replanned.png", REPLAN_ARGS)):
        done = run("plot", "--total-steps", "1000", *args, "-o", name, cwd=tmp_path)
        assert done.returncode == 0 and done.stdout == f"Drew 1 configuration to {name}.\n", done.stderr
        digests.add(png_text(tmp_path / name)["Description"])
    assert len(digests) == 2


@pytest.mark.parametrize("command", ["generate", "plot", "compare"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replan", "10"], "--replan must be STEP:TOTAL (two integers), got '10'"),
        (["--replan", "a:100"], "--replan must be STEP:TOTAL (two integers), got 'a:100'"),
        (["--replan", "10:1.5"], "--replan must be STEP:TOTAL (two integers), got '10:1.5'"),
        (["--replan", "50:51"], "at least one step must remain, so total_steps must be at least 52"),
        (["--replan", "50:300", "--replan", "40:200"], "replan[1] is at step 40"),
        (["--replan", "101:300"], "replan[0] is at step 101"),
    ],
)
def test_replan_errors_are_one_line(tmp_path: Path, command: str, args: list[str], message: str) -> None:
    assert_one_line_error(run(command, "--total-steps", "100", *args, cwd=tmp_path), message)
    assert list(tmp_path.iterdir()) == []


def test_compare_replan_loads_torchs_class_from_the_replanned_state() -> None:
    import torch

    done = run("compare", "--total-steps", "1000", "--three-phase", "false", "true", *REPLAN_ARGS)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 * 4
    headers = [x for x in lines if x.startswith(f"torch {torch.__version__} OneCycleLR against onecycle (")]
    assert len(headers) == 2 and all(x.endswith(f"replan={REPLANS}):") for x in headers)
    sources = [x for x in lines if x.startswith("  torch's values: ")]
    assert (
        sources
        == [
            "  torch's values: steps 0-400 as built; "
            "401-1100 loaded from onecycle's state re-planned at step 400 onto 1500 steps; "
            "1101-1299 loaded from onecycle's state re-planned at step 1100 onto 1300 steps"
        ]
        * 2
    )
    assert_every_step_identical(lines, configurations=2, steps=1300)


def test_compare_replan_steps_torchs_own_class() -> None:
    """torch's values are those of torch's class stepping from the re-planned state (they
    move on from the held values: not the values of the plan before), and equal
    schedule(replan=...)'s; a difference is reported with status 1."""
    from onecycle.cli._compare import step_replanned
    from onecycle.cli._config import Config

    config = Config(600, 0.1, 0.3, "cos", 0.85, 0.95, 25.0, 1e4, True, replan=((250, 900),))
    (lr, momentum), (ours_lr, ours_momentum) = step_replanned(config)
    want = onecycle.schedule(600, 0.1, three_phase=True, replan=[(250, 900)])
    assert same_bits(lr, want.lr) and same_bits(momentum, want.momentum)
    assert same_bits(ours_lr, want.lr) and same_bits(ours_momentum, want.momentum)
    assert lr[251] != onecycle.schedule(600, 0.1, three_phase=True).lr[251]
    code = (
        "import numpy as np, onecycle.cli._compare as c\n"
        "real = c.schedule\n"
        "def nudged(*a, **k):\n"
        "    s = real(*a, **k); s.lr[300] = np.nextafter(s.lr[300], 1.0); return s\n"
        "c.schedule = nudged\n"
        "from onecycle.cli import main\n"
        "raise SystemExit(main(['compare', '--total-steps', '600', '--replan', '250:900']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "899 of 900 steps bit-identical" in next(x for x in done.stdout.splitlines() if "schedule()" in x)


# --- info, help, version -------------------------------------------------------------------------


def test_info() -> None:
    from importlib.metadata import version

    done = run("info")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"onecycle {onecycle.__version__}"
    assert f"torch {version('torch')}: onecycle.OneCycleLR and `onecycle compare`" in lines
    assert f"matplotlib {version('matplotlib')}: `onecycle plot`" in lines
    assert f"pyarrow {version('pyarrow')}: `onecycle generate -o FILE.parquet`" in lines
    assert lines[-2].startswith(f"threads: {_core.threads()} (schedules of {_core.PARALLEL_MIN_STEPS} steps")
    assert lines[-1].startswith(f"vector instructions: {_core.simd()} (")
    one = run("info", env={"RAYON_NUM_THREADS": "1", "ONECYCLE_SIMD": "baseline"})
    assert one.stdout.splitlines()[-2].startswith("threads: 1 ")
    assert one.stdout.splitlines()[-1].startswith("vector instructions: baseline (")


def test_threads_is_the_pool_size() -> None:
    code = "from onecycle import _core; print(_core.threads())"
    for n in ("1", "3"):
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "RAYON_NUM_THREADS": n},
        )
        assert done.stdout.strip() == n


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ([], ["generate", "plot", "compare", "info", "--version"]),
        (["generate"], ["--total-steps", "--max-lr", "--pct-start", "--anneal-strategy", "--three-phase", "--output", "--force", "--start", "--stop", "--dtype", "--progress", "--div-factor", "--final-div-factor", "--base-momentum", "--max-momentum", "--replan STEP:TOTAL"]),
        (["plot"], ["--total-steps", "--max-lr", "--three-phase", "--output", "--force", "--log-lr", "--title", "--replan STEP:TOTAL"]),
        (["compare"], ["--total-steps", "--max-lr", "--pct-start", "--anneal-strategy", "--three-phase", "--replan STEP:TOTAL"]),
        (["info"], ["threads"]),
    ],
)  # fmt: skip
def test_help(command: list[str], options: list[str]) -> None:
    done = run(*command, "--help")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith(f"usage: onecycle {' '.join(command)}".rstrip())
    for option in options:
        assert option in done.stdout


def test_help_shows_the_default_command_options() -> None:
    """`onecycle --help` goes on with generate's options, since `onecycle [options]` takes them."""
    top = run("--help")
    generate = run("generate", "--help")
    assert top.returncode == 0 and generate.returncode == 0
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", generate.stdout)) - {"--help"}
    assert {"--total-steps", "--max-lr", "--output", "--dtype", "--progress"} <= options
    assert "Without a command, the options of `onecycle generate`" in top.stdout
    missing = [o for o in sorted(options) if o not in top.stdout]
    assert missing == []


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout == f"onecycle {onecycle.__version__}\n"


def test_unknown_command(tmp_path: Path) -> None:
    assert_one_line_error(
        run("plto", cwd=tmp_path), "unknown command 'plto' (choose from generate, plot, compare, info)"
    )
    assert list(tmp_path.iterdir()) == []
