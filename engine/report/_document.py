"""Reading of the documents that every renderer takes.

A renderer receives either one plan document (engine/plan.py) or a combined
multi-tenant result ``{"tenants": [{"name", "plan"} | {"name", "error"}]}``.
``tenant_entries`` turns both into the same list, so each format handles one
shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "STATUS_ORDER",
    "TenantEntry",
    "tenant_entries",
    "is_combined",
    "tenant_label",
    "resource_label",
    "exception_fields",
    "violation_exception",
    "waived_count",
    "violation_count",
    "waiver_text",
    "unmatched_exceptions",
    "exception_subject",
    "exception_state",
    "exception_details",
    "combined_summary",
    "source_location",
    "value_text",
    "plural",
]

# Order in which reports list policies: what needs attention first.
STATUS_ORDER = ("fail", "error", "pass", "waived", "not_applicable")

# Exception fields shown first, in this order. Any others follow, sorted by name.
_EXCEPTION_FIELDS = ("owner", "reason", "ticket", "expires")


@dataclass(frozen=True)
class TenantEntry:
    """One tenant of a document: its plan, or the error that stopped its run."""

    name: str
    plan: dict[str, Any] | None
    error: str | None


def is_combined(document: dict[str, Any]) -> bool:
    """Return whether ``document`` is a combined multi-tenant result rather than one plan."""
    return "tenants" in document and "results" not in document


def tenant_label(plan: dict[str, Any]) -> str:
    """Name a plan's tenant by its domain, else its display name, else its id."""
    tenant = plan.get("snapshot", {}).get("tenant", {})

    return str(tenant.get("domain") or tenant.get("displayName") or tenant.get("id") or "tenant")


def tenant_entries(document: dict[str, Any]) -> list[TenantEntry]:
    """List the tenants of a plan (one entry) or of a combined result (one per tenant, in order)."""
    if not is_combined(document):
        return [TenantEntry(name=tenant_label(document), plan=document, error=None)]

    entries = []
    for entry in document["tenants"]:
        plan = entry.get("plan")
        error = entry.get("error")
        if plan is None and error is None:
            error = "the combined result has neither a plan nor an error for this tenant"
        entries.append(TenantEntry(name=str(entry.get("name")), plan=plan, error=None if plan is not None else str(error)))

    return entries


def resource_label(resource: dict[str, Any]) -> str:
    """Describe a violation's resource as its type and display name (or id)."""
    name = resource.get("displayName") or resource.get("id")

    return f"{resource.get('type')} {name}"


def value_text(value: Any) -> str:
    """Show a JSON value: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def exception_fields(exception: dict[str, Any]) -> list[tuple[str, str]]:
    """List an exception's fields as (name, text) pairs: owner, reason, ticket, expires, then the rest."""
    names = [name for name in _EXCEPTION_FIELDS if name in exception]
    names += sorted(name for name in exception if name not in _EXCEPTION_FIELDS)

    return [(name, value_text(exception[name])) for name in names]


def violation_exception(result: dict[str, Any], violation: dict[str, Any]) -> dict[str, Any] | None:
    """Return the exception that waives a violation, or None when it is not waived.

    Plans put the exception on each waived violation. A document that puts it
    only on a result whose status is ``waived`` waives every violation of that
    result, so the result's exception is returned.
    """
    if violation.get("exception"):
        return violation["exception"]
    if result.get("status") == "waived":
        return result.get("exception")

    return None


def waived_count(result: dict[str, Any]) -> int:
    """Count the waived violations of a result."""
    return sum(1 for violation in result.get("violations") or [] if violation_exception(result, violation))


def violation_count(result: dict[str, Any]) -> str:
    """Count a result's violations and how many are waived: "5 violations, 1 waived".

    A result whose status is ``waived`` has every violation waived, so only the count is given.
    """
    total = len(result.get("violations") or [])
    waived = waived_count(result)
    text = plural(total, "violation")
    if waived == 0 or result.get("status") == "waived":
        return text
    if waived == total:
        return f"{text}, {'waived' if total == 1 else 'all waived'}"

    return f"{text}, {waived} waived"


def waiver_text(exception: dict[str, Any]) -> str:
    """Describe the exception that waives a violation in one line: ticket, owner, expiry, then the reason."""
    parts = [f"waived by {exception.get('ticket') or exception.get('id') or 'an exception'}"]
    if exception.get("owner"):
        parts.append(f"owner {value_text(exception['owner'])}")
    if exception.get("expires"):
        parts.append(f"expires {value_text(exception['expires'])}")
    text = ", ".join(parts)
    if exception.get("reason"):
        text += f": {value_text(exception['reason'])}"

    return text


def unmatched_exceptions(plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """List a plan's expired, then unused, exceptions as (kind, entry) pairs; empty without ``exceptions``."""
    report = plan.get("exceptions") or {}
    expired = [("expired", entry) for entry in report.get("expired") or []]
    unused = [("unused", entry) for entry in report.get("unused") or []]

    return expired + unused


def exception_subject(entry: dict[str, Any]) -> str:
    """Name an exception by its ticket, policy and resource: "SEC-1893 m365.mfa.weak-methods-disabled on Sms"."""
    resource = entry.get("resource")
    target = "all resources" if resource == "all" else value_text(resource)

    return f"{entry.get('ticket') or entry.get('id')} {entry.get('policy')} on {target}"


def exception_state(kind: str, entry: dict[str, Any]) -> str:
    """Say why an expired or unused exception waives nothing in this plan, and what to do about it."""
    if kind == "expired":
        would = entry.get("violations") or 0
        text = f"expired after {entry.get('expires')}, so it waives nothing"
        if would:
            text += f" (it would waive {plural(would, 'violation')})"
        return text + "; renew or remove it"

    return f"unused because it matches no violation (expires {entry.get('expires')}); remove it, or correct its policy or resource"


def exception_details(entry: dict[str, Any]) -> str:
    """Give an exception's owner and the place in exceptions.yaml that defines it."""
    parts = [f"owner {value_text(entry['owner'])}"] if entry.get("owner") else []
    if entry.get("source"):
        parts.append(str(entry["source"]))

    return ", ".join(parts)


def combined_summary(document: dict[str, Any]) -> dict[str, Any]:
    """Return the summary of a combined result: its ``summary``, or one counted from its tenants when absent."""
    if isinstance(document.get("summary"), dict):
        return document["summary"]

    plans = [entry.plan for entry in tenant_entries(document) if entry.plan is not None]
    results = {status: sum(plan.get("summary", {}).get(status, 0) for plan in plans) for status in STATUS_ORDER}

    return {
        "tenants": len(document["tenants"]),
        "planned": len(plans),
        "failed": len(document["tenants"]) - len(plans),
        "results": results,
        "actions": sum(len(plan.get("actions") or []) for plan in plans),
    }


def source_location(source: str | None) -> tuple[str | None, int | None]:
    """Split a result's ``FILE:LINE`` source into the file and the 1-based line."""
    if not source:
        return None, None
    path, separator, line = source.rpartition(":")
    if separator and line.isdigit():
        return path, int(line)

    return source, None


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """Write ``count`` with ``noun``, or with ``plural_noun`` (default: ``noun`` and an s) unless the count is one."""
    if count == 1:
        return f"{count} {noun}"

    return f"{count} {plural_noun or noun + 's'}"
