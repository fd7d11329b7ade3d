"""Phase lists that name group keys other than the five torch's constructor writes: torch's
class steps them (each phase reads whatever keys it names), and so does the Rust path,
with the same bits and without falling back to torch's Python code."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from onecycle import OneCycleLR
from onecycle._core import PHASE_KEYS
from parity import (
    assert_same_failure,
    assert_same_state,
    configurations,
    make_optimizer,
    outcome,
    positive,
    same,
    step_together,
)
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rename_phases(scheduler: TorchOneCycleLR, values: list[float], end_shift: float) -> list[dict[str, Any]]:
    """A copy of the scheduler's phases whose four keys each name a new group key
    (``phase<i>_<field>``), holding ``values`` in turn (group after group), with every phase end but the last
    moved by ``end_shift``."""
    phases = copy.deepcopy(scheduler._schedule_phases)
    values_iter = itertools.cycle(values)
    for i, phase in enumerate(phases):
        for field in PHASE_KEYS[1:]:
            key = f"phase{i}_{field}"
            phase[field] = key
            for group in scheduler.optimizer.param_groups:
                group[key] = next(values_iter)
        if i < len(phases) - 1:
            phase["end_step"] = float(phase["end_step"]) + end_shift
    return phases


class NoFallback(OneCycleLR):
    """Ours, failing wherever a step would leave the Rust path for torch's get_lr."""

    def _torch_get_lr(self, step_num: int, *, warn: bool = False) -> list[Any]:
        raise AssertionError(f"fell back to torch's get_lr at step {step_num}")


@given(
    configurations(),
    st.lists(positive, min_size=4, max_size=4),
    st.sampled_from([0.0, 0.5, -1.0, 3.0]),
)
def test_other_keys_step_bit_for_bit_through_the_rust_path(
    config: tuple[str, int, dict[str, Any]], values: list[float], end_shift: float
) -> None:
    optimizer, groups, kwargs = config
    t_opt, o_opt = make_optimizer(optimizer, groups), make_optimizer(optimizer, groups)
    theirs, t_err = outcome(lambda: TorchOneCycleLR(t_opt, **kwargs))
    ours, o_err = outcome(lambda: NoFallback(o_opt, **kwargs))
    assert_same_failure(t_err, o_err, "construction")
    if t_err is not None:
        return
    theirs._schedule_phases = rename_phases(theirs, values, end_shift)
    ours._schedule_phases = rename_phases(ours, values, end_shift)
    assert_same_state(theirs, ours, "after renaming")
    cycle = ours._cycle()
    assert cycle is not None, "the Rust path refused the phase list"
    step_together(theirs, ours, theirs.total_steps + 2)


def test_a_phase_key_the_groups_lack_takes_torchs_error() -> None:
    # A phase naming a key no group holds: torch raises KeyError, and so does ours.
    t_opt, o_opt = make_optimizer("sgd"), make_optimizer("sgd")
    theirs = TorchOneCycleLR(t_opt, max_lr=0.1, total_steps=10)
    ours = OneCycleLR(o_opt, max_lr=0.1, total_steps=10)
    for scheduler in (theirs, ours):  # a new list, as a loaded state brings one
        phases = copy.deepcopy(scheduler._schedule_phases)
        phases[1]["end_lr"] = "no_such_key"
        scheduler._schedule_phases = phases
    t_err, o_err = step_together(theirs, ours, 10)
    assert isinstance(t_err, KeyError) and same(t_err.args, o_err.args)


def test_plot_reads_the_keys_the_phases_name() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    opt = make_optimizer("sgd")
    ours = OneCycleLR(opt, max_lr=0.1, total_steps=50)
    ours._schedule_phases = rename_phases(ours, [0.2, 0.01, 0.9, 0.8], 0.0)
    ax_lr, _ = ours.plot()
    lr = ax_lr.lines[0].get_ydata()
    # The curve anneals between the renamed keys' values, not the constructor's.
    assert max(lr) == pytest.approx(0.2) and min(lr) == pytest.approx(0.01)
    del opt.param_groups[0]["phase0_start_lr"]
    with pytest.raises(ValueError, match="phase0_start_lr"):
        ours.plot()


def test_a_pickled_cycle_keeps_its_keys() -> None:
    import pickle

    opt = make_optimizer("adam")
    ours = OneCycleLR(opt, max_lr=0.1, total_steps=20)
    ours._schedule_phases = rename_phases(ours, [0.1, 0.2, 0.3, 0.4], 0.0)
    cycle = ours._cycle()
    phases, anneal = pickle.loads(pickle.dumps(cycle)).__reduce__()[1]
    assert anneal == "cos"
    assert [row[1:] for row in phases] == [
        tuple(phase[field] for field in PHASE_KEYS[1:]) for phase in ours._schedule_phases
    ]
