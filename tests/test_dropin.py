"""The drop-in where torch's OneCycleLR is used: type checks, checkpoints both ways,
composition with torch's schedulers, tensor hyperparameters and the opt-in hold_final,
each compared with torch's own scheduler in the same setup, bit for bit."""

from __future__ import annotations

import copy
import inspect
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from onecycle import OneCycleLR
from parity import (
    adam_steps,
    assert_same_failure,
    assert_same_state,
    configurations,
    groups_state,
    make_optimizer,
    outcome,
    run_side_by_side,
    same,
    torch_copies_last_lr,
    torch_fills_tensor_lr,
    torch_round_trip,
    torch_side,
)
from torch.optim import lr_scheduler
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

Scheduler = Any  # either class


def constructs(optimizer: str, groups: int, kwargs: dict[str, Any]) -> bool:
    """Whether torch's scheduler accepts this configuration."""
    _, err = outcome(lambda: TorchOneCycleLR(make_optimizer(optimizer, groups), **kwargs))
    return err is None


def step_both(*pairs: tuple[torch.optim.Optimizer, Scheduler]) -> list[BaseException | None]:
    """An optimizer step, then a scheduler step, for each pair; the scheduler errors."""
    errors = []
    for opt, sched in pairs:
        opt.step()
        errors.append(outcome(sched.step)[1])
    return errors


# --- 0. type checks ------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"verbose": True}, {"hold_final": True}], ids=repr)
def test_is_a_torch_onecycle_scheduler_and_not_callable(kwargs: dict[str, Any]) -> None:
    sched = OneCycleLR(make_optimizer("sgd"), max_lr=0.1, total_steps=10, **kwargs)
    assert isinstance(sched, TorchOneCycleLR)
    assert isinstance(sched, LRScheduler)
    assert issubclass(type(sched), TorchOneCycleLR)
    # DeepSpeed takes a callable scheduler for a factory.
    assert not callable(sched)
    assert all("__call__" not in vars(cls) for cls in type(sched).__mro__ if cls is not object)


# --- 1. checkpoints ------------------------------------------------------------------------

PLAIN_TYPES = (int, float, str, bool, type(None), torch.Tensor)


def not_plain(value: Any, where: str = "state_dict") -> list[str]:
    """Where ``value`` holds anything but containers of numbers, strings and tensors (an
    optimizer, a callable, a Rust object)."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value), where
        return [w for k, v in value.items() for w in not_plain(v, f"{where}[{k!r}]")]
    if isinstance(value, (list, tuple)):
        return [w for i, v in enumerate(value) for w in not_plain(v, f"{where}[{i}]")]
    return [] if type(value) in PLAIN_TYPES else [f"{where}: {type(value).__name__}"]


def assert_plain_data_like_torchs(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Plain data wherever torch's state is (all of it from torch 2.4 on; torch 2.0-2.3
    keep the annealing function in ``anneal_func``), and the same kind of thing elsewhere."""
    assert not_plain(ours) == not_plain(theirs)


TENSOR_LR_ADAM = "tensor-lr-adam"


