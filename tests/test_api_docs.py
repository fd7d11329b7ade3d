"""docs/api.md is generated from the code: a mkdocstrings directive (``::: onecycle.schedule``)
for every public object, so each signature and docstring is written once, in the code
(tests/test_docs.py builds the site, which fails on a directive that names nothing)."""

from __future__ import annotations

import re
from pathlib import Path

import onecycle
import onecycle.cli

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "api.md").read_text()


def directives() -> dict[str, list[str]]:
    """Each ``::: name`` of docs/api.md, with the members its options list (if any)."""
    found: dict[str, list[str]] = {}
    for name, options in re.findall(r"^::: ([\w.]+)\n((?:    .*\n)*)", API, flags=re.M):
        members = re.search(r"members: \[(.*)\]", options)
        found[name] = [m.strip() for m in members[1].split(",")] if members else []
    return found


def test_every_public_object_is_documented() -> None:
    public = {f"onecycle.{name}" for name in onecycle.__all__ if name != "__version__"}
    assert set(directives()) == public | {"onecycle.cli.main"}


def test_listed_members_exist_and_are_public() -> None:
    for name, members in directives().items():
        owner = getattr(onecycle, name.split(".")[1])
        for member in members:
            assert not member.startswith("_") and hasattr(owner, member), (name, member)
    # The methods the drawing and suggesting go through are listed.
    assert "plot" in directives()["onecycle.OneCycleLR"]
    assert {"suggest", "plot"} <= set(directives()["onecycle.RangeTestResult"])


def test_no_hand_written_signatures() -> None:
    """A signature copied into the page could drift from the code: there are none."""
    assert "```python" not in API
    assert re.search(r"^onecycle\.\w+\(", API, flags=re.M) is None


def test_links_to_the_deliberate_differences() -> None:
    assert "](differences.md)" in API
    assert (ROOT / "docs" / "differences.md").read_text().startswith("# Differences from torch")


def test_dir_holds_the_public_api_and_the_modules() -> None:
    """Tab completion shows what there is to use: the public API and onecycle's modules,
    not the names the package imports for itself (``Any``, ``importlib``, ...)."""
    listed = set(dir(onecycle))
    modules = {name for name in listed if type(getattr(onecycle, name)).__name__ == "module"}
    assert {"cli", "_core"} <= modules
    assert listed == set(onecycle.__all__) | modules
    assert not {"Any", "TYPE_CHECKING", "annotations", "importlib"} & listed
    assert all(getattr(onecycle, name).__name__ == f"onecycle.{name}" for name in modules)
