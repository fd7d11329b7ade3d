"""``onecycle.schedule``: argument handling around the Rust fill."""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from onecycle import _core

__all__ = ["Schedule", "schedule"]

MAX_STEPS = 2**63 - 1
# The core's list of the schedule's parameters: (name, kind, default, help, choices), in the
# order of schedule()'s signature, which spells them out once more for readers and type
# checkers (a test holds the two to each other).
PARAMETER_NAMES = tuple(p[0] for p in _core.PARAMETERS)
FLOAT_PARAMETERS = tuple(p[0] for p in _core.PARAMETERS if p[1] == "float")


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


def _array(what: str, value: object, kinds: str) -> npt.NDArray[Any]:
    """``value`` (a number, an array or a nested sequence) as a numpy array of one of the
    dtype ``kinds`` (an empty one of any number kind); else TypeError, saying ``what``."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what}, got {value!r}")
    try:
        array = _asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what}, got {value!r}") from e
    if array.dtype.kind not in kinds and not (array.size == 0 and array.dtype.kind == "f"):  # [] is float
        raise TypeError(f"{what}, got {type(value).__name__} of dtype {array.dtype}")
    return array


def _floats(name: str, value: object) -> npt.NDArray[np.float64]:
    """A real number or an array (or nested sequence) of them, as float64."""
    array = _array(f"{name} must be a real number or an array of real numbers", value, "iuf")
    return array.astype(np.float64, copy=False)


def _physical_memory() -> int | None:
    """This machine's memory in bytes, where the platform tells."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


_MEMORY = _physical_memory()


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
    steps: npt.ArrayLike | None = None,
    dtype: npt.DTypeLike | None = None,
    exact: bool = True,
    out: tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]] | None = None,
    replan: Sequence[tuple[int, int]] | None = None,
) -> Schedule:
    """Learning rate and momentum of a 1cycle schedule, for a window of steps or at chosen
    steps.

    Element ``i`` of each array equals, bit for bit, what torch's ``OneCycleLR`` (with the
    same arguments, one parameter group) holds in ``group['lr']`` and
    ``group['momentum']`` when ``last_epoch == start + i`` (with ``steps``: when
    ``last_epoch == steps[i]``).

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
    steps : int or array_like of int, optional
        Instead of a window: the values at these steps, in any order, repeated or not, each
        in ``0..=total_steps``; bit-identical to the window at those steps. In order
        about as fast per value as a window; in random order about 1.25x the window for
        cos (the platform ``cos`` branches on its argument, so it is called class by class
        of the argument) and about 1.5x for linear (each step is read to check it, then
        to compute).
        Cannot be combined with ``start`` or ``stop``.
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

    replan : sequence of (int, int), optional
        ``(step, total_steps)`` pairs: the schedule re-planned (as
        :meth:`OneCycleLR.replan` re-plans a running scheduler) when ``last_epoch`` reaches
        each ``step``, onto a cycle of that ``total_steps``: bit-identical to stepping a
        scheduler so re-planned. The steps go in order, each at most the ``total_steps``
        then in force; each ``total_steps`` leaves at least one step after its step.
        ``stop`` then defaults to the last ``total_steps``, and the window or ``steps`` lie
        within that cycle.

    Returns
    -------
    Schedule
        ``(lr, momentum)``, each of shape ``broadcast_shape + (stop - start,)`` (with
        ``steps``: ``broadcast_shape + numpy.shape(steps)``), where ``broadcast_shape`` is
        the broadcast shape of the float parameters (``()`` when all are scalars); the
        arrays of ``out`` when given.

    Raises
    ------
    TypeError
        A parameter of the wrong type (a bool or float where an int belongs, a string
        where a number belongs, an ``out`` that is not a pair of numpy arrays), or
        ``steps`` given with ``start`` or ``stop``.
    ValueError
        A value out of range, parameters that do not broadcast, a window or ``steps``
        that contains a step falling in a phase of zero width (where torch's ``OneCycleLR`` fails with
        ``ZeroDivisionError``: ``pct_start * total_steps == 1``, or ``pct_start=1.0`` at
        the extra step), or ``out`` arrays of the wrong dtype or shape, not C-contiguous,
        read-only, or overlapping each other; a ``replan`` step out of order, or one
        leaving no step.
    OverflowError
        ``total_steps`` (or a step) beyond 2**63 - 1, or a float parameter given as an int
        too large for a float.
    MemoryError
        Outputs (or broadcast parameters) larger than the machine's memory, or too large
        to allocate, naming their size; raised before anything is allocated.
    """
    params = locals()
    params = {name: params[name] for name in PARAMETER_NAMES}
    params["total_steps"] = _integer("total_steps", total_steps)
    if steps is None:
        start = _integer("start", start)
        stop = None if stop is None else _integer("stop", stop)
    elif start != 0 or stop is not None:
        raise TypeError("steps= takes the place of start= and stop=: give one or the other")
    else:
        steps = _steps(steps)
    if not isinstance(three_phase, (bool, np.bool_)):
        raise TypeError(f"three_phase must be a bool, got {type(three_phase).__name__}")
    params["three_phase"] = bool(three_phase)
    if not isinstance(exact, (bool, np.bool_)):
        raise TypeError(f"exact must be a bool, got {type(exact).__name__}")
    if out is not None and not (
        isinstance(out, tuple) and len(out) == 2 and all(isinstance(a, np.ndarray) for a in out)
    ):
        raise TypeError(f"out must be a tuple of two numpy arrays (lr, momentum), got {type(out).__name__}")
    shape = _broadcast_floats(params)
    output: _core._Output = {"dtype": dtype, "exact": bool(exact), "out": out, "memory": _MEMORY}
    at = (start, stop) if steps is None else steps
    replans = None if replan is None else _replans(replan)
    lr, momentum = _core.schedule(shape=shape, at=at, output=output, replan=replans, **params)
    return Schedule(lr, momentum)


