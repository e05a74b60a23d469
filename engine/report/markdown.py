"""Markdown rendering of a plan, a combined result or a diff, sized for a pull-request comment.

The summary tables come first; the details of each policy follow, folded in
``<details>`` blocks. GitHub rejects a comment longer than 65,536 characters,
so the output stops adding detail blocks before that limit and ends with a
note saying how many were left out and where to read them. Text from the
tenant (messages, display names) is escaped so it cannot add markup, links,
@-mentions or issue references to the comment.
"""

from __future__ import annotations

import html
import re
from typing import Any

from engine.report._document import (
    STATUS_ORDER,
    exception_details,
    exception_state,
    exception_subject,
    is_combined,
    plural,
    resource_label,
    tenant_entries,
    unmatched_exceptions,
    violation_count,
    violation_exception,
    waived_count,
    waiver_text,
)

__all__ = ["MAX_COMMENT_LENGTH", "MAX_ROWS", "render_markdown", "render_diff_markdown", "escape_markdown"]

# GitHub's limit on the body of an issue or pull-request comment.
MAX_COMMENT_LENGTH = 65_536

# Violations listed per policy. The JSON and HTML reports list all of them.
MAX_ROWS = 50

_MARKS = {"fail": "❌", "error": "⚠️", "pass": "✅", "waived": "⏸️", "not_applicable": "➖"}
_LABELS = {"fail": "fail", "error": "error", "pass": "pass", "waived": "waived", "not_applicable": "not applicable"}

_EXCEPTION_MARKS = {"expired": "⌛", "unused": "❔"}

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# An @ or # that GitHub would turn into a mention or an issue link: at the
# start or after a character that is not part of a word (so e-mail addresses
# stay as they are). A word joiner after it breaks the match and is invisible.
_MENTION = re.compile(r"(?<![\w.+-])([@#])(?=\w)")


def escape_markdown(text: Any) -> str:
    """Escape text for a Markdown table cell or paragraph: no markup, HTML, mention or line break survives."""
    value = " ".join(str(text).split())
    value = html.escape(value, quote=False)
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", value)

    return _MENTION.sub("\\1\u2060", value)


def _escape_html(text: Any) -> str:
    return _MENTION.sub("\\1\u2060", html.escape(" ".join(str(text).split())))


def _comment_length(text: str) -> int:
    # Counted in UTF-16 code units, never fewer than characters, so a comment
    # within this count is within GitHub's limit however it counts.
    return len(text.encode("utf-16-le")) // 2


def _fit(head: str, blocks: list[str], limit: int, kind: str) -> str:
    """Join ``head`` and as many ``blocks`` as fit in ``limit``, then a note on what was left out."""
    note_room = 400
    if _comment_length(head) + note_room > limit:
        cut = head[: max(limit - note_room, 0)]
        cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else cut
        note = f"\n\n> **Truncated**: the summary alone exceeds the {limit:,}-character comment limit. See the full {kind} in the JSON or HTML report.\n"
        return cut + note

    parts = [head]
    used = _comment_length(head)
    for index, block in enumerate(blocks):
        size = _comment_length(block)
        if used + size + note_room > limit:
            left = len(blocks) - index
            parts.append(
                f"> **Truncated**: {plural(left, 'more detail section')} left out to stay within the {limit:,}-character"
                f" comment limit. See the full {kind} in the JSON or HTML report.\n"
            )
            break
        parts.append(block)
        used += size

    return "\n".join(parts)


def _summary_counts(summary: dict[str, int]) -> str:
    return " · ".join(f"{_MARKS[status]} {summary.get(status, 0)} {_LABELS[status]}" for status in STATUS_ORDER)


def _policy_table(results: list[dict[str, Any]]) -> list[str]:
    lines = ["| Status | Policy | Severity | Violations | Title |", "| --- | --- | --- | ---: | --- |"]
    for result in results:
        status = result["status"]
        count = str(len(result.get("violations") or []))
        waived = waived_count(result)
        # A waived result has every violation waived, and its status cell shows that.
        if waived and status != "waived":
            count += f" ({waived} waived)"
        lines.append(
            f"| {_MARKS[status]} {_LABELS[status]} | `{result['policy']}` | {escape_markdown(result.get('severity'))}"
            f" | {count} | {escape_markdown(result.get('title'))} |"
        )

    return lines


