"""The documentation: the site builds with `mkdocs build --strict` (a broken link, anchor
or API reference fails it), every page is in its navigation, the code blocks of the README
and of the pages run, and the project's files a user looks for (LICENSE, CHANGELOG.md, the
version) say what they should."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import onecycle
import onecycle.cli
import pytest
import torch
import yaml

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in [ROOT / "README.md", *DOCS.glob("*.md")])

# --- the site ------------------------------------------------------------------------------


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of `project` (its mkdocs.yml) into `site`."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_site_builds_strictly(tmp_path: Path) -> None:
    done = build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    # The reference is generated: each object's heading, signature and parameter table.
    for name in ("onecycle.schedule", "onecycle.OneCycleLR", "onecycle.lr_range_test", "onecycle.cli.main"):
        assert f'id="{name}"' in api, name
    assert "Parameters:" in api and "hold_final" in api and "total_steps_for" in api
    # Sphinx roles of the docstrings are rewritten for Markdown (docs/griffe_rst.py).
    assert ":func:" not in api and ":meth:" not in api
    changelog = (tmp_path / "site" / "changelog" / "index.html").read_text()
    assert "Unreleased" in changelog


def copy_project(to: Path) -> Path:
    """What `mkdocs build` reads: mkdocs.yml, docs/, the package source and the changelog."""
    to.mkdir()
    for name in ("mkdocs.yml", "CHANGELOG.md"):
        shutil.copy(ROOT / name, to / name)
    shutil.copytree(DOCS, to / "docs")
    shutil.copytree(ROOT / "python", to / "python", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return to


@pytest.mark.parametrize(
    ("page", "old", "new"),
    [
        ("dropin.md", "(processes.md)", "(process.md)"),  # a page that does not exist
        ("cli.md", "(api.md#environment-variables)", "(api.md#environment)"),  # an anchor
        ("api.md", "::: onecycle.total_steps_for", "::: onecycle.total_step_for"),  # an object
    ],
)
def test_strict_build_fails_on_a_broken_reference(tmp_path: Path, page: str, old: str, new: str) -> None:
    project = copy_project(tmp_path / "project")
    text = (project / "docs" / page).read_text()
    assert old in text
    (project / "docs" / page).write_text(text.replace(old, new))
    assert build(project, tmp_path / "site").returncode != 0


def nav_files(nav: list[Any]) -> Iterator[str]:
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from nav_files(value)
        else:
            yield value


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    assert sorted(nav_files(config["nav"])) == sorted(p.name for p in DOCS.glob("*.md"))


def test_readme_links_resolve() -> None:
    """The README's relative links (into docs/, to LICENSE and CHANGELOG.md) name files that
    exist, and every page of the site is linked from it."""
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+?)(?:#[^)]*)?\)", readme)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    missing = [link for link in local if not (ROOT / link).exists()]
    assert missing == []
    linked = {Path(link).name for link in local if link.startswith("docs/") and link.endswith(".md")}
    assert linked | {"index.md", "changelog.md"} == {p.name for p in DOCS.glob("*.md")}


def test_readme_is_a_front_page() -> None:
    """About a screen or two: the reference material lives on the pages."""
    words = len((ROOT / "README.md").read_text().split())
    assert words < 1_800, words


# --- the code blocks -------------------------------------------------------------------------

FENCE = re.compile(
    r"(?:^[ \t]*<!-- (?P<note>.+?) -->\n)?^(?P<indent>[ \t]*)```python\n(?P<code>.*?)^(?P=indent)```",
    re.M | re.S,
)


def blocks(page: str) -> list[tuple[str | None, str]]:
    """The Python blocks of `page`, dedented, each with the note before it (if any)."""
    found = []
    for match in FENCE.finditer((ROOT / page).read_text()):
        indent = len(match["indent"])
        code = "".join(line[indent:] + "\n" for line in match["code"].splitlines())
        found.append((match["note"], code))
    return found


def given() -> dict[str, Any]:
    """The names a page leaves to the reader (``model``, ``data_loader``, ``optimizer``, ...),
    small and seeded: a linear regression of 8 inputs, in batches of 32."""
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = x @ torch.randn(8, 1) + 0.1 * torch.randn(256, 1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    model = torch.nn.Linear(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    lrs = np.geomspace(1e-3, 1, 50)
    losses = 1 + (np.log10(lrs) + 1) ** 2  # lowest at 0.1
    return {
        "__name__": "page",
        "model": model,
        "optimizer": optimizer,
        "data_loader": loader,
        "loader": loader,
        "loss_fn": torch.nn.functional.mse_loss,
        "scheduler": onecycle.OneCycleLR(
            torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1, momentum=0.9), 0.01, total_steps=100
        ),
        "result": onecycle.RangeTestResult(lrs, losses, losses, num_steps=50),
    }


def test_blocks_are_found() -> None:
    assert len(blocks("docs/schedules.md")) == 3
    assert blocks("docs/schedules.md")[1][0] == "not run: writes 16 GB"
    assert blocks("docs/schedules.md")[1][1].startswith("total = 2_000_000_000\n")


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)])
def test_page_code_blocks_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page's blocks run in order, in one namespace, as a reader would run them. A
    block with a note before it is either run by the test the note names (which reads
    this page), or not run, for the reason the note gives."""
    monkeypatch.chdir(tmp_path)
    namespace = given()
    ran = 0
    try:
        for note, code in blocks(page):
            if note is None:
                exec(compile(code, page, "exec"), namespace)
                ran += 1
            elif note.startswith("run by "):
                test = ROOT / note.removeprefix("run by ")
                assert test.is_file(), note
                assert Path(page).name in test.read_text(), f"{test.name} does not read {page}"
            else:
                assert re.fullmatch(r"not run: \w.+", note), note
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    assert ran > 0 or all(note for note, _ in blocks(page))