def optimizer_for(kind: str, groups: int = 1) -> torch.optim.Optimizer:
    if kind == TENSOR_LR_ADAM:
        torch.manual_seed(0)
        params = [{"params": [torch.nn.Parameter(torch.randn(3))]} for _ in range(groups)]
        return torch.optim.Adam(params, lr=torch.tensor(0.01))
    return make_optimizer(kind, groups)


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("sgd", {}),
        ("adam", {"three_phase": True, "anneal_strategy": "linear"}),
        ("sgd", {"cycle_momentum": False}),
        (TENSOR_LR_ADAM, {}),
    ],
    ids=repr,
)
@pytest.mark.parametrize("extra", [{}, {"hold_final": True}, {"verbose": True}], ids=repr)
def test_state_dict_has_torchs_keys_as_plain_data(
    kind: str, kwargs: dict[str, Any], extra: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    t_opt, o_opt = optimizer_for(kind, 2), optimizer_for(kind, 2)
    theirs = TorchOneCycleLR(t_opt, max_lr=0.1, total_steps=20, **kwargs, **torch_side(extra))
    ours = OneCycleLR(o_opt, max_lr=0.1, total_steps=20, **kwargs, **extra)
    for step in range(4):
        state = ours.state_dict()
        assert list(state) == list(theirs.state_dict()), step
        assert same(state, theirs.state_dict()), step
        assert_plain_data_like_torchs(state, theirs.state_dict())
        # What Lightning, accelerate and transformers do with it.
        assert same(torch_round_trip(state), state)
        step_both((t_opt, theirs), (o_opt, ours))


@given(
    configurations(),
    st.data(),
    st.sampled_from(["ours-to-torch", "torch-to-ours", "ours-to-ours"]),
)
def test_property_checkpoint_loads_both_ways_and_continues_identically(
    config: tuple[str, int, dict[str, Any]], data: st.DataObject, direction: str
) -> None:
    """Save scheduler and optimizer mid-run (torch.save), load them with
    torch.load(weights_only=True) into a scheduler of the other class built with another
    configuration, and continue: every later step equals the uninterrupted run's."""
    optimizer, groups, kwargs = config
    assume(constructs(optimizer, groups, kwargs))
    src_cls, dst_cls = {
        "ours-to-torch": (OneCycleLR, TorchOneCycleLR),
        "torch-to-ours": (TorchOneCycleLR, OneCycleLR),
        "ours-to-ours": (OneCycleLR, OneCycleLR),
    }[direction]
    k = data.draw(st.integers(0, kwargs["total_steps"]), label="steps before saving")
    src_opt = make_optimizer(optimizer, groups)
    src = src_cls(src_opt, **kwargs)
    for _ in range(k):
        step_both((src_opt, src))
    saved = torch_round_trip({"scheduler": src.state_dict(), "optimizer": src_opt.state_dict()})
    dst_opt = make_optimizer(optimizer, groups)
    # Another configuration, but the same cycle_momentum: a state without momentum cycling
    # lacks use_beta1, so loading it leaves the old one in place (in torch as in ours).
    dst = dst_cls(
        dst_opt,
        max_lr=0.5,
        total_steps=7,
        three_phase=True,
        anneal_strategy="linear",
        cycle_momentum=kwargs["cycle_momentum"],
    )
    dst_opt.load_state_dict(saved["optimizer"])
    dst.load_state_dict(saved["scheduler"])
    assert_same_state(src, dst, f"loaded after {k} steps")
    for i in range(k, kwargs["total_steps"] + 2):
        src_err, dst_err = step_both((src_opt, src), (dst_opt, dst))
        torch_err, our_err = (dst_err, src_err) if direction == "ours-to-torch" else (src_err, dst_err)
        assert_same_failure(torch_err, our_err, f"step {i + 1}")
        assert_same_state(src, dst, f"step {i + 1}")
        if src_err is not None:
            break


def test_checkpoint_of_tensor_lr_loads_both_ways() -> None:
    for src_cls, dst_cls in ((OneCycleLR, TorchOneCycleLR), (TorchOneCycleLR, OneCycleLR)):
        src_opt = optimizer_for(TENSOR_LR_ADAM, 2)
        src = src_cls(src_opt, max_lr=[0.1, 0.2], total_steps=30)
        for _ in range(9):
            step_both((src_opt, src))
        saved = torch_round_trip({"scheduler": src.state_dict(), "optimizer": src_opt.state_dict()})
        dst_opt = optimizer_for(TENSOR_LR_ADAM, 2)
        dst = dst_cls(dst_opt, max_lr=0.3, total_steps=30)
        dst_opt.load_state_dict(saved["optimizer"])
        dst.load_state_dict(saved["scheduler"])
        for i in range(21):  # to the extra step torch allows
            assert same(step_both((src_opt, src), (dst_opt, dst)), [None, None]), i
            assert_same_state(src, dst, f"step {i}")


def test_resume_with_last_epoch_after_loading_the_optimizer() -> None:
    """The documented resume: load the optimizer's state into a fresh optimizer, then build
    the scheduler with last_epoch=k."""
    kwargs: dict[str, Any] = dict(max_lr=[0.1, 0.3], total_steps=40, pct_start=0.25)
    runs = {}
    for cls in (TorchOneCycleLR, OneCycleLR):
        opt = make_optimizer("adam", 2)
        sched = cls(opt, **kwargs)
        for _ in range(11):
            step_both((opt, sched))
        resumed_opt = make_optimizer("adam", 2)
        resumed_opt.load_state_dict(torch_round_trip(opt.state_dict()))
        runs[cls] = (resumed_opt, cls(resumed_opt, last_epoch=sched.last_epoch, **kwargs))
    (t_opt, theirs), (o_opt, ours) = runs[TorchOneCycleLR], runs[OneCycleLR]
    assert_same_state(theirs, ours, "resumed")
    for i in range(31):
        assert_same_failure(*step_both((t_opt, theirs), (o_opt, ours)), f"step {i}")
        assert_same_state(theirs, ours, f"resumed step {i}")


@pytest.mark.parametrize("clone", ["pickle", "deepcopy"])
@pytest.mark.parametrize("kwargs", [{}, {"hold_final": True}, {"verbose": True}], ids=repr)
def test_pickled_and_copied_schedulers_continue_like_torchs(
    clone: str, kwargs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    copy_of: Callable[[Any], Any] = (
        (lambda s: pickle.loads(pickle.dumps(s))) if clone == "pickle" else copy.deepcopy
    )
    t_opt, o_opt = make_optimizer("adamw", 2), make_optimizer("adamw", 2)
    theirs = TorchOneCycleLR(t_opt, max_lr=[0.1, 0.2], total_steps=25, **torch_side(kwargs))
    ours = OneCycleLR(o_opt, max_lr=[0.1, 0.2], total_steps=25, **kwargs)
    for _ in range(6):
        step_both((t_opt, theirs), (o_opt, ours))
    t_clone, o_clone = copy_of(theirs), copy_of(ours)
    assert type(o_clone) is type(ours)
    assert o_clone.optimizer is not o_opt
    assert_same_state(t_clone, o_clone, "cloned")
    for i in range(18):  # to last_epoch == total_steps - 1
        errors = step_both((t_clone.optimizer, t_clone), (o_clone.optimizer, o_clone))
        assert same(errors, [None, None]), i
        assert_same_state(t_clone, o_clone, f"clone step {i}")
        # The original is independent of its clone.
        assert ours.last_epoch == 6
    if kwargs.get("hold_final"):  # still holding after the round trip
        for _ in range(3):
            o_clone.optimizer.step()
            o_clone.step()
        assert same(o_clone.get_last_lr(), t_clone.get_last_lr())
        assert same(groups_state(o_clone.optimizer), groups_state(t_clone.optimizer))


# --- 2. composition ------------------------------------------------------------------------


def recorded(run: Callable[[type], Any], cls: type) -> tuple[Any, list[tuple[type, str]]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(cls)
    return result, [(w.category, str(w.message)) for w in caught]


def trace(opt: torch.optim.Optimizer, sched: Any, steps: int) -> list[Any]:
    """Everything observable after each of `steps` steps of `sched` (an optimizer step
    before each)."""
    out: list[Any] = [(groups_state(opt), sched.get_last_lr(), sched.state_dict())]
    for _ in range(steps):
        opt.step()
        _, err = outcome(sched.step)
        out.append((groups_state(opt), sched.get_last_lr(), sched.state_dict(), repr(err)))
    return out


def chained(schedulers: list[Any], opt: torch.optim.Optimizer) -> lr_scheduler.ChainedScheduler:
    """torch's ChainedScheduler, given the optimizer where it takes one (torch 2.4 on)."""
    takes_optimizer = "optimizer" in inspect.signature(lr_scheduler.ChainedScheduler).parameters
    return lr_scheduler.ChainedScheduler(schedulers, **({"optimizer": opt} if takes_optimizer else {}))


COMPOSITIONS: dict[str, Callable[[type, torch.optim.Optimizer], Any]] = {
    "sequential: warm-up, then 1cycle": lambda cls, opt: lr_scheduler.SequentialLR(
        opt,
        [lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5), cls(opt, max_lr=0.2, total_steps=30)],
        milestones=[5],
    ),
    "sequential: 1cycle, then constant": lambda cls, opt: lr_scheduler.SequentialLR(
        opt,
        [cls(opt, max_lr=0.2, total_steps=20, three_phase=True), lr_scheduler.ConstantLR(opt, factor=0.5)],
        milestones=[20],
    ),
    "sequential: two cycles": lambda cls, opt: lr_scheduler.SequentialLR(
        opt,
        [
            cls(opt, max_lr=0.2, total_steps=12),
            cls(opt, max_lr=0.05, total_steps=20, anneal_strategy="linear"),
        ],
        milestones=[12],
    ),
    "chained: 1cycle, exponential": lambda cls, opt: chained(
        [cls(opt, max_lr=0.2, total_steps=30), lr_scheduler.ExponentialLR(opt, gamma=0.97)], opt
    ),
    "chained: exponential, 1cycle": lambda cls, opt: chained(
        [lr_scheduler.ExponentialLR(opt, gamma=0.97), cls(opt, max_lr=0.2, total_steps=30)], opt
    ),
}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_composition_equals_torchs(name: str, optimizer: str) -> None:
    def run(cls: type) -> list[Any]:
        opt = make_optimizer(optimizer, 2)
        return trace(opt, COMPOSITIONS[name](cls, opt), 34)

    theirs, ours = recorded(run, TorchOneCycleLR), recorded(run, OneCycleLR)
    assert same(ours[0], theirs[0])
    assert ours[1] == theirs[1]  # the same warnings


@given(
    configurations(),
    st.lists(st.one_of(st.none(), st.integers(0, 130)), min_size=1, max_size=12),
)
def test_property_deprecated_step_epoch_equals_torchs(
    config: tuple[str, int, dict[str, Any]], epochs: list[int | None]
) -> None:
    """step(epoch), torch's deprecated path, mixed with plain steps: the same warnings,
    values and errors."""
    optimizer, groups, kwargs = config
    assume(constructs(optimizer, groups, kwargs))

    def run(cls: type) -> list[Any]:
        opt = make_optimizer(optimizer, groups)
        sched = cls(opt, **kwargs)
        out = []
        for epoch in epochs:
            opt.step()
            _, err = outcome(lambda epoch=epoch: sched.step(epoch))  # type: ignore[misc]
            out.append((groups_state(opt), sched.get_last_lr(), sched.state_dict(), repr(err)))
        return out

    theirs, ours = recorded(run, TorchOneCycleLR), recorded(run, OneCycleLR)
    for i, (t, o) in enumerate(zip(theirs[0], ours[0], strict=True)):
        t_err, o_err = t[3], o[3]
        if "ZeroDivisionError" in t_err:  # ours explains it with a ValueError
            assert o_err.startswith("ValueError") and "ZeroDivisionError" in o_err, (i, o_err)
            return
        assert o_err == t_err, i
    assert same(ours[0], theirs[0])
    assert ours[1] == theirs[1]


# --- 3. tensor hyperparameters --------------------------------------------------------------


def adam(
    lr: Any, betas: Callable[[], tuple[Any, Any]] | None = None, groups: int = 2, **kwargs: Any
) -> torch.optim.Adam:
    """Adam over `groups` groups; `betas()` gives each group its own betas."""
    torch.manual_seed(0)
    params = [
        {"params": [torch.nn.Parameter(torch.randn(3))], **({"betas": betas()} if betas else {})}
        for _ in range(groups)
    ]
    return torch.optim.Adam(params, lr=lr, **kwargs)


def train_step(opt: torch.optim.Optimizer) -> None:
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = torch.ones_like(p)
    opt.step()


ADAM_VARIANTS = {
    "default": {},
    "fused": {"fused": True},
    "foreach=False": {"foreach": False},
}


def skip_unless_adam_steps(kwargs: dict[str, Any]) -> None:
    if not adam_steps(**kwargs):
        pytest.skip(f"this torch's Adam does not step on the CPU with {kwargs}")


@pytest.mark.parametrize("variant", list(ADAM_VARIANTS))
@pytest.mark.parametrize("lr_dtype", [torch.float32, torch.float64])
def test_tensor_lr_is_filled_in_place_with_torchs_values(variant: str, lr_dtype: torch.dtype) -> None:
    """Where torch fills a tensor lr in place (2.4 on), so does ours; where it replaces the
    tensor with a float (2.0-2.3), ours does the same."""
    kwargs = ADAM_VARIANTS[variant]
    skip_unless_adam_steps(kwargs)
    t_opt = adam(torch.tensor(0.01, dtype=lr_dtype), **kwargs)
    o_opt = adam(torch.tensor(0.01, dtype=lr_dtype), **kwargs)
    theirs = TorchOneCycleLR(t_opt, max_lr=[0.1, 0.05], total_steps=25)
    ours = OneCycleLR(o_opt, max_lr=[0.1, 0.05], total_steps=25)
    lr_tensors = [g["lr"] for g in o_opt.param_groups]
    for i in range(26):
        assert_same_state(theirs, ours, f"step {i}")
        if torch_fills_tensor_lr():
            assert all(g["lr"] is t for g, t in zip(o_opt.param_groups, lr_tensors, strict=True))
        else:
            assert all(type(g["lr"]) is float for g in o_opt.param_groups)
        last = ours.get_last_lr()
        if torch_copies_last_lr():  # get_last_lr() hands out copies: editing them changes nothing
            assert all(x is not t for x, t in zip(last, lr_tensors, strict=True))
        if isinstance(last[0], torch.Tensor):
            last[0].fill_(123.0)
            theirs.get_last_lr()[0].fill_(123.0)  # the same edit on torch's side
            assert same(o_opt.param_groups[0]["lr"], t_opt.param_groups[0]["lr"])
            assert_same_state(theirs, ours, f"step {i}, after editing get_last_lr()")
        if i < 25:
            train_step(t_opt), train_step(o_opt), theirs.step(), ours.step()
    assert same(
        [p.detach() for g in o_opt.param_groups for p in g["params"]],
        [p.detach() for g in t_opt.param_groups for p in g["params"]],
    )


def test_tensor_lr_with_capturable_optimizer() -> None:
    # capturable needs an accelerator to step the optimizer; the scheduler alone runs here.
    t_opt = adam(torch.tensor(0.01), capturable=True)
    o_opt = adam(torch.tensor(0.01), capturable=True)

    def run(cls: type) -> list[Any]:
        opt = t_opt if cls is TorchOneCycleLR else o_opt
        sched = cls(opt, max_lr=0.1, total_steps=15)
        return [(groups_state(opt), sched.get_last_lr(), outcome(sched.step)[1] is None) for _ in range(17)]

    theirs, ours = recorded(run, TorchOneCycleLR), recorded(run, OneCycleLR)
    assert same(ours[0], theirs[0])
    assert ours[1] == theirs[1]


def assert_kept_beta1_holds_torchs(
    t_group: dict[str, Any], o_group: dict[str, Any], betas_kept: Any, beta_dtype: torch.dtype, i: int
) -> None:
    assert o_group["betas"] is betas_kept, i  # the same tuple, the same tensors
    t_beta1 = t_group["betas"][0]
    assert type(t_beta1) is float
    assert same(o_group["betas"][0], torch.tensor(t_beta1, dtype=beta_dtype)), i
    assert same(o_group["betas"][1], t_group["betas"][1])
    assert same(
        {k: v for k, v in o_group.items() if k not in ("betas", "params")},
        {k: v for k, v in t_group.items() if k not in ("betas", "params")},
    )


@pytest.mark.parametrize("variant", list(ADAM_VARIANTS))
@pytest.mark.parametrize("beta_dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("resume", [False, True])
def test_tensor_beta1_stays_the_same_tensor_holding_torchs_value(
    variant: str, beta_dtype: torch.dtype, resume: bool
) -> None:
    """torch replaces a tensor betas[0] with a float; ours writes the same value into the
    tensor (rounded to its dtype, as a tensor lr is) and keeps the tensor, wherever torch's
    Adam steps with such a tensor. Where it does not (a float64 tensor on float32 parameters
    in torch 2.0-2.4), ours replaces it with the float, as torch does, so training works."""
    kwargs = ADAM_VARIANTS[variant]
    skip_unless_adam_steps(kwargs)
    keeps = adam_steps(torch.tensor(0.9, dtype=beta_dtype), foreach=False)

    def betas() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tensor(0.9, dtype=beta_dtype), torch.tensor(0.999, dtype=beta_dtype)

    t_opt = adam(torch.tensor(0.01), betas, **kwargs)
    o_opt = adam(torch.tensor(0.01), betas, **kwargs)
    if resume:  # the groups hold the scheduler's keys; resume at step 7
        for opt in (t_opt, o_opt):
            TorchOneCycleLR(opt, max_lr=0.1, total_steps=20, max_momentum=[0.95, 0.9])
            opt.param_groups[0]["betas"] = betas()
            opt.param_groups[1]["betas"] = betas()
    kept = [g["betas"] for g in o_opt.param_groups]
    last_epoch = 6 if resume else -1
    theirs = TorchOneCycleLR(
        t_opt, max_lr=0.1, total_steps=20, max_momentum=[0.95, 0.9], last_epoch=last_epoch
    )
    ours = OneCycleLR(o_opt, max_lr=0.1, total_steps=20, max_momentum=[0.95, 0.9], last_epoch=last_epoch)
    for i in range(22):
        if not keeps:
            assert_same_state(theirs, ours, f"step {i}")
        for t_group, o_group, betas_kept in zip(t_opt.param_groups, o_opt.param_groups, kept, strict=True):
            if keeps:
                assert_kept_beta1_holds_torchs(t_group, o_group, betas_kept, beta_dtype, i)
        assert same(ours.get_last_lr(), theirs.get_last_lr())
        assert same(ours.state_dict(), theirs.state_dict())
        if i < 21:
            train_step(t_opt), train_step(o_opt)
            assert_same_failure(outcome(theirs.step)[1], outcome(ours.step)[1], f"step {i}")


@pytest.mark.parametrize("max_momentum", [0.95, [0.95, 0.9, 0.9]], ids=repr)
def test_tensor_beta1_shared_by_groups(max_momentum: Any) -> None:
    """Adam's default betas are one tuple for every group. While the groups get one
    momentum, they keep sharing the tensor; where they get different ones, the first group
    keeps the tensor and each other gets its own copy (made once, then kept)."""

    def shared_betas_adam() -> torch.optim.Adam:
        torch.manual_seed(0)
        params = [{"params": [torch.nn.Parameter(torch.randn(3))]} for _ in range(3)]
        return torch.optim.Adam(params, lr=0.01, betas=(torch.tensor(0.9), torch.tensor(0.999)))

    kwargs: dict[str, Any] = dict(max_lr=0.1, total_steps=20, max_momentum=max_momentum)
    t_opt, o_opt = shared_betas_adam(), shared_betas_adam()
    own = o_opt.param_groups[0]["betas"][0]
    assert all(g["betas"][0] is own for g in o_opt.param_groups)
    theirs, ours = TorchOneCycleLR(t_opt, **kwargs), OneCycleLR(o_opt, **kwargs)
    split = isinstance(max_momentum, list)
    kept = [g["betas"][0] for g in o_opt.param_groups]
    assert kept[0] is own
    assert (kept[1] is own and kept[2] is own) != split
    for i in range(21):
        for t_group, o_group, tensor in zip(t_opt.param_groups, o_opt.param_groups, kept, strict=True):
            assert o_group["betas"][0] is tensor, i
            assert same(tensor, torch.tensor(t_group["betas"][0])), i
        if i < 20:
            train_step(t_opt), train_step(o_opt), theirs.step(), ours.step()


def test_tensor_momentum_bounds_follow_torch() -> None:
    # Tensor max_momentum: torch's tensor arithmetic, and its betas[0] is a new tensor each
    # step (betas were floats: nothing is kept).
    t_opt, o_opt = adam(0.01), adam(0.01)
    kwargs: dict[str, Any] = dict(max_lr=0.1, total_steps=12, max_momentum=torch.tensor(0.95))
    theirs, ours = TorchOneCycleLR(t_opt, **kwargs), OneCycleLR(o_opt, **kwargs)
    for i in range(13):
        assert_same_state(theirs, ours, f"step {i}")
        if i < 12:
            train_step(t_opt), train_step(o_opt), theirs.step(), ours.step()


# --- 5. hold_final ---------------------------------------------------------------------------


@given(configurations(), st.integers(1, 5))
def test_property_hold_final_holds_the_last_value(
    config: tuple[str, int, dict[str, Any]], extra: int
) -> None:
    """Up to step total_steps - 1 everything equals torch's; from there on every step
    keeps torch's values of step total_steps - 1, with no exception."""
    optimizer, groups, kwargs = config
    assume(constructs(optimizer, groups, kwargs))
    total = kwargs["total_steps"]
    t_opt, o_opt = make_optimizer(optimizer, groups), make_optimizer(optimizer, groups)
    theirs = TorchOneCycleLR(t_opt, **kwargs)
    ours = OneCycleLR(o_opt, **kwargs, hold_final=True)
    for i in range(total - 1):
        assert_same_state(theirs, ours, f"step {i}")
        assert same(step_both((t_opt, theirs), (o_opt, ours)), [None, None])
    assert_same_state(theirs, ours, "at total_steps - 1")
    final_groups, final_lr = groups_state(t_opt), theirs.get_last_lr()
    for i in range(extra):
        o_opt.step()
        ours.step()
        assert ours.last_epoch == total + i
        assert same(groups_state(o_opt), final_groups)
        assert same(ours.get_last_lr(), final_lr)
    # The deprecated step(epoch) holds too.
    with pytest.warns(UserWarning, match="epoch parameter"):
        ours.step(total + 100)
    assert same(groups_state(o_opt), final_groups) and same(ours.get_last_lr(), final_lr)
    assert ours.state_dict().keys() == theirs.state_dict().keys()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(total_steps=10, pct_start=1.0),  # torch: ZeroDivisionError at step 10
        dict(total_steps=11, pct_start=0.5454545454545454, three_phase=True),
        dict(total_steps=20, anneal_strategy="linear"),  # torch: negative at step 20
        dict(total_steps=1),
        dict(total_steps=20, max_lr=torch.tensor(0.1)),  # torch's own arithmetic
    ],
    ids=repr,
)
def test_hold_final_edges(kwargs: dict[str, Any]) -> None:
    kwargs = {"max_lr": 0.1, **kwargs}
    t_opt, o_opt = make_optimizer("adam", 2), make_optimizer("adam", 2)
    theirs, ours = TorchOneCycleLR(t_opt, **kwargs), OneCycleLR(o_opt, **kwargs, hold_final=True)
    for _ in range(kwargs["total_steps"] - 1):
        step_both((t_opt, theirs), (o_opt, ours))
    assert_same_state(theirs, ours)
    final = groups_state(t_opt)
    for _ in range(4):
        assert step_both((o_opt, ours)) == [None]
        assert same(groups_state(o_opt), final)
    assert all(lr >= 0 for lr in ours.get_last_lr())


def test_hold_final_is_keyword_only_and_a_bool() -> None:
    args = (0.1, 10, None, None, 0.3, "cos", True, 0.85, 0.95, 25.0, 1e4, False, -1, False)
    OneCycleLR(make_optimizer("sgd"), *args)
    with pytest.raises(TypeError):
        OneCycleLR(make_optimizer("sgd"), *args, True)  # type: ignore[misc]
    with pytest.raises(TypeError, match="hold_final must be True or False, got 1"):
        OneCycleLR(make_optimizer("sgd"), 0.1, 10, hold_final=1)  # type: ignore[arg-type]


def test_hold_final_run_of_exactly_total_steps_steps() -> None:
    """A loop that counts total_steps optimizer steps (Lightning's estimated_stepping_batches)
    ends at last_epoch == total_steps: equal to torch's, with or without hold_final."""
    for hold in (False, True):
        t_opt, o_opt = make_optimizer("sgd", 2), make_optimizer("sgd", 2)
        theirs = TorchOneCycleLR(t_opt, max_lr=0.1, total_steps=40)
        ours = OneCycleLR(o_opt, max_lr=0.1, total_steps=40, hold_final=hold)
        for i in range(40):
            assert same(step_both((t_opt, theirs), (o_opt, ours)), [None, None])
            if not hold or i < 39:
                assert_same_state(theirs, ours, f"step {i}")
        assert ours.last_epoch == theirs.last_epoch == 40


# --- step(): the one-call path keeps torch's observable behaviour ----------------------------


def test_subclass_overriding_get_lr_is_called_every_step() -> None:
    calls = []

    class Logged(OneCycleLR):
        def get_lr(self) -> list[Any]:
            calls.append(self.last_epoch)
            return super().get_lr()

    opt = make_optimizer("sgd")
    sched = Logged(opt, max_lr=0.1, total_steps=10)
    for _ in range(5):
        step_both((opt, sched))
    assert calls == [0, 1, 2, 3, 4, 5]


def test_changes_between_steps_take_effect_as_in_torch() -> None:
    other = TorchOneCycleLR(make_optimizer("sgd", 2), max_lr=0.1, total_steps=60, three_phase=True)

    def edit(i: int, opt: torch.optim.Optimizer) -> None:
        for sched in scheds:
            if sched.optimizer is opt:
                if i == 5:
                    sched.cycle_momentum = False
                if i == 9:
                    sched.cycle_momentum = True
                if i == 12:
                    sched._schedule_phases = copy.deepcopy(other._schedule_phases)
                if i == 20:
                    sched._anneal_func_type = "linear"
                if i == 25:
                    sched.total_steps = 30
                if i == 27:
                    opt.param_groups[1]["lr"] = torch.tensor(0.5)
                if i == 29:
                    opt.param_groups[0]["betas"] = [0.9, 0.99]

    scheds: list[Any] = []
    t_opt, o_opt = make_optimizer("adam", 2), make_optimizer("adam", 2)
    scheds += [
        TorchOneCycleLR(t_opt, max_lr=0.1, total_steps=60),
        OneCycleLR(o_opt, max_lr=0.1, total_steps=60),
    ]
    theirs, ours = scheds
    for i in range(1, 34):
        edit(i, t_opt), edit(i, o_opt)
        assert_same_failure(*step_both((t_opt, theirs), (o_opt, ours)), f"step {i}")
        assert_same_state(theirs, ours, f"step {i}")


def test_new_param_group_fails_as_in_torch() -> None:
    t_opt, o_opt = make_optimizer("sgd"), make_optimizer("sgd")
    theirs, ours = TorchOneCycleLR(t_opt, 0.1, 10), OneCycleLR(o_opt, 0.1, 10)
    step_both((t_opt, theirs), (o_opt, ours))
    for opt in (t_opt, o_opt):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))]})
    t_err, o_err = step_both((t_opt, theirs), (o_opt, ours))
    assert isinstance(t_err, KeyError)
    assert_same_failure(t_err, o_err, "new group")
    assert_same_state(theirs, ours, "after the failure")


