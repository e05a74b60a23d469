"""Plain-text rendering of a plan, grouped by status, for terminals and CI logs."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["render_text"]

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


def render_text(plan: dict[str, Any], colour: bool = False) -> str:
    """Render the plan as text; ``colour`` adds ANSI colours for a terminal."""

    def style(text: str, status: str | None = None, **extra) -> str:
        if not colour:
            return text
        return click.style(text, fg=_COLOURS.get(status) if status else None, **extra)

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
