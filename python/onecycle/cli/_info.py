"""``onecycle info``: versions, optional packages, threads and vector instructions."""

from __future__ import annotations

import argparse
import platform
from importlib import metadata

from onecycle import _core

__all__ = ["run"]

# The optional packages and what each one brings.
OPTIONAL = (
    ("torch", "onecycle.OneCycleLR and `onecycle compare`", "torch"),
    ("matplotlib", "`onecycle plot`", "plot"),
    ("pyarrow", "`onecycle generate -o FILE.parquet`", "parquet"),
    ("tqdm", "progress bars in `onecycle generate`", None),
)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def run(args: argparse.Namespace) -> int:
    """Run ``onecycle info``; returns 0."""
    print(f"onecycle {_core.__version__}")
    print(f"python {platform.python_version()} ({platform.machine()}), numpy {_version('numpy')}")
    for name, brings, extra in OPTIONAL:
        version = _version(name)
        if version is not None:
            print(f"{name} {version}: {brings}")
        else:
            hint = f": pip install 'onecycle[{extra}]'" if extra else ""
            print(f"{name} not installed (needed for {brings}{hint})")
    print(
        f"threads: {_core.threads()} (schedules of {_core.PARALLEL_MIN_STEPS} steps or more are "
        "filled on all of them; RAYON_NUM_THREADS sets the number)"
    )
    print(f"vector instructions: {_core.simd()} (every level gives the same values; ONECYCLE_SIMD caps it)")
    return 0
