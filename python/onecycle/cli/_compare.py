"""``onecycle compare``: torch's ``OneCycleLR`` and onecycle's, stepped side by side; with
``--replan``, torch's class loaded from onecycle's re-planned state at each re-plan."""

from __future__ import annotations

import argparse
import copy
import itertools
from typing import Any

import numpy as np
import numpy.typing as npt

from onecycle._schedule import schedule
from onecycle.cli._config import Config, UsageError, configs, describe

__all__ = ["run", "step_replanned", "step_through"]

Array = npt.NDArray[np.float64]


def step_through(scheduler_class: Any, config: Config) -> tuple[Array, Array]:
    """The learning rate and momentum of one SGD parameter group (with momentum) under
    ``scheduler_class``, at each step of the cycle: after construction, then after each
    ``optimizer.step(); scheduler.step()``."""
    optimizer, scheduler = _sgd(scheduler_class, config)
    group = optimizer.param_groups[0]
    lr = np.empty(config.total_steps)
    momentum = np.empty(config.total_steps)
    for i in range(config.total_steps):
        if i:
            optimizer.step()
            scheduler.step()
        lr[i], momentum[i] = group["lr"], group["momentum"]
    return lr, momentum


def _sgd(scheduler_class: Any, config: Config) -> tuple[Any, Any]:
    """A one-group SGD optimizer (with momentum) and ``scheduler_class`` built on it."""
    import torch

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    return optimizer, scheduler_class(optimizer, **config.kwargs())


def step_replanned(config: Config) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """The learning rate and momentum at each step of ``config`` re-planned at each of its
    ``replan``: torch's (the installed ``OneCycleLR``) first, then onecycle's
    ``OneCycleLR``, re-planned by ``replan()`` when ``last_epoch`` reaches each step.
    torch's class cannot re-plan: it is built as configured and steps up to the first
    re-plan; at each re-plan a new one, on a new optimizer, is loaded from onecycle's
    re-planned state and its optimizer's, as a resumed run loads them, and steps on."""
    from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

    from onecycle._torch import OneCycleLR

    ours_opt, ours = _sgd(OneCycleLR, config)
    theirs_opt, theirs = _sgd(TorchOneCycleLR, config)
    values = np.empty((4, config.final_steps))
    pending = list(config.replan)
    for i in range(config.final_steps):
        if i:
            for optimizer, scheduler in ((ours_opt, ours), (theirs_opt, theirs)):
                optimizer.step()
                scheduler.step()
        values[:, i] = [theirs_opt.param_groups[0][k] for k in ("lr", "momentum")] + [
            ours_opt.param_groups[0][k] for k in ("lr", "momentum")
        ]
        while pending and pending[0][0] == i:
            ours.replan(pending.pop(0)[1])
            theirs_opt, theirs = _sgd(TorchOneCycleLR, config)
            theirs_opt.load_state_dict(copy.deepcopy(ours_opt.state_dict()))
            theirs.load_state_dict(copy.deepcopy(ours.state_dict()))
    return (values[0], values[1]), (values[2], values[3])


def _sources(config: Config) -> str:
    """Where torch's values of a re-planned ``config`` come from, step range by range."""
    bounds = [-1, *(step for step, _ in config.replan), config.final_steps - 1]
    parts = []
    for j, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if hi <= lo:
            continue  # two re-plans at one step
        where = f"{lo + 1}-{hi}" if hi > lo + 1 else f"{hi}"
        if j == 0:
            parts.append(f"steps {where} as built")
        else:
            step, total = config.replan[j - 1]
            parts.append(f"{where} loaded from onecycle's state re-planned at step {step} onto {total} steps")
    return "  torch's values: " + "; ".join(parts)


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
    ours = [schedule(**config.schedule_kwargs()) for config in all_configs]  # checks every argument first
    try:
        import torch
        from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR
    except ModuleNotFoundError as e:
        raise UsageError("compare needs torch, which is not installed: pip install 'onecycle[torch]'") from e
    from onecycle._torch import OneCycleLR

    all_same = True
    for config, computed in zip(all_configs, ours, strict=True):
        print(f"torch {torch.__version__} OneCycleLR against onecycle ({describe(config)}):")
        if config.replan:
            expected, stepped = step_replanned(config)
            print(_sources(config))
        else:
            expected, stepped = step_through(TorchOneCycleLR, config), step_through(OneCycleLR, config)
        for what, got in (
            ("onecycle.OneCycleLR", stepped),
            ("onecycle.schedule()", (computed.lr, computed.momentum)),
        ):
            same, line = _verdict(what, expected, got)
            all_same &= same
            print(line)
    return 0 if all_same else 1
