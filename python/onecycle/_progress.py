"""The progress bar of long runs: ``onecycle generate`` and ``onecycle.lr_range_test``."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Any


def progress_bar(show: bool | None, total: int, **options: Any) -> AbstractContextManager[Any]:
    """A tqdm bar of ``total`` steps on stderr: from the start (``show`` True), never
    (False), or once the work has taken more than half a second (None). ``options`` go to
    tqdm (``desc``, ``unit_scale``). As a context manager it gives the bar, or None."""
    if show is False:
        return nullcontext(None)
    from tqdm import tqdm

    bar: AbstractContextManager[Any] = tqdm(
        total=total,
        unit="step",
        delay=0.0 if show else 0.5,
        file=sys.stderr,
        dynamic_ncols=True,
        **options,
    )
    return bar
