"""The Rust extension module. Use ``onecycle.schedule`` and ``onecycle.OneCycleLR``."""

from typing import Any, TypedDict, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "FAST_MAX_ULP",
    "GROUP_KEYS",
    "PARALLEL_MIN_STEPS",
    "PARAMETERS",
    "PHASE_KEYS",
    "STRATEGIES",
    "Cycle",
    "__version__",
    "phase_ends",
    "schedule",
    "simd",
    "threads",
]

__version__: str
PARALLEL_MIN_STEPS: int
FAST_MAX_ULP: float
# (name, kind, default, help, choices) of each schedule parameter, in signature order.
PARAMETERS: tuple[tuple[str, str, int | float | str | bool | None, str, tuple[str, ...]], ...]
# The group keys torch's constructor writes, in the order initial_lr, max_lr, min_lr,
# max_momentum, base_momentum.
GROUP_KEYS: tuple[str, ...]
# The keys of a phase dict of torch's `_schedule_phases`, end_step first.
PHASE_KEYS: tuple[str, ...]
# The anneal_strategy names.
STRATEGIES: tuple[str, ...]

_Row = tuple[float, str, str, str, str]

class _Output(TypedDict):
    dtype: object
    exact: bool
    out: tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]] | None
    memory: int | None

def schedule(
    *,
    shape: tuple[int, ...],
    at: tuple[int, int | None] | npt.NDArray[np.int64],
    output: _Output,
    replan: list[tuple[int, int]] | None = None,
    **params: object,
) -> tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]: ...
def phase_ends(*, total_steps: int, pct_start: float, three_phase: bool) -> list[float]: ...

@final
class Cycle:
    def __new__(cls, phases: list[_Row], anneal_strategy: object) -> Cycle: ...
    def advance(
        self,
        step: int,
        param_groups: object,
        cycle_momentum: object,
        scheduler: object,
        with_lr: bool,
    ) -> list[float] | None: ...
    def values_at(
        self,
        steps: npt.NDArray[np.int64],
        total_steps: int,
        values: dict[str, float],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
    def replan(
        self, *, step: int, total_steps: int, pct_start: float, three_phase: bool, index: int
    ) -> tuple[list[_Row], tuple[str, str]]: ...
    def __reduce__(self) -> tuple[type[Cycle], tuple[list[_Row], str]]: ...

def threads() -> int: ...
def simd() -> str: ...
