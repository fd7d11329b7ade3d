"""The Rust extension module. Use ``onecycle.schedule`` and ``onecycle.OneCycleLR``."""

from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "FAST_MAX_ULP",
    "PARALLEL_MIN_STEPS",
    "PARAMETERS",
    "Cycle",
    "__version__",
    "_cos_floor",
    "_write_floor",
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

_Row = tuple[float, str, str, str, str]

def schedule(
    *,
    shape: tuple[int, ...],
    start: int,
    stop: int | None = None,
    steps: npt.NDArray[np.int64] | None = None,
    dtype: np.dtype[Any] | None = None,
    exact: bool = True,
    out: tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]] | None = None,
    memory: int | None = None,
    **params: object,
) -> tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]: ...
def phase_ends(*, total_steps: int, pct_start: float, three_phase: bool) -> list[float]: ...
def _cos_floor(n: int) -> float: ...
def _write_floor(
    n: int, float32: bool
) -> tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]: ...

@final
class Cycle:
    def __new__(cls, phases: list[_Row], anneal_strategy: str) -> Cycle: ...
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
        values: tuple[float, float, float, float, float],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
    def __reduce__(self) -> tuple[type[Cycle], tuple[list[_Row], str]]: ...

def threads() -> int: ...
def simd() -> str: ...
