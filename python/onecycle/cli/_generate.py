"""``onecycle generate``: write a schedule, a window of it or a sweep to a file, window by
window, so memory stays bounded whatever the length."""

from __future__ import annotations

import argparse
import filecmp
import math
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import numpy.typing as npt

from onecycle import _core
from onecycle._progress import progress_bar
from onecycle._schedule import schedule
from onecycle.cli._config import Config, UsageError, configs, describe, varying

__all__ = ["FORMATS", "Job", "Summary", "Target", "fill", "replacing", "run", "write"]

FORMATS = (".csv", ".npy", ".npz", ".parquet")
# Steps per window: two float64 arrays of this length are 4 MiB, whatever the output's size.
WINDOW = 1 << 18
# An existing output is left alone when it already holds what would be written; beyond
# this many values that is not worth finding out, and the command refuses before any work.
UNCHANGED_CHECK_MAX = 1 << 20

Array = npt.NDArray[Any]


def fill(config: Config, start: int, stop: int, lr: Array, momentum: Array, dtype: np.dtype[Any]) -> None:
    """Write steps ``[start, stop)`` of ``config``'s schedule into ``lr`` and ``momentum``.

    The one place the command computes values: every format fills its windows here, into
    a reused buffer of a window's length (``out=``: no array is allocated per window), and
    writes them out from there. ``lr`` and ``momentum`` are contiguous views of shape
    ``(stop - start,)`` and dtype ``dtype``.
    """
    schedule(**config.schedule_kwargs(), start=start, stop=stop, dtype=dtype, out=(lr, momentum))


class Progress(Protocol):
    """What the window loop needs of a progress bar (a ``tqdm``)."""

    def update(self, n: int) -> object: ...


def peak_step(config: Config) -> int:
    """The step at which ``config``'s learning rate peaks: where the core ends the first
    phase (torch's first ``end_step``, ``pct_start * total_steps - 1``), or where that falls
    between two steps, the higher of the two (the first on a tie). In float32 the steps
    just before it round to the same value; the peak is still this step. Re-planned, the
    warm-up ends at the first phase end of the plan in force, or at a re-plan that skips
    the rest of it: the highest of those steps."""
    last = config.final_steps - 1
    found = {min(step, last) for step, _ in config.replan}
    for total in (config.total_steps, *(total for _, total in config.replan)):
        ends = _core.phase_ends(total_steps=total, pct_start=config.pct_start, three_phase=config.three_phase)
        found.update(min(max(f(ends[0]), 0), last) for f in (math.floor, math.ceil))
    candidates = sorted(found)
    lr = schedule(**config.schedule_kwargs(), steps=candidates).lr
    peak: int = candidates[int(np.argmax(lr))]
    return peak


@dataclass
class Summary:
    """The first configuration's values in brief, gathered window by window as they are
    written: where the learning rate starts, peaks and ends, and how far momentum falls.
    ``peak_at`` is the step where the schedule peaks (:func:`peak_step`): where the window
    holds it and the value there is the window's highest, the peak is reported there, not
    at an earlier step that rounds to the same value."""

    peak_at: int = -1
    lr_first: float = float("nan")
    lr_last: float = float("nan")
    lr_peak: float = float("-inf")
    lr_peak_step: int = -1
    momentum_first: float = float("nan")
    momentum_last: float = float("nan")
    momentum_min: float = float("inf")

    def add(self, first: bool, step: int, lr: Array, momentum: Array) -> None:
        """Take in the window of ``lr`` and ``momentum`` that starts at ``step`` (the
        schedule's ``first`` window, or a later one)."""
        if first:
            self.lr_first, self.momentum_first = float(lr[0]), float(momentum[0])
        self.lr_last, self.momentum_last = float(lr[-1]), float(momentum[-1])
        peak = int(np.argmax(lr))
        if lr[peak] > self.lr_peak:
            self.lr_peak, self.lr_peak_step = float(lr[peak]), step + peak
        at = self.peak_at - step
        if 0 <= at < len(lr) and lr[at] == self.lr_peak:
            self.lr_peak_step = self.peak_at
        self.momentum_min = min(self.momentum_min, float(momentum.min()))


