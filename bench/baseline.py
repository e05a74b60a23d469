"""Hand-written Python for the three benchmark policies: orjson load, plain loops.

This is what an engineer would write without a policy engine: no schema
validation, no three-valued logic, no evidence. It follows the semantics of
bench/policies/*.sg exactly, so the benchmark can check that all
implementations report the same violations.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "evaluate",
    "external_forwarding",
    "load",
    "mfa_unregistered",
    "stale_accounts",
]

# Graph reports 0001-01-01T00:00:00Z for a sign-in that never happened.
_NEVER = datetime.fromisoformat("1971-01-01T00:00:00+00:00")
_STALE_AFTER = timedelta(days=90)
_SIGN_IN_FIELDS = ("lastSignInDateTime", "lastNonInteractiveSignInDateTime", "lastSuccessfulSignInDateTime")
_FORWARD_FIELDS = ("forwardTo", "redirectTo", "forwardAsAttachmentTo")


def load(path: str | Path) -> dict[str, Any]:
    """Read and parse a snapshot file."""
    return orjson.loads(Path(path).read_bytes())


def mfa_unregistered(document: dict[str, Any]) -> list[str]:
    """Return ids of enabled member users whose registration details do not show MFA."""
    data = document["m365"]
    registered = {
        record["id"] for record in data["userRegistrationDetails"] if record.get("isMfaRegistered") is True
    }

    return [
        user["id"]
        for user in data["users"]
        if user.get("accountEnabled") is True and user.get("userType") == "Member" and user["id"] not in registered
    ]


def _domain_of(address: str) -> str:
    text = address.strip()
    if "@" not in text:
        return ""

    return text.rsplit("@", 1)[1].lower().rstrip(".")


def external_forwarding(document: dict[str, Any]) -> list[str]:
    """Return ids of enabled inbox rules that forward to an address outside the accepted domains."""
    data = document["m365"]
    internal = [domain["domainName"].lower() for domain in data["acceptedDomains"]]
    suffixes = tuple("." + domain for domain in internal)

    found = []
    for rule in data["inboxRules"]:
        if rule.get("isEnabled") is not True:
            continue
        actions = rule.get("actions") or {}
        for field in _FORWARD_FIELDS:
            recipients = actions.get(field) or ()
            external = False
            for recipient in recipients:
                address = (recipient.get("emailAddress") or {}).get("address")
                if not address:
                    continue
                domain = _domain_of(address)
                if domain not in internal and not domain.endswith(suffixes):
                    external = True
                    break
            if external:
                found.append(rule["id"])
                break

    return found


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None

    return datetime.fromisoformat(value)


def stale_accounts(document: dict[str, Any]) -> list[str]:
    """Return ids of enabled users whose last sign-in (or creation, if none) is 90 days or more before collection."""
    data = document["m365"]
    cutoff = datetime.fromisoformat(document["collectedAt"]) - _STALE_AFTER

    found = []
    for user in data["users"]:
        if user.get("accountEnabled") is not True:
            continue
        activity = user.get("signInActivity") or {}
        times = [_timestamp(activity.get(field)) for field in _SIGN_IN_FIELDS]
        sign_ins = [moment for moment in times if moment is not None and moment > _NEVER]
        last = max(sign_ins) if sign_ins else _timestamp(user.get("createdDateTime"))
        if last is None or last <= cutoff:
            found.append(user["id"])

    return found


def evaluate(document: dict[str, Any]) -> dict[str, list[str]]:
    """Run the three checks; keys match the Rego rule names in bench/rego/bench.rego."""
    return {
        "mfa_unregistered": mfa_unregistered(document),
        "external_forwarding": external_forwarding(document),
        "stale_accounts": stale_accounts(document),
    }
