"""CUDA optimizers: a tensor lr on capturable and fused Adam, AdamW and SGD, and a CUDA
graph capture of the optimizer step with the scheduler stepped outside it. Each compares
onecycle's scheduler with torch's in the same setup. These tests need a CUDA device and are
skipped, with the reason, where there is none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from onecycle import OneCycleLR
from parity import groups_state, same, torch_fills_tensor_lr
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none is available here)"),
    pytest.mark.skipif(not torch_fills_tensor_lr(), reason="this torch replaces a tensor lr with a float"),
]

DEVICE = "cuda"


def params() -> list[torch.nn.Parameter]:
    torch.manual_seed(0)
    return [
        torch.nn.Parameter(torch.randn(64, 32, device=DEVICE)),
        torch.nn.Parameter(torch.randn(32, device=DEVICE)),
    ]


def lr() -> torch.Tensor:
    return torch.tensor(0.01, device=DEVICE)


VARIANTS: dict[str, Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]] = {
    "Adam capturable": lambda p: torch.optim.Adam(p, lr=lr(), capturable=True),
    "Adam fused": lambda p: torch.optim.Adam(p, lr=lr(), fused=True),
    "AdamW capturable": lambda p: torch.optim.AdamW(p, lr=lr(), capturable=True),
    "AdamW fused": lambda p: torch.optim.AdamW(p, lr=lr(), fused=True),
    "SGD fused": lambda p: torch.optim.SGD(p, lr=lr(), momentum=0.9, fused=True),
}


def set_grads(opt: torch.optim.Optimizer, step: int) -> None:
    generator = torch.Generator(device=DEVICE).manual_seed(step)
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = torch.randn(p.shape, device=DEVICE, generator=generator)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_tensor_lr_on_cuda_optimizers_equals_torchs(variant: str) -> None:
    try:
        t_opt, o_opt = VARIANTS[variant](params()), VARIANTS[variant](params())
    except (RuntimeError, TypeError, ValueError) as e:  # an older torch without this variant
        pytest.skip(f"this torch has no {variant}: {e}")
    theirs = TorchOneCycleLR(t_opt, max_lr=0.1, total_steps=30)
    ours = OneCycleLR(o_opt, max_lr=0.1, total_steps=30)
    lr_tensor = o_opt.param_groups[0]["lr"]
    for step in range(31):
        set_grads(t_opt, step), set_grads(o_opt, step)
        t_opt.step(), o_opt.step(), theirs.step(), ours.step()
        assert o_opt.param_groups[0]["lr"] is lr_tensor  # filled in place, on the device
        assert same(groups_state(o_opt), groups_state(t_opt)), step
        assert same(ours.get_last_lr(), theirs.get_last_lr()), step
    assert same(
        [p.detach() for p in o_opt.param_groups[0]["params"]],
        [p.detach() for p in t_opt.param_groups[0]["params"]],
    )


def graph_run(cls: type, captured: bool) -> tuple[list[Any], list[torch.Tensor]]:
    """Capturable Adam with tensor lr and betas on the device, the optimizer step captured
    in a CUDA graph (or run eagerly) and the scheduler stepped outside it; the lr each step
    saw and the final weights."""
    p = params()
    betas = (torch.tensor(0.9, device=DEVICE), torch.tensor(0.999, device=DEVICE))
    opt = torch.optim.Adam(p, lr=lr(), betas=betas, capturable=True)
    sched = cls(opt, max_lr=0.1, total_steps=25)
    set_grads(opt, 0)
    if captured:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm up on a side stream, as torch's docs do
            opt.step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            opt.step()
    else:
        opt.step()
    seen = []
    for step in range(1, 25):
        sched.step()
        seen.append(opt.param_groups[0]["lr"].clone())
        grads = torch.Generator(device=DEVICE).manual_seed(step)
        for q in p:  # the captured step reads the gradients where they are
            q.grad.copy_(torch.randn(q.shape, device=DEVICE, generator=grads))
        if captured:
            graph.replay()
        else:
            opt.step()
    torch.cuda.synchronize()
    return seen, [q.detach().clone() for q in p]


def test_cuda_graph_replays_use_the_scheduled_values() -> None:
    """Each replay of the captured step reads the lr and betas[0] tensors the scheduler
    fills in place, so the captured run equals the eager one, which equals torch's class
    run eagerly (the warm-up and the capture each took one step)."""
    o_seen, o_weights = graph_run(OneCycleLR, captured=True)
    e_seen, e_weights = graph_run(OneCycleLR, captured=False)
    t_seen, _ = graph_run(TorchOneCycleLR, captured=False)
    assert same(o_seen, e_seen) and same(o_seen, t_seen)
    assert same(o_weights, e_weights)
