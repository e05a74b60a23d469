"""The tenant state a simulator serves, built from a native snapshot and changed by writes.

Each snapshot section becomes the data behind the API routes that produce it
in a real tenant. Group and role members move to their own member lists, and
inbox rules are grouped per mailbox. Cloud Identity policies lose the org unit
path and group email that collection adds. A section whose status is not
``ok`` in the seed has no data, so its routes return 501 and a collector
reports the section as failed rather than empty.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SnapshotError

__all__ = ["M365State", "GwsState", "TenantStates", "build_states"]


def _ok_sections(document: Mapping[str, Any]) -> set[str]:
    sections = document.get("sections") or {}

    return {name for name, info in sections.items() if isinstance(info, Mapping) and info.get("status") == "ok"}


def _directory_objects(members: Any) -> list[dict]:
    result = []
    for member in members or []:
        if isinstance(member, Mapping) and "id" in member:
            result.append({"@odata.type": member.get("@odata.type", "#microsoft.graph.user"), "id": member["id"]})

    return result


@dataclass
class M365State:
    """Graph-shaped data of one Microsoft 365 tenant."""

    tenant_id: str
    domain: str
    seeded: set[str]
    display_name: str | None = None
    users: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    group_members: dict[str, list[dict]] = field(default_factory=dict)
    roles: list[dict] = field(default_factory=list)
    role_members: dict[str, list[dict]] = field(default_factory=dict)
    role_eligible: dict[str, list[dict]] = field(default_factory=dict)
    ca_policies: list[dict] = field(default_factory=list)
    security_defaults: dict = field(default_factory=dict)
    auth_methods_policy: dict = field(default_factory=dict)
    registration_details: list[dict] = field(default_factory=list)
    inbox_rules: dict[str, list[dict]] = field(default_factory=dict)
    domains: list[dict] = field(default_factory=list)

    @classmethod
    def from_snapshot(cls, document: Mapping[str, Any]) -> M365State:
        data = copy.deepcopy(document.get("m365") or {})
        tenant = document.get("tenant") or {}
        state = cls(tenant_id=str(tenant.get("id", "")), domain=str(tenant.get("domain", "")), seeded=_ok_sections(document), display_name=tenant.get("displayName"))

        state.users = list(data.get("users") or [])
        for group in data.get("groups") or []:
            group = dict(group)
            state.group_members[group["id"]] = _directory_objects(group.pop("members", []))
            state.groups.append(group)
        for role in data.get("directoryRoles") or []:
            role = dict(role)
            state.role_members[role["id"]] = _directory_objects(role.pop("members", []))
            state.role_eligible[role["id"]] = _directory_objects(role.pop("eligibleMembers", []))
            state.roles.append(role)
        state.ca_policies = list(data.get("conditionalAccessPolicies") or [])
        state.security_defaults = dict(data.get("securityDefaults") or {})
        state.auth_methods_policy = dict(data.get("authenticationMethodsPolicy") or {})
        state.registration_details = list(data.get("userRegistrationDetails") or [])
        for rule in data.get("inboxRules") or []:
            rule = dict(rule)
            owner = rule.pop("userId", None)
            rule.pop("userPrincipalName", None)
            if owner is not None:
                state.inbox_rules.setdefault(owner, []).append(rule)
        state.domains = [_graph_domain(domain) for domain in data.get("acceptedDomains") or []]

        return state

    def find_user(self, key: str) -> dict | None:
        """Return the user whose id or userPrincipalName is ``key`` (case-insensitive for the name)."""
        for user in self.users:
            if user.get("id") == key or str(user.get("userPrincipalName", "")).lower() == key.lower():
                return user

        return None

    def has_mailbox(self, user: Mapping[str, Any]) -> bool:
        return bool(user.get("mail")) or user.get("id") in self.inbox_rules

    def object_type(self, object_id: str) -> str | None:
        """Return the ``@odata.type`` of a user or group id, or None when unknown."""
        if any(user.get("id") == object_id for user in self.users):
            return "#microsoft.graph.user"
        if any(group.get("id") == object_id for group in self.groups):
            return "#microsoft.graph.group"

        return None


def _graph_domain(accepted: Mapping[str, Any]) -> dict:
    # NOTE: Graph has no relay domain types, so InternalRelay and ExternalRelay
    # domains are served like Authoritative ones, and collect reads them back as such.
    return {
        "id": accepted.get("domainName"),
        "authenticationType": "Managed",
        "isDefault": bool(accepted.get("default", False)),
        "isInitial": str(accepted.get("domainName", "")).endswith(".onmicrosoft.com"),
        "isRoot": True,
        "isVerified": True,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"],
    }


@dataclass
class GwsState:
    """Directory, Gmail and Cloud Identity data of one Google Workspace customer."""

    customer_id: str
    domain: str
    seeded: set[str]
    display_name: str | None = None
    users: list[dict] = field(default_factory=list)
    org_units: list[dict] = field(default_factory=list)
    policies: list[dict] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)
    auto_forwarding: dict[str, dict] = field(default_factory=dict)
    filters: dict[str, list[dict]] = field(default_factory=dict)
    tokens: dict[str, list[dict]] = field(default_factory=dict)

    @classmethod
    def from_snapshot(cls, document: Mapping[str, Any]) -> GwsState:
        data = copy.deepcopy(document.get("gws") or {})
        tenant = document.get("tenant") or {}
        state = cls(customer_id=str(tenant.get("id", "")), domain=str(tenant.get("domain", "")), seeded=_ok_sections(document), display_name=tenant.get("displayName"))

        state.users = list(data.get("users") or [])
        state.org_units = list(data.get("orgUnits") or [])
        for policy in data.get("policies") or []:
            policy = copy.deepcopy(policy)
            query = policy.get("policyQuery") or {}
            group_email = query.pop("groupEmail", None)
            query.pop("orgUnitPath", None)
            if query.get("group") and group_email:
                state.groups[query["group"]] = group_email
            state.policies.append(policy)
        for entry in data.get("autoForwarding") or []:
            entry = dict(entry)
            email = str(entry.pop("userEmail", "")).lower()
            state.auto_forwarding[email] = entry
        for entry in data.get("forwardingFilters") or []:
            entry = dict(entry)
            email = str(entry.pop("userEmail", "")).lower()
            state.filters.setdefault(email, []).append(entry)
        for entry in data.get("tokens") or []:
            entry = dict(entry)
            email = str(entry.pop("userEmail", "")).lower()
            state.tokens.setdefault(email, []).append(entry)

        return state

    def find_user(self, key: str) -> dict | None:
        """Return the user whose id, primary email or alias is ``key``."""
        lowered = key.lower()
        for user in self.users:
            emails = [str(user.get("primaryEmail", "")).lower(), *(str(alias).lower() for alias in user.get("aliases", []))]
            if user.get("id") == key or lowered in emails:
                return user

        return None

    def admins(self) -> set[str]:
        return {str(user.get("primaryEmail", "")).lower() for user in self.users if user.get("isAdmin")}


@dataclass
class TenantStates:
    """Every tenant one simulator serves (at most one per provider), behind one lock."""

    m365: M365State | None = None
    gws: GwsState | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)


def build_states(documents: list[Mapping[str, Any]]) -> TenantStates:
    """Build the served state from native snapshot documents, one per provider."""
    states = TenantStates()
    for document in documents:
        provider = (document.get("tenant") or {}).get("provider")
        if provider == "m365" and states.m365 is None:
            states.m365 = M365State.from_snapshot(document)
        elif provider == "gws" and states.gws is None:
            states.gws = GwsState.from_snapshot(document)
        elif provider in ("m365", "gws"):
            message = f"the simulator serves one tenant per provider; got a second {provider} snapshot"
            raise SnapshotError(message)
        else:
            message = f"tenant.provider must be m365 or gws, not {provider!r}"
            raise SnapshotError(message)

    return states
