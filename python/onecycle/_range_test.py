"""``onecycle.LRRangeTest`` and ``onecycle.lr_range_test``: Smith's LR range test, as a
torch scheduler for any training loop and as one call for a plain one."""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from onecycle._progress import progress_bar
from onecycle._range_result import (
    RangeTestResult,
    check_settings,
    divergence_threshold,
    scheduled_lr,
    smoothed_loss,
)

__all__ = ["LRRangeTest", "lr_range_test"]


def _check_optimizer(optimizer: Any, name: str = "LRRangeTest") -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    for i, group in enumerate(optimizer.param_groups):
        if "lr" not in group:
            keys = ", ".join(sorted(k for k in group if k != "params"))
            raise TypeError(
                f"{name} needs an optimizer with a learning rate: param_groups[{i}] of "
                f"{type(optimizer).__name__} has no 'lr' (its keys: {keys or 'none but params'})"
            )


def _loss_value(loss: Any) -> float:
    """A recorded loss as a float: a number, or a tensor of one element."""
    if isinstance(loss, Tensor):
        if loss.numel() != 1:
            raise TypeError(
                f"loss must be a number or a tensor of one element, got a tensor of shape {tuple(loss.shape)}"
            )
        return float(loss.detach().item())
    if isinstance(loss, (bool, np.bool_, str, bytes)):
        raise TypeError(
            f"loss must be a number or a tensor of one element, got {type(loss).__name__} {loss!r}"
        )
    try:
        return float(loss)
    except (TypeError, ValueError):
        raise TypeError(
            f"loss must be a number or a tensor of one element, got {type(loss).__name__} {loss!r}"
        ) from None


