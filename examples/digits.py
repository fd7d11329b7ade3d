"""Train the same small classifier twice on scikit-learn's bundled digits (no downloads):
once with torch's ``OneCycleLR``, once with ``onecycle.OneCycleLR``. The losses of every
step, the learning rates and the final weights come out identical, bit for bit.

    python examples/digits.py [--epochs 8]

Exit status 0 when the two runs are identical, 1 when anything differs.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

import torch
from onecycle import OneCycleLR
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR


@dataclass
class Run:
    """What a training run produced."""

    losses: list[float]  # training loss of every step
    lrs: list[float]  # learning rate of every step
    weights: list[torch.Tensor]  # the trained parameters
    accuracy: float  # on the held-out digits


def train(
    scheduler_class: Any, *, epochs: int = 8, batch_size: int = 64, max_lr: float = 0.2, seed: int = 0
) -> Run:
    """Train a two-layer network with SGD (Nesterov momentum) under ``scheduler_class``,
    one scheduler step per batch; everything random is seeded, so two runs with the same
    scheduler values give the same numbers."""
    torch.manual_seed(seed)
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x))
    train_idx, test_idx = order[:1500], order[1500:]
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=max_lr / 25, momentum=0.9, nesterov=True)
    steps_per_epoch = math.ceil(len(train_idx) / batch_size)
    scheduler = scheduler_class(optimizer, max_lr=max_lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    losses, lrs = [], []
    for _ in range(epochs):
        shuffled = train_idx[torch.randperm(len(train_idx))]
        for start in range(0, len(shuffled), batch_size):
            batch = shuffled[start : start + batch_size]
            lrs.append(optimizer.param_groups[0]["lr"])
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
    with torch.no_grad():
        accuracy = (model(x[test_idx]).argmax(dim=1) == y[test_idx]).float().mean().item()
    return Run(losses, lrs, [p.detach().clone() for p in model.parameters()], accuracy)


def identical(a: Run, b: Run) -> bool:
    """Every loss, learning rate and weight equal, bit for bit (``float.hex`` tells apart
    what ``==`` would not, such as 0.0 and -0.0)."""
    return (
        [v.hex() for v in a.losses] == [v.hex() for v in b.losses]
        and [v.hex() for v in a.lrs] == [v.hex() for v in b.lrs]
        and all(
            torch.equal(p.view(torch.int32), q.view(torch.int32))
            for p, q in zip(a.weights, b.weights, strict=True)
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    # One thread and deterministic kernels: the only difference between the runs is the scheduler.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    theirs = train(TorchOneCycleLR, epochs=args.epochs)
    ours = train(OneCycleLR, epochs=args.epochs)
    steps = len(theirs.losses)
    per_epoch = steps // args.epochs
    print(f"{'epoch':>5}  {'loss (torch OneCycleLR)':>24}  {'loss (onecycle.OneCycleLR)':>26}  lr at its end")
    for epoch in range(args.epochs):
        last = (epoch + 1) * per_epoch - 1
        print(
            f"{epoch + 1:>5}  {theirs.losses[last]:>24.17g}  {ours.losses[last]:>26.17g}  {ours.lrs[last]:.3e}"
        )
    print(f"held-out accuracy: {theirs.accuracy:.4f} (torch), {ours.accuracy:.4f} (onecycle)")
    same_losses = sum(a.hex() == b.hex() for a, b in zip(theirs.losses, ours.losses, strict=True))
    if identical(theirs, ours):
        print(f"identical: all {steps} losses, learning rates and the final weights, bit for bit")
        return 0
    print(f"DIFFERENT: {same_losses} of {steps} losses identical")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
