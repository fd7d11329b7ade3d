"""Adam's ``betas[0]`` as a tensor: kept and filled in place where the installed torch's
optimizers can step with it (so ``torch.compile`` does not recompile), replaced by a float
as torch does elsewhere."""

from __future__ import annotations

import functools
import warnings
from typing import Any

import torch
from torch import Tensor

__all__ = ["fill", "restore_tensor_betas", "tensor_betas"]


@functools.cache
def _adam_takes_tensor_beta1(beta_dtype: torch.dtype, param_dtype: torch.dtype) -> bool:
    """Whether the installed torch's Adam steps with a tensor ``betas[0]`` of
    ``beta_dtype`` on parameters of ``param_dtype`` (torch 2.0-2.4 fail on a float64 tensor
    with float32 parameters). Asked once per pair, with one step of a one-element Adam."""
    param = torch.zeros(1, dtype=param_dtype, requires_grad=True)
    param.grad = torch.ones(1, dtype=param_dtype)
    adam = torch.optim.Adam([param], lr=0.1, foreach=False)
    # Set after construction, as the scheduler leaves it (Adam's constructor may insist on
    # betas of one kind; its step is what matters).
    adam.param_groups[0]["betas"] = (torch.tensor(0.9, dtype=beta_dtype), 0.999)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the probe's own warnings are nobody's concern
        try:
            adam.step()
        except Exception:  # whatever the reason, this Adam cannot take the tensor
            return False
    return True


def _keeps_tensor_beta1(group: dict[str, Any], tensor: Tensor) -> bool:
    """Whether the scheduler keeps ``group``'s tensor ``betas[0]`` and fills it in place:
    where the installed torch's optimizers can step with it. Elsewhere it does what torch
    does, replacing it with a float."""
    params = group.get("params")
    first = params[0] if isinstance(params, list) and params else None
    param_dtype = first.dtype if isinstance(first, Tensor) else torch.get_default_dtype()
    return _adam_takes_tensor_beta1(tensor.dtype, param_dtype)


def fill(tensor: Tensor, value: Any) -> None:
    """Write ``value`` into ``tensor`` in place, as torch updates a tensor ``lr``."""
    if isinstance(value, Tensor) and value.dim() != 0:
        value = value.squeeze()
    tensor.fill_(value)


def tensor_betas(optimizer: Any) -> list[tuple[dict[str, Any], tuple[Any, ...]]]:
    """The groups whose ``betas[0]`` is a tensor, with their ``betas`` tuples."""
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list):
        return []
    return [
        (group, betas)
        for group in groups
        if isinstance(group, dict)
        and isinstance(betas := group.get("betas"), tuple)
        and betas
        and isinstance(betas[0], Tensor)
        and _keeps_tensor_beta1(group, betas[0])
    ]


def _fill_beta1(group: dict[str, Any], momentum: Any, filled: dict[int, Any]) -> None:
    """Write ``momentum`` into the tensor ``group["betas"][0]`` in place. A tensor shared
    with a group that got another value in this update (``filled``: tensor id -> value)
    is split off: this group gets its own copy, updated in place from then on."""
    betas = group["betas"]
    tensor = betas[0]
    if filled.setdefault(id(tensor), momentum) != momentum:
        tensor = tensor.clone()
        group["betas"] = (tensor, *betas[1:])
    fill(tensor, momentum)


def restore_tensor_betas(kept: list[tuple[dict[str, Any], tuple[Any, ...]]]) -> None:
    """Where torch replaced a tensor ``betas[0]`` (kept by :func:`tensor_betas`) with a
    plain number, put the tensor back, holding that number. (Where torch put a tensor
    there, computed from tensor momentum bounds, its tensor stays, as in torch.)"""
    filled: dict[int, Any] = {}
    for group, betas in kept:
        current = group.get("betas")
        if current is betas or not isinstance(current, tuple) or not current:
            continue
        if isinstance(current[0], Tensor):
            continue
        rest = current[1:]
        same_rest = len(rest) == len(betas) - 1 and all(a is b for a, b in zip(rest, betas[1:], strict=False))
        group["betas"] = betas if same_rest else (betas[0], *rest)
        _fill_beta1(group, current[0], filled)
