"""The in-memory snapshot: section names, section status and the Snapshot class.

A Snapshot wraps a document that has already been validated; load_snapshot in
engine.snapshot.loader is the usual way to get one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson

__all__ = ["SCHEMA_VERSION", "PROVIDERS", "SECTIONS", "SectionStatus", "Snapshot"]

SCHEMA_VERSION = "1.0"

PROVIDERS = ("m365", "gws")

# Every section of each provider, in the order docs/snapshot.md lists them.
SECTIONS: dict[str, tuple[str, ...]] = {
    "m365": (
        "m365.users",
        "m365.groups",
        "m365.directoryRoles",
        "m365.conditionalAccessPolicies",
        "m365.securityDefaults",
        "m365.authenticationMethodsPolicy",
        "m365.userRegistrationDetails",
        "m365.inboxRules",
        "m365.acceptedDomains",
        "m365.remoteDomains",
        "m365.auditConfig",
    ),
    "gws": (
        "gws.users",
        "gws.superAdmins",
        "gws.orgUnits",
        "gws.policies",
        "gws.autoForwarding",
        "gws.forwardingFilters",
        "gws.tokens",
    ),
}


@dataclass(frozen=True)
class SectionStatus:
    """Collection outcome of one section: status ok, error or not_collected, and why."""

    status: str
    message: str | None


def split_section(section: str) -> tuple[str, str]:
    """Split "m365.users" into ("m365", "users")."""
    provider, _, key = section.partition(".")
    return provider, key


class Snapshot:
    """A validated snapshot document with typed access to its envelope and sections.

    The constructor trusts that ``document`` is valid (load_snapshot and
    validate_document check that). ``digest`` hashes the document as it is
    when first read, so callers must not mutate ``document``.
    """

    def __init__(self, path: str, document: dict[str, Any]) -> None:
        self.path = path
        self.document = document
        self.tenant: dict[str, Any] = document["tenant"]
        self.provider: str = self.tenant["provider"]
        self.collected_at: datetime = parse_collected_at(document["collectedAt"])
        self.sections: dict[str, SectionStatus] = {
            name: SectionStatus(entry["status"], entry.get("message"))
            for name, entry in document["sections"].items()
        }

    @cached_property
    def digest(self) -> str:
        """Content digest "sha256:<hex>" of the orjson bytes with sorted keys and no whitespace."""
        canonical = orjson.dumps(self.document, option=orjson.OPT_SORT_KEYS)
        return "sha256:" + hashlib.sha256(canonical).hexdigest()

    def status(self, section: str) -> SectionStatus:
        """Return the section's status; a section the snapshot omits counts as not_collected."""
        listed = self.sections.get(section)
        if listed is not None:
            return listed

        message = f"the snapshot does not list section {section}"
        return SectionStatus("not_collected", message)

    def data(self, section: str) -> Any:
        """Return the data of an ok section; raise KeyError naming the status otherwise."""
        status = self.status(section)
        if status.status != "ok":
            message = f"section {section} is {status.status}: {status.message}"
            raise KeyError(message)

        provider, key = split_section(section)
        return self.document[provider][key]

    def __repr__(self) -> str:
        return f"Snapshot(path={self.path!r}, provider={self.provider!r}, tenant={self.tenant.get('id')!r})"


def parse_collected_at(value: str) -> datetime:
    """Parse an RFC 3339 timestamp that validation has already checked."""
    parsed = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    if parsed.tzinfo is None:
        message = f"collectedAt has no UTC offset: {value!r}"
        raise ValueError(message)

    return parsed
