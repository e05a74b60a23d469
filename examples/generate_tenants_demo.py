"""Write examples/woodgrove-gws-snapshot.json, the compliant third tenant of examples/tenants-demo.yaml.

The snapshot is derived from examples/gws-snapshot.json (tenant
fabrikam-example). It has the same users and org units under the domain
woodgrove.example and customer id C03wdgrv7. Every setting the shipped pack
checks is compliant. 2-step verification is enforced at the root since
2025-03-01 with passkeys only, devices cannot be trusted, Gmail forwarding
is off, no user forwards mail, and there are two super administrators. Run it after examples/generate_example.py changes the
fabrikam snapshot; tests/test_multitenant.py checks the committed file is
current.

Usage: python examples/generate_tenants_demo.py [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

__all__ = ["build_woodgrove_snapshot", "main", "OUTPUT_NAME"]

EXAMPLES_DIR = Path(__file__).resolve().parent
SOURCE_NAME = "gws-snapshot.json"
OUTPUT_NAME = "woodgrove-gws-snapshot.json"

# Text replaced in every string of the source snapshot, in this order.
_RENAMES = (
    ("fabrikam.example", "woodgrove.example"),
    ("fabrikam-example", "woodgrove-example"),
    ("Fabrikam", "Woodgrove"),
    ("C04fxq1mw", "C03wdgrv7"),
)

# The compliant root value of each setting the pack judges per org unit.
_COMPLIANT_SETTINGS = {
    "settings/security.two_step_verification_enforcement": {"enforcedFrom": "2025-03-01T08:00:00Z"},
    "settings/security.two_step_verification_enforcement_factor": {"allowedSignInFactorSet": "PASSKEY_ONLY"},
    "settings/security.two_step_verification_device_trust": {"allowTrustingDevice": False},
    "settings/gmail.auto_forwarding": {"enableAutoForwarding": False},
}


def _rename(value: Any) -> Any:
    if isinstance(value, str):
        for old, new in _RENAMES:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_rename(item) for item in value]
    if isinstance(value, dict):
        return {_rename(key): _rename(item) for key, item in value.items()}

    return value


def _compliant_policies(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep other settings as they are; keep only the root policy of each judged setting, made compliant."""
    kept = []
    for policy in policies:
        setting = policy["setting"]["type"]
        if setting not in _COMPLIANT_SETTINGS:
            kept.append(policy)
            continue
        query = policy["policyQuery"]
        if query["orgUnitPath"] != "/" or query["groupEmail"] is not None:
            continue
        fixed = copy.deepcopy(policy)
        fixed["setting"]["value"] = dict(_COMPLIANT_SETTINGS[setting])
        kept.append(fixed)

    return kept


def build_woodgrove_snapshot(source: dict[str, Any]) -> dict[str, Any]:
    """Return the compliant woodgrove snapshot derived from the fabrikam example snapshot."""
    document = _rename(copy.deepcopy(source))
    data = document["gws"]
    data["policies"] = _compliant_policies(data["policies"])
    data["autoForwarding"] = [{"userEmail": entry["userEmail"], "enabled": False} for entry in data["autoForwarding"]]

    # A second super administrator: the first user who is not one yet.
    admins = {admin["primaryEmail"] for admin in data["superAdmins"]}
    backup = next(user for user in data["users"] if user["primaryEmail"] not in admins)
    backup["isAdmin"] = True
    data["superAdmins"].append({"primaryEmail": backup["primaryEmail"], "orgUnitPath": backup["orgUnitPath"]})

    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the compliant third tenant of examples/tenants-demo.yaml.")
    parser.add_argument("--output-dir", type=Path, default=EXAMPLES_DIR, help="folder to write into (default: examples/)")
    arguments = parser.parse_args(argv)

    source = json.loads((EXAMPLES_DIR / SOURCE_NAME).read_text(encoding="utf-8"))
    target = arguments.output_dir / OUTPUT_NAME
    target.write_text(render(build_woodgrove_snapshot(source)), encoding="utf-8")
    print(f"wrote {target}")

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
