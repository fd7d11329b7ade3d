"""examples/range_test.py: the LR range test's suggestion, handed to OneCycleLR, trains the
digits network; the suggested max_lr lies in the range of max_lr where that training
converges, measured by training at a grid of max_lr; and the code block of the README and
of docs/max-lr.md is the example's path."""

from __future__ import annotations

import math
import re
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "range_test.py"
# The pages whose range-test block is the example's path.
PAGES = ("README.md", "docs/max-lr.md")

# Converged: every training loss finite and a held-out accuracy of at least 0.9, that is,
# wrong on at most one digit in ten, where chance (ten classes) is right on one in ten.
# Measured on the grid below: the runs that train reach 0.93 to 0.98; those whose max_lr
# is too small to train in the example's 8 epochs stay below it (0.06 to 0.899), and those whose
# max_lr is too large diverge and end at chance (0.09 to 0.11).
ACCURACY = 0.9


@pytest.fixture(scope="module")
def example() -> Iterator[dict[str, Any]]:
    """The example's names, and torch set up as it runs: one thread, deterministic
    kernels (put back afterwards)."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield runpy.run_path(str(EXAMPLE), run_name="range_test")
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="module")
def result(example: dict[str, Any]) -> Any:
    return example["range_test"](example["setup"]())


def converged(trained: Any) -> bool:
    return all(math.isfinite(v) for v in trained.losses) and trained.accuracy >= ACCURACY


def test_example_runs_and_trains_at_the_suggestion(tmp_path: Path, result: Any) -> None:
    picture = tmp_path / "range-test.png"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--plot", str(picture)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # The suggestions it prints are those of the same test run here, to the bit.
    for method in ("valley", "steepest"):
        printed = re.search(rf"^suggested max_lr \({method}\): (\S+)$", out, re.M)
        assert printed is not None, out
        assert float(printed.group(1)) == result.suggest(method)
    assert f"with OneCycleLR(max_lr={result.suggest():.4g}) (valley)" in out
    epochs = [float(v) for v in re.findall(r"^epoch +\d+: mean training loss (\S+)$", out, re.M)]
    assert len(epochs) == 8 and all(map(math.isfinite, epochs)) and epochs[-1] < epochs[0] / 4
    accuracy = re.search(r"^held-out accuracy: (\S+)$", out, re.M)
    assert accuracy is not None and float(accuracy.group(1)) >= ACCURACY, out
    from PIL import Image

    with Image.open(picture) as image:
        assert image.format == "PNG" and image.size == (800, 450)


def test_the_suggestion_lies_where_training_converges(example: dict[str, Any], result: Any) -> None:
    """Train the example's run under OneCycleLR at max_lr over six decades, four to a
    decade: the max_lr at which it converges form one unbroken stretch, with runs that do
    not converge on both sides of it (too small to train in the example's epochs; too
    large, diverging), and both suggestions lie inside it and converge themselves."""
    grid = np.geomspace(1e-4, 1e2, 25)
    trains = [converged(example["train"](example["setup"](), float(max_lr))) for max_lr in grid]
    inside = np.flatnonzero(trains)
    assert inside.size, f"no max_lr of the grid converges: {dict(zip(grid, trains, strict=True))}"
    first, last = inside[0], inside[-1]
    assert inside.size == last - first + 1, f"the converging max_lr are not one stretch: {grid[inside]}"
    assert first > 0 and last < len(grid) - 1, (
        "the grid should reach max_lr on both sides that do not converge"
    )
    for method in ("valley", "steepest"):
        suggested = result.suggest(method)
        assert grid[first] <= suggested <= grid[last], (method, suggested, grid[first], grid[last])
        assert converged(example["train"](example["setup"](), suggested)), (method, suggested)


def range_test_block(page: str) -> str:
    """The one code block of ``page`` that runs the range test."""
    text = (ROOT / page).read_text()
    blocks = [b for b in re.findall(r"```python\n(.+?)```", text, re.S) if "lr_range_test(" in b]
    assert len(blocks) == 1, blocks
    return blocks[0]


@pytest.mark.parametrize("page", PAGES)
def test_page_block_is_the_examples_path(page: str, example: dict[str, Any], result: Any) -> None:
    """The page's block, run on the example's model, optimizer and batches, finds the
    example's max_lr and trains the very weights the example's train() does."""
    import matplotlib.pyplot as plt

    theirs = example["setup"]()
    namespace = {"model": theirs.model, "optimizer": theirs.optimizer, "loader": theirs.loader}
    try:
        exec(compile(range_test_block(page), page, "exec"), namespace)
    finally:
        plt.close("all")
    assert namespace["max_lr"] == result.suggest()
    ours = example["setup"]()
    example["train"](ours, result.suggest())
    for p, q in zip(theirs.model.parameters(), ours.model.parameters(), strict=True):
        assert torch.equal(p, q)
