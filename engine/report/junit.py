"""JUnit XML rendering of a plan, a combined result or a diff, for CI test reports.

One test suite per tenant and one test case per policy, with classname the
tenant and name the policy id. A failing policy is a ``<failure>`` listing its
violations, an error an ``<error>``, and a waived or not applicable policy is
``<skipped>`` with the reason. A tenant whose run failed is one test case named
``plan`` with an ``<error>``. Times are 0: the plan records no durations.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from engine.report._document import exception_fields, plural, resource_label, tenant_entries, value_text

__all__ = ["render_junit", "render_diff_junit"]

# Characters XML 1.0 forbids anywhere, even escaped: C0 controls other than tab,
# newline and carriage return, lone surrogates, U+FFFE and U+FFFF. Tenant data
# can contain them, and ElementTree would write them as they are.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: Any) -> str:
    return _INVALID_XML.sub(lambda match: f"\\u{ord(match.group()):04x}", str(text))


def _element(tag: str, attributes: dict[str, Any] | None = None, text: str | None = None) -> ET.Element:
    element = ET.Element(tag, {name: _clean(value) for name, value in (attributes or {}).items()})
    if text is not None:
        element.text = _clean(text)

    return element


def _violation_lines(violations: Iterable[dict[str, Any]]) -> list[str]:
    lines = []
    for violation in violations:
        resource = violation["resource"]
        lines.append(f"{resource_label(resource)} ({resource.get('id')}): {violation['message']}")
        for name, value in (violation.get("evidence") or {}).items():
            lines.append(f"    {name} = {value_text(value)}")

    return lines


def _testcase(classname: str, policy: dict[str, Any]) -> ET.Element:
    case = _element("testcase", {"classname": classname, "name": policy["policy"], "time": "0"})
    status = policy["status"]
    violations = policy.get("violations") or []
    if status == "fail":
        message = f"{plural(len(violations), 'violation')}: {policy.get('title')}"
        case.append(_element("failure", {"message": message, "type": policy.get("severity") or "fail"}, "\n".join(_violation_lines(violations))))
    elif status == "error":
        message = policy.get("error") or "unknown error"
        case.append(_element("error", {"message": message, "type": "error"}, message))
    elif status == "waived":
        fields = exception_fields(policy.get("exception") or {})
        reason = "; ".join(f"{name}: {text}" for name, text in fields)
        case.append(_element("skipped", {"message": f"waived: {reason}" if reason else "waived"}))
    elif status == "not_applicable":
        case.append(_element("skipped", {"message": f"not applicable: {policy.get('error') or 'does not apply to this tenant'}"}))
    details = [f"{policy.get('title')}", f"severity {policy.get('severity')}; source {policy.get('source')}"]
    if policy.get("controls"):
        details.append("controls: " + ", ".join(policy["controls"]))
    case.append(_element("system-out", text="\n".join(details)))

    return case


def _counts(cases: list[ET.Element]) -> dict[str, str]:
    failures = sum(1 for case in cases if case.find("failure") is not None)
    errors = sum(1 for case in cases if case.find("error") is not None)
    skipped = sum(1 for case in cases if case.find("skipped") is not None)

    return {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors), "skipped": str(skipped), "time": "0"}


def _suite(name: str, cases: list[ET.Element], properties: dict[str, Any], timestamp: str | None) -> ET.Element:
    attributes = {"name": name, **_counts(cases)}
    if timestamp:
        # JUnit timestamps have no zone designator, and plan times are UTC.
        attributes["timestamp"] = timestamp.rstrip("Z")
    suite = _element("testsuite", attributes)
    if properties:
        bag = _element("properties")
        for key, value in properties.items():
            if value is not None:
                bag.append(_element("property", {"name": key, "value": value}))
        suite.append(bag)
    suite.extend(cases)

    return suite


def _serialise(suites: list[ET.Element]) -> str:
    root = _element("testsuites", {"name": "safeguard"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    root.extend(suites)
    ET.indent(root)

    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_junit(document: dict[str, Any], colour: bool = False) -> str:
    """Render a plan or a combined result as JUnit XML. ``colour`` is ignored."""
    suites = []
    for entry in tenant_entries(document):
        if entry.plan is None:
            case = _element("testcase", {"classname": entry.name, "name": "plan", "time": "0"})
            case.append(_element("error", {"message": entry.error, "type": "run_failed"}, entry.error))
            suites.append(_suite(entry.name, [case], {}, None))
            continue
        plan = entry.plan
        snapshot = plan["snapshot"]
        properties = {
            "tenant.id": snapshot["tenant"].get("id"),
            "tenant.domain": snapshot["tenant"].get("domain"),
            "snapshot.digest": snapshot.get("digest"),
            "snapshot.collectedAt": snapshot.get("collectedAt"),
            "policySet.digest": plan.get("policySet", {}).get("digest"),
            "evaluatedAt": plan.get("createdAt"),
        }
        cases = [_testcase(entry.name, policy) for policy in plan["results"]]
        suites.append(_suite(entry.name, cases, properties, plan.get("createdAt")))

    return _serialise(suites)


def _diff_testcase(classname: str, row: dict[str, Any], violations: dict[str, list[dict[str, Any]]]) -> ET.Element:
    case = _element("testcase", {"classname": classname, "name": row["policy"], "time": "0"})
    new = violations.get("new", [])
    if new:
        message = f"{plural(len(new), 'new violation')}: {row.get('title')}"
        case.append(_element("failure", {"message": message, "type": row.get("severity") or "fail"}, "\n".join(_violation_lines(new))))
    elif row["new"] == "error":
        message = row.get("error") or "unknown error"
        case.append(_element("error", {"message": message, "type": "error"}, message))
    elif row["new"] is None:
        case.append(_element("skipped", {"message": "the policy is not in the new plan"}))
    lines = [f"status {row['old'] or 'absent'} -> {row['new'] or 'absent'}"]
    for category in ("resolved", "unchanged", "waived", "unverified"):
        if violations.get(category):
            lines.append(f"{category}:")
            lines.extend(f"  {line}" for line in _violation_lines(violations[category]))
    case.append(_element("system-out", text="\n".join(lines)))

    return case


def render_diff_junit(diff: dict[str, Any], colour: bool = False) -> str:
    """Render a diff as JUnit XML, where a policy fails when it has new violations. ``colour`` is ignored."""
    suites = []
    for tenant in diff["tenants"]:
        by_policy: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for category, violations in tenant["violations"].items():
            for violation in violations:
                by_policy.setdefault(violation["policy"], {}).setdefault(category, []).append(violation)
        cases = [_diff_testcase(tenant["name"], row, by_policy.get(row["policy"], {})) for row in tenant["policies"]]
        facts = tenant["new"] or {}
        properties = {
            "tenant.id": tenant["tenant"].get("id"),
            "old.snapshot.digest": (tenant["old"] or {}).get("snapshotDigest"),
            "new.snapshot.digest": facts.get("snapshotDigest"),
        }
        suites.append(_suite(tenant["name"], cases, properties, facts.get("createdAt")))

    return _serialise(suites)
