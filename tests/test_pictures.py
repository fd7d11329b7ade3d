"""The README's pictures show what the current code draws: each is drawn again from
docs/pictures.py and compared with the committed file (the LR range test's as far as
float training reproduces across machines: see test_range_test_picture)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from matplotlib.testing.compare import compare_images
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "img"


def pictures_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pictures", ROOT / "docs" / "pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PICTURES: dict[str, list[str]] = pictures_module().PICTURES
RANGE_TEST: str = pictures_module().RANGE_TEST
REPLAN: str = pictures_module().REPLAN


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pictures")
    pictures_module().draw(directory)
    return directory


def read(path: Path) -> tuple[dict[str, str], np.ndarray]:
    with Image.open(path) as image:
        return dict(image.text), np.asarray(image.convert("RGBA"))  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", [*sorted(PICTURES), REPLAN])
def test_picture_is_current(drawn: Path, name: str) -> None:
    committed_text, committed = read(IMAGES / name)
    fresh_text, fresh = read(drawn / name)
    # The values drawn (every configuration and every point, by their bits) are those the
    # current code computes: this holds on any platform and any matplotlib.
    assert committed_text["Description"] == fresh_text["Description"], f"run `make pictures`: {name} is stale"
    assert committed.shape == fresh.shape
    if committed_text["Software"] == fresh_text["Software"]:
        # The matplotlib that drew the committed file: the very same pixels.
        assert np.array_equal(committed, fresh), f"run `make pictures`: {name} is stale"
    else:
        # Another matplotlib may place text and antialias lines a little differently.
        assert compare_images(str(IMAGES / name), str(drawn / name), tol=10) is None


def test_range_test_picture(drawn: Path) -> None:
    """The range test's losses come from float32 training, whose last bits depend on the
    torch build and the CPU's kernels (measured: with ATEN_CPU_CAPABILITY=default instead of
    AVX2, 97 of the 200 losses differ, the suggestions do not), so the committed picture
    cannot hold the data of every machine. What holds everywhere: drawing works, gives a
    PNG of the committed size, and the data in it (their digest, written into the file)
    are those of a fresh run of the example's range test on this machine. Where the build
    that drew the committed file (its "Source" text) is this one, its data are this run's,
    bit for bit, and its pixels are compared as the other pictures'."""
    pictures = pictures_module()
    result = pictures.range_test_result()
    digest = hashlib.sha256()
    for values in (result.lrs, result.losses, result.smoothed_losses):
        digest.update(np.asarray(values, dtype=np.float64).tobytes())
    committed_text, committed = read(IMAGES / RANGE_TEST)
    fresh_text, fresh = read(drawn / RANGE_TEST)
    assert fresh_text["Description"] == f"onecycle range test data sha256 {digest.hexdigest()}"
    assert fresh_text["Source"] == pictures.build()
    assert committed.shape == fresh.shape
    assert committed_text["Description"].startswith("onecycle range test data sha256 ")
    if committed_text["Source"] == fresh_text["Source"]:
        assert committed_text["Description"] == fresh_text["Description"], (
            f"run `make pictures`: {RANGE_TEST} is stale"
        )
        if committed_text["Software"] == fresh_text["Software"]:
            assert np.array_equal(committed, fresh), f"run `make pictures`: {RANGE_TEST} is stale"
        else:
            assert compare_images(str(IMAGES / RANGE_TEST), str(drawn / RANGE_TEST), tol=10) is None


def test_range_test_picture_draws_the_result() -> None:
    """The lines of the example's figure are the result's arrays, and the mark is at the
    suggested learning rate."""
    pictures = pictures_module()
    result = pictures.range_test_result()
    ax = pictures.example()["figure"](result).axes[0]
    lines = {str(line.get_label()).split(" (")[0]: line for line in ax.lines}
    raw, smoothed, mark = lines["loss"], lines["smoothed loss"], lines["suggested"]
    assert np.array_equal(raw.get_xdata(), result.lrs) and np.array_equal(raw.get_ydata(), result.losses)
    assert np.array_equal(smoothed.get_xdata(), result.lrs)
    assert np.array_equal(smoothed.get_ydata(), result.smoothed_losses)
    index = result.suggest_index()
    assert list(mark.get_xdata()) == [result.lrs[index]]
    assert list(mark.get_ydata()) == [result.smoothed_losses[index]]


def test_readme_shows_every_picture() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"\]\(docs/img/([\w-]+\.png)\)", readme))
    assert shown == {*PICTURES, RANGE_TEST, REPLAN} == {p.name for p in IMAGES.glob("*.png")}


def test_replan_picture_shows_the_jump_and_its_absence() -> None:
    """The naive resume jumps at the resume step; the re-planned run moves on as any step
    of it does; both end at the new length's min_lr."""
    curves = list(pictures_module().replan_curves().values())
    (_, planned), (_, naive), (_, replanned) = curves
    step = 6_000
    assert np.array_equal(naive[: step + 1], planned[: step + 1])
    assert np.array_equal(replanned[: step + 1], planned[: step + 1])
    naive_jump = abs(naive[step + 1] - naive[step])
    moves = np.abs(np.diff(replanned[step:]))
    assert moves[0] <= moves.max() and naive_jump > 100 * moves.max()
    assert replanned[-1] == naive[-1]
