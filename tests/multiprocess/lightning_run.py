"""Run as a script: Lightning's Trainer(accelerator="cpu", devices=2, strategy="ddp") with
gradient accumulation, total_steps from estimated_stepping_batches, under torch's OneCycleLR
or onecycle's; a checkpoint after every epoch, and a resume from one with ckpt_path=, for
as many epochs or more (onecycle's scheduler then built with replan_on_load=True).
Lightning starts the second process itself, running this script again. Each rank writes
what it saw to OUT/rank-N.json for tests/test_multiprocess.py.

Arguments: OUT CHECKPOINTS which [--resume CHECKPOINT] [--epochs N] [--replan-on-load]"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import lightning
import onecycle
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

parser = argparse.ArgumentParser()
parser.add_argument("out", type=Path)
parser.add_argument("checkpoints", type=Path)
parser.add_argument("which", choices=["torch", "onecycle"])
parser.add_argument("--resume")
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--replan-on-load", action="store_true")
ARGS = parser.parse_args()
OUT, CHECKPOINTS, WHICH, RESUME, EPOCHS = ARGS.out, ARGS.checkpoints, ARGS.which, ARGS.resume, ARGS.epochs
# 50 samples in batches of 4 over 2 processes: 25 each, 7 batches, an optimizer step after
# every 3 and at the end of the epoch: 3 a process and epoch, 12 in 4 epochs.
SAMPLES, BATCH, ACCUMULATION = 50, 4, 3
CLASSES = {"torch": TorchOneCycleLR, "onecycle": onecycle.OneCycleLR}


class Model(lightning.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=1e-4, momentum=0.9)
        total_steps = self.trainer.estimated_stepping_batches
        flag = {"replan_on_load": True} if ARGS.replan_on_load else {}
        scheduler = CLASSES[WHICH](optimizer, max_lr=0.05, total_steps=total_steps, **flag)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def train_dataloader(self) -> torch.utils.data.DataLoader[Any]:
        generator = torch.Generator().manual_seed(2)
        x = torch.randn(SAMPLES, 4, generator=generator)
        return torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=BATCH
        )


class Record(Callback):
    """The scheduler's step and the group's lr and momentum as each batch ends."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        scheduler = trainer.lr_scheduler_configs[0].scheduler
        group = trainer.optimizers[0].param_groups[0]
        self.seen.append(
            [trainer.global_step, scheduler.last_epoch, group["lr"].hex(), group["momentum"].hex()]
        )


def main() -> None:
    warnings.filterwarnings("ignore")  # Lightning's advice about workers and logging
    record = Record()
    trainer = lightning.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_epochs=EPOCHS,
        accumulate_grad_batches=ACCUMULATION,
        callbacks=[record, ModelCheckpoint(dirpath=CHECKPOINTS, every_n_epochs=1, save_top_k=-1)],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = Model()
    trainer.fit(model, ckpt_path=RESUME)
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    result = {
        "world_size": trainer.world_size,
        "class": type(scheduler).__module__,
        "estimated_stepping_batches": trainer.estimated_stepping_batches,
        "total_steps": scheduler.total_steps,
        "last_epoch": scheduler.last_epoch,
        "last_lr": [v.hex() for v in scheduler.get_last_lr()],
        "global_step": trainer.global_step,
        "total_steps_for": onecycle.total_steps_for(
            EPOCHS, dataset_size=SAMPLES, batch_size=BATCH, accumulation_steps=ACCUMULATION, num_processes=2
        ),
        "seen": record.seen,
        "weights": [[v.hex() for v in p.detach().flatten().tolist()] for p in model.parameters()],
    }
    (OUT / f"rank-{trainer.global_rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
