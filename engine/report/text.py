"""Plain-text rendering of a plan or a diff, grouped by status, for terminals and CI logs."""

from __future__ import annotations

import json
from typing import Any

import click

from engine.report._document import exception_fields, tenant_entries

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


def render_text(document: dict[str, Any], colour: bool = False) -> str:
    """Render a plan or a combined multi-tenant result as text. ``colour`` adds ANSI colours for a terminal."""
    blocks = []
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


def _render_plan(plan: dict[str, Any], colour: bool) -> str:
    def style(text: str, status: str | None = None, **extra) -> str:
        return _style(text, status, colour, **extra)

    snapshot = plan["snapshot"]
    tenant = snapshot["tenant"]
    summary = plan["summary"]
    lines = [
        style(f"safeguard plan for {tenant.get('domain')} ({tenant.get('provider')}, tenant {tenant.get('id')})", bold=True),
        f"snapshot collected {snapshot['collectedAt']}, evaluated at {plan['createdAt']}",
        f"{len(plan['results'])} policies: "
        + ", ".join(f"{summary[status]} {_HEADINGS[status].lower()}" for status in _ORDER),
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
            if status == "fail":
                count = len(result["violations"])
                header += f" ({count} violation{'s' if count != 1 else ''})"
            lines.append(header)
            if status == "not_applicable":
                continue
            if result.get("exception"):
                fields = ", ".join(f"{name} {text}" for name, text in exception_fields(result["exception"]))
                lines.append(f"      exception: {fields}")
            for violation in result["violations"][:MAX_VIOLATIONS_SHOWN]:
                lines.append(f"      {_resource_label(violation['resource'])}: {violation['message']}")
                if violation["evidence"]:
                    lines.append(style(f"        evidence: {_evidence_line(violation['evidence'])}", "not_applicable"))
            hidden = len(result["violations"]) - MAX_VIOLATIONS_SHOWN
            if hidden > 0:
                lines.append(f"      … and {hidden} more (--format json lists all)")
            if result.get("error"):
                lines.append(f"      {result['error']}")
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
