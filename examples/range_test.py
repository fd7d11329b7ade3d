"""From the LR range test to the schedule, on scikit-learn's bundled digits (no downloads):
run ``onecycle.lr_range_test`` on the model, the optimizer and the batches of a training
run, take the ``max_lr`` it suggests, then train with ``onecycle.OneCycleLR`` at that
``max_lr`` and report the held-out accuracy. The model and the data split are those of
examples/digits.py; here the batches come from a seeded ``DataLoader``, which
``lr_range_test`` puts back (with the model and the optimizer) when it is done.

    python examples/range_test.py [--method valley|steepest] [--epochs 8] [--plot range-test.png]

Exit status 0 when the training at the suggested max_lr finishes with finite losses.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import onecycle
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 8
BATCH_SIZE = 64
# The range test's sweep: 200 steps (about 8 epochs of 24 batches) from 1e-3 to 10. SGD
# on this network barely moves the loss below 1e-3, so starting lower (the default is
# 1e-7) spends the steps on a flat stretch; 10 is well past where the loss blows up.
START_LR, END_LR, NUM_STEPS = 1e-3, 10.0, 200


@dataclass
class Setup:
    """A training run before it starts: the model, its optimizer, the training batches
    and the held-out digits."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loader: DataLoader[Any]
    test_inputs: torch.Tensor
    test_targets: torch.Tensor


@dataclass
class Trained:
    """What training produced: the loss of every step and the held-out accuracy."""

    losses: list[float]
    accuracy: float


def setup(seed: int = 0) -> Setup:
    """The digits split and the two-layer network of examples/digits.py (the same seed
    gives the same split and the same initial weights), SGD with Nesterov momentum, and
    a ``DataLoader`` of batches of 64 that shuffles with a generator of its own."""
    torch.manual_seed(seed)
    data = load_digits()
    inputs = torch.tensor(data.data / 16.0, dtype=torch.float32)
    targets = torch.tensor(data.target)
    order = torch.randperm(len(inputs))
    held_out = order[1500:]
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    # The lr given here is never used: the range test and then OneCycleLR set their own.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    shuffle = torch.Generator().manual_seed(seed)
    train_set = TensorDataset(inputs[order[:1500]], targets[order[:1500]])
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True, generator=shuffle)
    return Setup(model, optimizer, loader, inputs[held_out], targets[held_out])


def range_test(run: Setup) -> onecycle.RangeTestResult:
    """The LR range test on ``run``, which it leaves as it found it."""
    return onecycle.lr_range_test(
        run.model,
        run.optimizer,
        run.loader,
        F.cross_entropy,
        start_lr=START_LR,
        end_lr=END_LR,
        num_steps=NUM_STEPS,
        progress=False,
    )


def train(run: Setup, max_lr: float, epochs: int = EPOCHS) -> Trained:
    """Train ``run`` for ``epochs`` epochs under ``onecycle.OneCycleLR(max_lr=max_lr)``,
    stepped once per batch."""
    scheduler = onecycle.OneCycleLR(
        run.optimizer, max_lr=max_lr, epochs=epochs, steps_per_epoch=len(run.loader)
    )
    losses = []
    for _ in range(epochs):
        for inputs, targets in run.loader:
            run.optimizer.zero_grad()
            loss = F.cross_entropy(run.model(inputs), targets)
            loss.backward()
            run.optimizer.step()
            scheduler.step()
            losses.append(loss.item())
    with torch.no_grad():
        predicted = run.model(run.test_inputs).argmax(dim=1)
    return Trained(losses, (predicted == run.test_targets).float().mean().item())


def figure(result: onecycle.RangeTestResult) -> Any:
    """``result.plot()`` on a figure of its own (no pyplot), titled; returns the figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = result.plot(fig.subplots())
    settings = f"{NUM_STEPS} steps from {START_LR:g} to {END_LR:g}"
    ax.set_title(f"LR range test on scikit-learn's digits: SGD, batches of {BATCH_SIZE}, {settings}")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=["valley", "steepest"], default="valley")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--plot", metavar="FILE", type=Path, help="save result.plot() to FILE (a PNG)")
    args = parser.parse_args(argv)
    method: Literal["valley", "steepest"] = args.method
    # One thread and deterministic kernels: every run of this script gives the same numbers.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    run = setup()
    result = range_test(run)
    stopped = "diverged" if result.diverged else "reached end_lr"
    print(
        f"range test: {len(result.lrs)} of {result.num_steps} steps, up to lr {result.lrs[-1]:.3g} ({stopped})"
    )
    for name in ("valley", "steepest"):
        print(f"suggested max_lr ({name}): {result.suggest(name)!r}")
    max_lr = result.suggest(method)
    if args.plot is not None:
        figure(result).savefig(args.plot)
        print(f"plot: {args.plot}")
    print(f"training {args.epochs} epochs with OneCycleLR(max_lr={max_lr:.4g}) ({method})")
    trained = train(run, max_lr, args.epochs)
    per_epoch = len(run.loader)
    for epoch in range(args.epochs):
        epoch_losses = trained.losses[epoch * per_epoch : (epoch + 1) * per_epoch]
        print(f"epoch {epoch + 1:>2}: mean training loss {sum(epoch_losses) / per_epoch:.4f}")
    print(f"held-out accuracy: {trained.accuracy:.4f}")
    return 0 if all(math.isfinite(v) for v in trained.losses) else 1


if __name__ == "__main__":
    raise SystemExit(main())