@dataclass
class Job:
    """What to write: the configurations (one, or a sweep's), the window and the dtype."""

    configs: list[Config]
    values: dict[str, list[Any]]
    start: int
    stop: int
    dtype: np.dtype[Any]
    window: int = WINDOW
    summary: Summary = field(default_factory=Summary)
    progress: Progress | None = field(default=None, repr=False)

    @property
    def steps(self) -> int:
        """Steps in the window, per configuration."""
        return self.stop - self.start

    @property
    def swept(self) -> list[str]:
        """The parameters given several values, in the order of the sweep's axes."""
        return varying(self.values)

    @property
    def shape(self) -> tuple[int, ...]:
        """The sweep's shape: one axis per parameter given several values."""
        return tuple(len(self.values[name]) for name in self.swept)

    def windows(self) -> Iterator[tuple[int, int, Array, Array]]:
        """Every window of every configuration, as the writers take them (see
        :meth:`_filled`); each also goes to the summary (the first configuration's) and
        the progress bar."""
        for c, a, lr, momentum in self._filled():
            if c == 0:
                self.summary.add(a == 0, self.start + a, lr, momentum)
            if self.progress is not None:
                self.progress.update(len(lr))
            yield c, a, lr, momentum

    def _filled(self) -> Iterator[tuple[int, int, Array, Array]]:
        """Fill every window of every configuration, in the order of a C-ordered array of
        shape ``sweep shape + (steps,)``, into one reused buffer of a window's length.
        Yields ``(c, a, lr, momentum)``: configuration ``c``'s steps ``start + a`` onwards,
        valid until the next window is filled."""
        buffer = np.empty((2, min(self.window, self.steps)), self.dtype)
        for c, config in enumerate(self.configs):
            for a in range(0, self.steps, self.window):
                b = min(a + self.window, self.steps)
                lr, momentum = buffer[0, : b - a], buffer[1, : b - a]
                fill(config, self.start + a, self.start + b, lr, momentum, self.dtype)
                yield c, a, lr, momentum

    def sweep_columns(self, c: int) -> list[Any]:
        """The swept parameters' values of configuration ``c``."""
        return [getattr(self.configs[c], name) for name in self.swept]


def _write_npy(path: Path, job: Job) -> None:
    """One array of shape ``(2,) + sweep shape + (steps,)``: ``lr, momentum = np.load(path)``.
    Each window goes to its place in the file, lr and momentum alike, in one pass."""
    configs = len(job.configs)
    with path.open("wb") as f:
        _npy_header(f, job.dtype, (2, *job.shape, job.steps))
        offset = f.tell()
        f.truncate(offset + 2 * configs * job.steps * job.dtype.itemsize)
        for c, a, lr, momentum in job.windows():
            for i, values in enumerate((lr, momentum)):
                f.seek(offset + ((i * configs + c) * job.steps + a) * job.dtype.itemsize)
                f.write(values.tobytes())


def _npy_header(f: IO[bytes], dtype: np.dtype[Any], shape: tuple[int, ...]) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(f, header)


