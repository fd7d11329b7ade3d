"""Run torch's OneCycleLR and onecycle's side by side and compare everything observable,
bit for bit."""

from __future__ import annotations

import functools
import inspect
import io
import struct
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from onecycle import OneCycleLR
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
    "sgd-nesterov": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    "sgd-no-momentum": lambda params: torch.optim.SGD(params, lr=0.1),
    "adam": lambda params: torch.optim.Adam(params, lr=0.1),
    "adamw": lambda params: torch.optim.AdamW(params, lr=0.1, betas=(0.8, 0.99)),
    "rmsprop": lambda params: torch.optim.RMSprop(params, lr=0.1, momentum=0.5),
    "adagrad": lambda params: torch.optim.Adagrad(params, lr=0.1),  # no momentum, no betas
}

MOMENTUM_OPTIMIZERS = [k for k in OPTIMIZERS if k != "adagrad"]


def make_optimizer(kind: str, groups: int = 1) -> torch.optim.Optimizer:
    """An optimizer over `groups` parameter groups of one small tensor each."""
    torch.manual_seed(0)
    params = [{"params": [torch.nn.Parameter(torch.randn(3))]} for _ in range(groups)]
    return OPTIMIZERS[kind](params)


def same(a: Any, b: Any) -> bool:
    """Equal in type and value, floats compared by their bits (so -0.0 != 0.0, nan == nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, np.generic):  # a numpy scalar: by dtype and bits, as floats (nan == nan)
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, types.MethodType):
        # torch 2.0 keeps the annealing as a method bound to the scheduler (`anneal_func`):
        # the same function, each bound to its own scheduler.
        return a.__func__ is b.__func__
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):
        if a.dtype != b.dtype or a.shape != b.shape or a.device != b.device:
            return False
        if not a.is_floating_point():
            return bool(torch.equal(a, b))
        # Compare the bits, as for floats: -0.0 != 0.0, and a nan equals the same nan.
        as_int = {8: torch.int64, 4: torch.int32, 2: torch.int16}[a.element_size()]
        return bool(torch.equal(a.detach().contiguous().view(as_int), b.detach().contiguous().view(as_int)))
    if isinstance(a, np.ndarray):
        # Group values become arrays when a list argument meets a numpy scalar in torch's
        # arithmetic (initial_lr / final_div_factor with final_div_factor=[]).
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.hasobject:
            return same(a.tolist(), b.tolist())
        return a.tobytes() == b.tobytes()
    return bool(a == b)


def groups_state(opt: torch.optim.Optimizer) -> list[dict[str, Any]]:
    return [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]


def assert_same_state(theirs: TorchOneCycleLR, ours: OneCycleLR, where: str = "") -> None:
    t_groups, o_groups = groups_state(theirs.optimizer), groups_state(ours.optimizer)
    assert same(t_groups, o_groups), f"{where}: param_groups differ\n torch: {t_groups}\n ours:  {o_groups}"
    assert same(theirs.get_last_lr(), ours.get_last_lr()), where
    assert same(theirs.last_epoch, ours.last_epoch), where
    t_state, o_state = theirs.state_dict(), ours.state_dict()
    assert t_state.keys() == o_state.keys(), where
    assert same(t_state, o_state), f"{where}: state_dict differs"


# --- what the installed torch does, asked rather than assumed from its version --------------


TORCH_TAKES_VERBOSE = "verbose" in inspect.signature(TorchOneCycleLR.__init__).parameters


def torch_side(extra: dict[str, Any]) -> dict[str, Any]:
    """Of ours' extra arguments, those torch's class takes too: ``verbose`` where it has it
    (torch 2.0-2.6), with which both must behave alike; never ``hold_final``."""
    return {k: v for k, v in extra.items() if k == "verbose" and TORCH_TAKES_VERBOSE}


@functools.cache
def torch_fills_tensor_lr() -> bool:
    """Whether torch's scheduler writes into a tensor ``lr`` in place (torch 2.4 on), rather
    than replacing the tensor with a float (2.0-2.3)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=torch.tensor(0.1))
    lr = opt.param_groups[0]["lr"]
    TorchOneCycleLR(opt, max_lr=0.1, total_steps=5)
    return opt.param_groups[0]["lr"] is lr


@functools.cache
def torch_copies_last_lr() -> bool:
    """Whether torch's ``get_last_lr()`` hands out copies of tensor lrs (2.10 on)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=torch.tensor(0.1))
    sched = TorchOneCycleLR(opt, max_lr=0.1, total_steps=5)
    return sched.get_last_lr()[0] is not opt.param_groups[0]["lr"]


def adam_steps(beta1: Any = 0.9, **kwargs: Any) -> bool:
    """Whether torch's Adam, built with ``kwargs`` over a float32 parameter on the CPU,
    accepts them and takes a step with ``beta1`` in ``betas[0]`` (set after construction,
    as a scheduler leaves it)."""
    param = torch.nn.Parameter(torch.zeros(2))
    param.grad = torch.ones(2)

    def step() -> None:
        adam = torch.optim.Adam([param], lr=0.1, **kwargs)
        adam.param_groups[0]["betas"] = (beta1, 0.999)
        adam.step()

    return outcome(step)[1] is None


@functools.cache
def torch_state_loads_weights_only() -> bool:
    """Whether torch's own OneCycleLR state survives ``torch.load(weights_only=True)``:
    from torch 2.4 on it is plain data; before, it holds the annealing function."""
    buffer = io.BytesIO()
    torch.save(TorchOneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=5).state_dict(), buffer)
    buffer.seek(0)
    return outcome(lambda: torch.load(buffer, weights_only=True))[1] is None


def torch_round_trip(obj: Any) -> Any:
    """``torch.save`` then ``torch.load``, with ``weights_only=True`` (what Lightning,
    accelerate and transformers use) wherever torch's own scheduler state allows it."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=torch_state_loads_weights_only())


