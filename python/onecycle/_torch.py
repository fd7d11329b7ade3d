"""``onecycle.OneCycleLR``: torch's ``OneCycleLR`` with each step computed in Rust."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import EPOCH_DEPRECATION_WARNING, LRScheduler
from torch.optim.lr_scheduler import OneCycleLR as _TorchOneCycleLR

from onecycle import _betas, _history, _state
from onecycle._core import STRATEGIES, Cycle

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["OneCycleLR"]

_INT64 = range(-(2**63), 2**63)
_DIVISORS = {
    "div_factor": ("initial_lr = max_lr / div_factor", 25.0),
    "final_div_factor": ("min_lr = initial_lr / final_div_factor", 1e4),
}

# The warnings of torch's LRScheduler.step(), raised by _torch_step() in its place.
_OVERRIDDEN_WARNING = (
    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
    "initialization. Please, make sure to call `optimizer.step()` before "
    "`lr_scheduler.step()`. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)
_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
    "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
    "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
    "will result in PyTorch skipping the first value of the learning rate schedule. "
    "See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)

# The methods step() bypasses on its one-call path; a subclass overriding one of them
# takes torch's path for every step. (Not every torch release has each of them.)
_STEP_HOOKS = ("get_lr", "_update_lr", "_anneal_func", "_annealing_cos", "_annealing_linear")

# What differs between torch releases, read off the installed one rather than its version.
_TORCH_PARAMETERS = inspect.signature(_TorchOneCycleLR.__init__).parameters
# torch 2.0-2.6 take `verbose` themselves (2.0-2.1 print each update with it; 2.2-2.6 warn
# that it is deprecated whenever it is passed, False included, and print nothing). Ours
# passes it on unchanged there, with torch's default; elsewhere ours prints the seed's line.
_TORCH_HAS_VERBOSE = "verbose" in _TORCH_PARAMETERS
_VERBOSE_DEFAULT: Any = _TORCH_PARAMETERS["verbose"].default if _TORCH_HAS_VERBOSE else False
# Where the scheduler keeps its annealing: the name "cos" or "linear" in `_anneal_func_type`
# (torch 2.4 on, read by its `_anneal_func`), or the function itself in `anneal_func`
# (2.0-2.3; a bound method in 2.0, a static method's function in 2.1-2.3).
_ANNEAL_ATTR = "_anneal_func_type" if hasattr(_TorchOneCycleLR, "_anneal_func") else "anneal_func"
_ANNEAL_FUNCTIONS = {
    getattr(func, "__func__", func): name
    for name in STRATEGIES
    if (func := getattr(_TorchOneCycleLR, f"_annealing_{name}", None)) is not None
}


def _anneal_name(value: Any) -> Any:
    """The annealing strategy the installed torch's ``get_lr`` applies, given the value of
    the scheduler's ``_ANNEAL_ATTR`` (None when it is not one of torch's two)."""
    if _ANNEAL_ATTR == "_anneal_func_type":
        return value
    return _ANNEAL_FUNCTIONS.get(getattr(value, "__func__", value))


# What torch's LRScheduler.step() does, read off its code: from 2.10 on it passes
# `stacklevel` to its warnings, so they point at its caller (before, at torch's own line);
# in 2.0-2.1 it prints each update through `print_lr` when `verbose` is set.
_TORCH_STEP_CODE = LRScheduler.step.__code__
_TORCH_STEP_WARNS_AT_CALLER = any(
    isinstance(c, tuple) and "stacklevel" in c for c in _TORCH_STEP_CODE.co_consts
)
_TORCH_STEP_PRINTS = "print_lr" in _TORCH_STEP_CODE.co_names


def _holds_zero(value: Any) -> bool:
    """Whether ``value`` is zero, or a sequence or array (at any depth) with a zero in it."""
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
        try:
            return any(_holds_zero(v) for v in value)
        except TypeError:  # a 0-d array or tensor, which does not iterate
            pass
    try:
        return bool(value == 0)
    except Exception:  # an object whose comparison fails holds no zero
        return False


@dataclass(frozen=True)
class _Plan:
    """What the scheduler was built with that a re-plan needs (not part of its state)."""

    pct_start: float
    three_phase: bool
    #: The length it was built with, which replan_on_load re-plans a loaded state onto.
    total_steps: int
    replan_on_load: bool


@dataclass(frozen=True, slots=True)
class _CycleCache:
    """The Rust cycle built from a scheduler's phases, and what it was built from: it is
    rebuilt when ``_schedule_phases`` is replaced (a loaded state) or the annealing
    changes. (Slots: step() reads it on every call.)"""

    phases: Any
    anneal: Any
    #: None where the phases are not torch's usual form (torch's own path computes them).
    cycle: Cycle | None


class OneCycleLR(_TorchOneCycleLR):
    """Sets the learning rate of each parameter group by the 1cycle policy.

    A drop-in replacement for ``torch.optim.lr_scheduler.OneCycleLR`` (and a subclass of
    it): the same constructor, plus ``verbose``; the same learning rates, momenta and Adam
    ``betas[0]``, bit for bit; the same ``param_group`` keys, ``get_last_lr()``,
    ``last_epoch``, ``state_dict()`` (loadable by torch's class and back), warnings and
    exceptions. Each step is computed by the Rust core from the group values as they are at
    that step (``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum``,
    ``base_momentum``, or whatever keys the phases name), so edits to them take effect as
    in torch. A phase list of any keys (a loaded state's, or one replaced by hand) is stepped
    by the core too, as long as it is replaced as a whole rather than edited in place.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Wrapped optimizer.
    max_lr : float or list of float
        Upper learning-rate boundary, per parameter group.
    total_steps : int, optional
        Steps in the cycle. If omitted, ``epochs * steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
        Used to infer ``total_steps`` when it is not given.
    pct_start : float, default 0.3
        Fraction of the cycle spent raising the learning rate.
    anneal_strategy : {'cos', 'linear'}, default 'cos'
    cycle_momentum : bool, default True
        Cycle momentum (or Adam's ``beta1``) inversely to the learning rate.
    base_momentum, max_momentum : float or list of float, default 0.85, 0.95
    div_factor : float, default 25.0
        ``initial_lr = max_lr / div_factor``.
    final_div_factor : float, default 1e4
        ``min_lr = initial_lr / final_div_factor``.
    three_phase : bool, default False
        Use the three-phase layout of the original paper.
    last_epoch : int, default -1
        Index of the last batch, to resume a run; -1 starts the schedule.
    verbose : bool, default False
        Where the installed torch takes ``verbose`` (2.0-2.6), it is passed on with torch's
        default and behaves exactly as torch's (2.0-2.1 print each update; 2.2-2.6 only warn
        that it is deprecated, whenever it is passed). On later releases, print a line for
        each learning-rate update (the format of torch's releases that had this option:
        ``Adjusting learning rate of group 0 to 4.0000e-04.``).
    hold_final : bool, default False
        Keyword only. Every step from ``total_steps - 1`` on keeps the values of step
        ``total_steps - 1`` (the final learning rate and momentum), and stepping past
        ``total_steps`` raises nothing, so loops that take a few extra steps finish
        cleanly. ``last_epoch`` still counts every step. Not part of ``state_dict()``
        (which holds exactly torch's keys): pass it again when resuming. The default is
        torch's behaviour: the extra step ``total_steps`` is computed by the formula, and
        the next one raises ``ValueError``.
    replan_on_load : bool, default False
        Keyword only. :meth:`load_state_dict` takes the loaded position (``last_epoch``,
        the plan so far, and the values the groups hold, so load the optimizer's state
        first, as Lightning, accelerate and the transformers Trainer do), then re-plans the
        rest of the cycle onto the length this scheduler was built with, if that differs
        (:meth:`replan`). The way to resume a run with a new length in stacks that call
        ``load_state_dict`` themselves. The default is torch's: the loaded state's length
        stays.

    Notes
    -----
    The one deliberate difference in values: where ``betas[0]`` of an Adam-style group is
    a tensor, torch replaces it with a float; here the tensor stays and is updated in place
    (holding torch's value, rounded to the tensor's dtype as a tensor ``lr`` is), so
    ``torch.compile`` does not recompile. A tensor shared by groups that get different
    momenta is split once, the first group keeping it. This holds where the installed
    torch's Adam can step with such a tensor (asked once per pair of dtypes); where it
    cannot (torch 2.0-2.4 with a float64 tensor on float32 parameters), the tensor is
    replaced by the float, as torch does. A tensor ``lr`` is filled in place where torch
    fills it (2.4 on) and replaced where torch replaces it.

    Raises
    ------
    ValueError
        Where torch raises it, with torch's message; and where torch would fail with
        ``ZeroDivisionError``, with a message naming the cause and the fix: a step in a
        phase of zero width (``pct_start * total_steps == 1`` at construction, or
        ``pct_start=1.0`` at the extra step ``last_epoch == total_steps``), or
        ``div_factor=0`` / ``final_div_factor=0``.
    """

    # Kept out of __dict__, so state_dict() holds exactly torch's keys.
    __slots__ = ("_onecycle_cycle", "_onecycle_hold", "_onecycle_origin", "_onecycle_plan")

    # Whether step() may take its one-call path: false in subclasses that change how a
    # step is computed or written (see __init_subclass__).
    _onecycle_fast_step = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._onecycle_fast_step = all(
            getattr(cls, name, None) is getattr(OneCycleLR, name, None) for name in _STEP_HOOKS
        )

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
        verbose: bool = _VERBOSE_DEFAULT,
        *,
        hold_final: bool = False,
        replan_on_load: bool = False,
    ) -> None:
        self._onecycle_cycle: _CycleCache | None = None
        for name, flag in (("hold_final", hold_final), ("replan_on_load", replan_on_load)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self._onecycle_hold = hold_final
        # Where torch takes `verbose`, it gets it as given; elsewhere a subclass whose
        # step() prints (the plain class keeps torch's step() as is).
        torch_verbose = {"verbose": verbose} if _TORCH_HAS_VERBOSE else {}
        if verbose and not _TORCH_HAS_VERBOSE:
            self.__class__ = _VerboseOneCycleLR
        # torch's constructor replaces a tensor betas[0] with a float; keep the tensor.
        tensor_betas = _betas.tensor_betas(optimizer)
        try:
            super().__init__(
                optimizer,
                max_lr,
                total_steps=total_steps,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                pct_start=pct_start,
                anneal_strategy=anneal_strategy,  # type: ignore[arg-type]
                cycle_momentum=cycle_momentum,
                base_momentum=base_momentum,
                max_momentum=max_momentum,
                div_factor=div_factor,
                final_div_factor=final_div_factor,
                three_phase=three_phase,
                last_epoch=last_epoch,
                **torch_verbose,
            )
            self._onecycle_plan = _Plan(pct_start, three_phase, self.total_steps, replan_on_load)
            # The plan before any re-plan, which plot() rebuilds the steps taken from.
            self._onecycle_origin = _history.origin(self)
        except ZeroDivisionError as e:
            # torch divides by these while filling the groups; say which one is at fault
            # (a zero, or a sequence holding one, which numpy divides by element).
            for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
                if _holds_zero(value):
                    formula, default = _DIVISORS[name]
                    raise ValueError(
                        f"{name} must be nonzero, got {value!r}: it divides the learning "
                        f"rate ({formula}), and torch's OneCycleLR fails here with "
                        f"ZeroDivisionError. The default is {default!r}."
                    ) from e
            raise ValueError(
                f"torch's OneCycleLR fails here with ZeroDivisionError ({e}): div_factor and "
                "final_div_factor must be nonzero numbers"
            ) from e
        finally:
            _betas.restore_tensor_betas(tensor_betas)

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one step (call it after ``optimizer.step()``).

        Parameters
        ----------
        epoch : int, optional
            Deprecated by torch (it warns): set ``last_epoch`` to ``epoch`` and compute the
            values there.

        Notes
        -----
        Behaves exactly as torch's ``LRScheduler.step()``: the same ``_step_count``,
        ``last_epoch``, ``_last_lr``, warnings and errors. In the common case (plain float
        group values, no ``epoch``, from the second step on) the whole update is one call
        into the Rust core; anything else takes torch's own path.
        """
        # The one-call path: the Rust core computes every group's values at the next step
        # and writes them, as torch's step() would. It needs no epoch, a step after the
        # first (the first checks the call order and may warn), no subclass hook that
        # changes how a step is computed, no printing, and phases the core takes.
        if (
            epoch is None
            and self._step_count > 1
            and self._onecycle_fast_step
            and not (_TORCH_STEP_PRINTS and self.__dict__.get("verbose"))
        ):
            # The cache, read inline when it holds the current phases and annealing (a
            # method call would cost a tenth of a step), else built by _cycle().
            cached, attributes = self._onecycle_cycle, self.__dict__
            if (
                cached is not None
                and cached.phases is attributes.get("_schedule_phases")
                and cached.anneal == attributes.get(_ANNEAL_ATTR)
            ):
                cycle = cached.cycle
            else:
                cycle = self._cycle()
            step = self.last_epoch + 1
            total = self.total_steps
            at = step if step < total else total - 1 if self._onecycle_hold else step
            if cycle is not None and at <= total:  # else torch's path ("Tried to step ...")
                lrs = cycle.advance(at, self.optimizer.param_groups, self.cycle_momentum, self, True)
                if lrs is not None:
                    self._step_count += 1
                    self.last_epoch = step
                    self._last_lr = lrs  # type: ignore[assignment]
                    self._get_lr_called_within_step = False
                    return
        self._torch_step(epoch)

    # Frames between the user's call and _torch_step's warnings: step(), _torch_step().
    _STEP_STACKLEVEL = 3

    def _torch_step(self, epoch: int | None) -> None:
        """torch's ``LRScheduler.step()``, with its warnings pointing at the caller of
        ``step()`` as torch's do (calling ``super().step()`` would point them here)."""
        if not _TORCH_STEP_WARNS_AT_CALLER:
            # torch's own step(), as a whole: its warnings point at its own lines.
            super().step(epoch)
            return
        if self._step_count == 1:
            if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
                warnings.warn(_OVERRIDDEN_WARNING, UserWarning, stacklevel=self._STEP_STACKLEVEL)
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn(_ORDER_WARNING, UserWarning, stacklevel=self._STEP_STACKLEVEL)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=self._STEP_STACKLEVEL)
        self._update_lr(epoch)

    def _cycle(self) -> Cycle | None:
        """The Rust cycle for the current ``_schedule_phases`` and annealing, built on
        first use and again whenever they change, or None when they are not torch's usual
        form."""
        phases = self.__dict__.get("_schedule_phases")
        anneal = self.__dict__.get(_ANNEAL_ATTR)
        cached = self._onecycle_cycle
        if cached is not None and cached.phases is phases and cached.anneal == anneal:
            return cached.cycle
        try:
            cycle: Cycle | None = Cycle(
                [
                    (p["end_step"], p["start_lr"], p["end_lr"], p["start_momentum"], p["end_momentum"])
                    for p in phases  # type: ignore[union-attr]
                ],
                _anneal_name(anneal),
            )
        except (TypeError, KeyError, ValueError, OverflowError):
            cycle = None
        self._onecycle_cycle = _CycleCache(phases, anneal, cycle)
        return cycle

    def get_lr(self) -> list[Any]:
        """Compute the learning rate of each group at ``last_epoch`` (and write the momenta
        into the groups when ``cycle_momentum``). Use ``get_last_lr()`` to read the most
        recent learning rates."""
        step_num = self.last_epoch
        if self._onecycle_hold and step_num >= self.total_steps:
            step_num = self.total_steps - 1
        if not self._get_lr_called_within_step:
            # Called from outside step(): torch's own code warns, so the warning comes from
            # torch's module and line, and filters on that module (accelerate installs
            # one) treat it as they treat torch's.
            return self._torch_get_lr(step_num, warn=True)
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. The specified number of total steps is {self.total_steps}"
            )
        cycle = self._cycle()
        if cycle is not None and type(step_num) is int and step_num in _INT64:
            # Writes the momenta (torch's step() writes the lrs); raises ValueError where
            # torch's get_lr would divide by zero.
            lrs = cycle.advance(
                step_num, self.optimizer.param_groups, self.cycle_momentum, self, with_lr=False
            )
            if lrs is not None:
                return lrs
        return self._torch_get_lr(step_num)

    def _torch_get_lr(self, step_num: int, *, warn: bool = False) -> list[Any]:
        """torch's own ``get_lr`` at ``step_num``, for group values the Rust path does not
        take (tensors, numpy scalars, ints beyond 2**53), and for calls from outside
        ``step()`` (``warn``: torch's code then gives its warning); a tensor ``betas[0]``
        is filled in place rather than replaced."""
        within_step, last_epoch = self._get_lr_called_within_step, self.last_epoch
        if not warn:
            self._get_lr_called_within_step = True
        self.last_epoch = step_num  # differs from last_epoch only with hold_final
        tensor_betas = _betas.tensor_betas(self.optimizer) if self.cycle_momentum else []
        try:
            return super().get_lr()
        finally:
            _betas.restore_tensor_betas(tensor_betas)
            self._get_lr_called_within_step, self.last_epoch = within_step, last_epoch

    def plot(self, ax: Axes | tuple[Axes, Axes] | None = None, *, log_lr: bool = False) -> tuple[Axes, Axes]:
        """Draw the run of each parameter group as it went up to now and as planned from
        here, as ``onecycle plot`` draws a schedule, and mark the current step
        (``last_epoch``) and each re-plan.

        Each group's curve is computed by the core from that group's values as they are
        now (the keys the scheduler's phases name: ``initial_lr``, ``max_lr``, ``min_lr``,
        ``max_momentum``, ``base_momentum`` as torch builds them, and the values each
        re-plan held), over steps 0 to ``total_steps - 1``: each step taken by the plan in
        force when it was taken, each later one by the scheduler's phases now (a loaded
        state's included): what the remaining steps will set, if nothing changes them.
        For a scheduler never re-planned that is one plan, its phases. After
        :meth:`replan`, the plans before are rebuilt from the one the scheduler was built
        (or loaded) with, re-planned as each re-plan did (``onecycle_replans``); each
        re-plan is marked by a dotted line at its step, labelled with its length, and the
        phase boundaries drawn are those of the plan in force. For a state loaded after a
        re-plan made elsewhere, which does not say the length planned before its re-plans,
        the steps before its last re-plan are not drawn.

        Parameters
        ----------
        ax : matplotlib Axes, or a pair of them, optional
            As :func:`onecycle.plot`: the learning rate on the first and the momentum on
            the second, a single Axes with the momentum on a twin axis, or (default) a
            new figure of two stacked axes.
        log_lr : bool, default False
            A logarithmic learning-rate axis.

        Returns
        -------
        (Axes, Axes)
            The learning-rate and momentum axes drawn on.

        Raises
        ------
        ValueError
            The phases are not torch's usual form, or a group lacks a value the schedule
            anneals between.
        ModuleNotFoundError
            matplotlib is not installed (``pip install 'onecycle[plot]'``).
        """
        from onecycle import _plot

        cycle = self._cycle()
        if cycle is None:
            raise ValueError("plot() needs the scheduler's phases in torch's form (a list of phase dicts)")
        curves = _history.curves(self, cycle)
        ax_lr, ax_momentum = _plot.axes_pair(ax, "OneCycleLR.plot")
        _plot.draw(ax_lr, ax_momentum, curves, log_lr=log_lr, current_step=self.last_epoch)
        return ax_lr, ax_momentum

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (of this class or of torch's
        ``OneCycleLR``).

        Parameters
        ----------
        state_dict : dict
            The scheduler state, as ``state_dict()`` returns it.

        Raises
        ------
        TypeError
            If ``state_dict`` is not a mapping, or one of its values has the wrong type.
        ValueError
            If it lacks a key of a ``OneCycleLR`` state, or a value is out of range (for
            example ``base_lrs`` for another number of parameter groups). The scheduler is
            left unchanged.
        """
        _state.check_state_dict(state_dict, len(self.optimizer.param_groups))
        super().load_state_dict(state_dict)
        self._onecycle_cycle = None
        if _state.REPLANS not in state_dict:  # a state from before any re-plan
            self.__dict__.pop(_state.REPLANS, None)
        # A state re-planned elsewhere does not say the plan before its re-plans.
        self._onecycle_origin = None if _state.REPLANS in state_dict else _history.origin(self)
        plan = self._onecycle_plan
        if plan.replan_on_load and self.total_steps != plan.total_steps:
            self.replan(plan.total_steps)

    def replan(
        self, total_steps: int | None = None, *, epochs: int | None = None, steps_per_epoch: int | None = None
    ) -> None:
        """Re-plan the rest of the cycle onto a new length, from the current step
        (``last_epoch``) on, without a jump.

        The phase the next step falls in continues from the learning rate and momentum the
        groups hold now to its own end value, at its end step for the new length (the phase
        ends torch computes for the new ``total_steps``, with this scheduler's
        ``pct_start`` and ``three_phase``); where that phase would hold no step after the
        current one, the next phase of the layout continues instead, so the run never goes
        back to an earlier phase. The phases after it follow at their new ends, and the
        last ends at ``min_lr`` (and ``max_momentum``) at step ``total_steps - 1``, as
        torch's does. Steps already taken are not touched. Re-planning to the length the
        scheduler already has changes nothing; a re-plan may follow a re-plan.

        The result is a phase list in torch's own form: ``state_dict()`` (with the
        optimizer's) loads into torch's ``OneCycleLR``, which then steps exactly as this
        scheduler does. The values held at the step are kept in each group under
        ``onecycle_replan<i>_lr`` and ``onecycle_replan<i>_momentum`` (``<i>`` counting the
        re-plans from 0), and the state gains ``onecycle_replans``, the list of
        ``[step, total_steps]`` of each re-plan.

        Parameters
        ----------
        total_steps : int, optional
            The new number of steps in the cycle. If omitted, ``epochs * steps_per_epoch``.
        epochs, steps_per_epoch : int, optional
            Used to compute ``total_steps`` when it is not given, as the constructor does.

        Raises
        ------
        ValueError
            Where the constructor raises it for these arguments; where no step would remain
            (``total_steps`` must be at least ``last_epoch + 2``), naming the current step
            and the smallest length allowed; where the scheduler's phases are not of its
            layout. The scheduler is left unchanged.
        """
        total = _state.torch_total_steps(total_steps, epochs, steps_per_epoch)
        if total == self.total_steps:
            return
        cycle = self._cycle()
        if cycle is None:
            raise ValueError("replan() needs the scheduler's phases in torch's form (a list of phase dicts)")
        plan = self._onecycle_plan
        _state.replan(self, cycle, total, (plan.pct_start, plan.three_phase))


class _VerboseOneCycleLR(OneCycleLR):
    """``OneCycleLR(..., verbose=True)``: prints each update, as torch's releases with
    ``verbose`` did."""

    __slots__ = ()
    _STEP_STACKLEVEL = 4  # this step(), OneCycleLR.step(), _torch_step()

    def step(self, epoch: int | None = None) -> None:
        super().step(epoch)
        for group, lr in enumerate(self.get_last_lr()):
            if epoch is None:
                print(f"Adjusting learning rate of group {group} to {lr:.4e}.")
            else:
                epoch_str = ("%.2f" if isinstance(epoch, float) else "%.5d") % epoch
                print(f"Epoch {epoch_str}: adjusting learning rate of group {group} to {lr:.4e}.")
