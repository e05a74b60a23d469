"""HTML evidence report of a plan or combined result, organised by element of 16 CFR 314.4.

For each tenant the report lists the snapshot time and digests, then one
section per element of the Safeguards Rule with the policies citing it, their
verdicts, violations and exceptions, and the manual attestations for it. An
attestation reviewed more than 12 months before the plan's evaluation time is
flagged, and so is an element that expects an attestation and has none.

The page is self-contained: one file, an embedded stylesheet, no script, no
external asset, and a Content-Security-Policy that forbids loading anything.
Every value from a plan or an attestation is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from engine.report._document import (
    STATUS_ORDER,
    exception_fields,
    is_combined,
    plural,
    resource_label,
    source_location,
    tenant_entries,
    value_text,
)
from engine.report._style import STYLESHEET
from engine.report.attestations import REVIEW_FUTURE, REVIEW_STALE, Attestation, review_due, review_state
from engine.report.elements import CONTROL_PREFIX, ELEMENTS, Element, element_of

__all__ = ["render_html", "render_diff_html"]

_LABELS = {"fail": "fail", "error": "error", "pass": "pass", "waived": "waived", "not_applicable": "not applicable"}

# Verdict of an element: the most pressing status among its policies.
_PRECEDENCE = ("fail", "error", "waived", "pass", "not_applicable")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _verdict(status: str, text: str | None = None) -> str:
    return f'<span class="verdict {_e(status)}">{_e(text or _LABELS.get(status, status))}</span>'


def _link(target: str) -> str:
    # Only http and https become links: a javascript: or data: URL in an
    # attestations file must not run when a reader clicks it.
    if urlsplit(target).scheme.lower() in ("http", "https"):
        return f'<a href="{_e(target)}">{_e(target)}</a>'

    return f"<code>{_e(target)}</code>"


def _page(title: str, body: list[str]) -> str:
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{STYLESHEET}</style>",
        "</head>",
        "<body>",
    ]

    return "\n".join([*head, *body, "</body>", "</html>"]) + "\n"


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _table_head(columns: Sequence[tuple[str, int]], css_class: str = "") -> str:
    """Open a table with fixed column widths (percent), so print layout does not depend on cell contents."""
    widths = "".join(f'<col style="width:{width}%">' for _, width in columns)
    headings = "".join(f"<th>{_e(name)}</th>" for name, _ in columns)
    attribute = f' class="{css_class}"' if css_class else ""

    return f"<table{attribute}><colgroup>{widths}</colgroup><thead><tr>{headings}</tr></thead><tbody>"


def _facts(rows: Iterable[tuple[str, str]]) -> list[str]:
    lines = ['<dl class="facts">']
    lines += [f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in rows]
    lines.append("</dl>")

    return lines


def _counts(summary: dict[str, int]) -> str:
    badges = "".join(f"<span>{_verdict(status, f'{summary.get(status, 0)} {_LABELS[status]}')}</span>" for status in STATUS_ORDER)

    return f'<p class="counts">{badges}</p>'


def _element_verdict(results: list[dict[str, Any]]) -> str | None:
    statuses = {result["status"] for result in results}
    for status in _PRECEDENCE:
        if status in statuses:
            return status

    return None


def _primary_element(result: dict[str, Any]) -> Element | None:
    for control in result.get("controls") or []:
        element = element_of(control)
        if element is not None:
            return element

    return None


def _evidence(evidence: dict[str, Any]) -> str:
    if not evidence:
        return '<span class="muted">none recorded</span>'
    items = []
    for name, value in evidence.items():
        if isinstance(value, list) and value:
            entries = "".join(f"<li>{_e(value_text(item))}</li>" for item in value)
            items.append(f"<div><code>{_e(name)}</code>:<ul>{entries}</ul></div>")
        else:
            items.append(f"<div><code>{_e(name)}</code> = {_e(value_text(value))}</div>")

    return '<div class="evidence">' + "".join(items) + "</div>"


def _policy_detail(result: dict[str, Any], anchor: str) -> list[str]:
    status = result["status"]
    violations = result.get("violations") or []
    path, line = source_location(result.get("source"))
    where = f"{path}:{line}" if line is not None else path
    lines = [
        f'<div class="detail {_e(status)}" id="{_e(anchor)}">',
        f"<h4><code>{_e(result['policy'])}</code> {_verdict(status)}</h4>",
        f'<p class="muted">{_e(result.get("title"))}. Source <code>{_e(where)}</code>; controls {_e(", ".join(result.get("controls") or []))}.</p>',
    ]
    if result.get("error"):
        lines.append(f'<p class="note">{_e(result["error"])}</p>')
    if result.get("exception"):
        fields = "; ".join(f"<strong>{_e(name)}</strong>: {_e(text)}" for name, text in exception_fields(result["exception"]))
        lines.append(f'<p class="note exception">Exception: {fields}</p>')
    if violations:
        lines.append(_table_head((("Resource", 18), ("Id", 17), ("Message", 32), ("Evidence", 33)), "violations"))
        for violation in violations:
            resource = violation["resource"]
            lines.append(
                f"<tr><td>{_e(resource_label(resource))}</td><td><code>{_e(resource.get('id'))}</code></td>"
                f"<td>{_e(violation['message'])}</td><td>{_evidence(violation.get('evidence') or {})}</td></tr>"
            )
        lines.append("</tbody></table>")
    lines.append("</div>")

    return lines


def _policy_table(results: list[dict[str, Any]], element: Element | None, prefix: str) -> list[str]:
    columns = (("Policy", 28), ("Title", 30), ("Severity", 9), ("Verdict", 15), ("Checked", 9), ("Violations", 9))
    lines = [_table_head(columns, "policies")]
    results = sorted(results, key=lambda result: (STATUS_ORDER.index(result["status"]), result["policy"]))
    for result in results:
        primary = _primary_element(result)
        name = f"<code>{_e(result['policy'])}</code>"
        if primary is not None and primary != element:
            name += f' <span class="muted">(details under <a href="#{prefix}-{primary.anchor}">§ 314.4{_e(primary.key)}</a>)</span>'
        title = _e(result.get("title"))
        if result["status"] == "not_applicable" and result.get("error"):
            title += f'<br><span class="muted">{_e(result["error"])}</span>'
        lines.append(
            f"<tr><td>{name}</td><td>{title}</td><td>{_e(result.get('severity'))}</td>"
            f"<td>{_verdict(result['status'])}</td><td>{_e(result.get('checked'))}</td>"
            f"<td>{len(result.get('violations') or [])}</td></tr>"
        )
    lines.append("</tbody></table>")
    for result in results:
        if result["status"] == "not_applicable" or _primary_element(result) != element:
            continue
        if result.get("violations") or result.get("exception") or result.get("error"):
            lines += _policy_detail(result, f"{prefix}-policy-{result['policy']}")

    return lines


def _attestation_table(attestations: list[Attestation], evaluated_at: datetime | None) -> list[str]:
    columns = (("Statement", 32), ("Evidence", 24), ("Owner", 14), ("Last reviewed", 11), ("Review", 19))
    lines = [_table_head(columns, "attestations")]
    for attestation in attestations:
        state = review_state(attestation, evaluated_at) if evaluated_at is not None else "none"
        due = review_due(attestation.last_reviewed).isoformat()
        if state == REVIEW_STALE:
            badge = f"{_verdict('stale')} review was due {_e(due)}"
        elif state == REVIEW_FUTURE:
            badge = f"{_verdict('future')} dated after the evaluation"
        elif state == "none":
            badge = f"{_verdict('none', 'unknown')} the plan has no evaluation time"
        else:
            badge = f"{_verdict('current')} next review due {_e(due)}"
        lines.append(
            f'<tr class="{_e(state)}"><td>{_e(attestation.statement)}<br><span class="muted">{_e(attestation.source)}</span></td>'
            f"<td>{_link(attestation.evidence)}</td><td>{_e(attestation.owner)}</td>"
            f"<td>{_e(attestation.last_reviewed.isoformat())}</td><td>{badge}</td></tr>"
        )
    lines.append("</tbody></table>")

    return lines


def _attestation_summary(element: Element, attestations: list[Attestation], evaluated_at: datetime | None) -> str:
    if not attestations:
        return _verdict("missing", "attestation missing") if element.attestation_expected else '<span class="muted">none</span>'
    states = [review_state(item, evaluated_at) if evaluated_at is not None else "none" for item in attestations]
    stale = states.count(REVIEW_STALE)
    if stale:
        return _verdict("stale", f"{stale} of {plural(len(attestations), 'attestation')} stale")

    return _verdict("current", f"{plural(len(attestations), 'attestation')} current")


def _element_section(
    element: Element,
    results: list[dict[str, Any]],
    attestations: list[Attestation],
    evaluated_at: datetime | None,
    prefix: str,
) -> list[str]:
    verdict = _element_verdict(results)
    heading = f'<span class="cite">§ 314.4{_e(element.key)}</span>{_e(element.title)}'
    if verdict:
        heading += _verdict(verdict)
    if attestations or element.attestation_expected:
        heading += _attestation_summary(element, attestations, evaluated_at)
    lines = [
        f'<section class="element" id="{prefix}-{element.anchor}">',
        f"<h2>{heading}</h2>",
        f'<p class="requirement">{_e(element.summary)}</p>',
    ]
    if not results and not attestations and not element.attestation_expected:
        return [*lines, '<p class="muted">No policy cites this element and no attestation covers it.</p>', "</section>"]

    lines.append("<h3>Automated checks</h3>")
    if results:
        lines += _policy_table(results, element, prefix)
    else:
        lines.append('<p class="muted">No policy cites this element.</p>')
    lines.append("<h3>Attestations</h3>")
    if attestations:
        lines += _attestation_table(attestations, evaluated_at)
    elif element.attestation_expected:
        lines.append(
            '<p class="note gap">No attestation recorded. No tenant API can show this element: '
            f"add one to the attestations file with element <code>{_e(element.control)}</code>.</p>"
        )
    else:
        lines.append('<p class="muted">None recorded.</p>')
    lines.append("</section>")

    return lines


def _tenant_identifiers(name: str, plan: dict[str, Any]) -> list[str]:
    tenant = plan["snapshot"]["tenant"]

    return [name, *(str(tenant[key]) for key in ("id", "domain", "displayName") if tenant.get(key))]


def _tenant_section(index: int, name: str, plan: dict[str, Any], attestations: Sequence[Attestation]) -> list[str]:
    prefix = f"t{index}"
    snapshot = plan["snapshot"]
    tenant = snapshot["tenant"]
    evaluated_at = _parse_time(plan.get("createdAt"))
    identifiers = _tenant_identifiers(name, plan)
    mine = [item for item in attestations if item.applies_to(identifiers)]
    results = plan["results"]

    by_element: dict[str, list[dict[str, Any]]] = {element.key: [] for element in ELEMENTS}
    other: list[dict[str, Any]] = []
    for result in results:
        keys = []
        for control in result.get("controls") or []:
            element = element_of(control)
            if element is not None and element.key not in keys:
                keys.append(element.key)
        for key in keys:
            by_element[key].append(result)
        if not keys:
            other.append(result)
    attested: dict[str, list[Attestation]] = {element.key: [] for element in ELEMENTS}
    for attestation in sorted(mine, key=lambda item: (item.statement, item.source)):
        attested[attestation.element.key].append(attestation)

    not_ok = [f"{_e(section)}: {_e(state.get('status'))}" for section, state in snapshot.get("sections", {}).items() if state.get("status") != "ok"]
    facts = [
        ("Tenant", f"{_e(tenant.get('displayName') or tenant.get('domain'))} ({_e(tenant.get('provider'))}), id <code>{_e(tenant.get('id'))}</code>"),
        ("Domain", _e(tenant.get("domain"))),
        ("Evaluated at", _e(plan.get("createdAt"))),
        ("Snapshot collected", _e(snapshot.get("collectedAt"))),
        ("Snapshot digest", f"<code>{_e(snapshot.get('digest'))}</code>"),
        ("Policy set digest", f"<code>{_e(plan.get('policySet', {}).get('digest'))}</code>"),
        ("Params digest", f"<code>{_e(plan.get('params', {}).get('digest'))}</code>"),
        ("Snapshot sections", f"{len(snapshot.get('sections', {}))} collected" + (f"; not ok: {', '.join(not_ok)}" if not_ok else ", all ok")),
    ]
    lines = [f'<section class="tenant" id="{prefix}">', f"<h1>{_e(name)}</h1>", *_facts(facts), _counts(plan.get("summary", {}))]

    lines.append("<h2>Elements of 16 CFR 314.4</h2>")
    lines.append(_table_head((("Element", 14), ("Title", 30), ("Automated checks", 34), ("Attestations", 22)), "toc"))
    for element in ELEMENTS:
        verdict = _element_verdict(by_element[element.key])
        checks = '<span class="muted">none</span>'
        if verdict:
            statuses = [result["status"] for result in by_element[element.key]]
            tally = ", ".join(f"{statuses.count(status)} {_LABELS[status]}" for status in STATUS_ORDER if status in statuses)
            checks = f"{_verdict(verdict)} {_e(tally)}"
        lines.append(
            f'<tr><td><a href="#{prefix}-{element.anchor}">§ 314.4{_e(element.key)}</a></td><td>{_e(element.title)}</td>'
            f"<td>{checks}</td><td>{_attestation_summary(element, attested[element.key], evaluated_at)}</td></tr>"
        )
    lines.append("</tbody></table>")

    for element in ELEMENTS:
        lines += _element_section(element, by_element[element.key], attested[element.key], evaluated_at, prefix)

    if other:
        lines += [
            f'<section class="element" id="{prefix}-element-other">',
            f'<h2>Other controls{_verdict(_element_verdict(other))}</h2>',
            f'<p class="requirement">Policies that cite no element of {_e(CONTROL_PREFIX)}.</p>',
            *_policy_table(other, None, prefix),
            "</section>",
        ]
    lines += _actions(plan.get("actions") or [])
    lines.append("</section>")

    return lines


def _actions(actions: list[dict[str, Any]]) -> list[str]:
    lines = ["<h2>Proposed remediation actions</h2>"]
    if not actions:
        return [*lines, '<p class="muted">None: no violation has a remediation.</p>']
    lines.append(
        '<p class="muted">Proposed by the plan, not applied. <code>safeguard apply</code> carries them out after review.</p>'
    )
    lines.append(_table_head((("Action id", 21), ("Action", 24), ("Target", 24), ("Policy", 20), ("Reversible", 11)), "actions"))
    for action in actions:
        target = action.get("target") or {}
        label = f"{target.get('type')} {target.get('displayName') or target.get('id')}"
        lines.append(
            f"<tr><td><code>{_e(action.get('id'))}</code></td><td><code>{_e(action.get('action'))}</code></td>"
            f"<td>{_e(label)}<br><code>{_e(target.get('id'))}</code></td><td><code>{_e(action.get('policy'))}</code></td>"
            f"<td>{'yes' if action.get('reversible') else 'no'}</td></tr>"
        )
    lines.append("</tbody></table>")

    return lines


def _generator(document: dict[str, Any]) -> str:
    for entry in tenant_entries(document):
        if entry.plan is not None:
            generator = entry.plan.get("generator", {})
            return f"{generator.get('name', 'safeguard')} {generator.get('version', '')}".strip()
    generator = document.get("generator", {})

    return f"{generator.get('name', 'safeguard')} {generator.get('version', '')}".strip()


def render_html(document: dict[str, Any], colour: bool = False, attestations: Sequence[Attestation] = ()) -> str:
    """Render a plan or combined result as a self-contained HTML evidence report. ``colour`` is ignored.

    ``attestations`` (from ``load_attestations``) are shown under their element
    for every tenant they cover.
    """
    entries = tenant_entries(document)
    names = ", ".join(entry.name for entry in entries)
    title = f"FTC Safeguards Rule evidence report: {names}" if not is_combined(document) else f"FTC Safeguards Rule evidence report: {plural(len(entries), 'tenant')}"
    body = [
        '<header class="report-header">',
        f"<h1>{_e(title)}</h1>",
        '<p class="muted">Automated policy verdicts and manual attestations for each element of the information security '
        "program required by 16 CFR 314.4. Attestation reviews older than 12 months at the evaluation time are flagged stale.</p>",
        "</header>",
        "<main>",
    ]
    for index, entry in enumerate(entries, start=1):
        if entry.plan is None:
            body += [
                f'<section class="tenant" id="t{index}">',
                f"<h1>{_e(entry.name)}</h1>",
                f'<p class="note gap">{_verdict("error", "run failed")} {_e(entry.error)}</p>',
                "</section>",
            ]
            continue
        body += _tenant_section(index, entry.name, entry.plan, attestations)
    body += ["</main>", f"<footer>Generated by {_e(_generator(document))}.</footer>"]

    return _page(title, body)


_DIFF_SECTIONS = (
    ("new", "fail", "New violations"),
    ("resolved", "pass", "Resolved violations"),
    ("waived", "waived", "Waived violations"),
    ("unverified", "error", "Unverified violations"),
    ("unchanged", "not_applicable", "Unchanged violations"),
)


def _diff_facts(facts: dict[str, Any] | None) -> str:
    if facts is None:
        return '<span class="muted">no plan</span>'

    return (
        f"plan created {_e(facts.get('createdAt'))}; snapshot <code>{_e(facts.get('snapshotDigest'))}</code> collected "
        f"{_e(facts.get('collectedAt'))}; policy set <code>{_e(facts.get('policySetDigest'))}</code>"
    )


def render_diff_html(diff: dict[str, Any], colour: bool = False) -> str:
    """Render a diff document as a self-contained HTML page. ``colour`` is ignored."""
    summary = diff["summary"]
    title = "safeguard diff"
    badges = "".join(f"<span>{_verdict(status, f'{summary[category]} {category}')}</span>" for category, status, _ in _DIFF_SECTIONS)
    body = [
        '<header class="report-header">',
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">OLD <code>{_e(diff["inputs"]["old"])}</code>, NEW <code>{_e(diff["inputs"]["new"])}</code>.</p>',
        f'<p class="counts">{badges}<span>{_e(plural(summary["statusChanges"], "status change"))}</span></p>',
        "</header>",
        "<main>",
    ]
    for index, tenant in enumerate(diff["tenants"], start=1):
        body += [f'<section class="tenant" id="t{index}">', f"<h1>{_e(tenant['name'])}</h1>"]
        body += _facts([("Tenant id", f"<code>{_e(tenant['tenant'].get('id'))}</code>"), ("Old", _diff_facts(tenant["old"])), ("New", _diff_facts(tenant["new"]))])
        body += [f'<p class="note">{_e(note)}</p>' for note in tenant["notes"]]
        changed = [row for row in tenant["policies"] if row["old"] != row["new"]]
        body.append("<h2>Status changes</h2>")
        if changed:
            body.append(_table_head((("Policy", 30), ("Title", 40), ("Old", 15), ("New", 15))))
            for row in changed:
                old = _verdict(row["old"]) if row["old"] else '<span class="muted">absent</span>'
                new = _verdict(row["new"]) if row["new"] else '<span class="muted">absent</span>'
                body.append(f"<tr><td><code>{_e(row['policy'])}</code></td><td>{_e(row.get('title'))}</td><td>{old}</td><td>{new}</td></tr>")
            body.append("</tbody></table>")
        else:
            body.append('<p class="muted">No policy changed status.</p>')
        for category, status, heading in _DIFF_SECTIONS:
            violations = tenant["violations"][category]
            body.append(f"<h2>{_e(heading)}{_verdict(status, str(len(violations)))}</h2>")
            if not violations:
                body.append('<p class="muted">None.</p>')
                continue
            columns = [("Policy", 26), ("Resource", 24), ("Message", 50)]
            if category == "unverified":
                columns = [("Policy", 22), ("Resource", 20), ("Message", 34), ("Reason", 24)]
            body.append(_table_head(columns))
            for violation in violations:
                reason = f"<td>{_e(violation.get('reason'))}</td>" if category == "unverified" else ""
                body.append(
                    f"<tr><td><code>{_e(violation['policy'])}</code></td><td>{_e(resource_label(violation['resource']))}<br>"
                    f"<code>{_e(violation['resource'].get('id'))}</code></td><td>{_e(violation['message'])}</td>{reason}</tr>"
                )
            body.append("</tbody></table>")
        body.append("</section>")
    generator = diff.get("generator", {})
    body += ["</main>", f"<footer>Generated by {_e(generator.get('name', 'safeguard'))} {_e(generator.get('version', ''))}.</footer>"]

    return _page(title, body)
