"""The integration snippets of docs/integrations.md, run as the tests' own code: once as
written (with onecycle's ``OneCycleLR``) and once with torch's class imported in its place."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import torch
from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "integrations.md"
OURS = "from onecycle import OneCycleLR\n"
THEIRS = "from torch.optim.lr_scheduler import OneCycleLR\n"

Which = Literal["onecycle", "torch"]
WHICH: tuple[Which, Which] = ("torch", "onecycle")


def page_snippet(imports: str) -> str:
    """The one Python block of docs/integrations.md that contains `imports`."""
    text = PAGE.read_text()
    blocks = [b for b in re.findall(r"```python\n(.+?)```", text, re.S) if imports in b]
    assert len(blocks) == 1, f"{PAGE.name} should have one block with {imports!r}"
    return blocks[0]


def run_snippet(code: str, which: Which, namespace: dict[str, Any]) -> dict[str, Any]:
    """Execute a page's snippet in `namespace`, which holds the names the snippet leaves to
    the reader, with onecycle's class (as written) or torch's (the import line swapped);
    return the namespace."""
    assert code.count(OURS) == 1, "the snippet imports onecycle's OneCycleLR once"
    if which == "torch":
        code = code.replace(OURS, THEIRS)
    namespace.setdefault("__name__", f"page_snippet_{which}")
    exec(compile(code, f"docs/integrations.md ({which})", "exec"), namespace)
    return namespace


def torch_lrs_by_hand(model: torch.nn.Module, steps: int, **kwargs: Any) -> list[float]:
    """torch's scheduler over AdamW (the snippets' optimizer) with `kwargs`, stepped by hand
    once per optimizer step: the rate in effect at each of `steps` steps, then the one
    after the last."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scheduler = TorchOneCycleLR(optimizer, **kwargs)
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return [*lrs, scheduler.get_last_lr()[0]]


REPLAN_ON_LOAD = ", replan_on_load=True)"


def with_replan_on_load(code: str) -> str:
    """`code` (a page snippet) as the page changes it to resume with a new length: its
    scheduler line replaced by the page's one-line block that is that line with
    `replan_on_load=True` added."""
    lines = code.splitlines(keepends=True)
    plain = {line.strip(): i for i, line in enumerate(lines)}
    changed = [
        line
        for block in re.findall(r"```python\n(.+?)```", PAGE.read_text(), re.S)
        if len(block.splitlines()) == 1
        and (line := block.strip()).endswith(REPLAN_ON_LOAD)
        and line.removesuffix(REPLAN_ON_LOAD) + ")" in plain
    ]
    assert len(changed) == 1, f"{PAGE.name} should have one line adding replan_on_load=True to the snippet"
    (line,) = changed
    i = plain[line.removesuffix(REPLAN_ON_LOAD) + ")"]
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = f"{indent}{line}\n"
    return "".join(lines)
