"""``onecycle.schedule``: argument handling around the Rust fill."""

from __future__ import annotations

import math
import operator
import os
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from onecycle import _core

__all__ = ["Schedule", "schedule"]

MAX_STEPS = 2**63 - 1
_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


class Schedule(NamedTuple):
    """Learning rate and momentum, one element per step (last axis)."""

    lr: npt.NDArray[np.floating[Any]]
    momentum: npt.NDArray[np.floating[Any]]


def _show(value: int) -> str:
    """An int for an error message; one too long for ``str()`` by its size instead."""
    if value.bit_length() > 256:
        return f"{'a negative' if value < 0 else 'an'} integer of {value.bit_length()} bits"
    return str(value)


def _integer(name: str, value: object) -> int:
    """An int, or a numpy integer; not a bool, a float or a string."""
    if isinstance(value, (bool, np.bool_)) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError as e:  # e.g. a numpy array of more than one element
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from e


def _scalar(name: str, value: Any) -> float:
    """A plain int or float as the core's float (as ``float()`` converts it)."""
    try:
        return float(value)
    except OverflowError:
        raise OverflowError(
            f"{name} must be a finite number, got {_show(int(value))}, too large for a float"
        ) from None


def _floats(name: str, value: object) -> npt.NDArray[np.float64]:
    """A real number or an array (or nested sequence) of them, as float64."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real number or an array of real numbers, got {value!r}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a real number or an array of real numbers, got {value!r}") from e
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be a real number or an array of real numbers, "
            f"got {type(value).__name__} of dtype {array.dtype}"
        )
    return array.astype(np.float64, copy=False)


def _physical_memory() -> int | None:
    """This machine's memory in bytes, where the platform tells."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


_MEMORY = _physical_memory()


def _check_fits(configs: int, steps: int, itemsize: int, params: int) -> None:
    """MemoryError, before anything is allocated, for outputs (and broadcast parameter
    columns) larger than the machine's memory. Where the kernel overcommits, such an
    allocation could succeed and the fill would then exhaust the memory."""
    values = configs * steps
    columns = params * 8 * configs if configs > 1 else 0
    need = 2 * values * itemsize + columns
    if _MEMORY is None or need <= _MEMORY:
        return
    if 2 * values * itemsize > _MEMORY:
        what = f"lr needs {values} values ({values * itemsize} bytes)"
    else:
        what = f"the broadcast parameters make {configs} configurations ({columns} bytes)"
    raise MemoryError(
        f"{what}, more than can be allocated (the call needs {need} bytes, the machine has "
        f"{_MEMORY}); ask for a window with start= and stop=, or fewer configurations"
    )


