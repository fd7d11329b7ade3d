"""Lightning: docs/integrations.md's LightningModule, trained with torch's OneCycleLR and with
onecycle's, logs the same learning rates, ends in the same state, and resumes from its
checkpoints the same way; with the page's `replan_on_load=True`, it resumes with a larger
`max_epochs` onto the re-planned curve."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning
import onecycle
import pytest
import torch
from lightning import Trainer as LightningTrainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from parity import same
from snippets import WHICH, Which, page_snippet, run_snippet, with_replan_on_load
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

pytestmark = [
    # Lightning's own code path under current torch, the same for both schedulers.
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"),
]

SNIPPET = page_snippet("import lightning")
SAMPLES, BATCH, EPOCHS = 256, 8, 10  # the snippet trains for 10 epochs: 320 steps
STEPS = SAMPLES // BATCH * EPOCHS
LONGER = 15  # epochs of a run resumed with a new length: 480 steps


class RecordingLogger(Logger):
    """Keeps what Lightning logs (here, LearningRateMonitor's learning rates), by step."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[tuple[int | None, dict[str, float]]] = []

    @property
    def name(self) -> str:
        return "recording"

    @property
    def version(self) -> int:
        return 0

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def lrs(self) -> list[tuple[int | None, float]]:
        return [(step, m["lr-SGD"]) for step, m in self.metrics if "lr-SGD" in m]


@dataclass
class Run:
    trainer: LightningTrainer
    logger: RecordingLogger
    checkpoints: Path
    namespace: dict[str, Any]

    @property
    def scheduler(self) -> TorchOneCycleLR:
        scheduler = self.trainer.lr_scheduler_configs[0].scheduler
        assert isinstance(scheduler, TorchOneCycleLR)
        return scheduler

    @property
    def weights(self) -> list[torch.Tensor]:
        module = self.trainer.lightning_module
        return [p.detach().clone() for p in module.parameters()]


def data_loader() -> torch.utils.data.DataLoader[Any]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(SAMPLES, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(SAMPLES, 1, generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH)


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def instrumented(root: Path, logger: RecordingLogger, **options: Any) -> type[LightningTrainer]:
    """Lightning's Trainer, quiet, on the CPU, logging every step to `logger` and saving a
    checkpoint in `root` after every epoch; `options` are more Trainer arguments, in place
    of the snippet's where it gives the same (`max_epochs`)."""

    class Trainer(LightningTrainer):
        def __init__(self, *, callbacks: list[Any], **kwargs: Any) -> None:
            every_epoch = ModelCheckpoint(root, "{epoch}-{step}", save_top_k=-1, every_n_epochs=1)
            super().__init__(
                callbacks=[*callbacks, every_epoch],
                logger=logger,
                log_every_n_steps=1,
                accelerator="cpu",
                default_root_dir=root,
                enable_progress_bar=False,
                enable_model_summary=False,
                **{**kwargs, **options},
            )

    return Trainer


Train = Callable[..., Run]


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Train]:
    """Run the page's snippet (or `code`, a variant of it), as written or with torch's class,
    in a fresh folder, with its `L.Trainer` instrumented. Uninterrupted runs are made once
    per module."""
    tmp_path = tmp_path_factory.mktemp("lightning")
    runs = iter(range(1000))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only contend
    lightning_log = logging.getLogger("lightning.pytorch")
    level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)
    full: dict[Which, Run] = {}

    def train(which: Which, checkpoint: Path | None = None, code: str = SNIPPET, **options: Any) -> Run:
        uninterrupted = checkpoint is None and not options and code == SNIPPET
        if uninterrupted and which in full:
            return full[which]
        root = tmp_path / f"run{next(runs)}-{which}"
        logger = RecordingLogger()
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.chdir(tmp_path)
            monkeypatch.setattr(lightning, "Trainer", instrumented(root, logger, **options))
            names: dict[str, Any] = {"model": model(), "data_loader": data_loader(), "checkpoint": checkpoint}
            namespace = run_snippet(code, which, names)
        run = Run(namespace["trainer"], logger, root, namespace)
        if uninterrupted:
            full[which] = run
        return run

    yield train
    torch.set_num_threads(threads)
    lightning_log.setLevel(level)


def torch_lrs(total_steps: int) -> list[float]:
    """The learning rates torch's own scheduler gives, stepped by hand with the snippet's
    arguments: one per optimizer step, then the value at `last_epoch == total_steps`."""
    optimizer = torch.optim.SGD(model().parameters(), lr=1e-4, momentum=0.9)
    scheduler = TorchOneCycleLR(optimizer, max_lr=0.01, total_steps=total_steps)
    lrs = []
    for _ in range(total_steps):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return [*lrs, scheduler.get_last_lr()[0]]


