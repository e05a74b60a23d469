"""Text of an apply or rollback preview and of its results; the CLI prints it."""

from __future__ import annotations

from typing import Any

import orjson

from engine.apply.runner import Change, Outcome, RunResult

__all__ = ["render_preview", "render_result"]

_PREVIEW_MARKS = {
    "change": "~",
    "resumed": "~",
    "done": "=",
    "stale": "!",
    "not_reversible": "-",
    "unreadable": "?",
    "blocked": "x",
}

_PREVIEW_NOTES = {
    "resumed": "an interrupted run already made this change; it will be recorded as done without writing again",
    "done": "already done (journal)",
    "not_reversible": "cannot be undone",
}


def _value(value: Any) -> str:
    return "absent" if value is None else orjson.dumps(value).decode("utf-8")


def _heading(change: Change | Outcome) -> str:
    planned = change.item.planned

    return f"{planned.name}  {planned.label()}  [{planned.id}]"


def render_preview(changes: list[Change], operation: str = "apply") -> str:
    """Render each action with its field-level before → after, then a one-line summary."""
    from remediations import registry

    lines = []
    for change in changes:
        line = f"{_PREVIEW_MARKS.get(change.status, '?')} {_heading(change)}"
        note = _PREVIEW_NOTES.get(change.status)
        if change.status == "stale":
            note = f"stale: {change.reason}; not applied"
        elif change.status == "unreadable":
            note = f"cannot read the target ({change.reason}); it is read again before writing"
        elif change.status == "blocked":
            note = f"blocked: {change.reason}"
        if note:
            line += f"\n    {note}"
        lines.append(line)

        if change.status == "stale":
            lines.extend(f"    {path}: planned {_value(planned)}, now {_value(now)}" for path, planned, now in change.field_changes)
        elif change.status in ("change", "resumed"):
            field_changes = change.field_changes
            lines.extend(f"    {path}: {_value(old)} → {_value(new)}" for path, old, new in field_changes)
            if not field_changes:
                declaration = registry.get(change.item.planned.name)
                description = declaration.description if declaration is not None else change.item.planned.name
                lines.append(f"    no managed field changes; the write itself is the change: {description}")

    counts = {status: sum(1 for change in changes if change.status == status) for status in _PREVIEW_MARKS}
    verb = "to undo" if operation == "rollback" else "to change"
    summary = [f"{counts['change'] + counts['unreadable']} {verb}"]
    for status, label in (("blocked", "blocked"), ("stale", "stale"), ("resumed", "already in effect"), ("done", "already done"), ("not_reversible", "not reversible")):
        if counts[status]:
            summary.append(f"{counts[status]} {label}")
    lines.append("")
    lines.append(", ".join(summary) + ".")

    return "\n".join(lines) + "\n"


def render_result(result: RunResult) -> str:
    """Render each action's outcome, then the totals."""
    lines = []
    for outcome in result.outcomes:
        line = f"{outcome.status:<9} {_heading(outcome)}"
        if outcome.resumed:
            line += "\n    already in effect after an interrupted run; not written again"
        if not outcome.verified:
            line += "\n    not verified: no API shows this change, so success rests on the API accepting the write"
        if outcome.error:
            line += f"\n    {outcome.error}"
        lines.append(line)

    done = result.count("done")
    verb = "undone" if result.operation == "rollback" else "applied"
    totals = [f"{done} {verb}"]
    for status in ("failed", "stale", "skipped", "unchanged"):
        if result.count(status):
            label = "already done" if status == "unchanged" else status
            totals.append(f"{result.count(status)} {label}")
    lines.append("")
    lines.append(", ".join(totals) + f". Run {result.run_id}.")

    return "\n".join(lines) + "\n"