def _violation_table(violations: list[dict[str, Any]], extra: str | None = None, cell=None) -> list[str]:
    """Tabulate violations; ``extra`` names a third column whose text ``cell(violation)`` returns."""
    header = "| Resource | Message |" if extra is None else f"| Resource | Message | {extra} |"
    lines = [header, "| --- | --- |" if extra is None else "| --- | --- | --- |"]
    for violation in violations[:MAX_ROWS]:
        row = f"| {escape_markdown(resource_label(violation['resource']))} | {escape_markdown(violation['message'])} |"
        if extra is not None:
            row += f" {cell(violation)} |"
        lines.append(row)
    hidden = len(violations) - MAX_ROWS
    if hidden > 0:
        lines.append("")
        lines.append(f"… and {plural(hidden, 'more violation')}; the JSON and HTML reports list all of them.")

    return lines


def _waiver_cell(result: dict[str, Any], violation: dict[str, Any]) -> str:
    exception = violation_exception(result, violation)
    if exception is None:
        return ""

    return f"{_MARKS['waived']} {escape_markdown(waiver_text(exception))}"


def _exception_table(plan: dict[str, Any]) -> list[str]:
    """Tabulate the exceptions that waived nothing in this plan: expired ones, then unused ones."""
    unmatched = unmatched_exceptions(plan)
    if not unmatched:
        return []

    counts = {kind: sum(1 for entry_kind, _ in unmatched if entry_kind == kind) for kind in ("expired", "unused")}
    heading = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    lines = [
        "",
        f"**Exceptions that waive nothing** ({heading}):",
        "",
        "| Exception | State | Owner and source |",
        "| --- | --- | --- |",
    ]
    for kind, entry in unmatched:
        lines.append(
            f"| {escape_markdown(exception_subject(entry))} | {_EXCEPTION_MARKS[kind]} {escape_markdown(exception_state(kind, entry))}"
            f" | {escape_markdown(exception_details(entry))} |"
        )

    return lines