@pytest.mark.parametrize("groups", [1, 4])
def test_every_step_of_a_long_run_equals_torchs(groups: int) -> None:
    for optimizer in ("sgd", "adam", "sgd-no-momentum"):
        run_side_by_side(optimizer, groups, dict(max_lr=0.3, total_steps=1000, pct_start=0.25))
        run_side_by_side(optimizer, groups, dict(max_lr=0.3, total_steps=300, cycle_momentum=False))


# --- load_state_dict: malformed or foreign states ---------------------------------------------


def good_state() -> dict[str, Any]:
    opt = make_optimizer("adam", 2)
    sched = TorchOneCycleLR(opt, max_lr=0.1, total_steps=30)
    for _ in range(3):
        step_both((opt, sched))
    return copy.deepcopy(sched.state_dict())


def with_(**changes: Any) -> Callable[[], Any]:
    def make() -> Any:
        state = good_state()
        for key, value in changes.items():
            if value is KeyError:
                state.pop(key, None)  # a key this torch release may not write
            else:
                state[key] = value
        return state

    return make


def foreign(cls: type, **kwargs: Any) -> Callable[[], Any]:
    return lambda: cls(make_optimizer("adam", 2), **kwargs).state_dict()


def phase_edit(**changes: Any) -> Callable[[], Any]:
    def make() -> Any:
        state = good_state()
        for key, value in changes.items():
            if value is KeyError:
                del state["_schedule_phases"][1][key]
            else:
                state["_schedule_phases"][1][key] = value
        return state

    return make


