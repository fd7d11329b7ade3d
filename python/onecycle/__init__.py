"""The 1cycle learning-rate policy, computed in Rust.

- :func:`schedule` returns a whole schedule (or a window of it, or a broadcast sweep over
  its parameters) as numpy arrays, bit-identical to stepping torch's ``OneCycleLR``.
- :class:`OneCycleLR` is a drop-in replacement for ``torch.optim.lr_scheduler.OneCycleLR``.
  It is imported on first use, so ``import onecycle`` does not import torch.
- :func:`total_steps_for` counts the optimizer steps of a run (epochs, batches,
  gradient accumulation, processes) as Lightning and accelerate take them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onecycle._core import __version__
from onecycle._schedule import Schedule, schedule
from onecycle._steps import total_steps_for

if TYPE_CHECKING:
    from onecycle._torch import OneCycleLR

__all__ = ["OneCycleLR", "Schedule", "__version__", "schedule", "total_steps_for"]


def __getattr__(name: str) -> Any:
    if name == "OneCycleLR":
        try:
            from onecycle._torch import OneCycleLR
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] != "torch":
                raise
            raise ModuleNotFoundError(
                "onecycle.OneCycleLR needs torch, which is not installed: "
                "pip install 'onecycle[torch]' (onecycle.schedule works without it)",
                name="torch",
            ) from e
        return OneCycleLR
    raise AttributeError(f"module 'onecycle' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"OneCycleLR"})
