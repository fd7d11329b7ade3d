"""``onecycle.schedule``: argument handling around the Rust fill."""

from __future__ import annotations

import math
import operator
import os
import warnings
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from onecycle import _core

__all__ = ["Schedule", "schedule"]

MAX_STEPS = 2**63 - 1
_FLOAT64, _FLOAT32 = np.dtype(np.float64), np.dtype(np.float32)
_DTYPES = (_FLOAT64, _FLOAT32)


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
    if type(value) is int:
        return value
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


def _ragged_warning() -> type[Warning] | None:
    """The warning numpy gives when it makes an object array of ragged sequences (before
    1.24, a VisibleDeprecationWarning), or None where it raises ValueError instead."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            np.asarray([[0.0], [0.0, 0.0]])
        except ValueError:
            return None
    return caught[0].category if caught else None


_RAGGED_WARNING = _ragged_warning()


def _asarray(value: object) -> npt.NDArray[Any]:
    """``np.asarray(value)``, raising ValueError for ragged sequences in every numpy release
    (instead of the warning of numpy < 1.24, which a warnings filter may turn into an error
    of its own)."""
    if _RAGGED_WARNING is None:
        return np.asarray(value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", _RAGGED_WARNING)
        try:
            return np.asarray(value)
        except _RAGGED_WARNING as e:
            raise ValueError(str(e)) from None


def _floats(name: str, value: object) -> npt.NDArray[np.float64]:
    """A real number or an array (or nested sequence) of them, as float64."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real number or an array of real numbers, got {value!r}")
    try:
        array = _asarray(value)
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
    allocation could succeed and the fill would then exhaust the memory. ``itemsize`` is
    0 when the caller's ``out=`` arrays (a memmap, perhaps larger than memory) are filled."""
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
    dtype: npt.DTypeLike | None = None,
    exact: bool = True,
    out: tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]] | None = None,
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
    dtype : numpy.float64 or numpy.float32, optional
        float32 gives the float64 values rounded to nearest (computed block by block: no
        float64 array of the full length is made). Defaults to the dtype of ``out``, else
        float64.
    exact : bool, default True
        False evaluates the cosine with a vectorised polynomial instead of the platform's
        ``cos``: several times faster, no longer bit-identical to torch. Each value then
        differs from the exact one by at most 2 units in the
        last place of the largest value the output anneals between (for lr, the largest
        of ``initial_lr``, ``max_lr`` and ``min_lr``; for momentum, the larger momentum);
        the cosine itself is within 2 ulp of the platform's (1 ulp measured). Linear
        schedules are the same in both modes.
    out : (numpy.ndarray, numpy.ndarray), optional
        Arrays to fill instead of allocating new ones (``numpy.memmap`` included, so a
        schedule larger than memory can be written to disk window by window). Each must
        have the result's shape and dtype, be C-contiguous and writeable, and the two must
        not overlap. They are returned, filled.

    Returns
    -------
    Schedule
        ``(lr, momentum)``, each of shape ``broadcast_shape + (stop - start,)``, where
        ``broadcast_shape`` is the broadcast shape of the float parameters (``()`` when
        all are scalars); the arrays of ``out`` when given.

    Raises
    ------
    TypeError
        A parameter of the wrong type (a bool or float where an int belongs, a string
        where a number belongs, an ``out`` that is not a pair of numpy arrays).
    ValueError
        A value out of range, parameters that do not broadcast, a window that contains a
        step falling in a phase of zero width (where torch's ``OneCycleLR`` fails with
        ``ZeroDivisionError``: ``pct_start * total_steps == 1``, or ``pct_start=1.0`` at
        the extra step), or ``out`` arrays of the wrong dtype or shape, not C-contiguous,
        read-only, or overlapping each other.
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
    if not isinstance(exact, (bool, np.bool_)):
        raise TypeError(f"exact must be a bool, got {type(exact).__name__}")
    if out is not None:
        if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(a, np.ndarray) for a in out)):
            raise TypeError(
                f"out must be a tuple of two numpy arrays (lr, momentum), got {type(out).__name__}"
            )
        if dtype is None:
            dtype = out[0].dtype
    out_dtype: np.dtype[Any]
    if dtype is None:
        out_dtype = _FLOAT64
    else:
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

    def core(stop: int, out: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
        return _core.schedule(
            total_steps=total_steps,
            start=start,
            stop=stop,
            three_phase=bool(three_phase),
            anneal_strategy=anneal_strategy,
            float32=out_dtype is _FLOAT32 or out_dtype == _FLOAT32,
            exact=bool(exact),
            out=out,
            **columns,
        )

    try:
        _check_fits(math.prod(shape), stop - start, out_dtype.itemsize if out is None else 0, len(given))
    except MemoryError:
        if params is None:
            # A bad value is the clearer error: the core checks the values on an empty
            # window (nothing is allocated) and raises it first.
            core(start, None)
        raise
    if params is not None:
        columns = {k: np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for k, a in params.items()}
    steps = stop - start
    if out is not None:
        _check_out(out, (*shape, steps), out_dtype)
    lr, momentum = core(stop, out)
    if out is not None:
        return Schedule(*out)
    if not shape:
        return Schedule(lr, momentum)
    return Schedule(lr.reshape((*shape, steps)), momentum.reshape((*shape, steps)))


def _check_out(out: tuple[np.ndarray, np.ndarray], shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Refuses, before any work, out arrays the schedule cannot be written into."""
    for name, array in zip(("lr", "momentum"), out, strict=True):
        where = f"out: the {name} array"
        if array.dtype != dtype:
            raise ValueError(f"{where} has dtype {array.dtype}, the schedule's dtype is {dtype}")
        if array.shape != shape:
            raise ValueError(f"{where} has shape {array.shape}, the schedule's shape is {shape}")
        if not array.flags.c_contiguous:
            raise ValueError(f"{where} must be C-contiguous (a slice along the last axis, or a copy)")
        if not array.flags.writeable:
            raise ValueError(f"{where} is read-only")
    if out[0].size and np.may_share_memory(out[0], out[1]):
        raise ValueError("out: the lr and momentum arrays overlap in memory; give two separate arrays")
