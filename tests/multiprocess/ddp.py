"""Run by torchrun (2 CPU processes, gloo on 127.0.0.1): DistributedDataParallel training
with a DistributedSampler under torch's OneCycleLR and onecycle's, side by side in each
process. Rank 0 saves a checkpoint midway (model, optimizer, scheduler; torch.save); every
rank loads it into a scheduler built with other arguments and continues, through the extra
step torch allows, to torch's "Tried to step" error. Each rank writes what it saw to
OUT/rank-N.json, for tests/test_multiprocess.py to compare."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from onecycle import OneCycleLR
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

OUT = Path(sys.argv[1])
SAMPLES, BATCH, EPOCHS, SAVE_AT = 50, 4, 3, 10  # 7 batches per process and epoch: 21 steps
CLASSES = {"torch": TorchOneCycleLR, "onecycle": OneCycleLR}


def snapshot(scheduler: Any) -> list[Any]:
    """last_epoch, each group's lr and betas[0], and get_last_lr(), floats as exact hex."""
    groups = [[float(g["lr"]).hex(), float(g["betas"][0]).hex()] for g in scheduler.optimizer.param_groups]
    return [scheduler.last_epoch, groups, [float(v).hex() for v in scheduler.get_last_lr()]]


def build(seed: int) -> tuple[DistributedDataParallel, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = DistributedDataParallel(
        torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    )
    inner = model.module
    optimizer = torch.optim.Adam(
        [{"params": inner[0].parameters()}, {"params": inner[2].parameters(), "lr": 3e-3}], lr=1e-3
    )
    return model, optimizer


def batches(epoch: int) -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(SAMPLES, 4, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    sampler = DistributedSampler(TensorDataset(x, y), shuffle=True, seed=3)
    sampler.set_epoch(epoch)
    return DataLoader(TensorDataset(x, y), batch_size=BATCH, sampler=sampler)


def train(which: str) -> dict[str, Any]:
    cls = CLASSES[which]
    model, optimizer = build(0)
    total = EPOCHS * len(batches(0))
    scheduler = cls(optimizer, max_lr=[0.01, 0.02], total_steps=total)
    seen: list[Any] = [snapshot(scheduler)]
    error = None
    resumed: list[Any] = []
    for epoch in range(EPOCHS + 1):  # one epoch more: past the end, to the error
        for x, y in batches(epoch):
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            try:
                scheduler.step()
            except ValueError as e:
                error = f"{type(e).__name__}: {e}"
                break
            seen.append(snapshot(scheduler))
            if scheduler.last_epoch == SAVE_AT:
                resumed = resume(which, model, optimizer, scheduler)
        if error:
            break
    return {"total_steps": total, "seen": seen, "error": error, "resumed": resumed}


def resume(which: str, model: Any, optimizer: Any, scheduler: Any) -> list[Any]:
    """Rank 0 saves; every rank loads into a fresh model, optimizer and a scheduler of the
    same class built with other arguments, then steps it to the end, to the error."""
    path = OUT / f"checkpoint-{which}.pt"
    if dist.get_rank() == 0:
        torch.save(
            {
                "model": model.module.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
            },
            path,
        )
    dist.barrier()
    # torch 2.0-2.3 keep the annealing function in the state: loading it needs pickle.
    plain = isinstance(scheduler.state_dict().get("_anneal_func_type"), str)
    saved = torch.load(path, weights_only=plain)
    model2, optimizer2 = build(7)
    other = CLASSES[which](optimizer2, max_lr=0.5, total_steps=7, three_phase=True, anneal_strategy="linear")
    model2.module.load_state_dict(saved["model"])
    optimizer2.load_state_dict(saved["optimizer"])
    other.load_state_dict(saved["scheduler"])
    out: list[Any] = [snapshot(other)]
    while True:
        optimizer2.step()
        try:
            other.step()
        except ValueError as e:
            out.append(f"{type(e).__name__}: {e}")
            return out
        out.append(snapshot(other))


def main() -> None:
    dist.init_process_group("gloo")
    result = {"world_size": dist.get_world_size(), "torch": train("torch"), "onecycle": train("onecycle")}
    (OUT / f"rank-{dist.get_rank()}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