def schedule(
    total_steps: int,
    max_lr: npt.ArrayLike,
    *,
    pct_start: npt.ArrayLike = 0.3,
    anneal_strategy: str = "cos",
    base_momentum: npt.ArrayLike = 0.85,
    max_momentum: npt.ArrayLike = 0.95,
    div_factor: npt.ArrayLike = 25.0,
    final_div_factor: npt.ArrayLike = 1e4,
    three_phase: bool = False,
    start: int = 0,
    stop: int | None = None,
    dtype: npt.DTypeLike = np.float64,
) -> Schedule:
    """Learning rate and momentum of a 1cycle schedule, for a window of steps.

    Element ``i`` of each array equals, bit for bit, what torch's ``OneCycleLR`` (with the
    same arguments, one parameter group) holds in ``group['lr']`` and
    ``group['momentum']`` when ``last_epoch == start + i``.

    Parameters
    ----------
    total_steps : int
        Steps in the cycle, 1 to 2**63 - 1.
    max_lr : float or array_like
        Peak learning rate; finite and greater than 0.
    pct_start : float or array_like, default 0.3
        Fraction of the cycle spent raising the learning rate, in [0, 1].
    anneal_strategy : {'cos', 'linear'}, default 'cos'
    base_momentum, max_momentum : float or array_like, default 0.85, 0.95
        Momentum at the peak and at both ends; finite.
    div_factor : float or array_like, default 25.0
        ``initial_lr = max_lr / div_factor``; finite and greater than 0.
    final_div_factor : float or array_like, default 1e4
        ``min_lr = initial_lr / final_div_factor``; finite and greater than 0.
    three_phase : bool, default False
        Use the three-phase layout of the original paper.
    start, stop : int, optional
        The window of steps ``[start, stop)``; ``stop`` defaults to ``total_steps`` and may
        be ``total_steps + 1`` (the one extra step torch allows).
    dtype : numpy.float64 or numpy.float32, default numpy.float64
        float32 gives the float64 values rounded to nearest.

    Returns
    -------
    Schedule
        ``(lr, momentum)``, each of shape ``broadcast_shape + (stop - start,)``, where
        ``broadcast_shape`` is the broadcast shape of the float parameters (``()`` when
        all are scalars).

    Raises
    ------
    TypeError
        A parameter of the wrong type (a bool or float where an int belongs, a string
        where a number belongs).
    ValueError
        A value out of range, parameters that do not broadcast, or a window that contains a
        step falling in a phase of zero width (where torch's ``OneCycleLR`` fails with
        ``ZeroDivisionError``: ``pct_start * total_steps == 1``, or ``pct_start=1.0`` at
        the extra step).
    OverflowError
        ``total_steps`` beyond 2**63 - 1.
    MemoryError
        Outputs (or broadcast parameters) larger than the machine's memory, or too large
        to allocate, naming their size; raised before anything is allocated.
    """
    total_steps = _integer("total_steps", total_steps)
    if total_steps < 1:
        raise ValueError(f"total_steps must be a positive integer (1 to 2**63 - 1), got {_show(total_steps)}")
    if total_steps > MAX_STEPS:
        raise OverflowError(f"total_steps must be at most 2**63 - 1, got {_show(total_steps)}")
    start = _integer("start", start)
    stop = total_steps if stop is None else _integer("stop", stop)
    if not 0 <= start <= stop <= total_steps + 1:
        raise ValueError(
            "the window must satisfy 0 <= start <= stop <= total_steps + 1 = "
            f"{total_steps + 1}, got start={_show(start)}, stop={_show(stop)}"
        )
    if not isinstance(anneal_strategy, str):
        raise TypeError(f"anneal_strategy must be 'cos' or 'linear', got {type(anneal_strategy).__name__}")
    if not isinstance(three_phase, (bool, np.bool_)):
        raise TypeError(f"three_phase must be a bool, got {type(three_phase).__name__}")
    try:
        out_dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32, got {dtype!r}") from e
    if out_dtype not in _DTYPES:
        raise ValueError(f"dtype must be numpy.float64 or numpy.float32, got {out_dtype}")

    given = {
        "max_lr": max_lr,
        "pct_start": pct_start,
        "div_factor": div_factor,
        "final_div_factor": final_div_factor,
        "base_momentum": base_momentum,
        "max_momentum": max_momentum,
    }
    columns: dict[str, Any]
    params: dict[str, npt.NDArray[np.float64]] | None = None
    if all(type(v) is float or type(v) is int for v in given.values()):
        # Plain numbers, the common case: the core takes them as they are.
        shape: tuple[int, ...] = ()
        columns = {name: _scalar(name, value) for name, value in given.items()}
    else:
        params = {name: _floats(name, value) for name, value in given.items()}
        try:
            shape = np.broadcast_shapes(*(a.shape for a in params.values()))
        except ValueError as e:
            shapes = ", ".join(f"{k} {a.shape}" for k, a in params.items() if a.shape)
            raise ValueError(f"the float parameters do not broadcast together: {shapes}") from e
    _check_fits(math.prod(shape), stop - start, out_dtype.itemsize, len(given))
    if params is not None:
        columns = {k: np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for k, a in params.items()}
    lr, momentum = _core.schedule(
        total_steps=total_steps,
        start=start,
        stop=stop,
        three_phase=bool(three_phase),
        anneal_strategy=anneal_strategy,
        float32=out_dtype == np.float32,
        **columns,
    )
    steps = stop - start
    return Schedule(lr.reshape((*shape, steps)), momentum.reshape((*shape, steps)))
