"""Tenant built-ins: identity of the tenant the snapshot describes."""

from __future__ import annotations

from engine.language.builtins._registry import builtin
from engine.language.types import STRING


@builtin("tenant_domain", (), STRING, summary="The tenant's primary domain from the snapshot.", constant=False)
def tenant_domain(context):
    return context.snapshot.tenant.get("domain") or ""


@builtin("tenant_id", (), STRING, summary="The Entra tenant id or Google customer id from the snapshot.", constant=False)
def tenant_id(context):
    return context.snapshot.tenant.get("id") or ""
