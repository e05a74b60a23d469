"""SARIF 2.1.0 rendering of a plan, a combined result or a diff, for code scanning tools.

One run per tenant, one rule per policy. Every policy of the plan yields at
least one result, so the log accounts for all of them:

- fail: one result per violation, ``kind: "fail"``, level from the severity;
- waived: the same results with an accepted external suppression carrying the
  exception (owner, reason, ticket, expiry);
- pass: one ``kind: "pass"`` result; not_applicable: one ``"notApplicable"``;
- error: one ``kind: "review"`` result (the verdict needs a person), and a
  ``toolExecutionNotifications`` entry of level error on the run's invocation,
  whose ``executionSuccessful`` is then false. A tenant whose run failed is a
  run without results and with that notification.

SARIF requires level ``none`` for every kind except fail. A result is located
at the resource (a logical location ``TENANT/TYPE/ID``) and at the policy
source line (a physical location relative to ``%SRCROOT%``, the folder
safeguard ran in).
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath
from typing import Any

import orjson

from engine.report._document import resource_label, source_location, tenant_entries

__all__ = ["SARIF_VERSION", "SARIF_SCHEMA_URI", "render_sarif", "render_diff_sarif"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}

# GitHub code scanning reads rule property `security-severity` as a score from
# 0.0 to 10.0: over 9.0 is critical, 7.0-8.9 high, 4.0-6.9 medium, up to 3.9 low.
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}

# SARIF baseline states of the diff categories (engine/diff.py). A resolved
# violation is absent from NEW, and so is an unverified one, whose policy NEW
# could not evaluate.
_BASELINE_STATES = {"new": "new", "unchanged": "unchanged", "resolved": "absent", "unverified": "absent"}



def _alert_text(violation: dict[str, Any]) -> str:
    """Return the alert text code-scanning tools show: the resource, then the policy's message."""
    return f"{resource_label(violation['resource'])}: {violation['message']}"

