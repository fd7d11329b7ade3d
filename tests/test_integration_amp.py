"""Mixed precision: a plain loop with torch.amp.GradScaler, where inf and nan gradients
make the scaler skip optimizer steps, gives the same warnings (text, category and the
line they point at) and the same values with torch's OneCycleLR and with onecycle's."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import onecycle
import pytest
import torch
from parity import outcome, same
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

STEPS = 300
# Steps whose gradients are poisoned, so the scaler skips the optimizer: the very first
# (torch then warns that the scheduler stepped before the optimizer), a run of three, and
# some scattered ones, in the warm-up and in the annealing.
SKIPPED = {0: "inf", 1: "nan", 40: "inf", 41: "inf", 42: "nan", 150: "-inf", 299: "nan"}
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: torch.optim.Adam(params, lr=0.1),
}


# Tiny tensors: torch's threads would only contend.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def train(
    cls: type[TorchOneCycleLR], optimizer_name: str, step_scheduler_when_skipped: bool
) -> tuple[list[Any], list[tuple[type[Warning], str, str, int]]]:
    """The loop; returns what it saw at every step, and every warning it raised."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(STEPS, 8, 4, generator=generator)
    y = torch.randn(STEPS, 8, 1, generator=generator)
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=20)
    seen: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler = cls(optimizer, max_lr=0.05, total_steps=STEPS, three_phase=True)
        for step in range(STEPS):
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = torch.nn.functional.mse_loss(model(x[step]), y[step])
            scaler.scale(loss).backward()
            if step in SKIPPED:
                model[0].weight.grad[0, 0] = float(SKIPPED[step])  # type: ignore[index]
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            skipped = scaler.get_scale() < scale
            assert skipped == (step in SKIPPED)
            if step_scheduler_when_skipped or not skipped:
                scheduler.step()
            groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
            seen.append(
                (step, skipped, scaler.get_scale(), groups, scheduler.get_last_lr(), scheduler.last_epoch)
            )
        # A step past the end fails alike (torch allows total_steps steps after the first).
        for _ in range(2):
            seen.append(outcome(scheduler.step))
        seen.append(scheduler.state_dict())
        seen.append([p.detach().clone() for p in model.parameters()])
    return seen, [(w.category, str(w.message), w.filename, w.lineno) for w in caught]


@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("step_scheduler_when_skipped", [True, False])
def test_skipped_steps_give_torch_values_and_warnings(
    optimizer_name: str, step_scheduler_when_skipped: bool
) -> None:
    t_seen, t_warnings = train(TorchOneCycleLR, optimizer_name, step_scheduler_when_skipped)
    o_seen, o_warnings = train(onecycle.OneCycleLR, optimizer_name, step_scheduler_when_skipped)
    t_errors, o_errors = (seen[STEPS : STEPS + 2] for seen in (t_seen, o_seen))
    for (t_value, t_error), (o_value, o_error) in zip(t_errors, o_errors, strict=True):
        assert t_value is None and o_value is None
        assert (type(t_error), str(t_error)) == (type(o_error), str(o_error))
    if step_scheduler_when_skipped:
        # The first step was skipped, then the scheduler stepped: torch warns, pointing at
        # the loop's own line, and the last two steps went past the end.
        messages = [message for _, message, _, _ in t_warnings]
        assert any("Detected call of `lr_scheduler.step()` before `optimizer.step()`" in m for m in messages)
        assert all(filename == __file__ for _, _, filename, _ in t_warnings)
        assert all(isinstance(e, ValueError) for _, e in t_errors)
    else:
        # The scheduler steps only with the optimizer, and stops short of the end.
        assert t_seen[STEPS - 1][-1] == STEPS - len(SKIPPED)
    assert o_warnings == t_warnings
    assert same(o_seen[:STEPS], t_seen[:STEPS])
    assert same(o_seen[STEPS + 2 :], t_seen[STEPS + 2 :])