BAD_STATES: dict[str, tuple[Callable[[], Any], type[Exception], str]] = {
    "a list": (lambda: [1, 2], TypeError, "must be a dict"),
    "None": (lambda: None, TypeError, "must be a dict"),
    "an optimizer's state": (
        lambda: make_optimizer("adam", 2).state_dict(),
        ValueError,
        "lacks 'total_steps'",
    ),
    "CosineAnnealingLR's state": (foreign(lr_scheduler.CosineAnnealingLR, T_max=10), ValueError, "lacks"),
    "ExponentialLR's state": (foreign(lr_scheduler.ExponentialLR, gamma=0.9), ValueError, "lacks"),
    "no total_steps": (with_(total_steps=KeyError), ValueError, "lacks 'total_steps'"),
    "no use_beta1": (with_(use_beta1=KeyError), ValueError, "lacks 'use_beta1'"),
    "no phases": (with_(_schedule_phases=KeyError), ValueError, "lacks '_schedule_phases'"),
    "total_steps a str": (
        with_(total_steps="30"),
        TypeError,
        r"\['total_steps'\] must be an int >= 1, got '30'",
    ),
    "total_steps 0": (with_(total_steps=0), ValueError, r"\['total_steps'\] must be an int >= 1, got 0"),
    "total_steps True": (with_(total_steps=True), TypeError, "total_steps"),
    "total_steps a float": (with_(total_steps=30.0), TypeError, "total_steps"),
    "last_epoch a float": (with_(last_epoch=2.0), TypeError, r"\['last_epoch'\] must be an int >= -1"),
    "last_epoch -2": (with_(last_epoch=-2), ValueError, "last_epoch"),
    "_step_count None": (with_(_step_count=None), TypeError, "_step_count"),
    "cycle_momentum a str": (with_(cycle_momentum="yes"), TypeError, "cycle_momentum"),
    "anneal 'cosine'": (with_(_anneal_func_type="cosine"), ValueError, "'cos' or 'linear', got 'cosine'"),
    "base_lrs of 3 groups": (
        with_(base_lrs=[0.1, 0.1, 0.1]),
        ValueError,
        "3 values, but the optimizer has 2",
    ),
    "base_lrs a float": (with_(base_lrs=0.1), TypeError, "base_lrs"),
    "_last_lr of 1 group": (with_(_last_lr=[0.1]), ValueError, "_last_lr"),
    "phases empty": (with_(_schedule_phases=[]), TypeError, "non-empty list"),
    "phases a dict": (with_(_schedule_phases={"end_step": 3}), TypeError, "_schedule_phases"),
    "phase without end_step": (
        phase_edit(end_step=KeyError),
        TypeError,
        r"\[1\] must be a dict with the keys",
    ),
    "phase end_step a str": (phase_edit(end_step="29"), TypeError, r"\[1\]\['end_step'\] must be a number"),
    "phase end_step nan": (phase_edit(end_step=float("nan")), TypeError, "end_step"),
    "phase key not a str": (phase_edit(end_lr=0.1), TypeError, r"\['end_lr'\] must be the name"),
}


