"""``onecycle compare``: torch's ``OneCycleLR`` and onecycle's, stepped side by side."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import numpy.typing as npt

from onecycle._schedule import schedule
from onecycle.cli._config import Config, UsageError, configs, describe

__all__ = ["run", "step_through"]

Array = npt.NDArray[np.float64]


def step_through(scheduler_class: Any, config: Config) -> tuple[Array, Array]:
    """The learning rate and momentum of one SGD parameter group (with momentum) under
    ``scheduler_class``, at each step of the cycle: after construction, then after each
    ``optimizer.step(); scheduler.step()``."""
    import torch

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    scheduler = scheduler_class(optimizer, **config.kwargs())
    group = optimizer.param_groups[0]
    lr = np.empty(config.total_steps)
    momentum = np.empty(config.total_steps)
    for i in range(config.total_steps):
        if i:
            optimizer.step()
            scheduler.step()
        lr[i], momentum[i] = group["lr"], group["momentum"]
    return lr, momentum


def _verdict(
    what: str, expected: tuple[Array, Array], got: tuple[npt.NDArray[Any], npt.NDArray[Any]]
) -> tuple[bool, str]:
    same = np.ones(len(expected[0]), dtype=bool)
    largest = []
    for e, g in zip(expected, got, strict=True):
        g = g.astype(np.float64)
        same &= e.view(np.uint64) == g.view(np.uint64)
        largest.append(float(np.max(np.abs(e - g), initial=0.0)))
    identical = int(same.sum())
    return identical == len(same), (
        f"  {what:<22}{identical} of {len(same)} steps bit-identical; largest difference "
        f"{largest[0]:.3g} (lr), {largest[1]:.3g} (momentum)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``onecycle compare``; returns the exit status (1 when any step differs)."""
    all_configs, _ = configs(args)
    ours = [schedule(**config.kwargs()) for config in all_configs]  # checks every argument first
    try:
        import torch
        from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR
    except ModuleNotFoundError as e:
        raise UsageError("compare needs torch, which is not installed: pip install 'onecycle[torch]'") from e
    from onecycle._torch import OneCycleLR

    all_same = True
    for config, computed in zip(all_configs, ours, strict=True):
        expected = step_through(TorchOneCycleLR, config)
        print(f"torch {torch.__version__} OneCycleLR against onecycle ({describe(config)}):")
        for what, got in (
            ("onecycle.OneCycleLR", step_through(OneCycleLR, config)),
            ("onecycle.schedule()", (computed.lr, computed.momentum)),
        ):
            same, line = _verdict(what, expected, got)
            all_same &= same
            print(line)
    return 0 if all_same else 1