def _dumps(log: dict[str, Any]) -> str:
    return orjson.dumps(log, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


def _log(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": runs}


def _driver(version: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "safeguard",
        "version": version,
        "semanticVersion": version,
        "rules": rules,
    }


def _rule(policy: dict[str, Any]) -> dict[str, Any]:
    severity = policy.get("severity") or "medium"
    controls = list(policy.get("controls") or [])
    properties: dict[str, Any] = {
        "severity": severity,
        "controls": controls,
        "tags": ["security", "compliance", *controls],
    }
    if severity in _SECURITY_SEVERITY:
        properties["security-severity"] = _SECURITY_SEVERITY[severity]

    return {
        "id": policy["policy"],
        "name": policy["policy"],
        "shortDescription": {"text": policy.get("title") or policy["policy"]},
        "defaultConfiguration": {"level": _LEVELS.get(severity, "warning")},
        "properties": properties,
    }


def _physical_location(source: str | None) -> dict[str, Any] | None:
    path, line = source_location(source)
    if path is None:
        return None
    pure = PurePath(path)
    if pure.is_absolute():
        artifact = {"uri": pure.as_uri()}
    else:
        artifact = {"uri": pure.as_posix(), "uriBaseId": "%SRCROOT%"}
    location: dict[str, Any] = {"artifactLocation": artifact}
    if line is not None:
        location["region"] = {"startLine": line}

    return location


def _location(tenant: dict[str, Any], source: str | None, resource: dict[str, Any] | None) -> dict[str, Any]:
    tenant_id = str(tenant.get("id"))
    if resource is None:
        logical = {
            "name": str(tenant.get("domain") or tenant_id),
            "fullyQualifiedName": tenant_id,
            "kind": "resource",
            "properties": {"resourceType": "tenant", "resourceId": tenant_id},
        }
    else:
        resource_type = str(resource.get("type"))
        resource_id = str(resource.get("id"))
        logical = {
            "name": str(resource.get("displayName") or resource_id),
            "fullyQualifiedName": f"{tenant_id}/{resource_type}/{resource_id}",
            "kind": "resource",
            "properties": {"resourceType": resource_type, "resourceId": resource_id},
        }
    location: dict[str, Any] = {}
    physical = _physical_location(source)
    if physical is not None:
        location["physicalLocation"] = physical
    location["logicalLocations"] = [logical]

    return location


def _fingerprint(tenant_id: str, policy: str, resource: dict[str, Any] | None) -> dict[str, str]:
    # Same identity as the diff: tenant, policy, resource type and id, so a
    # renamed resource keeps its fingerprint.
    parts = [tenant_id, policy]
    if resource is not None:
        parts += [str(resource.get("type")), str(resource.get("id"))]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]

    return {"safeguardResource/v1": digest}


def _suppression(exception: dict[str, Any]) -> dict[str, Any]:
    suppression: dict[str, Any] = {"kind": "external", "status": "accepted"}
    if exception.get("reason"):
        suppression["justification"] = str(exception["reason"])
    suppression["properties"] = dict(exception)

    return suppression


def _result(
    rule_index: int,
    policy: dict[str, Any],
    tenant: dict[str, Any],
    kind: str,
    text: str,
    violation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    resource = violation["resource"] if violation is not None else None
    result: dict[str, Any] = {
        "ruleId": policy["policy"],
        "ruleIndex": rule_index,
        "kind": kind,
        "level": _LEVELS.get(policy.get("severity") or "medium", "warning") if kind == "fail" else "none",
        "message": {"text": text},
        "locations": [_location(tenant, policy.get("source"), resource)],
        "partialFingerprints": _fingerprint(str(tenant.get("id")), policy["policy"], resource),
    }
    if violation is not None:
        properties = {"resource": violation["resource"], "evidence": violation.get("evidence", {})}
        if violation.get("id"):
            properties = {"violationId": violation["id"], **properties}
        result["properties"] = properties

    return result


def _policy_results(index: int, policy: dict[str, Any], tenant: dict[str, Any]) -> list[dict[str, Any]]:
    status = policy["status"]
    violations = policy.get("violations") or []
    if status == "pass":
        checked = policy.get("checked")
        text = f"Passed: {checked} resources checked." if isinstance(checked, int) else "Passed."
        return [_result(index, policy, tenant, "pass", text)]
    if status == "not_applicable":
        return [_result(index, policy, tenant, "notApplicable", policy.get("error") or "The policy does not apply to this tenant.")]
    if status == "error":
        return [_result(index, policy, tenant, "review", f"Not evaluated: {policy.get('error') or 'unknown error'}")]

    if violations:
        results = [_result(index, policy, tenant, "fail", _alert_text(violation), violation) for violation in violations]
    else:
        results = [_result(index, policy, tenant, "fail", policy.get("error") or policy.get("title") or policy["policy"])]
    if status == "waived":
        for result in results:
            result["suppressions"] = [_suppression(policy.get("exception") or {})]

    return results


def _plan_run(name: str, plan: dict[str, Any]) -> dict[str, Any]:
    tenant = plan["snapshot"]["tenant"]
    policies = plan["results"]
    rules = [_rule(policy) for policy in policies]
    results = []
    notifications = []
    for index, policy in enumerate(policies):
        results.extend(_policy_results(index, policy, tenant))
        if policy["status"] == "error":
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"{policy['policy']}: {policy.get('error') or 'unknown error'}"},
                    "associatedRule": {"id": policy["policy"], "index": index},
                }
            )
    snapshot = plan["snapshot"]

    return {
        "tool": {"driver": _driver(plan.get("generator", {}).get("version", "0"), rules)},
        "automationDetails": {"id": f"safeguard/{name}/"},
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The folder safeguard ran in; policy paths are relative to it."}}},
        "invocations": [{"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}],
        "results": results,
        "properties": {
            "tenant": {"name": name, **tenant},
            "evaluatedAt": plan.get("createdAt"),
            "snapshot": {"digest": snapshot.get("digest"), "collectedAt": snapshot.get("collectedAt"), "path": snapshot.get("path")},
            "policySetDigest": plan.get("policySet", {}).get("digest"),
            "paramsDigest": plan.get("params", {}).get("digest"),
            "summary": plan.get("summary", {}),
        },
    }


def _failed_run(name: str, error: str, version: str) -> dict[str, Any]:
    return {
        "tool": {"driver": _driver(version, [])},
        "automationDetails": {"id": f"safeguard/{name}/"},
        "invocations": [{"executionSuccessful": False, "toolExecutionNotifications": [{"level": "error", "message": {"text": error}}]}],
        "results": [],
        "properties": {"tenant": {"name": name}},
    }


def _version(document: dict[str, Any]) -> str:
    for entry in tenant_entries(document):
        if entry.plan is not None:
            return str(entry.plan.get("generator", {}).get("version", "0"))

    return str(document.get("generator", {}).get("version", "0"))


def render_sarif(document: dict[str, Any], colour: bool = False) -> str:
    """Render a plan or a combined result as a SARIF 2.1.0 log. ``colour`` is ignored."""
    version = _version(document)
    runs = []
    for entry in tenant_entries(document):
        if entry.plan is not None:
            runs.append(_plan_run(entry.name, entry.plan))
        else:
            runs.append(_failed_run(entry.name, entry.error or "unknown error", version))

    return _dumps(_log(runs))


def _diff_run(tenant: dict[str, Any], version: str) -> dict[str, Any]:
    policies = tenant["policies"]
    indexes = {row["policy"]: index for index, row in enumerate(policies)}
    rules = [_rule(row) for row in policies]
    facts = tenant["tenant"]
    results = []
    for category in ("new", "unchanged", "waived", "resolved", "unverified"):
        for violation in tenant["violations"][category]:
            row = policies[indexes[violation["policy"]]]
            if category == "resolved":
                result = _result(indexes[row["policy"]], row, facts, "pass", f"Resolved: {_alert_text(violation)}", violation)
            elif category == "unverified":
                text = f"Not re-checked ({violation['reason']}): {_alert_text(violation)}"
                result = _result(indexes[row["policy"]], row, facts, "review", text, violation)
            else:
                result = _result(indexes[row["policy"]], row, facts, "fail", _alert_text(violation), violation)
            if category == "waived":
                result["baselineState"] = "unchanged" if violation.get("inOld") else "new"
                result["suppressions"] = [_suppression(row.get("exception") or {})]
            else:
                result["baselineState"] = _BASELINE_STATES[category]
            results.append(result)

    return {
        "tool": {"driver": _driver(version, rules)},
        "automationDetails": {"id": f"safeguard-diff/{tenant['name']}/"},
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The folder safeguard ran in; policy paths are relative to it."}}},
        "invocations": [{"executionSuccessful": True}],
        "results": results,
        "properties": {
            "tenant": {"name": tenant["name"], **facts},
            "old": tenant["old"],
            "new": tenant["new"],
            "notes": tenant["notes"],
            "counts": tenant["counts"],
        },
    }


def render_diff_sarif(diff: dict[str, Any], colour: bool = False) -> str:
    """Render a diff document as a SARIF 2.1.0 log whose results carry ``baselineState``. ``colour`` is ignored."""
    version = str(diff.get("generator", {}).get("version", "0"))

    return _dumps(_log([_diff_run(tenant, version) for tenant in diff["tenants"]]))