def outcome(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return fn(), None
    except Exception as e:
        return None, e


def assert_same_failure(theirs: BaseException | None, ours: BaseException | None, where: str) -> None:
    """Both succeed, or both fail alike. Where torch divides by zero, ours must raise a
    ValueError that explains it instead."""
    if theirs is None:
        assert ours is None, f"{where}: torch succeeded, ours raised {ours!r}"
        return
    assert ours is not None, f"{where}: torch raised {theirs!r}, ours succeeded"
    if isinstance(theirs, ZeroDivisionError):
        assert type(ours) is ValueError, f"{where}: {ours!r}"
        assert "ZeroDivisionError" in str(ours), str(ours)
    else:
        assert type(ours) is type(theirs), f"{where}: torch {theirs!r}, ours {ours!r}"
        assert str(ours) == str(theirs), where


def run_side_by_side(
    optimizer: str,
    groups: int,
    kwargs: dict[str, Any],
    steps: int | None = None,
    between: Callable[[int, torch.optim.Optimizer], None] | None = None,
) -> tuple[TorchOneCycleLR | None, OneCycleLR | None]:
    """Construct both schedulers on identical optimizers and step them together (each
    after an optimizer step), comparing the full state after every step. `steps` defaults
    to total_steps + 2: through the extra step torch allows, and one past it. `between`
    may edit each optimizer before step `i`."""
    t_opt, o_opt = make_optimizer(optimizer, groups), make_optimizer(optimizer, groups)
    theirs, t_err = outcome(lambda: TorchOneCycleLR(t_opt, **kwargs))
    ours, o_err = outcome(lambda: OneCycleLR(o_opt, **kwargs))
    assert_same_failure(t_err, o_err, "construction")
    if t_err is not None:
        return None, None
    assert_same_state(theirs, ours, "after construction")
    if steps is None:
        steps = theirs.total_steps + 2
    for i in range(1, steps + 1):
        if between is not None:
            between(i, t_opt)
            between(i, o_opt)
        t_opt.step()
        o_opt.step()
        _, t_err = outcome(theirs.step)
        _, o_err = outcome(ours.step)
        assert_same_failure(t_err, o_err, f"step {i}")
        assert_same_state(theirs, ours, f"after step {i}")
        if t_err is not None:
            break
    return theirs, ours


def step_together(
    theirs: TorchOneCycleLR, ours: OneCycleLR, steps: int
) -> tuple[BaseException | None, BaseException | None]:
    """Step both (each after an optimizer step) up to ``steps`` times, comparing the state
    after each step, until torch fails; returns the two failures (None, None if none)."""
    for i in range(1, steps + 1):
        theirs.optimizer.step()
        ours.optimizer.step()
        _, t_err = outcome(theirs.step)
        _, o_err = outcome(ours.step)
        assert_same_failure(t_err, o_err, f"step {i}")
        if t_err is not None:
            return t_err, o_err
        assert_same_state(theirs, ours, f"after step {i}")
    return None, None


class _TorchWithoutInitialStep(TorchOneCycleLR):
    """torch's class, less the step to 0 its constructor takes: the value at a later step
    is then torch's even where step 0 alone would divide by zero (a first phase of zero
    width, e.g. ``total_steps=3, pct_start=1/3``)."""

    def _initial_step(self) -> None:
        self._step_count = 0


def torch_values_at(total_steps: int, step: int, **kwargs: Any) -> tuple[float, float]:
    """group['lr'] and group['momentum'] of torch's OneCycleLR (one SGD group) when
    last_epoch == step, reached directly rather than by stepping (as resuming does)."""
    opt = make_optimizer("sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cls = TorchOneCycleLR if step == 0 else _TorchWithoutInitialStep
        sched = cls(opt, total_steps=total_steps, **kwargs)
        if step > 0:
            sched.last_epoch = step - 1
            sched.step()
    group = opt.param_groups[0]
    return group["lr"], group["momentum"]


# --- hypothesis strategies: the whole parameter space ------------------------------------

unit = st.floats(0.0, 1.0)
positive = st.floats(1e-6, 1e3, allow_subnormal=False)


@st.composite
def pct_starts(draw: st.DrawFn, total_steps: int) -> float:
    """Mostly arbitrary, sometimes exactly on a step boundary (k / total_steps), where the
    phase-end arithmetic is most delicate."""
    return draw(
        st.one_of(
            unit,
            st.integers(0, total_steps).map(lambda k: k / total_steps),
            st.integers(0, 2 * total_steps).map(lambda k: k / (2 * total_steps)),
            st.sampled_from([0.0, 1.0, 0.3, 0.25, 0.5]),
        )
    )


@st.composite
def configurations(draw: st.DrawFn) -> tuple[str, int, dict]:
    optimizer = draw(st.sampled_from(MOMENTUM_OPTIMIZERS))
    groups = draw(st.integers(1, 3))
    total_steps = draw(st.integers(1, 120))

    def per_group(values: st.SearchStrategy[float]) -> st.SearchStrategy:
        return st.one_of(values, st.lists(values, min_size=groups, max_size=groups))

    kwargs = dict(
        max_lr=draw(per_group(positive)),
        total_steps=total_steps,
        pct_start=draw(pct_starts(total_steps)),
        anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
        cycle_momentum=draw(st.booleans()),
        base_momentum=draw(per_group(unit)),
        max_momentum=draw(per_group(unit)),
        div_factor=draw(positive),
        final_div_factor=draw(positive),
        three_phase=draw(st.booleans()),
    )
    return optimizer, groups, kwargs