def without_params(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    return [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]


def assert_same_end(theirs: Run, ours: Run) -> None:
    assert same(theirs.scheduler.state_dict(), ours.scheduler.state_dict())
    assert same(without_params(theirs.scheduler.optimizer), without_params(ours.scheduler.optimizer))
    assert same(theirs.weights, ours.weights)


def test_page_snippet_uses_onecycle(train: Train) -> None:
    assert type(train("onecycle").scheduler) is onecycle.OneCycleLR
    assert type(train("torch").scheduler) is TorchOneCycleLR


def test_logged_learning_rates_and_end_state_equal_torch(train: Train) -> None:
    theirs, ours = train("torch"), train("onecycle")
    # LearningRateMonitor logs the rate each batch trains with, at every step.
    expected = torch_lrs(STEPS)
    assert [step for step, _ in ours.logger.lrs()] == list(range(STEPS))
    assert same(theirs.logger.lrs(), ours.logger.lrs())
    assert same([lr for _, lr in ours.logger.lrs()], expected[:-1])
    # estimated_stepping_batches is total_steps; the run ends on torch's one extra step.
    for run in (theirs, ours):
        assert run.trainer.estimated_stepping_batches == STEPS
        assert run.trainer.global_step == STEPS
        assert run.scheduler.total_steps == STEPS
        assert run.scheduler.last_epoch == STEPS
        assert same(run.scheduler.get_last_lr(), expected[-1:])
    assert_same_end(theirs, ours)


@pytest.mark.parametrize(
    ("options", "batches_per_epoch", "batches_per_step", "steps"),
    [
        # 32 batches an epoch: 10 steps of 3 batches, then one of 2.
        ({"accumulate_grad_batches": 3}, SAMPLES // BATCH, 3, EPOCHS * 11),
        ({"max_steps": 200}, SAMPLES // BATCH, 1, 200),
        ({"limit_train_batches": 0.5}, SAMPLES // BATCH // 2, 1, STEPS // 2),
    ],
)
def test_estimated_stepping_batches_ends_on_the_extra_step(
    train: Train, options: dict[str, Any], batches_per_epoch: int, batches_per_step: int, steps: int
) -> None:
    """With the Trainer options that change the count, the run still ends at
    `last_epoch == total_steps`, without error, alike for both classes."""
    theirs, ours = train("torch", **options), train("onecycle", **options)
    for run in (theirs, ours):
        assert run.trainer.estimated_stepping_batches == run.trainer.global_step == steps
        assert run.scheduler.total_steps == run.scheduler.last_epoch == steps
    # LearningRateMonitor logs every batch: the rate of the step it is part of.
    steps_per_epoch = -(-batches_per_epoch // batches_per_step)
    lrs = torch_lrs(steps)
    step_of_batch = [
        epoch * steps_per_epoch + batch // batches_per_step
        for epoch in range(EPOCHS)
        for batch in range(batches_per_epoch)
    ]
    expected = [lrs[step] for step in step_of_batch if step < steps]
    assert same([lr for _, lr in ours.logger.lrs()], expected)
    assert same(theirs.logger.lrs(), ours.logger.lrs())
    assert_same_end(theirs, ours)


def test_checkpoints_are_the_same(train: Train) -> None:
    theirs, ours = train("torch"), train("onecycle")
    names = sorted(path.name for path in theirs.checkpoints.glob("*.ckpt"))
    assert len(names) == EPOCHS
    assert names == sorted(path.name for path in ours.checkpoints.glob("*.ckpt"))
    for name in names:
        # Lightning loads them with torch.load's default, weights_only=True.
        t_saved = torch.load(theirs.checkpoints / name, weights_only=True)
        o_saved = torch.load(ours.checkpoints / name, weights_only=True)
        for key in ("global_step", "lr_schedulers", "optimizer_states", "state_dict"):
            assert same(t_saved[key], o_saved[key]), (name, key)
        assert o_saved["lr_schedulers"][0]["last_epoch"] == o_saved["global_step"]


# A resumed run saves its own checkpoints in a folder of its own.
@pytest.mark.filterwarnings("ignore:The dirpath has changed from:UserWarning")
@pytest.mark.parametrize("saved_by", WHICH)
@pytest.mark.parametrize("resumed_by", WHICH)
@pytest.mark.parametrize("checkpoint", ["epoch=0-step=32.ckpt", "epoch=6-step=224.ckpt"])
def test_resume_from_checkpoint_continues_identically(
    train: Train, saved_by: Which, resumed_by: Which, checkpoint: str
) -> None:
    """`trainer.fit(..., ckpt_path=...)` from a checkpoint saved in the warm-up or in the
    annealing goes on as the uninterrupted run did, whichever class saved the checkpoint
    and whichever loads it (with Lightning's default, `weights_only=True`)."""
    full = train(saved_by)
    path = full.checkpoints / checkpoint
    step = torch.load(path, weights_only=True)["global_step"]
    resumed = train(resumed_by, checkpoint=path)
    assert type(resumed.scheduler) is (onecycle.OneCycleLR if resumed_by == "onecycle" else TorchOneCycleLR)
    assert resumed.logger.lrs()[0][0] == step
    assert same(resumed.logger.lrs(), full.logger.lrs()[step:])
    assert resumed.scheduler.last_epoch == STEPS
    assert_same_end(full, resumed)


@pytest.mark.filterwarnings("ignore:The dirpath has changed from:UserWarning")
@pytest.mark.parametrize("checkpoint", ["epoch=0-step=32.ckpt", "epoch=6-step=224.ckpt"])
def test_resume_with_more_epochs_and_replan_on_load_goes_on_without_a_jump(
    train: Train, checkpoint: str
) -> None:
    """The page's one-line change, `replan_on_load=True`: `ckpt_path=` a checkpoint of the
    10-epoch run (in the warm-up or in the annealing) with `max_epochs=15` goes on from the
    rate held at the checkpoint along the curve re-planned there onto the new
    `estimated_stepping_batches`, bit for bit, and ends on the extra step of the new length."""
    full = train("onecycle")
    path = full.checkpoints / checkpoint
    step = torch.load(path, weights_only=True)["global_step"]
    resumed = train("onecycle", checkpoint=path, code=with_replan_on_load(SNIPPET), max_epochs=LONGER)
    total = SAMPLES // BATCH * LONGER
    assert resumed.trainer.estimated_stepping_batches == resumed.trainer.global_step == total
    assert resumed.scheduler.total_steps == resumed.scheduler.last_epoch == total
    # The curve of a scheduler re-planned at the checkpoint's step, through the extra step.
    replanned = onecycle.schedule(STEPS, 0.01, replan=[(step, total)], stop=total + 1)
    lrs = resumed.logger.lrs()
    assert [s for s, _ in lrs] == list(range(step, total))
    # The first batch trains with the rate held at the checkpoint; each next one moves on
    # along the re-planned curve.
    assert same(lrs[0], full.logger.lrs()[step])
    assert same([lr for _, lr in lrs], replanned.lr[step:total].tolist())
    assert same(resumed.scheduler.get_last_lr(), [replanned.lr[total].item()])
    assert same(resumed.scheduler.optimizer.param_groups[0]["momentum"], replanned.momentum[total].item())
    # A scheduler built for the new length at the checkpoint's step would have jumped.
    naive = onecycle.schedule(total, 0.01, steps=[step + 1]).lr.item()
    assert abs(naive - lrs[0][1]) > 10 * abs(lrs[1][1] - lrs[0][1])


@pytest.mark.filterwarnings("ignore:The dirpath has changed from:UserWarning")
@pytest.mark.parametrize("which", WHICH)
def test_resume_with_more_epochs_without_replan_on_load_keeps_the_old_length(
    train: Train, which: Which
) -> None:
    """Without the flag, either class takes the checkpoint's length, as torch's does: the
    resumed run fails one step past the extra step of the old length."""
    path = train(which).checkpoints / "epoch=6-step=224.ckpt"
    error = f"^Tried to step {STEPS + 1} times. The specified number of total steps is {STEPS}$"
    with pytest.raises(ValueError, match=error):
        train(which, checkpoint=path, max_epochs=LONGER)


@pytest.mark.parametrize("interval", ["step", "epoch", None])
def test_interval_epoch_warning_is_the_same(train: Train, tmp_path: Path, interval: str | None) -> None:
    """Lightning warns when an instance of torch's OneCycleLR steps once an epoch (the
    default interval); ours is one, so it warns alike."""
    caught = {}
    for which in WHICH:
        lit_model = train(which).namespace["LitModel"]

        class EpochLitModel(lit_model):  # type: ignore[misc, valid-type]
            def configure_optimizers(self) -> Any:
                config = super().configure_optimizers()
                if interval is None:
                    del config["lr_scheduler"]["interval"]
                else:
                    config["lr_scheduler"]["interval"] = interval
                return config

        trainer = instrumented(tmp_path / f"{which}-{interval}", RecordingLogger())(
            callbacks=[], max_epochs=2
        )
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            trainer.fit(EpochLitModel(model()), data_loader())
        caught[which] = [(w.category, str(w.message)) for w in log if "treespec" not in str(w.message)]
        scheduler = trainer.lr_scheduler_configs[0].scheduler
        assert type(scheduler) is (onecycle.OneCycleLR if which == "onecycle" else TorchOneCycleLR)
        assert scheduler.last_epoch == (2 * SAMPLES // BATCH if interval == "step" else 2)
    warning = (
        RuntimeWarning,
        "A `OneCycleLR` scheduler is using 'interval': 'epoch'. Are you sure you didn't mean 'interval': 'step'?",
    )
    assert (warning in caught["torch"]) == (interval != "step")
    assert caught["onecycle"] == caught["torch"]
