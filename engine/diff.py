"""Compare two plans, or two combined multi-tenant results, of the same tenants.

A violation is identified by its policy, resource type and resource id, so a
changed message or display name does not make it new. Each violation of
either side lands in one category:

- ``new``: failing in NEW and absent from OLD (failing or waived there);
- ``unchanged``: failing in NEW and present in OLD;
- ``resolved``: present in OLD, absent from NEW, and its policy evaluated to
  pass or fail in NEW;
- ``waived``: listed under a waived policy in NEW, or gone from NEW because
  its policy is waived there;
- ``unverified``: present in OLD, but NEW cannot tell whether it is fixed: the
  policy errored, did not apply or is missing, or NEW has no plan for the
  tenant.

Tenants are paired by tenant id, then by name; a name whose tenant id differs
between the sides is rejected, and so are two documents with no tenant in
common. A tenant only in NEW compares against an empty baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from engine import __version__
from engine.errors import InputError, UserError
from engine.plan import PLAN_SCHEMA_VERSION, STATUSES

__all__ = ["DIFF_SCHEMA_VERSION", "CATEGORIES", "load_document", "check_document", "diff_documents", "exit_code_for_diff"]

DIFF_SCHEMA_VERSION = "1.0"
CATEGORIES = ("new", "resolved", "unchanged", "waived", "unverified")


@dataclass(frozen=True)
class _Side:
    name: str
    tenant_id: str | None
    plan: dict[str, Any] | None
    error: str | None


def load_document(path: str | Path) -> dict[str, Any]:
    """Read a plan or combined result from a JSON file and check its shape; raise InputError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        message = f"{path}: file not found; pass a plan written by `safeguard plan --out`"
        raise InputError(message) from None
    except OSError as error:
        message = f"{path}: cannot read file: {error}"
        raise InputError(message) from None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        message = f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"
        raise InputError(message) from None
    check_document(document, str(path))

    return document


def check_document(document: Any, label: str) -> None:
    """Raise InputError unless ``document`` has the shape of a plan or a combined result.

    The message starts with ``label`` (the file) and names the JSON path of the
    first problem.
    """
    if not isinstance(document, dict):
        message = f"{label}: want a JSON object (a plan or a combined result), got {type(document).__name__}"
        raise InputError(message)
    if "results" in document:
        _check_plan(document, label, "")
        return
    if "tenants" not in document:
        message = f"{label}: not a plan or a combined result: the object has neither `results` nor `tenants`"
        raise InputError(message)

    tenants = document["tenants"]
    _require(isinstance(tenants, list), label, "tenants", "must be a list")
    for index, entry in enumerate(tenants):
        where = f"tenants[{index}]"
        _require(isinstance(entry, dict), label, where, "must be an object")
        _require(isinstance(entry.get("name"), str), label, f"{where}.name", "missing or not a string")
        if "plan" in entry:
            _check_plan(entry["plan"], label, f"{where}.plan.")
        else:
            _require(isinstance(entry.get("error"), str), label, where, "has neither `plan` nor an `error` string")


def _check_plan(plan: Any, label: str, prefix: str) -> None:
    _require(isinstance(plan, dict), label, prefix.rstrip(".") or "$", "must be an object")
    version = plan.get("schemaVersion")
    if version is not None:
        supported = PLAN_SCHEMA_VERSION.split(".")[0]
        _require(
            str(version).split(".")[0] == supported,
            label,
            f"{prefix}schemaVersion",
            f"plan schema version {version!r} is not supported; this safeguard reads version {supported}.x",
        )
    snapshot = plan.get("snapshot")
    _require(isinstance(snapshot, dict) and isinstance(snapshot.get("tenant"), dict), label, f"{prefix}snapshot.tenant", "missing")
    _require(isinstance(snapshot["tenant"].get("id"), str), label, f"{prefix}snapshot.tenant.id", "missing or not a string")
    results = plan["results"] if "results" in plan else None
    _require(isinstance(results, list), label, f"{prefix}results", "missing or not a list")
    for index, result in enumerate(results):
        where = f"{prefix}results[{index}]"
        _require(isinstance(result, dict), label, where, "must be an object")
        _require(isinstance(result.get("policy"), str), label, f"{where}.policy", "missing or not a string")
        status = result.get("status")
        _require(status in STATUSES, label, f"{where}.status", f"{status!r} is not a policy status; want one of {', '.join(STATUSES)}")
        violations = result.get("violations")
        _require(isinstance(violations, list), label, f"{where}.violations", "missing or not a list")
        for number, violation in enumerate(violations):
            resource = violation.get("resource") if isinstance(violation, dict) else None
            _require(
                isinstance(resource, dict) and "id" in resource and "type" in resource,
                label,
                f"{where}.violations[{number}].resource",
                "missing, or without `type` and `id`",
            )


