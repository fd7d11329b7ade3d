"""Run by torchrun (2 CPU processes): the README's accelerate loop (prepare, gradient
accumulation, save_state after each epoch, load_state to resume) with torch's OneCycleLR or
onecycle's, total_steps sized as the README says. Each rank writes what it saw to
OUT/rank-N.json for tests/test_multiprocess.py.

Arguments: OUT CHECKPOINTS which split_batches(0|1) first_epoch"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import onecycle
import torch
from accelerate import Accelerator, DataLoaderConfiguration
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

OUT, CHECKPOINTS, WHICH = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
SPLIT, FIRST_EPOCH = sys.argv[4] == "1", int(sys.argv[5])
# 54 samples in batches of 4: 14 batches, the last one partial (2 samples).
SAMPLES, BATCH, EPOCHS, ACCUMULATION = 54, 4, 3, 4
CLASSES = {"torch": TorchOneCycleLR, "onecycle": onecycle.OneCycleLR}


def main() -> None:
    accelerator = Accelerator(
        cpu=True,
        gradient_accumulation_steps=ACCUMULATION,
        dataloader_config=DataLoaderConfiguration(split_batches=SPLIT),
    )
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(SAMPLES, 4, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    data_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH)
    batches_per_epoch = len(data_loader)  # as the script builds it, before prepare
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    # The README's sizing: the optimizer steps of one process, times the scheduler steps
    # accelerate takes per optimizer step (num_processes, or 1 with split_batches).
    if SPLIT:
        total = onecycle.total_steps_for(EPOCHS, len(data_loader), accumulation_steps=ACCUMULATION)
    else:
        processes = accelerator.num_processes
        total = processes * onecycle.total_steps_for(
            EPOCHS,
            len(data_loader),
            accumulation_steps=ACCUMULATION,
            num_processes=processes,
            split="batches",
        )
    scheduler = CLASSES[WHICH](optimizer, max_lr=0.01, total_steps=total)
    model, optimizer, data_loader, scheduler = accelerator.prepare(model, optimizer, data_loader, scheduler)
    if FIRST_EPOCH:
        accelerator.load_state(str(CHECKPOINTS / f"epoch_{FIRST_EPOCH}"))
    inner = scheduler.scheduler
    seen: list[Any] = []
    optimizer_steps = 0
    for epoch in range(FIRST_EPOCH, EPOCHS):
        for x, y in data_loader:
            with accelerator.accumulate(model):
                group = optimizer.param_groups[0]
                seen.append([inner.last_epoch, float(group["lr"]).hex(), float(group["betas"][0]).hex()])
                loss = torch.nn.functional.mse_loss(model(x), y)
                accelerator.backward(loss)
                optimizer.step()
                optimizer_steps += accelerator.sync_gradients
                scheduler.step()
                optimizer.zero_grad()
        if FIRST_EPOCH == 0:
            accelerator.save_state(str(CHECKPOINTS / f"epoch_{epoch + 1}"))
    weights = [p.detach().flatten().tolist() for p in accelerator.unwrap_model(model).parameters()]
    result = {
        "num_processes": accelerator.num_processes,
        "batches_per_epoch": batches_per_epoch,
        "total_steps": total,
        "optimizer_steps": optimizer_steps,
        "last_epoch": inner.last_epoch,
        "last_lr": [float(v).hex() for v in inner.get_last_lr()],
        "seen": seen,
        "weights": [[v.hex() for v in row] for row in weights],
    }
    (OUT / f"rank-{accelerator.process_index}.json").write_text(json.dumps(result))
    accelerator.wait_for_everyone()
    accelerator.end_training()


if __name__ == "__main__":
    main()
