"""The LR range test's arithmetic, without torch: its learning rates, the smoothed loss and
the divergence rule, and ``RangeTestResult`` with its suggestions.

``onecycle.LRRangeTest`` and ``onecycle.lr_range_test`` (``_range_test``, which needs
torch) record a test; everything computed from what they record is here.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from onecycle._steps import _count

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["RangeTestResult"]

MODES = ("exp", "linear")
METHODS = ("valley", "steepest")
#: The fewest points a suggestion is made from (after trimming).
MIN_POINTS = 3
#: Points dropped from the end of the recorded curve before suggesting (fastai's lr_find).
SKIP_END = 5


# --- Arguments -------------------------------------------------------------------------


def _real(name: str, value: Any) -> float:
    """``value`` as a float: ints, floats and numpy scalars; not bools or strings."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number, got an int too large for a float") from None


@dataclass(frozen=True)
class Settings:
    """The checked arguments of a range test."""

    start_lr: float
    end_lr: float
    num_steps: int
    mode: str
    smoothing: float
    divergence_factor: float


def check_settings(
    start_lr: Any, end_lr: Any, num_steps: Any, mode: Any, smoothing: Any, divergence_factor: Any
) -> Settings:
    """The range test's arguments, checked: ``TypeError`` for a value of the wrong kind,
    ``ValueError`` for one out of range, each naming the argument and what is allowed."""
    start = _real("start_lr", start_lr)
    if not (math.isfinite(start) and start > 0):
        raise ValueError(f"start_lr must be finite and greater than 0, got {start!r}")
    end = _real("end_lr", end_lr)
    if not (math.isfinite(end) and end > start):
        raise ValueError(f"end_lr must be finite and greater than start_lr={start!r}, got {end!r}")
    steps = _count("num_steps", num_steps, 2)
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    beta = _real("smoothing", smoothing)
    if not 0 <= beta < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {beta!r}")
    factor = _real("divergence_factor", divergence_factor)
    if not (math.isfinite(factor) and factor > 1):
        raise ValueError(f"divergence_factor must be finite and greater than 1, got {factor!r}")
    return Settings(start, end, steps, mode, beta, factor)


# --- The test's arithmetic ----------------------------------------------------------------


def scheduled_lr(step: int, start_lr: float, end_lr: float, num_steps: int, mode: str) -> float:
    """The learning rate of ``step`` (0-based): ``start_lr`` at step 0, ``end_lr`` exactly
    at step ``num_steps - 1`` and every later step; in between, with ``t = step /
    (num_steps - 1)``, ``start_lr * (end_lr / start_lr) ** t`` (``'exp'``) or ``start_lr +
    (end_lr - start_lr) * t`` (``'linear'``)."""
    last = num_steps - 1
    if step >= last:
        return end_lr
    if step <= 0:
        return start_lr
    t = step / last
    if mode == "exp":
        return start_lr * float((end_lr / start_lr) ** t)
    return start_lr + (end_lr - start_lr) * t


def smoothed_loss(average: float, count: int, loss: float, smoothing: float) -> tuple[float, float]:
    """One step of the debiased exponential moving average: given the running ``average``
    of the ``count`` losses before, returns the new running average and the smoothed
    loss, ``average / (1 - smoothing ** (count + 1))``."""
    average = smoothing * average + (1 - smoothing) * loss
    return average, average / (1 - smoothing ** (count + 1))


def divergence_threshold(best: float, factor: float) -> float:
    """The smoothed loss above which the test has diverged: ``best + (factor - 1) *
    |best|``, which is ``factor * best`` for a positive ``best``."""
    return best + (factor - 1) * abs(best)


# --- Suggestions -------------------------------------------------------------------------