def _require(condition: bool, label: str, where: str, problem: str) -> None:
    if not condition:
        message = f"{label}: {where}: {problem}"
        raise InputError(message)


def _is_combined(document: dict[str, Any]) -> bool:
    return "tenants" in document and "results" not in document


def _sides(document: dict[str, Any]) -> list[_Side]:
    if not _is_combined(document):
        tenant = document["snapshot"]["tenant"]
        name = tenant.get("domain") or tenant.get("displayName") or tenant["id"]
        return [_Side(str(name), tenant["id"], document, None)]

    sides = []
    for entry in document["tenants"]:
        plan = entry.get("plan")
        tenant_id = plan["snapshot"]["tenant"]["id"] if plan is not None else None
        sides.append(_Side(entry["name"], tenant_id, plan, None if plan is not None else entry.get("error")))

    return sides


def _describe_tenant(side: _Side) -> str:
    domain = side.plan["snapshot"]["tenant"].get("domain") if side.plan is not None else None

    return f"{side.tenant_id} ({domain})" if domain else str(side.tenant_id)


def _pair(old: dict[str, Any], new: dict[str, Any], old_label: str, new_label: str) -> list[tuple[_Side | None, _Side | None]]:
    old_sides = _sides(old)
    new_sides = _sides(new)
    if not _is_combined(old) and not _is_combined(new) and old_sides[0].tenant_id != new_sides[0].tenant_id:
        message = (
            f"{old_label} is a plan of tenant {_describe_tenant(old_sides[0])} but {new_label} is a plan of tenant "
            f"{_describe_tenant(new_sides[0])}; diff compares two plans of the same tenant"
        )
        raise UserError(message)

    unmatched = list(old_sides)
    pairs: list[tuple[_Side | None, _Side | None]] = []
    for side in new_sides:
        match = next((item for item in unmatched if side.tenant_id and item.tenant_id == side.tenant_id), None)
        if match is None:
            match = next((item for item in unmatched if item.name == side.name), None)
            if match is not None and match.tenant_id and side.tenant_id and match.tenant_id != side.tenant_id:
                message = (
                    f"tenant {side.name!r} is {match.tenant_id} in {old_label} but {side.tenant_id} in {new_label}; "
                    "diff compares plans of the same tenant"
                )
                raise UserError(message)
        if match is not None:
            unmatched.remove(match)
        pairs.append((match, side))
    pairs.extend((side, None) for side in unmatched)

    if not any(old_side is not None and new_side is not None for old_side, new_side in pairs):
        old_names = ", ".join(side.name for side in old_sides) or "none"
        new_names = ", ".join(side.name for side in new_sides) or "none"
        message = (
            f"{old_label} and {new_label} have no tenant in common ({old_names}; {new_names}); "
            "diff compares plans of the same tenants"
        )
        raise UserError(message)

    return pairs


def _key(policy: str, resource: dict[str, Any]) -> tuple[str, str, str]:
    return (policy, str(resource.get("type")), str(resource.get("id")))


def _violations(plan: dict[str, Any] | None, statuses: tuple[str, ...]) -> dict[tuple[str, str, str], dict[str, Any]]:
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    if plan is None:
        return found
    for result in plan["results"]:
        if result["status"] not in statuses:
            continue
        for violation in result["violations"]:
            found.setdefault(_key(result["policy"], violation["resource"]), {"policy": result["policy"], **violation})

    return found