def _write_npz(path: Path, job: Job) -> None:
    """``step``, ``lr``, ``momentum`` and each swept parameter's values, as ``np.savez``
    lays them out; the members are streamed, so the arrays never sit in memory whole."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:

        def member(name: str) -> IO[bytes]:
            # A fixed date: the same arguments give the same bytes.
            return archive.open(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), "w", force_zip64=True
            )

        with member("step") as f:
            _npy_header(f, np.dtype(np.int64), (job.steps,))
            for a in range(0, job.steps, job.window):
                b = min(a + job.window, job.steps)
                f.write(np.arange(job.start + a, job.start + b, dtype=np.int64).tobytes())
        for i, name in enumerate(("lr", "momentum")):
            with member(name) as f:
                _npy_header(f, job.dtype, (*job.shape, job.steps))
                for _, _, *arrays in job.windows():
                    f.write(arrays[i].tobytes())
        for name in job.swept:
            with member(name) as f:
                np.lib.format.write_array(f, np.asarray(job.values[name]))


def _csv_field(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _write_csv(path: Path, job: Job) -> None:
    """``[swept parameters,] step, lr, momentum``: one row per step (and configuration),
    each float in its shortest form that reads back to the same bits."""
    with path.open("w", encoding="ascii", newline="\n") as f:
        f.write(",".join([*job.swept, "step", "lr", "momentum"]) + "\n")
        for c, a, lr, momentum in job.windows():
            prefix = "".join(f"{_csv_field(v)}," for v in job.sweep_columns(c))
            first = job.start + a
            # tolist() gives Python floats (float32 values widened exactly), whose repr()
            # is the shortest string that parses back to the same value.
            f.write(
                "".join(
                    f"{prefix}{first + i},{x!r},{y!r}\n"
                    for i, (x, y) in enumerate(zip(lr.tolist(), momentum.tolist(), strict=True))
                )
            )


def _write_parquet(path: Path, job: Job) -> None:
    """The columns of the CSV, typed (``lr`` and ``momentum`` in the schedule's dtype), one
    row group per window."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ModuleNotFoundError as e:
        raise UsageError(
            "writing .parquet needs pyarrow, which is not installed: pip install 'onecycle[parquet]'"
        ) from e
    value_type = pa.float32() if job.dtype == np.float32 else pa.float64()
    fields: list[Any] = []
    for name in job.swept:
        kind = {str: pa.string(), bool: pa.bool_(), int: pa.int64()}.get(
            type(job.values[name][0]), pa.float64()
        )
        fields.append(pa.field(name, kind))
    schema = pa.schema(
        [*fields, pa.field("step", pa.int64()), pa.field("lr", value_type), pa.field("momentum", value_type)]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for c, a, lr, momentum in job.windows():
            n = len(lr)
            columns = [
                pa.repeat(pa.scalar(v, f.type), n) for v, f in zip(job.sweep_columns(c), fields, strict=True)
            ]
            steps = pa.array(np.arange(job.start + a, job.start + a + n, dtype=np.int64))
            writer.write_table(
                pa.Table.from_arrays([*columns, steps, pa.array(lr), pa.array(momentum)], schema=schema)
            )


WRITERS: dict[str, Callable[[Path, Job], None]] = {
    ".csv": _write_csv,
    ".npy": _write_npy,
    ".npz": _write_npz,
    ".parquet": _write_parquet,
}


def write(path: Path, job: Job, *, force: bool) -> bool:
    """Write ``job`` to ``path`` in the format its extension names; see :func:`replacing`.
    Returns whether ``path`` already held exactly these bytes (and was left alone)."""
    with replacing(path, force=force) as target:
        WRITERS[path.suffix.lower()](target.temporary, job)
    return target.unchanged


@dataclass
class Target:
    """The temporary file to write, and what became of it."""

    temporary: Path
    unchanged: bool = False


@contextmanager
def replacing(path: Path, *, force: bool) -> Iterator[Target]:
    """A temporary file beside ``path`` to write (an interrupted run leaves no half-written
    output behind). When the block ends without an exception it replaces ``path``, unless
    ``path`` exists and ``force`` is false: then ``path`` is left alone if it holds the same
    bytes (``Target.unchanged``) and a :class:`UsageError` is raised if not. The temporary
    file never outlives the block; OSErrors name ``path``."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from e
    os.close(fd)
    target = Target(Path(name))
    try:
        yield target
        if path.exists() and not force:
            if not filecmp.cmp(target.temporary, path, shallow=False):
                raise UsageError(_exists(path))
            target.unchanged = True
            target.temporary.unlink()
            return
        umask = os.umask(0)
        os.umask(umask)
        target.temporary.chmod(0o666 & ~umask)  # the permissions open() would have given it
        target.temporary.replace(path)
    except OSError as e:
        target.temporary.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, str(path)) from e
    except BaseException:
        target.temporary.unlink(missing_ok=True)
        raise


def _exists(path: Path) -> str:
    return f"{str(path)!r} exists and holds something else; pass --force to overwrite it, or choose another --output"


def run(args: argparse.Namespace) -> int:
    """Run ``onecycle generate``; returns the exit status."""
    path = Path(args.output)
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise UsageError(f"--output must end in {', '.join(FORMATS)}, got {str(path)!r}")
    if path.is_dir():
        raise UsageError(f"--output {str(path)!r} is a directory")
    all_configs, values = configs(args)
    dtype = np.dtype(args.dtype)
    total_steps = all_configs[0].final_steps
    stop = total_steps if args.stop is None else args.stop
    for config in all_configs:
        # Every argument checked before any file is touched: an empty window costs nothing,
        # and a window out of range is refused, with the start given (or 0), before any work.
        valid = 0 <= args.start <= stop <= config.final_steps + 1
        schedule(**config.schedule_kwargs(), start=stop if valid else args.start, stop=stop)
    job = Job(all_configs, values, args.start, stop, dtype)
    job.summary.peak_at = peak_step(all_configs[0])
    if path.exists() and not args.force and len(all_configs) * job.steps > UNCHANGED_CHECK_MAX:
        # Too large to write only to find it was there already: refuse before any work.
        raise UsageError(_exists(path).replace(" and holds something else", ""))
    passes = 2 if suffix == ".npz" else 1
    began = time.perf_counter()
    mode = "off" if args.quiet and args.progress == "auto" else args.progress
    # "auto": once the work takes half a second, and only on a terminal (not into a log).
    show = {"on": True, "off": False}.get(mode, None if sys.stderr.isatty() else False)
    with progress_bar(show, passes * len(all_configs) * job.steps, unit_scale=True) as bar:
        job.progress = bar
        unchanged = write(path, job, force=args.force)
    elapsed = time.perf_counter() - began
    if not args.quiet:
        print(_summary(path, job, elapsed, unchanged))
    return 0


def _summary(path: Path, job: Job, elapsed: float, unchanged: bool) -> str:
    config = job.configs[0]
    wrote = f"{path} already held" if unchanged else "Wrote"
    to = "" if unchanged else f" to {path}"
    layout = "three-phase" if config.three_phase else "two-phase"
    what = (
        f"steps {job.start} to {job.stop - 1} ({job.steps} steps)"
        if job.steps
        else "no steps (the window is empty)"
    )
    if len(job.configs) > 1:
        axes = " x ".join(f"{len(job.values[n])} {n}" for n in job.swept)
        replan = f", replan={list(config.replan)}" if config.replan else ""
        return (
            f"{wrote} {what} of {len(job.configs)} 1cycle schedules ({axes}; "
            f"total_steps={config.total_steps}{replan}){to}. Took {elapsed:.2f} s."
        )
    shape = ""
    if job.steps:
        brief = job.summary
        shape = (
            f" The learning rate starts at {brief.lr_first:.4e}, peaks at {brief.lr_peak:.4e} at step "
            f"{brief.lr_peak_step} and ends at {brief.lr_last:.4e}; momentum runs from "
            f"{brief.momentum_first:.4g} down to {brief.momentum_min:.4g} and back to {brief.momentum_last:.4g}."
        )
    replanned = "".join(f", re-planned at step {step} onto {total} steps" for step, total in config.replan)
    return (
        f"{wrote} {what} of a {layout} {config.anneal_strategy} 1cycle schedule "
        f"({describe(config, ('total_steps', 'max_lr'))}{replanned}){to}.{shape} Took {elapsed:.2f} s."
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``onecycle generate`` besides the schedule's."""
    parser.add_argument(
        "-o",
        "--output",
        default="schedule.csv",
        metavar="FILE",
        help="file to write; the extension picks the format: "
        + ", ".join(FORMATS)
        + " (default: schedule.csv)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    parser.add_argument(
        "--start", type=int, default=0, metavar="STEP", help="first step to write (default: 0)"
    )
    parser.add_argument(
        "--stop",
        type=int,
        default=None,
        metavar="STEP",
        help="the step after the last one to write; up to total_steps + 1 (default: total_steps; "
        "with --replan, those of the last re-plan)",
    )
    parser.add_argument(
        "--dtype", choices=("float64", "float32"), default="float64", help="(default: float64)"
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="a progress bar on stderr: auto shows it once the work takes more than half a "
        "second, and only when stderr is a terminal (default: auto)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing on success (and no progress bar unless --progress on)",
    )