def _valley(smoothed: npt.NDArray[np.float64]) -> int | None:
    """fastai's ``valley``: the index ``max_end - L + L // 3 + L // 6`` (at least 0), where
    ``L`` is the length of the longest strictly decreasing subsequence of ``smoothed`` and
    ``max_end`` the first index at which one of that length ends. None when ``L < 2``."""
    # tails[k]: the negated last value of the best strictly decreasing subsequence of
    # length k + 1 seen so far (increasing), as in patience sorting: O(n log n).
    tails: list[float] = []
    length, end = 0, 0
    for i, value in enumerate(smoothed.tolist()):
        k = bisect.bisect_left(tails, -value)
        if k == len(tails):
            tails.append(-value)
        else:
            tails[k] = -value
        if k + 1 > length:
            length, end = k + 1, i
    if length < 2:
        return None
    return max(0, end - length + length // 3 + length // 6)


def _gradient(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``numpy.gradient(y, x)``, written so that a flat stretch of ``y`` has a gradient of
    exactly 0: inside, the mean of the slopes on either side weighted by the other side's
    spacing, ``(h_l * s_r + h_r * s_l) / (h_l + h_r)`` (the same second-order formula for
    uneven spacing); at the two ends, the one slope there."""
    h = np.diff(x)
    slopes = np.diff(y) / h
    inner = (h[:-1] * slopes[1:] + h[1:] * slopes[:-1]) / (h[:-1] + h[1:])
    return np.concatenate([slopes[:1], inner, slopes[-1:]])


def _steepest(lrs: npt.NDArray[np.float64], smoothed: npt.NDArray[np.float64]) -> int | None:
    """The first index of the most negative gradient of ``smoothed`` with respect to
    ``log(lrs)``; None when the gradient is nowhere negative."""
    gradient = _gradient(np.log(lrs), smoothed)
    index = int(np.argmin(gradient))
    return index if gradient[index] < 0 else None


def _array(name: str, values: Any) -> npt.NDArray[np.float64]:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a sequence of numbers: {e}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class RangeTestResult:
    """What an LR range test recorded, and the learning rates it suggests.

    ``onecycle.LRRangeTest.result()`` and ``onecycle.lr_range_test`` return one; it can
    also be built from losses recorded elsewhere. Does not need torch.

    Attributes
    ----------
    lrs : numpy.ndarray of float64
        The learning rate of each recorded step, increasing.
    losses : numpy.ndarray of float64
        The loss recorded at each of those steps, as given (NaN and inf included).
    smoothed_losses : numpy.ndarray of float64
        The debiased exponential moving average of ``losses`` (see ``LRRangeTest``).
    num_steps : int
        The steps the test was set to take (it may have recorded fewer: it stopped when the
        loss diverged). The default ``skip_start`` of the suggestions is a tenth of it.
    diverged : bool
        Whether the smoothed loss diverged (the test's rule; see ``LRRangeTest``).
    """

    lrs: npt.NDArray[np.float64]
    losses: npt.NDArray[np.float64]
    smoothed_losses: npt.NDArray[np.float64]
    num_steps: int
    diverged: bool = False

    def __post_init__(self) -> None:
        arrays = {n: _array(n, getattr(self, n)) for n in ("lrs", "losses", "smoothed_losses")}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) != 1:
            shown = ", ".join(f"{n} {len(a)}" for n, a in arrays.items())
            raise ValueError(f"lrs, losses and smoothed_losses must have one length, got {shown}")
        lrs = arrays["lrs"]
        if not (np.all(np.isfinite(lrs)) and np.all(lrs > 0) and np.all(np.diff(lrs) > 0)):
            raise ValueError("lrs must be finite, greater than 0 and increasing")
        for name, array in arrays.items():
            object.__setattr__(self, name, array)
        object.__setattr__(self, "num_steps", _count("num_steps", self.num_steps, 2))
        if not isinstance(self.diverged, (bool, np.bool_)):
            raise TypeError(f"diverged must be True or False, got {self.diverged!r}")
        object.__setattr__(self, "diverged", bool(self.diverged))

    def window(self, *, skip_start: int | None = None, skip_end: int = SKIP_END) -> range:
        """The indices a suggestion is chosen from: from ``skip_start`` (by default
        ``num_steps // 10``, as fastai's ``lr_find``) up to the first non-finite smoothed
        loss, and without the last ``skip_end`` recorded points (default 5, as fastai's),
        whichever ends first."""
        start = self.num_steps // 10 if skip_start is None else _count("skip_start", skip_start, 0)
        end = len(self.lrs) - _count("skip_end", skip_end, 0)
        finite = np.isfinite(self.smoothed_losses)
        if not finite.all():
            end = min(end, int(np.argmin(finite)))
        return range(start, max(start, end))

    def suggest_index(
        self,
        method: Literal["valley", "steepest"] = "valley",
        *,
        skip_start: int | None = None,
        skip_end: int = SKIP_END,
    ) -> int:
        """The index into ``lrs`` of the suggested learning rate: see :meth:`suggest`."""
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
        window = self.window(skip_start=skip_start, skip_end=skip_end)
        if len(window) < MIN_POINTS:
            raise ValueError(
                f"too few points to suggest a learning rate: {len(self.lrs)} recorded, "
                f"{len(window)} left from index {window.start} (skip_start) to the first non-finite "
                f"smoothed loss or {len(self.lrs)} - skip_end; need at least {MIN_POINTS}. "
                "Record more steps (a larger num_steps, or a later divergence with a lower "
                "start_lr), or pass a smaller skip_start or skip_end"
            )
        part = slice(window.start, window.stop)
        smoothed = self.smoothed_losses[part]
        found = _valley(smoothed) if method == "valley" else _steepest(self.lrs[part], smoothed)
        if found is None:
            raise ValueError(
                f"the smoothed loss never falls between lrs[{window.start}] and lrs[{window.stop - 1}]: "
                "no learning rate to suggest (lower start_lr, or check that the loop trains)"
            )
        return window.start + found

    def plot(
        self, ax: Axes | None = None, *, method: Literal["valley", "steepest"] | None = "valley"
    ) -> Axes:
        """Draw the loss against the learning rate (a logarithmic axis): each step's
        loss, the smoothed loss, and the learning rate ``method`` suggests marked on it
        (``None``: no suggestion). On ``ax``, or on a new pyplot figure. Returns the axes.

        Raises
        ------
        ModuleNotFoundError
            matplotlib is not installed (``pip install 'onecycle[plot]'``).
        ValueError
            As :meth:`suggest`, when ``method`` cannot suggest.
        """
        from onecycle._plot import check_axes, matplotlib_or_explain

        matplotlib_or_explain("RangeTestResult.plot")
        index = None if method is None else self.suggest_index(method)
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
        else:
            check_axes(ax, "a matplotlib Axes")
        ax.plot(self.lrs, self.losses, color="C0", alpha=0.35, linewidth=0.8, label="loss")
        ax.plot(self.lrs, self.smoothed_losses, color="C0", label="smoothed loss")
        if index is not None:
            lr, loss = float(self.lrs[index]), float(self.smoothed_losses[index])
            ax.axvline(lr, color="C3", linestyle=":", linewidth=0.8)
            ax.plot([lr], [loss], "o", color="C3", markersize=5, label=f"suggested ({method}): {lr:.3g}")
        ax.set_xscale("log")
        finite = self.smoothed_losses[np.isfinite(self.smoothed_losses)]
        if finite.size:
            raw = self.losses[np.isfinite(self.losses)]
            low, high = float(min(finite.min(), raw.min(initial=np.inf))), float(finite.max())
            span = high - low or abs(high) or 1.0
            # From the lowest loss to the highest smoothed one: spikes of the raw loss (a
            # diverging tail) do not flatten the rest.
            ax.set_ylim(low - 0.1 * span, high + 0.1 * span)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8, loc="best")
        return ax

    def suggest(
        self,
        method: Literal["valley", "steepest"] = "valley",
        *,
        skip_start: int | None = None,
        skip_end: int = SKIP_END,
    ) -> float:
        """A learning rate read off the smoothed loss: a ``max_lr`` for ``OneCycleLR``.

        Both methods look only at the points of :meth:`window` (by default: without the
        first tenth of ``num_steps``, where the smoothed loss is still noisy, the last 5
        recorded points, and everything from the first non-finite smoothed loss on).

        ``'valley'`` (the default; fastai's ``lr_find`` default since fastai 2.4): finds
        the longest strictly decreasing subsequence of the smoothed loss, of length ``L``,
        ending first at index ``e``; the valley is taken as the ``L`` steps up to ``e``, and
        the suggestion is its step ``e - L + L // 3 + L // 6``, about half-way down (the
        formula of fastai's ``valley``, ``fastai/callback/schedule.py``; where it would give
        a negative index, fastai's wraps to the last point, this gives the first).
        Robust to noise: one bad step does not end a valley. The better choice for short
        or noisy tests, and a safe default.

        ``'steepest'``: the learning rate of the most negative gradient of the smoothed
        loss with respect to ``log(lr)``, taken on the window as ``numpy.gradient(smoothed,
        numpy.log(lrs))`` takes it: at the window's two ends the one-sided slope, inside
        the second-order central difference for uneven spacing, ``(h_l * s_r + h_r * s_l)
        / (h_l + h_r)`` (``s_l``, ``s_r``: the slopes to the neighbours, ``h_l``, ``h_r``:
        their spacings in ``log(lr)``; computed in this form, so a flat stretch has a
        gradient of exactly 0); the first such point if several tie. This is where the
        loss falls fastest per factor of learning rate (Smith's reading of the test;
        Lightning's ``lr_find`` suggestion).
        It is a derivative of a noisy curve, so it can jump between runs; the better
        choice for long, smooth tests (many steps, large ``smoothing``). Which of the two
        is lower depends on the curve (on scikit-learn's digits, ``'steepest'`` is).

        Raises
        ------
        ValueError
            An unknown ``method``; fewer than 3 points in the window; or a smoothed loss
            that never falls in it.
        """
        return float(self.lrs[self.suggest_index(method, skip_start=skip_start, skip_end=skip_end)])
