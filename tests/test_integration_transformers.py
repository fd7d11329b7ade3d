"""transformers: docs/integrations.md's Trainer snippet, on a tiny model built from a config (no
downloads), logs the same learning rates and resumes from its checkpoints (scheduler.pt)
the same way with torch's OneCycleLR and with onecycle's."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Nothing is fetched from the Hub; set before transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import onecycle
import torch
import transformers
from parity import same
from snippets import WHICH, Which, page_snippet, run_snippet, torch_lrs_by_hand
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR
from transformers import GPT2Config, GPT2LMHeadModel, TrainingArguments

SNIPPET = page_snippet("from transformers import Trainer")
STEPS, SAVE_STEPS, BATCH, SAMPLES = 200, 50, 4, 64  # 200 steps over 12.5 epochs


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=32, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    return GPT2LMHeadModel(config)


def train_dataset() -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(3)
    tokens = torch.randint(0, 32, (SAMPLES, 16), generator=generator)
    return [{"input_ids": t, "labels": t} for t in tokens]


def args(output_dir: Path) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(output_dir),
        max_steps=STEPS,
        per_device_train_batch_size=BATCH,
        logging_steps=1,
        save_steps=SAVE_STEPS,
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        seed=0,
    )


@dataclass
class Run:
    output_dir: Path
    namespace: dict[str, Any]

    @property
    def scheduler(self) -> TorchOneCycleLR:
        scheduler = self.namespace["trainer"].lr_scheduler
        assert isinstance(scheduler, TorchOneCycleLR)
        return scheduler

    def logged_lrs(self) -> list[tuple[int, float]]:
        history = self.namespace["trainer"].state.log_history
        return [(entry["step"], entry["learning_rate"]) for entry in history if "learning_rate" in entry]

    def state(self) -> list[Any]:
        return [
            self.scheduler.state_dict(),
            self.namespace["optimizer"].state_dict(),
            [p.detach().clone() for p in self.namespace["model"].parameters()],
        ]


Train = Callable[..., Run]


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Train]:
    """Run the page's snippet, as written or with torch's class, into an output folder of
    its own, from scratch or from `checkpoint`. Uninterrupted runs are made once per module."""
    tmp_path = tmp_path_factory.mktemp("transformers")
    runs = iter(range(1000))
    full: dict[Which, Run] = {}
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only contend

    def train(which: Which, checkpoint: Path | None = None) -> Run:
        if checkpoint is None and which in full:
            return full[which]
        output_dir = tmp_path / f"run{next(runs)}-{which}"
        names: dict[str, Any] = {
            "model": model(),
            "args": args(output_dir),
            "train_dataset": train_dataset(),
            "checkpoint": None if checkpoint is None else str(checkpoint),
        }
        run = Run(output_dir, run_snippet(SNIPPET, which, names))
        if checkpoint is None:
            full[which] = run
        return run

    yield train
    transformers.logging.set_verbosity(verbosity)
    torch.set_num_threads(threads)


def torch_lrs() -> list[float]:
    """torch's scheduler with the snippet's arguments, stepped by hand: the rate of each of
    the STEPS optimizer steps, then the one after the last."""
    return torch_lrs_by_hand(model(), STEPS, max_lr=1e-3, total_steps=STEPS)


def test_page_snippet_uses_onecycle(train: Train) -> None:
    assert type(train("onecycle").scheduler) is onecycle.OneCycleLR
    assert type(train("torch").scheduler) is TorchOneCycleLR


def test_logged_learning_rates_and_end_state_equal_torch(train: Train) -> None:
    theirs, ours = train("torch"), train("onecycle")
    assert [step for step, _ in ours.logged_lrs()] == list(range(1, STEPS + 1))
    assert same(theirs.logged_lrs(), ours.logged_lrs())
    # The Trainer logs, at each step, the rate it trained with (transformers 5) or the one
    # the scheduler set after it (transformers 4).
    logged, expected = [lr for _, lr in ours.logged_lrs()], torch_lrs()
    assert same(logged, expected[:-1]) or same(logged, expected[1:])
    for run in (theirs, ours):
        assert run.scheduler.last_epoch == run.scheduler.total_steps == STEPS
    assert same(theirs.state(), ours.state())


def test_saved_schedulers_are_the_same(train: Train) -> None:
    theirs, ours = train("torch"), train("onecycle")
    for step in range(SAVE_STEPS, STEPS + 1, SAVE_STEPS):
        # The Trainer loads scheduler.pt with weights_only=True; so does this.
        t_saved, o_saved = (
            torch.load(run.output_dir / f"checkpoint-{step}" / "scheduler.pt", weights_only=True)
            for run in (theirs, ours)
        )
        assert same(t_saved, o_saved), step
        assert o_saved["last_epoch"] == step


@pytest.mark.parametrize("saved_by", WHICH)
@pytest.mark.parametrize("resumed_by", WHICH)
@pytest.mark.parametrize("step", [50, 150])
def test_resume_from_checkpoint_continues_identically(
    train: Train, saved_by: Which, resumed_by: Which, step: int
) -> None:
    """`trainer.train(resume_from_checkpoint=...)` from a checkpoint saved in the warm-up or
    in the annealing, by either class, into either class, goes on as the uninterrupted run
    did."""
    full = train(saved_by)
    resumed = train(resumed_by, full.output_dir / f"checkpoint-{step}")
    assert type(resumed.scheduler) is (onecycle.OneCycleLR if resumed_by == "onecycle" else TorchOneCycleLR)
    # The resumed history holds the checkpoint's, then the steps taken after it.
    assert same(resumed.logged_lrs(), full.logged_lrs())
    assert same(resumed.state(), full.state())
