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


def source_location(source: str | None) -> tuple[str | None, int | None]:
    """Split a result's ``FILE:LINE`` source into the file and the 1-based line."""
    if not source:
        return None, None
    path, separator, line = source.rpartition(":")
    if separator and line.isdigit():
        return path, int(line)

    return source, None


def plural(count: int, noun: str) -> str:
    """Write ``count`` with ``noun``, adding an s unless the count is one."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
