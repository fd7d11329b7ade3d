"""docs/api.md states the real signatures: each documented one equals what `inspect`
reads off the object, annotations and defaults included."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, ForwardRef

import onecycle
import onecycle.cli
import pytest

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "api.md").read_text()

OBJECTS: dict[str, Any] = {
    "onecycle.schedule": onecycle.schedule,
    "onecycle.Schedule": onecycle.Schedule,
    "onecycle.OneCycleLR": onecycle.OneCycleLR,
    "onecycle.total_steps_for": onecycle.total_steps_for,
    "onecycle.LRRangeTest": onecycle.LRRangeTest,
    "onecycle.lr_range_test": onecycle.lr_range_test,
    "onecycle.RangeTestResult": onecycle.RangeTestResult,
    "onecycle.plot": onecycle.plot,
    "onecycle.OneCycleLR.plot": onecycle.OneCycleLR.plot,
    "onecycle.RangeTestResult.plot": onecycle.RangeTestResult.plot,
    "onecycle.cli.main": onecycle.cli.main,
}


def annotation(value: Any) -> str:
    """An annotation as the source spells it (they are not evaluated)."""
    return value.__forward_arg__ if isinstance(value, ForwardRef) else str(value)


def default(value: Any) -> str:
    """A default value: its repr, a class by its public dotted name (``numpy.float64``)."""
    if isinstance(value, type):
        return f"{value.__module__.split('.')[0]}.{value.__qualname__}"
    return repr(value)


def render(name: str, obj: Any) -> str:
    """``name(param: annotation = default, ..., *, ...) -> return``."""
    signature = inspect.signature(obj)
    parts: list[str] = []
    keyword_only = False
    for p in signature.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not keyword_only:
            parts.append("*")
            keyword_only = True
        annotated = p.annotation is not p.empty
        stars = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        part = stars + p.name + (f": {annotation(p.annotation)}" if annotated else "")
        if p.default is not p.empty:
            part += f" = {default(p.default)}" if annotated else f"={default(p.default)}"
        parts.append(part)
    returns = signature.return_annotation
    arrow = "" if inspect.isclass(obj) or returns is signature.empty else f" -> {annotation(returns)}"
    return f"{name}({', '.join(parts)}){arrow}"


def documented() -> dict[str, str]:
    """Each `### name` heading of docs/api.md and the signature in the code block under it."""
    found = re.findall(r"^### `?([\w.]+)`?\n+```python\n(.+?)\n```", API, flags=re.M | re.S)
    return {name: " ".join(line.strip() for line in block.splitlines()).replace("( ", "(").replace(", )", ")")
            for name, block in found}  # fmt: skip


def test_every_public_object_is_documented() -> None:
    assert set(documented()) == set(OBJECTS)
    assert set(onecycle.__all__) - {"__version__"} == {n.split(".")[-1] for n in OBJECTS if n.count(".") == 1}


def documented_for_this_torch(name: str) -> str:
    """The documented signature; where torch takes `verbose` itself (2.0-2.6), ours has
    torch's default for it, as docs/api.md says."""
    doc = documented()[name]
    from torch.optim.lr_scheduler import OneCycleLR as TorchOneCycleLR

    torch_params = inspect.signature(TorchOneCycleLR.__init__).parameters
    if name == "onecycle.OneCycleLR" and "verbose" in torch_params:
        doc = doc.replace("verbose: bool = False", f"verbose: bool = {torch_params['verbose'].default!r}")
    return doc


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_documented_signature_is_the_real_one(name: str) -> None:
    assert documented_for_this_torch(name) == render(name, OBJECTS[name])


def test_links_to_the_deliberate_differences() -> None:
    assert "../README.md#deliberate-differences-from-torch" in API
    assert "## Deliberate differences from torch" in (ROOT / "README.md").read_text()


def test_dir_holds_the_public_api_and_the_modules() -> None:
    """Tab completion shows what there is to use: the public API and onecycle's modules,
    not the names the package imports for itself (``Any``, ``importlib``, ...)."""
    listed = set(dir(onecycle))
    modules = {name for name in listed if type(getattr(onecycle, name)).__name__ == "module"}
    assert {"cli", "_core"} <= modules
    assert listed == set(onecycle.__all__) | modules
    assert not {"Any", "TYPE_CHECKING", "annotations", "importlib"} & listed
    assert all(getattr(onecycle, name).__name__ == f"onecycle.{name}" for name in modules)
