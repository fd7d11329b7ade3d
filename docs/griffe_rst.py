"""A griffe extension for the API reference: the docstrings are numpy-style, written for
``help()`` and Sphinx-like readers, with a few reStructuredText habits that Markdown does
not share. Before mkdocstrings renders them, this turns

- roles (``:func:`schedule```, ``:meth:`suggest```) into code spans;
- a paragraph ending in ``::`` (a literal block follows) into one ending in ``:``;
- the escaped space of ``end_step``\\ s into nothing;
- parameters documented together (``base_momentum, max_momentum : float, default 0.85,
  0.95``) into one entry each, with the same description and without the shared default,
  so that each row of the table shows its own type and default, read from the signature
  where the entry gives none (griffe would give every name the first one's).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:func|meth|class|attr|data|mod|obj|exc):`~?([^`]+)`")
LITERAL = re.compile(r"(?m)(\S) ?::$")
# `a, b : type` or `a, b, **c`: names at the start of a line, then an indented description.
SHARED = re.compile(
    r"(?m)^(?P<names>\*{0,2}\w+(?:, \*{0,2}\w+)+)(?: : (?P<type>.+?))?$\n(?P<text>(?:^[ \t]+\S.*$\n?)+)"
)


def _one_entry_each(match: re.Match[str]) -> str:
    kind = match["type"]
    if kind is not None:
        kind = re.sub(r",? *default .+$", "", kind).strip()
    entries = []
    for name in match["names"].split(", "):
        head = f"{name} : {kind}" if kind else name
        text = match["text"] if match["text"].endswith("\n") else match["text"] + "\n"
        entries.append(head + "\n" + text)
    return "".join(entries)


def markdown(text: str) -> str:
    """``text`` with the reStructuredText constructs above rewritten."""
    text = ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    text = LITERAL.sub(r"\1:", text)
    text = SHARED.sub(_one_entry_each, text)
    return text.replace("\\ ", "")


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring as :func:`markdown` does, once it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