@pytest.mark.parametrize("name", list(BAD_STATES))
def test_malformed_or_foreign_state_is_refused_and_changes_nothing(name: str) -> None:
    make_state, error, message = BAD_STATES[name]
    t_opt, o_opt = make_optimizer("adam", 2), make_optimizer("adam", 2)
    theirs = TorchOneCycleLR(t_opt, max_lr=[0.2, 0.3], total_steps=25)
    ours = OneCycleLR(o_opt, max_lr=[0.2, 0.3], total_steps=25)
    for _ in range(4):
        step_both((t_opt, theirs), (o_opt, ours))
    before = copy.deepcopy(ours.state_dict())
    state = make_state()
    snapshot = copy.deepcopy(state)
    with pytest.raises(error, match=message):
        ours.load_state_dict(state)
    assert same(ours.state_dict(), before)
    assert same(state, snapshot)  # the argument is left alone too
    # The scheduler goes on exactly as torch's, which never saw the bad state.
    for i in range(23):
        assert_same_failure(*step_both((t_opt, theirs), (o_opt, ours)), f"step {i}")
        assert_same_state(theirs, ours, f"step {i}")


def test_valid_states_still_load_like_torchs() -> None:
    """What torch accepts from its own class: extra keys, a state without the optional
    bookkeeping keys, and one from a scheduler without momentum cycling."""
    states = {
        "extra key": with_(verbose=False, my_note="x"),
        "minimal": with_(_step_count=KeyError, _last_lr=KeyError, _is_initial=KeyError),
        "no momentum": foreign(TorchOneCycleLR, max_lr=0.1, total_steps=30, cycle_momentum=False),
    }
    for name, make_state in states.items():
        t_opt, o_opt = make_optimizer("adam", 2), make_optimizer("adam", 2)
        theirs = TorchOneCycleLR(t_opt, max_lr=[0.2, 0.3], total_steps=25)
        ours = OneCycleLR(o_opt, max_lr=[0.2, 0.3], total_steps=25)
        theirs.load_state_dict(make_state())
        ours.load_state_dict(make_state())
        for i in range(30):
            assert_same_state(theirs, ours, f"{name}: step {i}")
            assert_same_failure(*step_both((t_opt, theirs), (o_opt, ours)), f"{name}: step {i}")


