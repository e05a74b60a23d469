"""Remediation settings of one tenant: the inventory params apply reads, checked for type.

The inventory's ``params`` hold, besides policy param overrides:

- ``break_glass``: ids or sign-in names of emergency access accounts, which
  no action may touch. Apply also honours the ``break_glass`` values the plan
  was made with, so an account listed in either place is protected.
- ``mfa_group`` / ``mfa_exclusion_group``: how ``m365.require_mfa`` brings a
  user under MFA (add to the group an MFA policy includes, or remove from the
  group it excludes).
- ``max_changes``: the maximum number of targets one run may change, unless
  ``--max-changes`` sets another limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError

__all__ = ["TenantSettings", "tenant_settings"]


@dataclass(frozen=True)
class TenantSettings:
    """Remediation settings of one tenant; ``break_glass`` entries are lower case."""

    tenant: str
    break_glass: frozenset[str] = frozenset()
    mfa_group: str | None = None
    mfa_exclusion_group: str | None = None
    max_changes: int | None = None


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
        message = f"{where} must be a list of non-empty strings (object ids or sign-in names)"
        raise InputError(message)

    return list(value)


def _optional_string(params: Mapping[str, Any], name: str, where: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        message = f"{where}.{name} must be a non-empty string (a group object id)"
        raise InputError(message)

    return value.strip()


def tenant_settings(tenant: Any, plan_params: Mapping[str, Any] | None = None) -> TenantSettings:
    """Read the remediation settings from an inventory tenant and the param values a plan records."""
    params = dict(getattr(tenant, "params", None) or {})
    where = f"tenant {tenant.name!r}: params"

    break_glass = set()
    if params.get("break_glass") is not None:
        break_glass.update(_string_list(params["break_glass"], f"{where}.break_glass"))
    planned = (plan_params or {}).get("break_glass")
    if isinstance(planned, (list, tuple)):
        break_glass.update(item for item in planned if isinstance(item, str) and item)

    max_changes = params.get("max_changes")
    if max_changes is not None and (isinstance(max_changes, bool) or not isinstance(max_changes, int) or max_changes < 0):
        message = f"{where}.max_changes must be a whole number of 0 or more, not {max_changes!r}"
        raise InputError(message)

    return TenantSettings(
        tenant=tenant.name,
        break_glass=frozenset(name.lower() for name in break_glass),
        mfa_group=_optional_string(params, "mfa_group", where),
        mfa_exclusion_group=_optional_string(params, "mfa_exclusion_group", where),
        max_changes=max_changes,
    )