def _broadcast_floats(params: dict[str, Any]) -> tuple[int, ...]:
    """Converts the float parameters in ``params`` in place: plain numbers to floats (the
    common case, which the core takes as they are), anything else to float64 arrays
    broadcast to their common shape (views: nothing is copied). Returns that shape, ``()``
    when all are numbers."""
    floats = [name for name in FLOAT_PARAMETERS if type(params[name]) is not float]
    if all(type(params[name]) is int for name in floats):
        for name in floats:
            params[name] = _scalar(name, params[name])
        return ()
    arrays = {name: _floats(name, params[name]) for name in FLOAT_PARAMETERS}
    try:
        shape: tuple[int, ...] = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError as e:
        shapes = ", ".join(f"{k} {a.shape}" for k, a in arrays.items() if a.shape)
        raise ValueError(f"the float parameters do not broadcast together: {shapes}") from e
    params.update((name, np.broadcast_to(a, shape)) for name, a in arrays.items())
    return shape


def _replans(value: object) -> list[tuple[int, int]]:
    """``replan=``: a sequence of ``(step, total_steps)`` pairs of integers, each within
    int64."""
    wrong = TypeError(f"replan must be a sequence of (step, total_steps) pairs of integers, got {value!r}")

    def sequence(x: object) -> bool:
        return isinstance(x, Sequence | np.ndarray) and not isinstance(x, (str, bytes))

    if not sequence(value):
        raise wrong
    pairs = []
    for pair in value:  # type: ignore[attr-defined]
        if not sequence(pair) or len(pair) != 2:
            raise wrong
        step, total = (
            _int64(f"replan {name}", x) for name, x in zip(("step", "total_steps"), pair, strict=True)
        )
        pairs.append((step, total))
    return pairs


def _int64(name: str, value: object) -> int:
    """An integer (:func:`_integer`) the core can count with: at most 2**63 - 1 (and at
    least -2**63)."""
    number = _integer(name, value)
    if number > MAX_STEPS:
        raise OverflowError(f"{name} must be at most 2**63 - 1, got {_show(number)}")
    if number < -(2**63):
        raise OverflowError(f"{name} must be at least -2**63, got {_show(number)}")
    return number


def _steps(value: object) -> npt.NDArray[np.int64]:
    """Step indices (an int, or an array or nested sequence of ints) as a C-contiguous
    int64 array; the core checks that each lies in ``0..=total_steps``."""
    array = _array("steps must be an integer or an array of integers", value, "iu")
    if array.dtype == np.uint64 and array.size and int(array.max()) > MAX_STEPS:
        raise OverflowError(f"steps must be at most 2**63 - 1, got {int(array.max())}")
    return np.asarray(array, dtype=np.int64, order="C")
