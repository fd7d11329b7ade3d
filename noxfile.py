"""The test matrix, one nox session each (`pip install nox`, then `nox -s NAME`).

- `nox -s tests`: the whole suite (Rust and Python) on the newest torch, as CI runs it.
- `nox -s compat`: the fidelity tests against every supported torch release, each in its
  own virtual environment with a Python and a numpy of its era, then a table of the
  outcomes. `nox -s compat -- 2.0.1 2.6.0` runs only the releases named.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).resolve().parent

# Every torch minor release from 2.0, at its latest patch, each paired with a Python it
# publishes wheels for (and works on: torch 2.5's torch.save fails on CPython 3.13.0) and a
# numpy of its era: together they cover CPython 3.10-3.13 and numpy 1.23 to the newest.
# torch up to 2.3 was built against numpy 1.x and cannot import numpy 2.
MATRIX: list[tuple[str, str, str]] = [
    ("2.0.1", "3.10", "1.23.5"),
    ("2.1.2", "3.11", "1.24.4"),
    ("2.2.2", "3.12", "1.26.4"),
    ("2.3.1", "3.10", "1.25.2"),
    ("2.4.1", "3.11", "2.0.2"),
    ("2.5.1", "3.12", "2.1.3"),  # its torch.save fails on CPython 3.13.0 (read-only persistent_id)
    ("2.6.0", "3.12", "2.2.6"),
    ("2.7.1", "3.10", "2.2.6"),
    ("2.8.0", "3.11", "2.3.5"),
    ("2.9.1", "3.12", "2.3.5"),
    ("2.10.0", "3.13", "2.4.6"),
    ("2.11.0", "3.10", "2.2.6"),
    ("2.12.1", "3.11", "2.4.6"),
    ("2.13.0", "3.12", "2.5.5"),
    ("2.14.1", "3.10", "2.2.6"),
    ("2.15.0", "3.13", "2.5.5"),
]

# The tests that compare onecycle with the installed torch (and schedule() with its values);
# the integration tests need the newest Lightning, accelerate and transformers.
FIDELITY_TESTS = [
    "tests/test_dropin.py",
    "tests/test_onecycle_lr.py",
    "tests/test_robustness.py",
    "tests/test_schedule.py",
    "tests/test_schedule_paths.py",
    "tests/test_total_steps.py",
    "tests/test_api_docs.py",
    "tests/test_range_test.py",
    "tests/test_phase_keys.py",
    "tests/test_replan.py",
]


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The README's test command in a fresh virtual environment: `pip install '.[test]'`,
    `cargo test`, `pytest`."""
    session.run("bash", str(ROOT / ".ci" / "run"), external=True)


def _interpreter(version: str) -> str:
    """An executable of CPython `version` ("3.10"): on PATH, or installed by pyenv."""
    found = shutil.which(f"python{version}")
    # (a pyenv shim is on PATH for every version, but runs only the selected ones)
    if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
        return found
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=True).stdout.strip()
    else:  # pyenv's versions, where pyenv itself is not on PATH
        root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")))
    if candidates:
        return candidates[-1]
    raise FileNotFoundError(f"no python{version} on PATH or in pyenv: install CPython {version} first")


def _build_wheel(session: nox.Session, out: Path) -> Path:
    """The release wheel (abi3, manylinux2014), built once for every environment."""
    session.run("maturin", "build", "--release", "--zig", "--out", str(out), external=True)
    (wheel,) = out.glob("onecycle-*.whl")
    return wheel


def _table(rows: list[dict[str, str]]) -> str:
    columns = ["torch", "Python", "numpy", "fidelity tests", "step() vs torch, 1 group", "4 groups"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in rows]
    return "\n".join(lines)


@nox.session(python=False)
def compat(session: nox.Session) -> None:
    """The fidelity tests on every torch release of MATRIX (or those given after `--`),
    one virtual environment at a time, each removed after use (with torch's CUDA wheels
    each holds several GB). Prints release x Python x numpy x outcome, and how long
    onecycle's step() takes against torch's on that release."""
    wanted = session.posargs or [release for release, _, _ in MATRIX]
    unknown = sorted(set(wanted) - {release for release, _, _ in MATRIX})
    if unknown:
        session.error(f"not in the matrix: {', '.join(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="onecycle-compat-"))
    env = {"ONECYCLE_HYPOTHESIS_EXAMPLES": os.environ.get("ONECYCLE_HYPOTHESIS_EXAMPLES", "60")}
    rows: list[dict[str, str]] = []
    try:
        wheel = _build_wheel(session, work / "wheel")
        for release, python, numpy in MATRIX:
            if release not in wanted:
                continue
            venv = work / f"torch-{release}"
            started = time.monotonic()
            session.run(_interpreter(python), "-m", "venv", str(venv), external=True)
            py = str(venv / "bin" / "python")
            session.run(py, "-m", "pip", "install", "--quiet", "--upgrade", "pip", external=True)
            session.run(
                py, "-m", "pip", "install", "--quiet", str(wheel),
                f"torch=={release}", f"numpy=={numpy}", "hypothesis", "pytest",
                external=True,
            )  # fmt: skip
            versions = session.run(
                py, "-c", "import sys, numpy, torch; print(sys.version.split()[0], numpy.__version__, torch.__version__)",
                external=True, silent=True,
            ).split()  # fmt: skip
            code = subprocess.call(
                [py, "-m", "pytest", "-p", "no:cacheprovider", "-q", *FIDELITY_TESTS],
                cwd=ROOT,
                env={**os.environ, **env},
            )
            bench = json.loads(
                session.run(py, str(ROOT / "benches" / "bench.py"), "--step-only", external=True, silent=True)
            )
            rows.append(
                {
                    "torch": versions[2],
                    "Python": versions[0],
                    "numpy": versions[1],
                    "fidelity tests": "passed" if code == 0 else f"FAILED (pytest exit {code})",
                    "step() vs torch, 1 group": f"{bench['1']:.1f}x faster",
                    "4 groups": f"{bench['4']:.1f}x faster",
                }
            )
            shutil.rmtree(venv)
            session.log(
                f"torch {release}: {rows[-1]['fidelity tests']} in {time.monotonic() - started:.0f} s"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = _table(rows)
    print(table)
    (ROOT / ".nox").mkdir(exist_ok=True)
    (ROOT / ".nox" / "compat.md").write_text(table + "\n")
    failed = [row["torch"] for row in rows if row["fidelity tests"] != "passed"]
    if failed:
        session.error(f"fidelity tests failed on torch {', '.join(failed)}")
