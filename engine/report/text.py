"""Plain-text rendering of a plan or a diff, grouped by status, for terminals and CI logs."""

from __future__ import annotations

import re

import json
from typing import Any

import click

from engine.report._document import (
    combined_summary,
    exception_details,
    exception_state,
    exception_subject,
    is_combined,
    plural,
    tenant_entries,
    unmatched_exceptions,
    violation_count,
    violation_exception,
    waiver_text,
)

__all__ = ["render_text", "render_diff_text"]

# Per failing policy, the text report lists this many violations; JSON lists all.
MAX_VIOLATIONS_SHOWN = 10

_ORDER = ("fail", "error", "pass", "waived", "not_applicable")
_HEADINGS = {
    "fail": "FAIL",
    "error": "ERROR",
    "pass": "PASS",
    "waived": "WAIVED",
    "not_applicable": "NOT APPLICABLE",
}
_COLOURS = {"fail": "red", "error": "magenta", "pass": "green", "waived": "yellow", "not_applicable": "bright_black"}
_MARKS = {"fail": "✗", "error": "!", "pass": "✓", "waived": "~", "not_applicable": "-"}


def _evidence_line(evidence: dict[str, Any]) -> str:
    parts = []
    for key, value in evidence.items():
        rendered = json.dumps(value, ensure_ascii=False, sort_keys=True)
        if len(rendered) > 160:
            rendered = rendered[:157] + "..."
        parts.append(f"{key} = {rendered}")

    return "; ".join(parts)


def _resource_label(resource: dict[str, Any]) -> str:
    name = resource.get("displayName") or resource.get("id")

    return f"{resource.get('type')} {name}"


# C0 control characters except tab and newline, DEL and C1 controls: tenant
# data (a display name, a rule name) could otherwise move the cursor or
# recolour a reviewer's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(value: Any) -> Any:
    """Replace control characters in every string of a document with \\xNN escapes."""
    if isinstance(value, str):
        return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]

    return value


def render_text(document: dict[str, Any], colour: bool = False) -> str:
    """Render a plan or a combined multi-tenant result as text. ``colour`` adds ANSI colours for a terminal."""
    document = _printable(document)
    blocks = []
    if is_combined(document):
        blocks.append(_combined_head(document, colour))
    for entry in tenant_entries(document):
        if entry.plan is not None:
            blocks.append(_render_plan(entry.plan, colour))
            continue
        heading = _style(f"safeguard plan for {entry.name}: the run failed", None, colour, bold=True)
        blocks.append(f"{heading}\n  {_style('error', 'error', colour)}: {entry.error}\n")

    return "\n".join(blocks)


def _style(text: str, status: str | None, colour: bool, **extra) -> str:
    if not colour:
        return text

    return click.style(text, fg=_COLOURS.get(status) if status else None, **extra)


def _status_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(status, 0)} {_HEADINGS[status].lower()}" for status in _ORDER)


def _combined_head(document: dict[str, Any], colour: bool) -> str:
    """Summarise a combined result over all tenants, as its JSON ``summary`` does."""
    summary = combined_summary(document)
    tenants = summary.get("tenants", len(document["tenants"]))
    lines = [
        _style(
            f"safeguard plan for {plural(tenants, 'tenant')}: {summary.get('planned', 0)} planned, {summary.get('failed', 0)} failed",
            "fail" if summary.get("failed") else None,
            colour,
            bold=True,
        ),
        f"results: {_status_counts(summary.get('results', {}))}; {plural(summary.get('actions', 0), 'proposed action')}",
    ]
    exceptions = summary.get("exceptions")
    if exceptions is not None:
        counts = ", ".join(f"{len(exceptions.get(kind) or [])} {kind}" for kind in ("applied", "expired", "unused"))
        lines.append(f"exceptions: {counts}")

    return "\n".join(lines) + "\n"


def _violation_lines(result: dict[str, Any], style) -> list[str]:
    lines = []
    for violation in result["violations"][:MAX_VIOLATIONS_SHOWN]:
        line = f"      {_resource_label(violation['resource'])}: {violation['message']}"
        exception = violation_exception(result, violation)
        if exception is not None:
            line += " " + style(f"[{waiver_text(exception)}]", "waived")
        lines.append(line)
        if violation["evidence"]:
            lines.append(style(f"        evidence: {_evidence_line(violation['evidence'])}", "not_applicable"))
    hidden = len(result["violations"]) - MAX_VIOLATIONS_SHOWN
    if hidden > 0:
        lines.append(f"      … and {hidden} more (--format json lists all)")

    return lines


def _exception_lines(plan: dict[str, Any], style) -> list[str]:
    """List the exceptions that waived nothing in this plan: expired ones, then unused ones."""
    unmatched = unmatched_exceptions(plan)
    if not unmatched:
        return []

    counts = {kind: sum(1 for entry_kind, _ in unmatched if entry_kind == kind) for kind in ("expired", "unused")}
    counts_text = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    lines = ["", style(f"EXCEPTIONS ({counts_text})", "waived", bold=True)]
    for kind, entry in unmatched:
        line = f"  {style(_MARKS['waived'], 'waived')} {exception_subject(entry)}: {exception_state(kind, entry)}"
        details = exception_details(entry)
        lines.append(f"{line} ({details})" if details else line)

    return lines


