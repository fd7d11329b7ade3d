"""`maturin build --release` gives an abi3 wheel that installs with pip, in a fresh virtual
environment with no Rust toolchain on its PATH, and works there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onecycle

ROOT = Path(__file__).resolve().parent.parent


def maturin() -> str:
    """The maturin the test extra installed beside this Python, or one on the PATH."""
    found = shutil.which("maturin", path=str(Path(sys.executable).parent)) or shutil.which("maturin")
    assert found is not None, "maturin is not installed (it is in the test extra)"
    return found


def test_wheel_installs_and_runs_without_rust(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [maturin(), "build", "--release", "--interpreter", sys.executable, "--out", str(dist)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("*.whl")
    assert "-abi3-" in wheel.name, wheel.name
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"onecycle/py.typed", "onecycle/_core.pyi", "onecycle/cli/__init__.py"} <= names
    assert any(name.startswith("onecycle/_core.") and name.endswith((".so", ".pyd")) for name in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    # Only the new environment and the system's own tools: no cargo, no rustc.
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUSTUP", "VIRTUAL_ENV", "PYTHON"))
    }
    env["PATH"] = path
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def inside(*command: str, cwd: Path = tmp_path) -> str:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    # --only-binary: pip may not build anything, so the wheel must be complete as it is.
    inside("python", "-m", "pip", "install", "--quiet", "--only-binary=:all:", str(wheel))
    where, torch_imported = inside(
        "python", "-c", "import onecycle, sys; print(onecycle.__file__); print('torch' in sys.modules)"
    ).splitlines()
    assert Path(where).is_relative_to(venv) and torch_imported == "False"
    work = tmp_path / "work"
    work.mkdir()
    inside("onecycle", "generate", "--total-steps", "5000", "--three-phase", "-o", "s.npy", cwd=work)
    lr, momentum = np.load(work / "s.npy")
    expected = onecycle.schedule(5000, 0.01, three_phase=True)
    assert lr.tobytes() == expected.lr.tobytes() and momentum.tobytes() == expected.momentum.tobytes()
    info = inside("onecycle", "info")
    assert info.startswith(f"onecycle {onecycle.__version__}\n")
    assert "torch not installed" in info
