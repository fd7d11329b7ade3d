"""The README's pictures show what the current code draws: each is drawn again from
docs/pictures.py and compared with the committed file."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pictures")
    pictures_module().draw(directory)
    return directory


def read(path: Path) -> tuple[dict[str, str], np.ndarray]:
    with Image.open(path) as image:
        return dict(image.text), np.asarray(image.convert("RGBA"))  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(PICTURES))
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


def test_readme_shows_every_picture() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"\]\(docs/img/([\w-]+\.png)\)", readme))
    assert shown == set(PICTURES) == {p.name for p in IMAGES.glob("*.png")}
