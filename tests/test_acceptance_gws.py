"""Acceptance tests: Google Workspace 2-step verification along the org-unit tree.

The cases live in tests/cases/gws-2sv-inheritance.yaml. Each builds a Google
Workspace snapshot with its org units and explicit enforcement settings, then
evaluates gws.2sv.enforced of the shipped pack at the case's clock.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SUITE = yaml.safe_load((REPO / "tests" / "cases" / "gws-2sv-inheritance.yaml").read_text(encoding="utf-8"))
CASES = SUITE["cases"]
CASE_IDS = [case["id"] for case in CASES]

POLICY = "gws.2sv.enforced"
SETTING = "settings/security.two_step_verification_enforcement"
# The snapshot's own time. Every case passes its clock explicitly, so a
# verdict that followed collectedAt instead would show.
COLLECTED_AT = "2026-03-15T12:00:00Z"


def _org_unit_id(path: str) -> str:
    return "id:03ph" + hashlib.sha256(path.encode("utf-8")).hexdigest()[:8]


def _org_units(paths: list[str]) -> list[dict]:
    units = []
    for path in paths:
        if path == "/":
            units.append({"orgUnitPath": "/", "orgUnitId": _org_unit_id("/"), "name": "Example Org"})
            continue
        parent = path.rsplit("/", 1)[0] or "/"
        units.append(
            {
                "orgUnitPath": path,
                "orgUnitId": _org_unit_id(path),
                "name": path.rsplit("/", 1)[1],
                "parentOrgUnitPath": parent,
                "parentOrgUnitId": _org_unit_id(parent),
            }
        )

    return units


def _policy(scope: str, enforced_from: str, index: int) -> dict:
    """One explicit Cloud Identity setting, with the org unit path and group email resolved."""
    if scope.startswith("group:"):
        email = scope.removeprefix("group:")
        query = {
            "orgUnit": f"orgUnits/{_org_unit_id('/').removeprefix('id:')}",
            "orgUnitPath": "/",
            "group": f"groups/01x0grp{index:04d}",
            "groupEmail": email,
            "sortOrder": index,
        }
    else:
        query = {
            "orgUnit": f"orgUnits/{_org_unit_id(scope).removeprefix('id:')}",
            "orgUnitPath": scope,
            "group": None,
            "groupEmail": None,
            "sortOrder": None,
        }

    return {
        "name": f"policies/a2sv{index:04d}",
        "customer": "customers/C03abcdef",
        "type": "ADMIN",
        "policyQuery": query,
        "setting": {"type": SETTING, "value": {"enforcedFrom": enforced_from}},
    }


def _document(case: dict, make_snapshot) -> dict:
    policies = [_policy(scope, date, index) for index, (scope, date) in enumerate(case["enforced_from"].items(), start=1)]
    data = {"orgUnits": _org_units(case["org_units"]), "policies": policies}

    return make_snapshot("gws", data, collected_at=COLLECTED_AT)


def _now(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _result(evaluation, policy_id: str):
    return next(result for result in evaluation.results if result.id == policy_id)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_enforced_status(case, make_snapshot, run_pack):
    """gws.2sv.enforced gives each case its expected status at the case's clock."""
    evaluation = run_pack(_document(case, make_snapshot), now=_now(case["now"]))

    assert case["expect"]["status"] == _result(evaluation, POLICY).status


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_enforced_reported(case, make_snapshot, run_pack):
    """gws.2sv.enforced reports exactly the scopes that set a late date, never inheriting ones."""
    evaluation = run_pack(_document(case, make_snapshot), now=_now(case["now"]))
    reported = sorted(violation.resource["id"] for violation in _result(evaluation, POLICY).violations)

    assert sorted(case["expect"]["reported"]) == reported


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_enforced_decided(case, make_snapshot, run_pack):
    """With the policies collected, gws.2sv.enforced reports no error text."""
    evaluation = run_pack(_document(case, make_snapshot), now=_now(case["now"]))

    assert None is _result(evaluation, POLICY).error


def test_unset_root_reported(make_snapshot, run_pack):
    """A tree where no org unit sets enforcement reports the root, whose default is off."""
    case = {"org_units": ["/", "/Sales"], "enforced_from": {}, "now": "2026-06-01T00:00:00Z"}
    result = _result(run_pack(_document(case, make_snapshot), now=_now(case["now"])), POLICY)

    assert "fail" == result.status
    assert ["/"] == [violation.resource["id"] for violation in result.violations]


def test_violation_message(make_snapshot, run_pack):
    """The violation's resource names the scope; its message gives the enforcement date and leaves the scope to the resource."""
    case = next(case for case in CASES if case["id"] == "group-date-ahead")
    result = _result(run_pack(_document(case, make_snapshot), now=_now(case["now"])), POLICY)
    message = result.violations[0].message

    assert "group:contractors@example.org" == result.violations[0].resource["id"]
    assert "2030-01-01T00:00:00Z" in message
    assert "group:contractors@example.org" not in message


def test_policies_unknown(make_snapshot, run_pack):
    """Without the policies section the verdict is an error naming it, never a pass."""
    case = next(case for case in CASES if case["id"] == "root-enforced")
    document = _document(case, make_snapshot)
    reason = "Cloud Identity policies.list needs a super admin"
    statuses = {"gws.policies": ("error", reason)}
    document = make_snapshot("gws", {"orgUnits": document["gws"]["orgUnits"]}, statuses, collected_at=COLLECTED_AT)
    result = _result(run_pack(document, now=_now(case["now"])), POLICY)

    assert "error" == result.status
    assert "gws.policies" in result.error
    assert reason in result.error


def test_m365_policy_not_applicable(make_snapshot, run_pack):
    """On a Google Workspace snapshot the Microsoft 365 MFA policy does not apply."""
    case = CASES[0]
    evaluation = run_pack(_document(case, make_snapshot), now=_now(case["now"]))

    assert "not_applicable" == _result(evaluation, "m365.mfa.all-users").status
