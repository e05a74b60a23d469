"""Renderers of plan documents, combined multi-tenant results and diffs, for people and machines.

Every renderer is a pure function ``render(document, colour=False) -> str``:
no I/O, the same document gives the same text. ``RENDERERS`` maps each
``--format`` name to the renderer of a plan or a combined result,
``DIFF_RENDERERS`` to the renderer of a diff document (engine/diff.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from engine.report.attestations import Attestation, load_attestations, parse_attestations
from engine.report.html import render_diff_html, render_html
from engine.report.junit import render_diff_junit, render_junit
from engine.report.markdown import render_diff_markdown, render_markdown
from engine.report.sarif import render_diff_sarif, render_sarif
from engine.report.text import render_diff_text, render_text

__all__ = [
    "FORMATS",
    "RENDERERS",
    "DIFF_RENDERERS",
    "Attestation",
    "load_attestations",
    "parse_attestations",
    "render_json",
    "render_text",
    "render_sarif",
    "render_junit",
    "render_markdown",
    "render_html",
    "render_diff_text",
    "render_diff_sarif",
    "render_diff_junit",
    "render_diff_markdown",
    "render_diff_html",
]

Renderer = Callable[..., str]


def render_json(document: dict[str, Any], colour: bool = False) -> str:
    """Render any document as JSON, two-space indent and a trailing newline, as plan files are written. ``colour`` is ignored."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


RENDERERS: dict[str, Renderer] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "junit": render_junit,
    "markdown": render_markdown,
    "html": render_html,
}

DIFF_RENDERERS: dict[str, Renderer] = {
    "text": render_diff_text,
    "json": render_json,
    "sarif": render_diff_sarif,
    "junit": render_diff_junit,
    "markdown": render_diff_markdown,
    "html": render_diff_html,
}

FORMATS = tuple(RENDERERS)