def test_notes_are_few() -> None:
    """Nearly every block runs here; the others say why, or where they run."""
    notes = [note for page in PAGES for note, _ in blocks(page) if note]
    skipped = [note for note in notes if note.startswith("not run")]
    assert len(skipped) <= 1, skipped


def test_console_command_page_runs(tmp_path: Path) -> None:
    """The commands of docs/cli.md's first block, run as written (`COMMAND` as `generate`)."""
    text = (DOCS / "cli.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block is not None
    commands = [line.split("#", 1)[0].strip() for line in block[1].splitlines()]
    assert len(commands) >= 6 and all(c.startswith("onecycle") for c in commands)
    for command in commands:
        args = shlex.split(command.replace("COMMAND", "generate"))[1:]
        done = subprocess.run(
            [sys.executable, "-m", "onecycle", *args], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, (command, done.stderr)
    assert {"schedule.csv", "run.npz", "big.npy", "sweep.parquet", "sweep.png"} <= {
        p.name for p in tmp_path.iterdir()
    }


# --- license, changelog, version --------------------------------------------------------------


def toml_value(name: str, table: str, key: str) -> str:
    """``key = "value"`` of ``[table]`` in the TOML file ``name`` (Python 3.10 has no tomllib)."""
    text = "\n" + (ROOT / name).read_text()
    section = text.split(f"\n[{table}]\n", 1)[1].split("\n[", 1)[0]
    found = re.search(rf"^{key} = (.+)$", section, re.M)
    assert found, (name, table, key)
    return found[1]


def test_license_is_the_declared_one() -> None:
    assert toml_value("pyproject.toml", "project", "license") == '"MIT"'
    assert toml_value("Cargo.toml", "package", "license") == '"MIT"'
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_changelog_keeps_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n") and "https://keepachangelog.com/" in text
    versions = re.findall(r"^## \[([^\]]+)\](.*)$", text, re.M)
    assert versions[0] == ("Unreleased", "")
    for version, rest in versions[1:]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version) and re.fullmatch(r" - \d{4}-\d{2}-\d{2}", rest)
    kinds = set(re.findall(r"^### (.+)$", text, re.M))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_version_is_written_once() -> None:
    """Cargo.toml holds it; pyproject takes it from there (dynamic), and so does
    `onecycle.__version__` (the extension's, from the crate's)."""
    version = toml_value("Cargo.toml", "package", "version").strip('"')
    assert onecycle.__version__ == version
    assert toml_value("pyproject.toml", "project", "dynamic") == '["version"]'
    with pytest.raises(AssertionError):
        toml_value("pyproject.toml", "project", "version")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    pattern = re.compile(rf"(?<![\d.]){re.escape(version)}(?![\d.])")
    written = [
        name
        for name in tracked.stdout.splitlines()
        if name not in {"Cargo.toml", "Cargo.lock"}
        and (ROOT / name).is_file()
        and (ROOT / name).suffix in {".py", ".toml", ".md", ".yml", ".yaml", ".cfg", ".txt", ".rs", ".pyi"}
        and pattern.search((ROOT / name).read_text(errors="replace"))
    ]
    assert written == []


# --- publishing ------------------------------------------------------------------------------


def test_docs_workflow_publishes_on_a_tag() -> None:
    workflow = yaml.load((ROOT / ".github" / "workflows" / "docs.yml").read_text(), Loader=yaml.BaseLoader)
    assert workflow["on"]["push"]["tags"] == ["v*"]
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "mkdocs build --strict" in runs
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    assert "actions/upload-pages-artifact" in uses and "actions/deploy-pages" in uses
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
