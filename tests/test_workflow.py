"""The release workflow (.github/workflows/release.yml) cannot run here (it needs GitHub's
runners): this checks that it parses and builds, tests and publishes what the README says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "release.yml"


def load() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def targets(job: dict[str, Any]) -> set[str]:
    return {entry["target"] for entry in job.get("strategy", {}).get("matrix", {}).get("include", [])}


def maturin_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith("PyO3/maturin-action@")]


def test_parses_with_the_jobs_the_readme_names() -> None:
    jobs = load()["jobs"]
    assert set(jobs) == {"linux", "musllinux", "macos", "windows", "sdist", "release"}
    assert targets(jobs["linux"]) == {"x86_64", "aarch64"}
    assert targets(jobs["musllinux"]) == {"x86_64", "aarch64"}
    assert targets(jobs["macos"]) == {"x86_64", "aarch64"}


def test_each_wheel_is_built_for_release_and_tested() -> None:
    jobs = load()["jobs"]
    for name in ("linux", "musllinux", "macos", "windows"):
        (build,) = maturin_steps(jobs[name])
        assert "--release" in build["with"]["args"], name
        assert any("fast tests" in str(step.get("name", "")) for step in jobs[name]["steps"]), name
    assert jobs["linux"]["steps"][2]["with"]["manylinux"] == "2014"
    assert maturin_steps(jobs["musllinux"])[0]["with"]["manylinux"].startswith("musllinux")
    (sdist,) = maturin_steps(jobs["sdist"])
    assert sdist["with"]["command"] == "sdist"


def test_publishes_only_tags_after_every_build() -> None:
    data = load()
    triggers = data[True] if True in data else data["on"]  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["tags"] == ["v*"]
    release = data["jobs"]["release"]
    assert set(release["needs"]) == {"linux", "musllinux", "macos", "windows", "sdist"}
    assert release["if"] == "startsWith(github.ref, 'refs/tags/')"
