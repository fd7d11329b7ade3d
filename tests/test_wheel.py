"""The wheel recipe of docs/install.md (`maturin build --release --zig -o dist`, then
`pip install dist/onecycle-*.whl`), run as written, gives one abi3 wheel,
tagged for glibc 2.17 (manylinux2014) as auditwheel agrees, that installs with pip in a
fresh virtual environment with no Rust toolchain on its PATH, and works there. The sdist
builds and installs too."""

from __future__ import annotations

import os
import re
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


# The newest glibc a wheel may need: torch's own wheels need 2.28.
NEWEST_GLIBC = (2, 28)


def glibc_of(tag: str) -> tuple[int, int]:
    """The glibc a manylinux platform tag names (manylinux2014 is glibc 2.17)."""
    if tag.startswith("manylinux2014_"):
        return (2, 17)
    found = re.fullmatch(r"manylinux_(\d+)_(\d+)_\w+", tag)
    assert found, f"not a manylinux tag: {tag}"
    return int(found[1]), int(found[2])


def build_wheel(dist: Path) -> Path:
    built = subprocess.run(
        [maturin(), "build", "--release", "--zig", "--interpreter", sys.executable, "--out", str(dist)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("*.whl")
    return wheel


INSTALL_PAGE = ROOT / "docs" / "install.md"


def wheel_recipe() -> list[str]:
    """The commands of docs/install.md's "From a wheel" section, one per line."""
    section = INSTALL_PAGE.read_text().split("\n## From a wheel\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "docs/install.md's From a wheel section has no sh block"
    return found[1].splitlines()


def test_wheel_recipe_is_three_commands() -> None:
    assert wheel_recipe() == [
        "pip install maturin ziglang",  # the test extra has both
        "maturin build --release --zig -o dist",
        "pip install dist/onecycle-*.whl",
    ]


def source_tree(to: Path) -> Path:
    """A copy of the checkout (its tracked and new files, not what git ignores): the wheel
    recipe runs in there as in a fresh clone, with a `dist/` of its own."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, to / name)
    return to


def build_wheel_as_written(checkout: Path) -> Path:
    """The recipe's build command, run as written in `checkout` (cargo's build cache is
    this checkout's `target/`, so nothing is compiled twice); returns the one wheel in
    `checkout/dist`."""
    command = wheel_recipe()[1].split()
    assert command[0] == "maturin"
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    built = subprocess.run([maturin(), *command[1:]], cwd=checkout, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = (checkout / "dist").glob("*.whl")
    return wheel


def venv_without_rust(venv: Path) -> tuple[dict[str, str], Path]:
    """A fresh virtual environment, and an environment for commands in it that has no
    cargo or rustc on its PATH."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUSTUP", "VIRTUAL_ENV", "PYTHON"))
    }
    env["PATH"] = path
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env, bin_dir


def test_wheel_is_tagged_for_old_glibc_as_auditwheel_agrees(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    platform_tags = wheel.name.removesuffix(".whl").split("-")[-1].split(".")
    assert all(glibc_of(tag) <= NEWEST_GLIBC for tag in platform_tags), wheel.name
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r'consistent with the following platform tag:\s+"([^"]+)"', shown)
    assert found, shown
    # auditwheel reads the symbols the library needs; the tag the wheel carries is theirs.
    assert glibc_of(found[1]) == min(glibc_of(tag) for tag in platform_tags), (found[1], wheel.name)


def test_wheel_installs_and_runs_without_rust(tmp_path: Path) -> None:
    checkout = source_tree(tmp_path / "checkout")
    # What `pip install .` leaves behind, which made `pip install target/wheels/*.whl` fail:
    # the recipe's own folder keeps it out.
    (checkout / "target" / "wheels").mkdir(parents=True)
    (checkout / "target" / "wheels" / f"onecycle-{onecycle.__version__}-cp312-cp312-linux_x86_64.whl").touch()
    wheel = build_wheel_as_written(checkout)
    assert "-abi3-" in wheel.name, wheel.name
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"onecycle/py.typed", "onecycle/_core.pyi", "onecycle/cli/__init__.py"} <= names
    assert any(name.startswith("onecycle/_core.") and name.endswith((".so", ".pyd")) for name in names)

    venv = tmp_path / "venv"
    # Only the new environment and the system's own tools: no cargo, no rustc.
    env, _ = venv_without_rust(venv)

    def inside(*command: str, cwd: Path = tmp_path) -> str:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    # The recipe's install command, as written, in the checkout (the shell expands the
    # glob); pip must not build anything, so the wheel is complete as it is.
    installed = inside("bash", "-c", wheel_recipe()[2], cwd=checkout)
    assert "Building wheel" not in installed and wheel.name in installed
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


def test_sdist_builds_and_installs_in_a_fresh_venv(tmp_path: Path) -> None:
    """`maturin sdist`, then `pip install` of it: pip fetches maturin to build it, with the
    Rust toolchain of this machine."""
    dist = tmp_path / "dist"
    built = subprocess.run([maturin(), "sdist", "--out", str(dist)], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (sdist,) = dist.glob("onecycle-*.tar.gz")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(sdist)], env=env, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    ran = subprocess.run(
        [str(python), "-c", "import onecycle; print(onecycle.schedule(10, 0.1).lr.tobytes().hex())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    assert bytes.fromhex(ran.stdout.strip()) == onecycle.schedule(10, 0.1).lr.tobytes()
