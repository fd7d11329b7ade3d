"""``onecycle.OneCycleLR``: torch's ``OneCycleLR`` with each step computed in Rust."""

from __future__ import annotations

import warnings
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import OneCycleLR as _TorchOneCycleLR

from onecycle._core import Cycle

__all__ = ["OneCycleLR"]

_INT64 = range(-(2**63), 2**63)
_DIVISORS = {
    "div_factor": ("initial_lr = max_lr / div_factor", 25.0),
    "final_div_factor": ("min_lr = initial_lr / final_div_factor", 1e4),
}


class OneCycleLR(_TorchOneCycleLR):
    """Sets the learning rate of each parameter group by the 1cycle policy.

    A drop-in replacement for ``torch.optim.lr_scheduler.OneCycleLR`` (and a subclass of
    it): the same constructor, plus ``verbose``; the same learning rates, momenta and Adam
    ``betas[0]``, bit for bit; the same ``param_group`` keys, ``get_last_lr()``,
    ``last_epoch``, ``state_dict()`` (loadable by torch's class and back), warnings and
    exceptions. Each step is computed by the Rust core from the group values as they are at
    that step (``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum``,
    ``base_momentum``), so edits to them take effect as in torch.

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
        Print a line for each learning-rate update (the format of torch's releases that had
        this option: ``Adjusting learning rate of group 0 to 4.0000e-04.``).

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
    __slots__ = ("_onecycle_cycle",)

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
        verbose: bool = False,
    ) -> None:
        self._onecycle_cycle: tuple[Any, Any, Cycle | None] | None = None
        if verbose:
            # A subclass whose step() prints; the plain class keeps torch's step() as is.
            self.__class__ = _VerboseOneCycleLR
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
            )
        except ZeroDivisionError as e:
            # torch divides by these while filling the groups; say which one is at fault.
            for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
                if isinstance(value, (int, float)) and value == 0:
                    formula, default = _DIVISORS[name]
                    raise ValueError(
                        f"{name} must be nonzero, got {value!r}: it divides the learning "
                        f"rate ({formula}), and torch's OneCycleLR fails here with "
                        f"ZeroDivisionError. The default is {default!r}."
                    ) from e
            raise

    def _cycle(self) -> Cycle | None:
        """The Rust cycle for the current ``_schedule_phases`` (rebuilt when a loaded
        state_dict replaces them), or None when they are not torch's usual form."""
        phases = self.__dict__.get("_schedule_phases")
        anneal = self.__dict__.get("_anneal_func_type")
        cached = self._onecycle_cycle
        if cached is not None and cached[0] is phases and cached[1] == anneal:
            return cached[2]
        try:
            cycle: Cycle | None = Cycle(
                [
                    (p["end_step"], p["start_lr"], p["end_lr"], p["start_momentum"], p["end_momentum"])
                    for p in phases  # type: ignore[union-attr]
                ],
                anneal,  # type: ignore[arg-type]
            )
        except (TypeError, KeyError, ValueError, OverflowError):
            cycle = None
        self._onecycle_cycle = (phases, anneal, cycle)
        return cycle

    def get_lr(self) -> list[Any]:
        """Compute the learning rate of each group at ``last_epoch`` (and write the momenta
        into the groups when ``cycle_momentum``). Use ``get_last_lr()`` to read the most
        recent learning rates."""
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=2,
            )
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. The specified number of total steps is {self.total_steps}"
            )
        cycle = self._cycle()
        if cycle is not None and type(step_num) is int and step_num in _INT64:
            computed = cycle.step(step_num, self.optimizer.param_groups, bool(self.cycle_momentum))
            if computed is not None:
                lrs, momenta = computed
                if self.cycle_momentum:
                    for group, momentum in zip(self.optimizer.param_groups, momenta, strict=True):
                        if self.use_beta1:
                            group["betas"] = (momentum, *group["betas"][1:])
                        else:
                            group["momentum"] = momentum
                return lrs
        return self._torch_get_lr()

    def _torch_get_lr(self) -> list[Any]:
        """torch's own ``get_lr``, for group values the Rust path does not take (tensors,
        numpy scalars, ints beyond 2**53), without warning a second time."""
        within_step = self._get_lr_called_within_step
        self._get_lr_called_within_step = True
        try:
            return super().get_lr()
        finally:
            self._get_lr_called_within_step = within_step


class _VerboseOneCycleLR(OneCycleLR):
    """``OneCycleLR(..., verbose=True)``: prints each update, as torch's releases with
    ``verbose`` did."""

    __slots__ = ()

    def step(self, epoch: int | None = None) -> None:
        super().step(epoch)
        for group, lr in enumerate(self.get_last_lr()):
            if epoch is None:
                print(f"Adjusting learning rate of group {group} to {lr:.4e}.")
            else:
                epoch_str = ("%.2f" if isinstance(epoch, float) else "%.5d") % epoch
                print(f"Epoch {epoch_str}: adjusting learning rate of group {group} to {lr:.4e}.")