def test_state_of_other_torch_releases_loads_as_in_torch() -> None:
    """torch 2.0-2.3 store the annealing function (anneal_func), later releases its name
    (_anneal_func_type). A state in the other form loads as the installed torch loads it:
    later releases still honour anneal_func where _anneal_func_type is absent, earlier ones
    keep their own function."""
    t_opt, o_opt = make_optimizer("sgd", 2), make_optimizer("sgd", 2)
    theirs, ours = TorchOneCycleLR(t_opt, 0.1, 30), OneCycleLR(o_opt, 0.1, 30)
    for _ in range(3):
        step_both((t_opt, theirs), (o_opt, ours))
    for sched in (theirs, ours):
        state = copy.deepcopy(sched.state_dict())
        if "_anneal_func_type" in state:  # as torch 2.1-2.3 write it
            del state["_anneal_func_type"]
            del sched._anneal_func_type
            state["anneal_func"] = TorchOneCycleLR._annealing_linear
        else:  # as torch 2.4 on write it
            del state["anneal_func"]
            state["_anneal_func_type"] = "linear"
        sched.load_state_dict(state)
    for i in range(28):
        assert_same_failure(*step_both((t_opt, theirs), (o_opt, ours)), f"step {i}")
        assert_same_state(theirs, ours, f"step {i}")


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "sgd-no-momentum", "rmsprop"])
def test_plain_steps_take_the_one_call_path(optimizer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the second step on, a plain step() does not go through torch's machinery (it
    is one call into the core); its results are compared with torch's everywhere above."""
    opt = make_optimizer(optimizer, 2)
    sched = OneCycleLR(opt, max_lr=0.1, total_steps=20, hold_final=True)
    step_both((opt, sched))  # the first step checks the call order on torch's path

    def refuse(*args: Any) -> None:
        raise AssertionError("torch's path was taken")

    monkeypatch.setattr(LRScheduler, "step", refuse)
    monkeypatch.setattr(LRScheduler, "_update_lr", refuse, raising=False)  # torch 2.9 on
    monkeypatch.setattr(OneCycleLR, "get_lr", refuse)
    for _ in range(25):  # through the end, holding
        assert step_both((opt, sched)) == [None]
    assert sched.last_epoch == 26
