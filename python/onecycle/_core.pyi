"""The Rust extension module. Use ``onecycle.schedule`` and ``onecycle.OneCycleLR``."""

from typing import Any, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "FAST_MAX_ULP",
    "PARALLEL_MIN_STEPS",
    "Cycle",
    "__version__",
    "_cos_floor",
    "_write_floor",
    "schedule",
    "simd",
    "threads",
]

__version__: str
PARALLEL_MIN_STEPS: int
FAST_MAX_ULP: float

_Row = tuple[float, str, str, str, str]

def schedule(
    *,
    total_steps: int,
    start: int,
    stop: int,
    three_phase: bool,
    anneal_strategy: str,
    float32: bool,
    max_lr: float | npt.NDArray[np.float64],
    pct_start: float | npt.NDArray[np.float64],
    div_factor: float | npt.NDArray[np.float64],
    final_div_factor: float | npt.NDArray[np.float64],
    base_momentum: float | npt.NDArray[np.float64],
    max_momentum: float | npt.NDArray[np.float64],
    exact: bool = True,
    out: tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]] | None = None,
) -> tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]: ...
def _cos_floor(n: int) -> float: ...
def _write_floor(
    n: int, float32: bool
) -> tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]: ...

@final
class Cycle:
    def __new__(cls, phases: list[_Row], anneal_strategy: str) -> Cycle: ...
    def step(
        self, step: int, param_groups: object, cycle_momentum: bool
    ) -> tuple[list[float], list[float]] | None: ...
    def advance(
        self, step: int, param_groups: object, cycle_momentum: object, scheduler: object
    ) -> list[float] | None: ...
    def __reduce__(self) -> tuple[type[Cycle], tuple[list[_Row], str]]: ...

def threads() -> int: ...
def simd() -> str: ...
