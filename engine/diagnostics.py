"""One diagnostic format for every error a user reads about a file.

A diagnostic prints as ``FILE:LINE:COL: code: message``, then the source line
with a caret under the column, then optional ``have:`` / ``want:`` lines or a
``did you mean`` hint. Codes are stable snake_case names documented in
docs/errors.md.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Position", "Diagnostic", "DiagnosticSink", "render", "suggest", "MAX_DIAGNOSTICS"]

# A run stops collecting after this many errors: past it, later errors are
# mostly consequences of earlier ones.
MAX_DIAGNOSTICS = 25


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in a named file."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Diagnostic:
    """One error found in an input file."""

    position: Position
    code: str
    message: str
    notes: tuple[str, ...] = field(default=())

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.position.file, self.position.line, self.position.column, self.code)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to a misspelt name, or None if none is close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    if not matches:
        return None

    return matches[0]


def _source_line(sources: dict[str, str], position: Position) -> str | None:
    text = sources.get(position.file)
    if text is None:
        return None
    lines = text.splitlines()
    if not 1 <= position.line <= len(lines):
        return None

    return lines[position.line - 1]


def render(diagnostics: Sequence[Diagnostic], sources: dict[str, str]) -> str:
    """Format diagnostics, sorted by position, with source lines and carets."""
    blocks = []
    for diagnostic in sorted(diagnostics, key=Diagnostic.sort_key):
        position = diagnostic.position
        lines = [f"{position.file}:{position.line}:{position.column}: {diagnostic.code}: {diagnostic.message}"]
        source = _source_line(sources, position)
        if source is not None:
            expanded = source.expandtabs(4)
            caret_column = len(source[: max(position.column - 1, 0)].expandtabs(4))
            lines.append(f"    {expanded}")
            lines.append("    " + " " * caret_column + "^")
        lines.extend(f"    {note}" for note in diagnostic.notes)
        blocks.append("\n".join(lines))

    return "\n".join(blocks)


class DiagnosticSink:
    """Collects diagnostics of one run, capped at ``limit``.

    A diagnostic at the same position as an earlier one is dropped: it follows
    from the first (an unknown name reported once, not at every use).
    """

    def __init__(self, limit: int = MAX_DIAGNOSTICS) -> None:
        self.limit = limit
        self.diagnostics: list[Diagnostic] = []
        self.truncated = False
        self._positions: set[Position] = set()

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic.position in self._positions:
            return
        if len(self.diagnostics) >= self.limit:
            self.truncated = True
            return
        self._positions.add(diagnostic.position)
        self.diagnostics.append(diagnostic)

    def error(self, position: Position, code: str, message: str, *notes: str) -> None:
        self.add(Diagnostic(position, code, message, tuple(notes)))

    def __bool__(self) -> bool:
        return bool(self.diagnostics)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.diagnostics, key=Diagnostic.sort_key)