def _plan_facts(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    snapshot = plan["snapshot"]

    return {
        "createdAt": plan.get("createdAt"),
        "collectedAt": snapshot.get("collectedAt"),
        "snapshotDigest": snapshot.get("digest"),
        "policySetDigest": plan.get("policySet", {}).get("digest"),
        "summary": plan.get("summary"),
    }


def _policy_rows(old_plan: dict[str, Any] | None, new_plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    old_results = {result["policy"]: result for result in (old_plan or {}).get("results", [])}
    new_results = {result["policy"]: result for result in (new_plan or {}).get("results", [])}
    rows = []
    for policy in sorted(set(old_results) | set(new_results)):
        described = new_results.get(policy) or old_results[policy]
        row = {
            "policy": policy,
            "title": described.get("title"),
            "severity": described.get("severity"),
            "controls": described.get("controls", []),
            "source": described.get("source"),
            "old": old_results[policy]["status"] if policy in old_results else None,
            "new": new_results[policy]["status"] if policy in new_results else None,
        }
        if policy in new_results and new_results[policy].get("error"):
            row["error"] = new_results[policy]["error"]
        if policy in new_results and new_results[policy].get("exception"):
            row["exception"] = new_results[policy]["exception"]
        rows.append(row)

    return rows


def _unverified_reason(new_side: _Side | None, new_result: dict[str, Any] | None, new_label: str) -> str:
    if new_side is None:
        return f"the tenant is not in {new_label}"
    if new_side.plan is None:
        return f"{new_label} has no plan for this tenant: {new_side.error}"
    if new_result is None:
        return f"the policy is not in {new_label}"
    reason = f"the policy's status in {new_label} is {new_result['status']}"
    if new_result.get("error"):
        reason = f"{reason}: {new_result['error']}"

    return reason


def _diff_tenant(old_side: _Side | None, new_side: _Side | None, old_label: str, new_label: str) -> dict[str, Any]:
    old_plan = old_side.plan if old_side is not None else None
    new_plan = new_side.plan if new_side is not None else None
    notes = []
    if old_side is None:
        notes.append(f"the tenant is not in {old_label}: every violation counts as new")
    elif old_plan is None:
        notes.append(f"{old_label} has no plan for this tenant ({old_side.error}): every violation counts as new")
    if new_side is None:
        notes.append(f"the tenant is not in {new_label}: its violations are unverified")
    elif new_plan is None:
        notes.append(f"{new_label} has no plan for this tenant ({new_side.error}): its violations are unverified")

    baseline = _violations(old_plan, ("fail", "waived"))
    old_failing = _violations(old_plan, ("fail",))
    new_failing = _violations(new_plan, ("fail",))
    new_waived = _violations(new_plan, ("waived",))
    new_results = {result["policy"]: result for result in (new_plan or {}).get("results", [])}
    categories: dict[str, list[dict[str, Any]]] = {category: [] for category in CATEGORIES}

    for key in sorted(new_failing):
        categories["unchanged" if key in baseline else "new"].append(new_failing[key])
    for key in sorted(new_waived):
        categories["waived"].append({**new_waived[key], "inOld": key in baseline})
    for key in sorted(set(old_failing) - set(new_failing) - set(new_waived)):
        new_result = new_results.get(key[0])
        status = new_result["status"] if new_result is not None else None
        if status in ("pass", "fail"):
            categories["resolved"].append(old_failing[key])
        elif status == "waived":
            categories["waived"].append({**old_failing[key], "inOld": True})
        else:
            reason = _unverified_reason(new_side, new_result, new_label)
            categories["unverified"].append({**old_failing[key], "reason": reason})

    policies = _policy_rows(old_plan, new_plan)
    counts = {category: len(categories[category]) for category in CATEGORIES}
    counts["statusChanges"] = sum(1 for row in policies if row["old"] != row["new"])
    plan = new_plan or old_plan
    side = new_side or old_side

    return {
        "name": side.name,
        "tenant": plan["snapshot"]["tenant"] if plan is not None else {"id": side.tenant_id},
        "old": _plan_facts(old_plan),
        "new": _plan_facts(new_plan),
        "notes": notes,
        "counts": counts,
        "policies": policies,
        "violations": categories,
    }


def diff_documents(old: dict[str, Any], new: dict[str, Any], old_label: str = "OLD", new_label: str = "NEW") -> dict[str, Any]:
    """Build the diff document of two checked plans or combined results.

    The labels name the inputs in messages and notes. Raise UserError when the
    inputs are plans of different tenants.
    """
    tenants = [_diff_tenant(old_side, new_side, old_label, new_label) for old_side, new_side in _pair(old, new, old_label, new_label)]
    summary = {name: sum(tenant["counts"][name] for tenant in tenants) for name in (*CATEGORIES, "statusChanges")}

    return {
        "schemaVersion": DIFF_SCHEMA_VERSION,
        "kind": "diff",
        "generator": {"name": "safeguard", "version": __version__},
        "inputs": {"old": old_label, "new": new_label},
        "summary": summary,
        "tenants": tenants,
    }


def exit_code_for_diff(diff: dict[str, Any]) -> int:
    """Return 2 when NEW has violations that OLD did not have, 0 otherwise."""
    return 2 if diff["summary"]["new"] else 0
