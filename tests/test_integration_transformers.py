"""transformers: docs/integrations.md's Trainer snippet, on a tiny model built from a config (no
downloads), logs the same learning rates and resumes from its checkpoints (scheduler.pt)
the same way with torch's OneCycleLR and with onecycle's; with the page's
`replan_on_load=True`, it resumes with a larger `max_steps` onto the re-planned curve."""

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
from snippets import WHICH, Which, page_snippet, run_snippet, torch_lrs_by_hand, with_replan_on_load
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR
from transformers import GPT2Config, GPT2LMHeadModel, TrainingArguments

SNIPPET = page_snippet("from transformers import Trainer")
STEPS, SAVE_STEPS, BATCH, SAMPLES = 200, 50, 4, 64  # 200 steps over 12.5 epochs
LONGER = 300  # max_steps of a run resumed with a new length


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=32, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    return GPT2LMHeadModel(config)


def train_dataset() -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(3)
    tokens = torch.randint(0, 32, (SAMPLES, 16), generator=generator)
    return [{"input_ids": t, "labels": t} for t in tokens]


def args(output_dir: Path, max_steps: int = STEPS) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(output_dir),
        max_steps=max_steps,
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
    """Run the page's snippet (or `code`, a variant of it) for `max_steps`, as written or
    with torch's class, into an output folder of its own, from scratch or from `checkpoint`.
    Uninterrupted runs are made once per module."""
    tmp_path = tmp_path_factory.mktemp("transformers")
    runs = iter(range(1000))
    full: dict[Which, Run] = {}
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only contend

    def train(
        which: Which, checkpoint: Path | None = None, max_steps: int = STEPS, code: str = SNIPPET
    ) -> Run:
        uninterrupted = checkpoint is None and max_steps == STEPS and code == SNIPPET
        if uninterrupted and which in full:
            return full[which]
        output_dir = tmp_path / f"run{next(runs)}-{which}"
        names: dict[str, Any] = {
            "model": model(),
            "args": args(output_dir, max_steps),
            "train_dataset": train_dataset(),
            "checkpoint": None if checkpoint is None else str(checkpoint),
        }
        run = Run(output_dir, run_snippet(code, which, names))
        if uninterrupted:
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


@pytest.mark.parametrize("step", [50, 150])
def test_resume_with_more_steps_and_replan_on_load_goes_on_without_a_jump(train: Train, step: int) -> None:
    """The page's one-line change, `replan_on_load=True`: resuming from a checkpoint of the
    200-step run (in the warm-up or in the annealing) with `max_steps=300` goes on from the
    rate held at the checkpoint along the curve re-planned there onto the new length, bit for
    bit, and ends on the extra step of the new length."""
    full = train("onecycle")
    resumed = train(
        "onecycle",
        full.output_dir / f"checkpoint-{step}",
        max_steps=LONGER,
        code=with_replan_on_load(SNIPPET),
    )
    assert resumed.scheduler.last_epoch == resumed.scheduler.total_steps == LONGER
    replanned = onecycle.schedule(STEPS, 1e-3, replan=[(step, LONGER)], stop=LONGER + 1).lr.tolist()
    logged = resumed.logged_lrs()
    # The history holds the checkpoint's entries, then one for each step after it.
    assert same(logged[:step], full.logged_lrs()[:step])
    assert [s for s, _ in logged] == list(range(1, LONGER + 1))
    # Logged as in the uninterrupted run: the rate each step trained with (transformers 5)
    # or the one the scheduler set after it (transformers 4).
    after = [lr for _, lr in logged[step:]]
    assert same(after, replanned[step:LONGER]) or same(after, replanned[step + 1 :])
    assert same(resumed.scheduler.get_last_lr(), replanned[-1:])
    # The first step after the checkpoint trains with the rate held there (the value of the
    # curve at that step, which the re-plan leaves as it was).
    original = torch_lrs()
    assert same(replanned[: step + 1], original[: step + 1])
    # A scheduler built for the new length at the checkpoint's step would have jumped.
    naive = onecycle.schedule(LONGER, 1e-3, steps=[step + 1]).lr.item()
    assert abs(naive - replanned[step]) > 10 * abs(replanned[step + 1] - replanned[step])


@pytest.mark.parametrize("which", WHICH)
def test_resume_with_more_steps_without_replan_on_load_keeps_the_old_length(
    train: Train, which: Which
) -> None:
    """Without the flag, either class takes the checkpoint's length, as torch's does: the
    resumed run fails one step past the extra step of the old length."""
    checkpoint = train(which).output_dir / "checkpoint-150"
    error = f"^Tried to step {STEPS + 1} times. The specified number of total steps is {STEPS}$"
    with pytest.raises(ValueError, match=error):
        train(which, checkpoint, max_steps=LONGER)
