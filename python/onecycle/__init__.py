"""The 1cycle learning-rate policy, computed in Rust.

- :func:`schedule` returns a whole schedule (or a window of it, or a broadcast sweep over
  its parameters) as numpy arrays, bit-identical to stepping torch's ``OneCycleLR``.
- :class:`OneCycleLR` is a drop-in replacement for ``torch.optim.lr_scheduler.OneCycleLR``.
  It is imported on first use, so ``import onecycle`` does not import torch.
- :func:`plot` draws a schedule, or a sweep, on matplotlib axes, as the console command's
  ``onecycle plot`` does (matplotlib is imported only then).
- :func:`total_steps_for` counts the optimizer steps of a run (epochs, batches,
  gradient accumulation, processes) as Lightning and accelerate take them.
- :class:`LRRangeTest` is Smith's LR range test as a torch scheduler, for any training
  loop; :func:`lr_range_test` runs it in one call and puts the model, the optimizer and
  the random states back. Both return a :class:`RangeTestResult`, whose ``suggest()``
  reads a ``max_lr`` off the loss. Like ``OneCycleLR``, the two are imported on first use
  (``RangeTestResult`` needs no torch).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from onecycle._core import __version__
from onecycle._plot import plot
from onecycle._range_result import RangeTestResult
from onecycle._schedule import Schedule, schedule
from onecycle._steps import total_steps_for

if TYPE_CHECKING:
    from onecycle._range_test import LRRangeTest, lr_range_test
    from onecycle._torch import OneCycleLR

__all__ = [
    "LRRangeTest",
    "OneCycleLR",
    "RangeTestResult",
    "Schedule",
    "__version__",
    "lr_range_test",
    "plot",
    "schedule",
    "total_steps_for",
]

# The names that need torch: each imported from its module on first use.
_NEED_TORCH = {
    "OneCycleLR": "onecycle._torch",
    "LRRangeTest": "onecycle._range_test",
    "lr_range_test": "onecycle._range_test",
}


def __getattr__(name: str) -> Any:
    module = _NEED_TORCH.get(name)
    if module is None:
        raise AttributeError(f"module 'onecycle' has no attribute {name!r}")
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] != "torch":
            raise
        raise ModuleNotFoundError(
            f"onecycle.{name} needs torch, which is not installed: "
            "pip install 'onecycle[torch]' (onecycle.schedule works without it)",
            name="torch",
        ) from e
    return getattr(loaded, name)


def __dir__() -> list[str]:
    """The public API and onecycle's modules loaded so far: not the names this file imports
    for itself (``importlib``, ``Any``, ...)."""
    modules = {
        name
        for name, value in globals().items()
        if isinstance(value, ModuleType) and value.__name__ == f"{__name__}.{name}"
    }
    return sorted(set(__all__) | modules)