def _details(summary: str, body: list[str]) -> str:
    return "\n".join(["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""])


def _policy_block(tenant: str | None, result: dict[str, Any]) -> str:
    status = result["status"]
    violations = result.get("violations") or []
    prefix = f"{_escape_html(tenant)}: " if tenant else ""
    summary = f"{_MARKS[status]} {prefix}<code>{_escape_html(result['policy'])}</code> ({_LABELS[status]}"
    summary += f", {violation_count(result)})" if violations else ")"
    body = [f"**{escape_markdown(result.get('title'))}** · severity {escape_markdown(result.get('severity'))}"]
    if result.get("controls"):
        body[0] += " · " + ", ".join(escape_markdown(control) for control in result["controls"])
    if result.get("error"):
        body += ["", f"Error: {escape_markdown(result['error'])}"]
    if status == "waived" and not violations and result.get("exception"):
        body += ["", f"{_MARKS['waived']} {escape_markdown(waiver_text(result['exception']))}"]
    if any(violation_exception(result, violation) for violation in violations):
        body += ["", *_violation_table(violations, "Exception", lambda violation: _waiver_cell(result, violation))]
    elif violations:
        body += ["", *_violation_table(violations)]

    return _details(summary, body)


def _plan_head(name: str, plan: dict[str, Any], level: str) -> list[str]:
    snapshot = plan["snapshot"]
    tenant = snapshot["tenant"]
    results = plan["results"]
    attention = [result for result in results if result["status"] in ("fail", "error", "waived")]
    attention.sort(key=lambda result: (STATUS_ORDER.index(result["status"]), result["policy"]))
    lines = [
        f"{level} {escape_markdown(name)} ({escape_markdown(tenant.get('provider'))}, tenant `{escape_markdown(tenant.get('id'))}`)",
        "",
        _summary_counts(plan.get("summary", {})) + f" · {plural(len(plan.get('actions') or []), 'proposed action')}",
        "",
        f"Snapshot `{escape_markdown(snapshot.get('digest'))}` collected {escape_markdown(snapshot.get('collectedAt'))},"
        f" evaluated {escape_markdown(plan.get('createdAt'))}.",
        "",
    ]
    if attention:
        lines += _policy_table(attention)
    else:
        lines.append("No policy fails, errors or is waived.")
    lines += _exception_table(plan)
    for status in ("pass", "not_applicable"):
        names = ", ".join(f"`{result['policy']}`" for result in results if result["status"] == status)
        if names:
            lines += ["", f"{_MARKS[status]} {_LABELS[status].capitalize()}: {names}."]
    lines.append("")

    return lines


def render_markdown(document: dict[str, Any], colour: bool = False, limit: int = MAX_COMMENT_LENGTH) -> str:
    """Render a plan or a combined result as Markdown of at most ``limit`` characters. ``colour`` is ignored."""
    entries = tenant_entries(document)
    combined = is_combined(document)
    head = ["## safeguard plan", ""]
    if combined:
        head += ["| Tenant | Fail | Error | Pass | Waived | Not applicable |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for entry in entries:
            if entry.plan is None:
                head.append(f"| {escape_markdown(entry.name)} | ⚠️ run failed: {escape_markdown(entry.error)} | | | | |")
                continue
            summary = entry.plan.get("summary", {})
            counts = " | ".join(str(summary.get(status, 0)) for status in STATUS_ORDER)
            head.append(f"| {escape_markdown(entry.name)} | {counts} |")
        head.append("")

    blocks = []
    for entry in entries:
        if entry.plan is None:
            head += [f"### {escape_markdown(entry.name)}", "", f"⚠️ The run failed: {escape_markdown(entry.error)}", ""]
            continue
        head += _plan_head(entry.name, entry.plan, "###" if combined else "####")
        attention = [result for result in entry.plan["results"] if result["status"] in ("fail", "error", "waived")]
        attention.sort(key=lambda result: (STATUS_ORDER.index(result["status"]), result["policy"]))
        blocks += [_policy_block(entry.name if combined else None, result) for result in attention]

    return _fit("\n".join(head), blocks, limit, "plan")


_DIFF_SECTIONS = (
    ("new", "🆕", "New violations"),
    ("resolved", "✅", "Resolved violations"),
    ("waived", "⏸️", "Waived violations"),
    ("unverified", "❔", "Unverified violations"),
    ("unchanged", "➖", "Unchanged violations"),
)


def render_diff_markdown(diff: dict[str, Any], colour: bool = False, limit: int = MAX_COMMENT_LENGTH) -> str:
    """Render a diff document as Markdown of at most ``limit`` characters. ``colour`` is ignored."""
    summary = diff["summary"]
    head = [
        "## safeguard diff",
        "",
        " · ".join(f"{mark} {summary[category]} {category}" for category, mark, _ in _DIFF_SECTIONS)
        + f" · {plural(summary['statusChanges'], 'status change')}",
        "",
        "| Tenant | New | Resolved | Waived | Unverified | Unchanged | Status changes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for tenant in diff["tenants"]:
        counts = tenant["counts"]
        cells = " | ".join(str(counts[category]) for category, _, _ in _DIFF_SECTIONS)
        head.append(f"| {escape_markdown(tenant['name'])} | {cells} | {counts['statusChanges']} |")
    head.append("")

    blocks = []
    for tenant in diff["tenants"]:
        name = escape_markdown(tenant["name"])
        for note in tenant["notes"]:
            head.append(f"> {name}: {escape_markdown(note)}")
        changed = [row for row in tenant["policies"] if row["old"] != row["new"]]
        if changed:
            body = ["| Policy | Old | New | Title |", "| --- | --- | --- | --- |"]
            for row in changed:
                body.append(
                    f"| `{row['policy']}` | {escape_markdown(row['old'] or 'absent')} | {escape_markdown(row['new'] or 'absent')}"
                    f" | {escape_markdown(row.get('title'))} |"
                )
            blocks.append(_details(f"{_escape_html(tenant['name'])}: {plural(len(changed), 'status change')}", body))
        for category, mark, heading in _DIFF_SECTIONS:
            violations = tenant["violations"][category]
            if not violations:
                continue
            rows = [{**violation, "message": f"{violation['policy']}: {violation['message']}"} for violation in violations]
            if category == "unverified":
                table = _violation_table(rows, "Reason", lambda violation: escape_markdown(violation.get("reason", "")))
            else:
                table = _violation_table(rows)
            blocks.append(_details(f"{mark} {_escape_html(tenant['name'])}: {heading.lower()} ({len(violations)})", table))
    if any(tenant["notes"] for tenant in diff["tenants"]):
        head.append("")

    return _fit("\n".join(head), blocks, limit, "diff")
