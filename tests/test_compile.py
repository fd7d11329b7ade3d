"""torch.compile of the optimizer step. With a tensor lr (and tensor betas where the
optimizer takes them), torch's OneCycleLR writes a new Python float into the groups at
every step, which dynamo guards on and recompiles for; onecycle's fills the tensors in
place, so the compiled step is built once. Graphs are counted with dynamo's counters (with
the aot_eager backend: dynamo's tracing and guards as with the default inductor, without
generating code); the values each step sees are torch's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from onecycle import OneCycleLR
from parity import same, torch_fills_tensor_lr
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

dynamo = pytest.importorskip("torch._dynamo")
pytestmark = [
    pytest.mark.skipif(not dynamo.is_dynamo_supported(), reason="torch.compile is not supported here"),
    pytest.mark.skipif(not torch_fills_tensor_lr(), reason="this torch replaces a tensor lr with a float"),
]

STEPS = 12

OPTIMIZERS: dict[str, Callable[[Any, torch.dtype], torch.optim.Optimizer]] = {
    "Adam": lambda params, dtype: torch.optim.Adam(
        params,
        lr=torch.tensor(0.01, dtype=dtype),
        betas=(torch.tensor(0.9, dtype=dtype), torch.tensor(0.999, dtype=dtype)),
    ),
    "AdamW": lambda params, dtype: torch.optim.AdamW(
        params,
        lr=torch.tensor(0.01, dtype=dtype),
        betas=(torch.tensor(0.9, dtype=dtype), torch.tensor(0.999, dtype=dtype)),
    ),
    # SGD takes a tensor lr; its momentum is a float, which both classes write.
    "SGD": lambda params, dtype: torch.optim.SGD(params, lr=torch.tensor(0.01, dtype=dtype), momentum=0.9),
}


def compiled_run(cls: type, optimizer: str, dtype: torch.dtype) -> tuple[int, list[Any]]:
    """Graphs dynamo builds for a compiled optimizer step over STEPS training steps, and
    the group values (lr, betas[0] or momentum) each step sees."""
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1)
    opt = OPTIMIZERS[optimizer](model.parameters(), dtype)
    sched = cls(opt, max_lr=0.1, total_steps=STEPS + 2)

    @torch.compile(backend="aot_eager")
    def step() -> None:
        opt.step()

    dynamo.reset()
    dynamo.utils.counters.clear()
    x = torch.randn(16, 8)
    seen = []
    for _ in range(STEPS):
        group = opt.param_groups[0]
        other = group["betas"][0] if "betas" in group else group["momentum"]
        seen.append((group["lr"].clone(), other.clone() if isinstance(other, torch.Tensor) else other))
        model(x).sum().backward()
        step()
        opt.zero_grad()
        sched.step()
    return int(dynamo.utils.counters["stats"]["unique_graphs"]), seen


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_compiled_step_is_built_once_with_torchs_values(optimizer: str, dtype: torch.dtype) -> None:
    theirs, t_seen = compiled_run(TorchOneCycleLR, optimizer, dtype)
    ours, o_seen = compiled_run(OneCycleLR, optimizer, dtype)
    if optimizer == "SGD":  # a float momentum changes at every step under either class
        assert ours == theirs
    else:
        assert ours == 1 < theirs, (ours, theirs)
    for i, ((t_lr, t_other), (o_lr, o_other)) in enumerate(zip(t_seen, o_seen, strict=True)):
        assert same(o_lr, t_lr), i  # both fill the tensor lr in place
        if isinstance(o_other, torch.Tensor):  # ours' tensor betas[0]: torch's float, rounded
            assert type(t_other) is float
            assert same(o_other, torch.tensor(t_other, dtype=dtype)), i
        else:
            assert same(o_other, t_other), i