class LRRangeTest(LRScheduler):
    """Smith's LR range test as a scheduler: raises every parameter group's learning rate
    from ``start_lr`` to ``end_lr`` over ``num_steps`` steps, and records the loss of each.

    A ``torch.optim.lr_scheduler.LRScheduler``, so it goes wherever torch's schedulers
    go: a plain loop, Lightning's ``configure_optimizers`` (with ``"interval": "step"``),
    accelerate's ``prepare``. Each step, call :meth:`record` with the loss of that step's
    batch, then :meth:`step`; stop when :attr:`should_stop` (``record`` returns it)::

        test = onecycle.LRRangeTest(optimizer, start_lr=1e-7, end_lr=10, num_steps=100)
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if test.record(loss):
                break
            test.step()
        max_lr = test.result().suggest()

    The test trains the model: save and restore it (or use :func:`lr_range_test`, which
    does) before the real run. In Lightning, return it from ``configure_optimizers`` as
    ``{"scheduler": test, "interval": "step"}``, record in ``training_step`` and set
    ``trainer.should_stop`` from a callback's ``on_train_batch_end``.

    Learning rates: step ``i`` (``last_epoch``; 0 after construction) sets every group's
    ``lr`` to ``start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))`` (``mode='exp'``,
    evenly spaced in ``log(lr)``) or ``start_lr + (end_lr - start_lr) * i / (num_steps -
    1)`` (``mode='linear'``). Step 0 is ``start_lr`` and step ``num_steps - 1`` is
    ``end_lr`` exactly (the formula can miss it by a rounding); steps after it stay at
    ``end_lr``.

    Smoothed loss: the debiased exponential moving average of the recorded losses (as
    fastai's): ``avg_k = smoothing * avg_(k-1) + (1 - smoothing) * loss_k`` from
    ``avg_(-1) = 0``, and ``smoothed_k = avg_k / (1 - smoothing ** (k + 1))`` for the
    ``k``-th recorded loss (from 0). ``smoothing=0`` keeps the raw losses.

    Divergence: the test has diverged once a smoothed loss is not finite (a NaN or
    infinite loss included) or exceeds ``best + (divergence_factor - 1) * |best|``, where
    ``best`` is the lowest smoothed loss so far; for positive losses, ``divergence_factor
    * best`` (4 times, as fastai's ``lr_find``). It stays diverged. Very noisy losses
    (tiny batches) can trip it in the first steps, where the average covers few losses:
    raise ``divergence_factor`` or the batch size.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimizer, each of whose parameter groups has an ``lr``.
    start_lr : float, default 1e-7
        The first learning rate; finite, greater than 0.
    end_lr : float, default 10.0
        The last learning rate; finite, greater than ``start_lr``.
    num_steps : int, default 100
        Steps from ``start_lr`` to ``end_lr``, at least 2.
    mode : {'exp', 'linear'}, default 'exp'
        Exponential (evenly spaced in ``log(lr)``) or linear increase.
    smoothing : float, default 0.98
        The moving average's ``beta``, in [0, 1).
    divergence_factor : float, default 4.0
        The divergence rule's factor; finite, greater than 1.

    Raises
    ------
    TypeError
        ``optimizer`` is not a torch optimizer or has a group without ``lr``, or an
        argument is not a number (an int for ``num_steps``).
    ValueError
        An argument out of its range (the message names it and the range).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_steps: int = 100,
        mode: Literal["exp", "linear"] = "exp",
        *,
        smoothing: float = 0.98,
        divergence_factor: float = 4.0,
    ) -> None:
        _check_optimizer(optimizer)
        settings = check_settings(start_lr, end_lr, num_steps, mode, smoothing, divergence_factor)
        # Plain data only: state_dict() is this __dict__ (less the optimizer), so that
        # torch.load(..., weights_only=True) reads it back.
        self.start_lr = settings.start_lr
        self.end_lr = settings.end_lr
        self.num_steps = settings.num_steps
        self.mode = settings.mode
        self.smoothing = settings.smoothing
        self.divergence_factor = settings.divergence_factor
        self._lrs: list[float] = []
        self._losses: list[float] = []
        self._smoothed: list[float] = []
        self._average = 0.0
        self._best = math.inf
        self._diverged = False
        self._recorded_step = -1
        # torch 2.0-2.1 take `verbose` too, later releases deprecate or remove it: not
        # passed. The constructor takes step 0, setting every lr to start_lr.
        super().__init__(optimizer)

    def _lr(self, step: int) -> float:
        return scheduled_lr(step, self.start_lr, self.end_lr, self.num_steps, self.mode)

    def get_lr(self) -> list[Any]:
        """The learning rate of step ``last_epoch``, for each parameter group."""
        return [self._lr(self.last_epoch)] * len(self.optimizer.param_groups)

    def record(self, loss: Any) -> bool:
        """Record the loss of the current step (``last_epoch``), once per step, before
        :meth:`step`; returns :attr:`should_stop`.

        ``loss`` is a number or a tensor of one element (read with ``.item()``). Under
        gradient accumulation, record one loss per optimizer step (the mean over its
        batches, say); where an optimizer step is skipped (AMP's ``GradScaler``,
        accelerate's ``optimizer_step_was_skipped``) and the scheduler with it, skip the
        record too. In Lightning, record in ``training_step``: Lightning steps the
        scheduler before ``on_train_batch_end``.

        Raises
        ------
        TypeError
            ``loss`` is not a number or a one-element tensor.
        RuntimeError
            A loss was already recorded for this step, or the test is past its last step.
        """
        value = _loss_value(loss)
        step = self.last_epoch
        if step == self._recorded_step:
            raise RuntimeError(
                f"a loss was already recorded for step {step}: call record() once per step, then "
                "step() (with gradient accumulation, once per optimizer step; where the optimizer "
                "step was skipped, as by AMP's GradScaler, the scheduler was not stepped: skip "
                "record() too)"
            )
        if step >= self.num_steps:
            raise RuntimeError(
                f"the range test is over: it has taken its num_steps={self.num_steps} steps (now at "
                f"step {step}); stop the loop when should_stop is True"
            )
        self._average, smoothed = smoothed_loss(self._average, len(self._losses), value, self.smoothing)
        self._recorded_step = step
        self._lrs.append(self._lr(step))
        self._losses.append(value)
        self._smoothed.append(smoothed)
        if not math.isfinite(smoothed):
            self._diverged = True
        else:
            self._best = min(self._best, smoothed)
            if smoothed > divergence_threshold(self._best, self.divergence_factor):
                self._diverged = True
        return self.should_stop

    @property
    def diverged(self) -> bool:
        """Whether the smoothed loss has diverged (see the class's documentation)."""
        return self._diverged

    @property
    def should_stop(self) -> bool:
        """Whether the test is over: the loss diverged, or the last step was recorded."""
        return self._diverged or self._recorded_step >= self.num_steps - 1

    def result(self) -> RangeTestResult:
        """What has been recorded so far, with the suggestions computed from it."""
        return RangeTestResult(
            lrs=np.array(self._lrs, dtype=np.float64),
            losses=np.array(self._losses, dtype=np.float64),
            smoothed_losses=np.array(self._smoothed, dtype=np.float64),
            num_steps=self.num_steps,
            diverged=self._diverged,
        )


# --- lr_range_test: run the test, then put everything back -----------------------------


def _clone(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, Tensor) else copy.deepcopy(value)


def _put_back(original: Any, saved: Any) -> Any:
    """The value to restore from ``saved`` (a copy of what ``original`` held), keeping the
    objects: ``saved``'s values are copied into ``original``'s tensors (of one shape and
    dtype), also inside tuples and lists; anything else is ``saved``."""
    if isinstance(original, Tensor):
        if isinstance(saved, Tensor) and original.shape == saved.shape and original.dtype == saved.dtype:
            with torch.no_grad():
                original.copy_(saved)
            return original
        return saved
    if type(original) is type(saved) and isinstance(original, (tuple, list)) and len(original) == len(saved):
        items = [_put_back(o, s) for o, s in zip(original, saved, strict=True)]
        if isinstance(original, list):
            original[:] = items
            return original
        if all(a is b for a, b in zip(items, original, strict=True)):
            return original
    return saved


@dataclass
class _Snapshot:
    """What a range test changes, kept to be put back: the model's parameters, gradients,
    buffers and training modes; the optimizer's groups, state and attributes; the random
    states of Python, numpy and torch (and of the loader's own generators)."""

    model: torch.nn.Module
    optimizer: Optimizer
    generators: list[torch.Generator]
    # Taken from the three above when the snapshot is made.
    tensors: list[tuple[Tensor, Tensor]] = field(init=False)
    grads: list[tuple[Tensor, Tensor | None, Tensor | None]] = field(init=False)
    modes: list[tuple[torch.nn.Module, bool]] = field(init=False)
    groups: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = field(init=False)
    state: dict[Any, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = field(init=False)
    attributes: dict[str, Any] = field(init=False)
    rng: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        model, optimizer = self.model, self.optimizer
        tensors = [*model.parameters(), *model.buffers()]
        self.tensors = [(t, t.detach().clone()) for t in tensors]
        self.grads = [(p, p.grad, _clone(p.grad)) for p in model.parameters()]
        self.modes = [(m, m.training) for m in model.modules()]
        self.groups = [
            (group, dict(group), {k: _clone(v) for k, v in group.items() if k != "params"})
            for group in optimizer.param_groups
        ]
        self.state = {
            param: (state, dict(state), {k: _clone(v) for k, v in state.items()})
            for param, state in optimizer.state.items()
        }
        self.attributes = dict(optimizer.__dict__)
        self.rng = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "generators": [g.get_state() for g in self.generators],
        }
        if _cuda_is_initialized():
            self.rng["cuda"] = torch.cuda.get_rng_state_all()

    def restore(self) -> None:
        with torch.no_grad():
            for tensor, copied in self.tensors:
                tensor.copy_(copied)
        for param, grad, saved_grad in self.grads:
            param.grad = None if grad is None else _put_back(grad, saved_grad)
        for module, training in self.modes:
            module.training = training
        optimizer = self.optimizer
        # The optimizer's own attributes (the LRScheduler wraps its step(), and marks it):
        # those added are removed, those replaced put back.
        for name in set(optimizer.__dict__) - set(self.attributes):
            delattr(optimizer, name)
        for name, value in self.attributes.items():
            if optimizer.__dict__.get(name) is not value:
                optimizer.__dict__[name] = value
        optimizer.param_groups[:] = [group for group, _, _ in self.groups]
        for group, items, saved in self.groups:
            group.clear()
            group.update({k: _put_back(v, saved[k]) if k in saved else v for k, v in items.items()})
        for param in set(optimizer.state) - set(self.state):
            del optimizer.state[param]
        for param, (state, items, saved) in self.state.items():
            state.clear()
            state.update({k: _put_back(v, saved[k]) for k, v in items.items()})
            optimizer.state[param] = state
        random.setstate(self.rng["python"])
        np.random.set_state(self.rng["numpy"])
        torch.set_rng_state(self.rng["torch"])
        for generator, generator_state in zip(self.generators, self.rng["generators"], strict=True):
            generator.set_state(generator_state)
        if "cuda" in self.rng:
            torch.cuda.set_rng_state_all(self.rng["cuda"])


# Typed here: torch's own function is not annotated.
_cuda_is_initialized: Callable[[], bool] = torch.cuda.is_initialized


def _generators(batches: Any) -> list[torch.Generator]:
    """The random generators of a ``DataLoader`` (its own, its sampler's), each once."""
    found: list[torch.Generator] = []
    sampler = getattr(batches, "sampler", None)
    batch_sampler = getattr(batches, "batch_sampler", None)
    for owner in (batches, sampler, getattr(batch_sampler, "sampler", None)):
        generator = getattr(owner, "generator", None)
        if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
            found.append(generator)
    return found


def _cycle(batches: Iterable[Any]) -> Iterator[Any]:
    """The batches, from the start again each time they run out (a loader shorter than
    the test), until a pass yields none."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            return


def lr_range_test(
    model: torch.nn.Module,
    optimizer: Optimizer,
    batches: Iterable[Any],
    loss_fn: Callable[[Any, Any], Tensor] | None = None,
    *,
    step_fn: Callable[[Any], Any] | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: Literal["exp", "linear"] = "exp",
    smoothing: float = 0.98,
    divergence_factor: float = 4.0,
    stop_on_divergence: bool = True,
    progress: bool | None = None,
) -> RangeTestResult:
    """Run an LR range test (:class:`LRRangeTest`) in a plain loop, then put back the
    model, the optimizer and the random states, so that training afterwards is
    bit-identical to training without the test.

    Each step takes the next batch (starting ``batches`` again when it runs out) and
    either, with ``loss_fn``, unpacks it as ``(inputs, targets)`` and runs
    ``optimizer.zero_grad(); loss = loss_fn(model(inputs), targets); loss.backward();
    optimizer.step()``, or calls ``step_fn(batch)``, which does a whole training step
    itself (zero the gradients, forward, backward, ``optimizer.step()``: AMP, clipping,
    several inputs) and returns its loss. It records the loss, and stops after
    ``num_steps`` steps or, with ``stop_on_divergence``, when the loss diverges.

    Put back afterwards, also when the test fails or is interrupted: every parameter and
    buffer of ``model`` (in place: the same tensor objects), its gradients and its
    modules' training modes; the optimizer's ``param_groups`` (the ``initial_lr`` the
    scheduler adds removed), its state (momentum buffers and step counts, in place; state
    the test created removed) and its attributes (the scheduler's wrapper of ``step``);
    the random states of Python's ``random``, numpy's global generator, torch's CPU
    generator, every CUDA device's (where CUDA is initialized) and the ``generator`` of
    a ``DataLoader`` and of its sampler. A copy of the model's parameters and buffers and
    of the optimizer's state is kept meanwhile, on their devices. Anything else
    ``step_fn`` changes (a ``GradScaler``, a model outside ``model``) is its own.

    Parameters
    ----------
    model : torch.nn.Module
        The model the optimizer trains.
    optimizer : torch.optim.Optimizer
        Its optimizer; each parameter group has an ``lr``.
    batches : iterable
        The training batches (a ``DataLoader``, say), on the model's device.
    loss_fn : callable, optional
        ``loss_fn(model(inputs), targets)`` is the loss of a batch ``(inputs, targets)``.
    step_fn : callable, optional
        Keyword only, instead of ``loss_fn``: ``step_fn(batch)`` takes a training step and
        returns the loss (a number or a tensor of one element).
    start_lr, end_lr, num_steps, mode, smoothing, divergence_factor
        As :class:`LRRangeTest`'s.
    stop_on_divergence : bool, default True
        Stop when the smoothed loss diverges (else run all ``num_steps`` steps).
    progress : bool or None, default None
        A progress bar on stderr (tqdm): from the start (True), never (False), or once the
        test has run half a second (None).

    Returns
    -------
    RangeTestResult
        The learning rates and the raw and smoothed losses; ``.suggest()`` reads a
        learning rate off them.

    Raises
    ------
    TypeError
        Not a module or an optimizer; an optimizer group without ``lr``; neither or both of
        ``loss_fn`` and ``step_fn``; a batch that is not an ``(inputs, targets)`` pair
        with ``loss_fn``; a loss that is not a number or a one-element tensor; an argument
        of the wrong type.
    ValueError
        An argument out of range; ``batches`` yields no batch; the first step's loss is
        NaN or infinite.
    """
    _check_arguments(model, optimizer, batches, (loss_fn, step_fn), (stop_on_divergence, progress))
    settings = check_settings(start_lr, end_lr, num_steps, mode, smoothing, divergence_factor)
    take_step = step_fn if step_fn is not None else _loss_step(model, optimizer, loss_fn)  # type: ignore[arg-type]
    snapshot = _Snapshot(model, optimizer, _generators(batches))
    try:
        test = LRRangeTest(
            optimizer,
            start_lr=settings.start_lr,
            end_lr=settings.end_lr,
            num_steps=settings.num_steps,
            mode=settings.mode,  # type: ignore[arg-type]
            smoothing=settings.smoothing,
            divergence_factor=settings.divergence_factor,
        )
        _run(test, batches, take_step, stop_on_divergence=stop_on_divergence, progress=progress)
        return test.result()
    finally:
        snapshot.restore()


def _check_arguments(
    model: Any,
    optimizer: Any,
    batches: Any,
    functions: tuple[Any, Any],
    flags: tuple[Any, Any],
) -> None:
    """:func:`lr_range_test`'s checks of its arguments other than the test's settings:
    ``functions`` is ``(loss_fn, step_fn)``, ``flags`` ``(stop_on_divergence, progress)``."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_optimizer(optimizer, "lr_range_test")
    loss_fn, step_fn = functions
    if (loss_fn is None) == (step_fn is None):
        raise TypeError("lr_range_test needs exactly one of loss_fn and step_fn")
    for name, function in (("loss_fn", loss_fn), ("step_fn", step_fn)):
        if function is not None and not callable(function):
            raise TypeError(f"{name} must be callable, got {type(function).__name__}")
    if not (hasattr(batches, "__iter__") or hasattr(batches, "__getitem__")):
        raise TypeError(f"batches must be an iterable of batches, got {type(batches).__name__}")
    stop_on_divergence, progress = flags
    if not isinstance(stop_on_divergence, bool):
        raise TypeError(f"stop_on_divergence must be True or False, got {stop_on_divergence!r}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")


def _loss_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable[[Any, Any], Any]
) -> Callable[[Any], Any]:
    """One training step on an ``(inputs, targets)`` batch with ``loss_fn``; returns the loss."""

    def loss_step(batch: Any) -> Any:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(
                "with loss_fn, each batch must be an (inputs, targets) pair, got "
                f"{type(batch).__name__}{f' of {len(batch)}' if isinstance(batch, (tuple, list)) else ''}; "
                "pass step_fn for other batches"
            )
        inputs, targets = batch
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss

    return loss_step


def _run(
    test: LRRangeTest,
    batches: Any,
    take_step: Callable[[Any], Any],
    *,
    stop_on_divergence: bool,
    progress: bool | None,
) -> None:
    """Step ``test`` through ``batches`` (again from the start when they run out) until it
    has its steps, or it diverged and ``stop_on_divergence``."""
    num_steps = test.num_steps
    with progress_bar(progress, num_steps, desc="LR range test") as bar:
        for batch in _cycle(batches):
            test.record(take_step(batch))
            if bar is not None:
                bar.update()
                bar.set_postfix(lr=f"{test._lrs[-1]:.3g}", loss=f"{test._smoothed[-1]:.4g}", refresh=False)
            if len(test._losses) == 1 and not math.isfinite(test._losses[0]):
                raise ValueError(
                    f"the loss of the first batch is {test._losses[0]}, before the test changed "
                    "anything: check the model, the data and the loss function"
                )
            if (test.diverged and stop_on_divergence) or len(test._losses) >= num_steps:
                break
            test.step()
    if not test._losses:
        raise ValueError("batches yielded no batch: the range test needs at least one")