def _render_plan(plan: dict[str, Any], colour: bool) -> str:
    def style(text: str, status: str | None = None, **extra) -> str:
        return _style(text, status, colour, **extra)

    snapshot = plan["snapshot"]
    tenant = snapshot["tenant"]
    lines = [
        style(f"safeguard plan for {tenant.get('domain')} ({tenant.get('provider')}, tenant {tenant.get('id')})", bold=True),
        f"snapshot collected {snapshot['collectedAt']}, evaluated at {plan['createdAt']}",
        f"{plural(len(plan['results']), 'policy', 'policies')}: {_status_counts(plan['summary'])}",
    ]
    for status in _ORDER:
        results = [result for result in plan["results"] if result["status"] == status]
        if not results:
            continue
        lines.append("")
        lines.append(style(f"{_HEADINGS[status]} ({len(results)})", status, bold=True))
        for result in results:
            mark = style(_MARKS[status], status)
            header = f"  {mark} {result['policy']} [{result['severity']}] {result['title']}"
            if status == "fail" or (status == "waived" and result["violations"]):
                header += f" ({violation_count(result)})"
            lines.append(header)
            if status == "not_applicable":
                continue
            if status == "waived" and not result["violations"] and result.get("exception"):
                lines.append(f"      {waiver_text(result['exception'])}")
            lines.extend(_violation_lines(result, style))
            if result.get("error"):
                lines.append(f"      {result['error']}")
    lines.extend(_exception_lines(plan, style))

    actions = plan["actions"]
    lines.append("")
    if actions:
        lines.append(style(f"PROPOSED ACTIONS ({len(actions)}, not applied)", bold=True))
        for action in actions:
            target = action["target"]
            label = target.get("displayName") or target.get("id")
            lines.append(f"  {action['id']} {action['action']} {target.get('type')} {label} (from {action['policy']})")
    else:
        lines.append("No remediation actions proposed.")

    return "\n".join(lines) + "\n"


# Diff categories in the order the text lists them, with their marks and colours.
_DIFF_SECTIONS = (
    ("new", "NEW", "+", "fail"),
    ("resolved", "RESOLVED", "-", "pass"),
    ("waived", "WAIVED", "~", "waived"),
    ("unverified", "UNVERIFIED", "?", "error"),
    ("unchanged", "UNCHANGED", "=", "not_applicable"),
)


def _plan_line(side: str, facts: dict[str, Any] | None) -> str:
    if facts is None:
        return f"  {side}: no plan"

    return f"  {side}: plan created {facts['createdAt']}, snapshot {facts['snapshotDigest']} collected {facts['collectedAt']}"


def render_diff_text(diff: dict[str, Any], colour: bool = False) -> str:
    """Render a diff document (engine/diff.py) as text. ``colour`` adds ANSI colours for a terminal."""
    summary = diff["summary"]
    counts = ", ".join(f"{summary[category]} {category}" for category, *_ in _DIFF_SECTIONS)
    changes = summary["statusChanges"]
    lines = [
        _style(f"safeguard diff: {counts} violations; {changes} status change{'s' if changes != 1 else ''}", None, colour, bold=True),
        f"OLD {diff['inputs']['old']}, NEW {diff['inputs']['new']}",
    ]
    for tenant in diff["tenants"]:
        lines.append("")
        lines.append(_style(f"{tenant['name']} (tenant {tenant['tenant'].get('id')})", None, colour, bold=True))
        lines.append(_plan_line("old", tenant["old"]))
        lines.append(_plan_line("new", tenant["new"]))
        lines.extend(f"  note: {note}" for note in tenant["notes"])

        changed = [row for row in tenant["policies"] if row["old"] != row["new"]]
        if changed:
            lines.append(_style(f"  STATUS CHANGES ({len(changed)})", None, colour, bold=True))
            for row in changed:
                old_status = row["old"] or "absent"
                new_status = row["new"] or "absent"
                lines.append(f"    {row['policy']}: {old_status} → {_style(new_status, row['new'], colour)}")

        for category, heading, mark, status in _DIFF_SECTIONS:
            violations = tenant["violations"][category]
            if not violations:
                continue
            lines.append(_style(f"  {heading} ({len(violations)})", status, colour, bold=True))
            listed = violations if category != "unchanged" else violations[:MAX_VIOLATIONS_SHOWN]
            for violation in listed:
                line = f"    {_style(mark, status, colour)} {violation['policy']} {_resource_label(violation['resource'])}: {violation['message']}"
                if violation.get("reason"):
                    line += f" ({violation['reason']})"
                lines.append(line)
            hidden = len(violations) - len(listed)
            if hidden > 0:
                lines.append(f"    … and {hidden} more (--format json lists all)")

    return "\n".join(lines) + "\n"
