"""onecycle.total_steps_for against brute force: real DataLoaders split across processes
(by DistributedSampler, as Lightning and torchrun scripts do, or by dealing batches, as
accelerate's prepared DataLoader does), iterated with gradient accumulation, counting
the optimizer steps; and a OneCycleLR run of that many steps, against torch's."""

from __future__ import annotations

import doctest
import subprocess
import sys
from typing import Any

import numpy as np
import onecycle
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from onecycle import OneCycleLR, total_steps_for
from parity import assert_same_state, make_optimizer
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def optimizer_steps(batches: list[Any], accumulation_steps: int) -> int:
    """Steps of one epoch: after every accumulation_steps batches and after the last
    batch (Lightning's and accelerate's rule)."""
    steps = 0
    for i, _ in enumerate(batches):
        if (i + 1) % accumulation_steps == 0 or i == len(batches) - 1:
            steps += 1
    return steps


def by_sampler(dataset_size: int, batch_size: int, drop_last: bool, processes: int) -> list[list[Any]]:
    """Each process's batches of one epoch, split by a DistributedSampler."""
    dataset = TensorDataset(torch.arange(dataset_size))
    return [
        list(
            DataLoader(
                dataset,
                batch_size=batch_size,
                drop_last=drop_last,
                sampler=DistributedSampler(dataset, num_replicas=processes, rank=rank, shuffle=False),
            )
        )
        for rank in range(processes)
    ]


def by_dealing(dataset_size: int, batch_size: int, drop_last: bool, processes: int) -> list[list[Any]]:
    """Each process's batches of one epoch, the loader's batches dealt in turn: accelerate
    (even_batches=True) repeats batches from the start so every process gets as many as
    the first, or keeps only full rounds with drop_last."""
    batches = list(
        DataLoader(TensorDataset(torch.arange(dataset_size)), batch_size=batch_size, drop_last=drop_last)
    )
    if drop_last:
        batches = batches[: len(batches) // processes * processes]
    elif len(batches) % processes:
        short = processes - len(batches) % processes
        batches += [batches[i % len(batches)] for i in range(short)]
    return [batches[rank::processes] for rank in range(processes)]


@given(
    dataset_size=st.integers(1, 300),
    batch_size=st.integers(1, 40),
    drop_last=st.booleans(),
    processes=st.integers(1, 8),
    accumulation_steps=st.integers(1, 6),
    epochs=st.integers(1, 3),
    split=st.sampled_from(["samples", "batches"]),
)
def test_property_counts_the_steps_a_loop_takes(
    dataset_size: int,
    batch_size: int,
    drop_last: bool,
    processes: int,
    accumulation_steps: int,
    epochs: int,
    split: str,
) -> None:
    shards = (by_sampler if split == "samples" else by_dealing)(
        dataset_size, batch_size, drop_last, processes
    )
    per_process = {epochs * optimizer_steps(batches, accumulation_steps) for batches in shards}
    assert len(per_process) == 1  # every process steps alike
    (counted,) = per_process
    kwargs: dict[str, Any] = dict(
        accumulation_steps=accumulation_steps, num_processes=processes, split=split, drop_last=drop_last
    )
    if counted == 0:
        with pytest.raises(ValueError, match="no batch"):
            total_steps_for(epochs, dataset_size=dataset_size, batch_size=batch_size, **kwargs)
        return
    assert total_steps_for(epochs, dataset_size=dataset_size, batch_size=batch_size, **kwargs) == counted
    # From len(loader) of the loader as the script builds it, where that determines the count.
    loader_len = len(
        DataLoader(TensorDataset(torch.arange(dataset_size)), batch_size=batch_size, drop_last=drop_last)
    )
    if not drop_last or processes == 1 or split == "batches":
        assert total_steps_for(epochs, loader_len, **kwargs) == counted


def test_examples_in_the_docstring() -> None:
    from onecycle import _steps

    assert doctest.testmod(_steps).failed == 0


@pytest.mark.parametrize("hold_final", [False, True])
def test_a_run_of_that_many_steps_ends_at_last_epoch_total_steps(hold_final: bool) -> None:
    """One scheduler step per optimizer step, for the whole run: it ends at last_epoch ==
    total_steps (the extra step torch allows), every value equal to torch's."""
    dataset_size, batch_size, accumulation_steps, epochs = 203, 8, 3, 2
    total = total_steps_for(
        epochs, dataset_size=dataset_size, batch_size=batch_size, accumulation_steps=accumulation_steps
    )
    t_opt, o_opt = make_optimizer("adam"), make_optimizer("adam")
    theirs = TorchOneCycleLR(t_opt, max_lr=0.1, total_steps=total)
    ours = OneCycleLR(o_opt, max_lr=0.1, total_steps=total, hold_final=hold_final)
    loader = DataLoader(TensorDataset(torch.arange(dataset_size)), batch_size=batch_size)
    for _ in range(epochs):
        for i, _batch in enumerate(loader):
            if (i + 1) % accumulation_steps == 0 or i == len(loader) - 1:
                for opt, sched in ((t_opt, theirs), (o_opt, ours)):
                    opt.step()
                    sched.step()
                if not hold_final or ours.last_epoch < total:
                    assert_same_state(theirs, ours, f"step {ours.last_epoch}")
    assert ours.last_epoch == theirs.last_epoch == total


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0, 10), {}, ValueError, "epochs must be an int >= 1, got 0"),
        ((2.0, 10), {}, TypeError, "epochs must be an int, got 2.0"),
        ((True, 10), {}, TypeError, "epochs must be an int, got True"),
        ((2, 0), {}, ValueError, "batches_per_epoch must be an int >= 1, got 0"),
        ((2, "10"), {}, TypeError, "batches_per_epoch must be an int"),
        ((2,), {}, ValueError, "give either batches_per_epoch, or dataset_size and batch_size"),
        ((2, 10), {"dataset_size": 100, "batch_size": 10}, ValueError, "give either"),
        ((2,), {"dataset_size": 100}, ValueError, "give either"),
        ((2,), {"dataset_size": 0, "batch_size": 4}, ValueError, "dataset_size must be an int >= 1"),
        ((2,), {"dataset_size": 10, "batch_size": 0}, ValueError, "batch_size must be an int >= 1"),
        ((2, 10), {"accumulation_steps": 0}, ValueError, "accumulation_steps must be an int >= 1"),
        ((2, 10), {"num_processes": 0}, ValueError, "num_processes must be an int >= 1"),
        ((2, 10), {"drop_last": 1}, TypeError, "drop_last must be True or False"),
        ((2, 10), {"split": "rows"}, ValueError, "split must be 'samples' or 'batches', got 'rows'"),
        ((2, 10), {"drop_last": True, "num_processes": 2}, ValueError, "give dataset_size and batch_size"),
        ((2,), {"dataset_size": 5, "batch_size": 8, "drop_last": True}, ValueError, "no batch"),
    ],
)
def test_bad_arguments_are_named(
    args: tuple, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        total_steps_for(*args, **kwargs)


def test_numpy_integers_and_no_torch_import() -> None:
    assert total_steps_for(np.int64(3), np.int32(10), num_processes=np.uint8(2)) == 15
    code = "import sys, onecycle; onecycle.total_steps_for(2, 10); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert "total_steps_for" in onecycle.__all__
