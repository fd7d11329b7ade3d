"""The README's quick start is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert commands[0] == "pip install . && onecycle"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == quick_start_commands()[1]


def test_quick_start_says_what_the_test_command_costs() -> None:
    """The second command takes time, downloads and disk: the README says how much, and
    that nox makes temporary torch environments."""
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    after = " ".join(section.split(quick_start_commands()[1], 1)[1].split())
    assert re.search(r"about \d+ minutes", after)
    assert re.search(r"GB of downloads", after) and re.search(r"about \d+ GB of disk", after)
    assert "temporary virtual environment" in after
