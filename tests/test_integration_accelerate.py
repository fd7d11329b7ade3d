"""accelerate: docs/integrations.md's loop (prepare, gradient accumulation, save_state, load_state),
run with torch's OneCycleLR and with onecycle's, steps, trains and checkpoints alike; with the
page's `replan_on_load=True`, load_state resumes it with more epochs onto the re-planned curve."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onecycle
import pytest
import torch
from accelerate.state import AcceleratorState, GradientState
from parity import same
from snippets import WHICH, Which, page_snippet, run_snippet, torch_lrs_by_hand, with_replan_on_load
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

SNIPPET = page_snippet("from accelerate import Accelerator")
BATCHES, BATCH, EPOCHS, ACCUMULATION = 30, 4, 10, 4  # 300 batches, 80 optimizer steps
STEPS_PER_EPOCH = math.ceil(BATCHES / ACCUMULATION)
LONGER = 15  # epochs of a run resumed with a new length: 120 optimizer steps
FILES = ("scheduler.bin", "optimizer.bin")


@dataclass
class Run:
    folder: Path
    namespace: dict[str, Any]
    # (last_epoch, lr, betas) as each batch goes forward.
    seen: list[tuple[int, float, tuple[float, float]]]

    @property
    def scheduler(self) -> TorchOneCycleLR:
        scheduler = self.namespace["scheduler"].scheduler
        assert isinstance(scheduler, TorchOneCycleLR)
        return scheduler

    def state(self) -> list[Any]:
        """Everything the run ends with: scheduler, optimizer, weights."""
        model = self.namespace["accelerator"].unwrap_model(self.namespace["model"])
        return [
            self.scheduler.state_dict(),
            self.namespace["optimizer"].state_dict(),
            [p.detach().clone() for p in model.parameters()],
        ]


def data_loader() -> torch.utils.data.DataLoader[Any]:
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(BATCHES * BATCH, 4, generator=generator)
    y = x @ torch.tensor([[0.5], [-1.0], [2.0], [1.5]]) + 0.1 * torch.randn(
        BATCHES * BATCH, 1, generator=generator
    )
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH)


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


Train = Callable[..., Run]


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Train]:
    """Run the page's loop (or `code`, a variant of it) for `epochs` in a folder of its own
    (its checkpoints go there), as written or with torch's class; resume from `resume`'s
    checkpoint of `first_epoch`. Uninterrupted runs are made once per module."""
    tmp_path = tmp_path_factory.mktemp("accelerate")
    runs = iter(range(1000))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only contend
    full: dict[Which, Run] = {}

    def train(
        which: Which,
        first_epoch: int = 0,
        resume: Run | None = None,
        epochs: int = EPOCHS,
        code: str = SNIPPET,
    ) -> Run:
        uninterrupted = first_epoch == 0 and epochs == EPOCHS and code == SNIPPET
        if uninterrupted and which in full:
            return full[which]
        folder = tmp_path / f"run{next(runs)}-{which}"
        folder.mkdir()
        if resume is not None:
            saved = f"checkpoints/epoch_{first_epoch}"
            shutil.copytree(resume.folder / saved, folder / saved)
        seen: list[tuple[int, float, tuple[float, float]]] = []
        names: dict[str, Any] = {
            "model": model(),
            "data_loader": data_loader(),
            "epochs": epochs,
            "first_epoch": first_epoch,
        }

        def record(module: torch.nn.Module, args: Any) -> None:
            group = names["optimizer"].param_groups[0]
            seen.append((names["scheduler"].scheduler.last_epoch, group["lr"], group["betas"]))

        names["model"].register_forward_pre_hook(record)
        # A fresh Accelerator each run, as in a new process.
        AcceleratorState._reset_state(True)
        GradientState._reset_state()
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.chdir(folder)
            run_snippet(code, which, names)
        run = Run(folder, names, seen)
        if uninterrupted:
            full[which] = run
        return run

    yield train
    torch.set_num_threads(threads)
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


def torch_lrs() -> list[float]:
    """torch's scheduler with the snippet's arguments, stepped by hand once per optimizer
    step: the rate in effect at each step, and after the last one."""
    return torch_lrs_by_hand(
        model(), EPOCHS * STEPS_PER_EPOCH, max_lr=0.01, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH
    )


def test_page_snippet_uses_onecycle(train: Train) -> None:
    assert type(train("onecycle").scheduler) is onecycle.OneCycleLR
    assert type(train("torch").scheduler) is TorchOneCycleLR


def test_steps_with_gradient_accumulation_as_torch(train: Train) -> None:
    theirs, ours = train("torch"), train("onecycle")
    assert len(ours.seen) == EPOCHS * BATCHES
    assert same(theirs.seen, ours.seen)
    # One scheduler step per optimizer step: every ACCUMULATION batches, and at the end of
    # each epoch (its last 2 batches are a partial accumulation).
    expected = torch_lrs()
    step = [
        epoch * STEPS_PER_EPOCH + batch // ACCUMULATION for epoch in range(EPOCHS) for batch in range(BATCHES)
    ]
    assert [last_epoch for last_epoch, _, _ in ours.seen] == step
    assert same([lr for _, lr, _ in ours.seen], [expected[i] for i in step])
    for run in (theirs, ours):
        assert run.scheduler.last_epoch == run.scheduler.total_steps == EPOCHS * STEPS_PER_EPOCH
        assert same(run.scheduler.get_last_lr(), expected[-1:])
    assert same(theirs.state(), ours.state())


def test_saved_states_are_the_same(train: Train) -> None:
    theirs, ours = train("torch"), train("onecycle")
    for epoch in range(1, EPOCHS + 1):
        # accelerate's load_state reads them with weights_only=True; so does this.
        t_saved, o_saved = (
            [
                torch.load(run.folder / f"checkpoints/epoch_{epoch}" / name, weights_only=True)
                for name in FILES
            ]
            for run in (theirs, ours)
        )
        assert same(t_saved, o_saved), epoch
        assert o_saved[0]["last_epoch"] == epoch * STEPS_PER_EPOCH


@pytest.mark.parametrize("saved_by", WHICH)
@pytest.mark.parametrize("resumed_by", WHICH)
@pytest.mark.parametrize("first_epoch", [1, 7])
def test_load_state_resumes_identically(
    train: Train, saved_by: Which, resumed_by: Which, first_epoch: int
) -> None:
    """load_state of a state saved in the warm-up or in the annealing, by either class,
    into either class, goes on as the uninterrupted run did."""
    full = train(saved_by)
    resumed = train(resumed_by, first_epoch, resume=full)
    assert type(resumed.scheduler) is (onecycle.OneCycleLR if resumed_by == "onecycle" else TorchOneCycleLR)
    assert same(resumed.seen, full.seen[first_epoch * BATCHES :])
    assert same(resumed.state(), full.state())


@pytest.mark.parametrize("first_epoch", [1, 7])
def test_load_state_with_more_epochs_and_replan_on_load_goes_on_without_a_jump(
    train: Train, first_epoch: int
) -> None:
    """The page's one-line change, `replan_on_load=True`: load_state of a state saved in the
    warm-up or in the annealing, with `epochs=15` in place of 10, goes on from the rate and
    beta1 held there along the curve re-planned at that step onto the new length, bit for
    bit, and ends on the extra step of the new length."""
    full = train("onecycle")
    resumed = train("onecycle", first_epoch, resume=full, epochs=LONGER, code=with_replan_on_load(SNIPPET))
    step, total = first_epoch * STEPS_PER_EPOCH, LONGER * STEPS_PER_EPOCH
    assert resumed.scheduler.last_epoch == resumed.scheduler.total_steps == total
    replanned = onecycle.schedule(EPOCHS * STEPS_PER_EPOCH, 0.01, replan=[(step, total)], stop=total + 1)
    lrs, momenta = replanned.lr.tolist(), replanned.momentum.tolist()
    # The first batches train with the values held at the checkpoint.
    assert same(resumed.seen[0], full.seen[first_epoch * BATCHES])
    assert resumed.seen[0][0] == step
    assert len(resumed.seen) == (LONGER - first_epoch) * BATCHES
    for last_epoch, lr, betas in resumed.seen:
        assert same((lr, betas[0]), (lrs[last_epoch], momenta[last_epoch])), last_epoch
    assert same(resumed.scheduler.get_last_lr(), lrs[-1:])
    # A scheduler built for the new length at the checkpoint's step would have jumped.
    held, after = lrs[step], lrs[step + 1]
    naive = onecycle.schedule(total, 0.01, steps=[step + 1]).lr.item()
    assert abs(naive - held) > 10 * abs(after - held)


@pytest.mark.parametrize("which", WHICH)
def test_load_state_with_more_epochs_without_replan_on_load_keeps_the_old_length(
    train: Train, which: Which
) -> None:
    """Without the flag, either class takes the saved length, as torch's does: accelerate
    stops stepping it after the extra step of the old length, and the run trains its last
    epochs at that step's rate."""
    resumed = train(which, 7, resume=train(which), epochs=LONGER)
    old = EPOCHS * STEPS_PER_EPOCH
    assert resumed.scheduler.last_epoch == resumed.scheduler.total_steps == old
    assert len(resumed.seen) == (LONGER - 7) * BATCHES
    assert resumed.seen[-1][0] == old
    expected = torch_lrs()
    assert same(resumed.seen[-1][1], expected[old])


def test_get_lr_warning_under_accelerate() -> None:
    """accelerate silences UserWarnings raised from torch.optim.lr_scheduler, where torch's
    OneCycleLR.get_lr warns when called outside step(); whether ours is silenced too is
    where its warning points. Run in a fresh interpreter, with Python's default filters."""
    script = textwrap.dedent(
        """
        import warnings
        import accelerate, torch
        from onecycle import OneCycleLR
        from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

        for cls in (TorchOneCycleLR, OneCycleLR):
            optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)
            scheduler = cls(optimizer, max_lr=0.1, total_steps=10)
            with warnings.catch_warnings(record=True) as caught:
                scheduler.get_lr()
            print([(w.category.__name__, str(w.message)) for w in caught])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
    )
    theirs, ours = result.stdout.splitlines()
    assert ours == theirs
