"""The package's types: `mypy --strict` on the package, and the extension's stub checked
against the compiled module (`mypy.stubtest`)."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_mypy_strict_on_the_package() -> None:
    # [tool.mypy] in pyproject.toml: strict, on python/onecycle.
    done = mypy("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success: no issues found")


def test_stub_matches_the_compiled_module() -> None:
    # The allowlist names what only the `bench` feature builds: unused in the default build.
    done = mypy(
        "mypy.stubtest",
        "onecycle._core",
        "--allowlist",
        "stubtest-allowlist.txt",
        "--ignore-unused-allowlist",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found in 1 module" in done.stdout


def test_py_typed_is_installed() -> None:
    package = resources.files("onecycle")
    assert package.joinpath("py.typed").is_file()
    assert package.joinpath("_core.pyi").is_file()
