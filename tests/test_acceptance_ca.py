"""Acceptance tests: tenant-wide MFA through conditional access, on the shipped pack.

The cases live in tests/cases/conditional-access-mfa.yaml. Each builds a
Microsoft 365 snapshot whose conditional access policies are edits of one
Graph v1.0 policy, then checks m365.mfa.all-users and m365.mfa.user-coverage.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SUITE = yaml.safe_load((REPO / "tests" / "cases" / "conditional-access-mfa.yaml").read_text(encoding="utf-8"))
CASES = SUITE["cases"]
BASE_POLICY = SUITE["base_policy"]
DIRECTORY = SUITE["directory"]
UPN_BY_ID = {user["id"]: user["userPrincipalName"] for user in DIRECTORY["users"]}

ALL_USERS = "m365.mfa.all-users"
USER_COVERAGE = "m365.mfa.user-coverage"
BREAK_GLASS_ID = "11111111-1111-1111-1111-111111111111"


def _edited(base: dict, edits: dict) -> dict:
    """Return a copy of ``base`` with each dotted path of ``edits`` replaced by its value."""
    policy = copy.deepcopy(base)
    for path, value in edits.items():
        *parents, leaf = path.split(".")
        node = policy
        for key in parents:
            node = node[key]
        if leaf not in node:
            message = f"edit {path!r} names a field the base policy does not have"
            raise KeyError(message)
        node[leaf] = copy.deepcopy(value)

    return policy


def _without_nulls(value):
    """Drop every null field, as an exporter that omits unset fields would."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]

    return value


def _ca_policies(case: dict) -> list[dict]:
    policies = []
    for index, edits in enumerate(case["policies"], start=1):
        policy = _edited(BASE_POLICY, edits)
        policy["id"] = f"0f1e2d3c-0000-4000-8000-{index:012d}"
        policy["displayName"] = f"CA{index:02d} {case['id']}"
        policies.append(policy)

    return policies


def _security_defaults(enabled: bool) -> dict:
    return {"id": "00000000-0000-0000-0000-000000000000", "displayName": "Security Defaults", "isEnabled": enabled}


def _data(case: dict) -> dict:
    return {
        "users": copy.deepcopy(DIRECTORY["users"]),
        "groups": copy.deepcopy(DIRECTORY["groups"]),
        "directoryRoles": copy.deepcopy(DIRECTORY["directoryRoles"]),
        "conditionalAccessPolicies": _ca_policies(case),
        "securityDefaults": _security_defaults(case.get("security_defaults", False)),
    }


def _overrides(case: dict) -> dict:
    return {"break_glass": case["break_glass"]} if "break_glass" in case else {}


def _result(evaluation, policy_id: str):
    return next(result for result in evaluation.results if result.id == policy_id)


def _case(case_id: str) -> dict:
    return next(case for case in CASES if case["id"] == case_id)


def _verdict_params() -> list:
    """Return one pytest param per case, expected to fail where the case names a known gap."""
    params = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case["known_gap"])] if "known_gap" in case else []
        params.append(pytest.param(case, id=case["id"], marks=marks))

    return params


CASE_IDS = [case["id"] for case in CASES]
VERDICT_CASES = _verdict_params()


# The contract: every case's verdict.


@pytest.mark.parametrize("case", VERDICT_CASES)
def test_all_users_verdict(case, make_snapshot, run_pack):
    """m365.mfa.all-users gives each case its expected status."""
    evaluation = run_pack(make_snapshot("m365", _data(case)), _overrides(case))

    assert case["expect"]["all_users"] == _result(evaluation, ALL_USERS).status


@pytest.mark.parametrize("case", VERDICT_CASES)
def test_all_users_nulls_omitted(case, make_snapshot, run_pack):
    """Dropping null fields from the policies does not change the all-users verdict."""
    data = _data(case)
    data["conditionalAccessPolicies"] = _without_nulls(data["conditionalAccessPolicies"])
    evaluation = run_pack(make_snapshot("m365", data), _overrides(case))

    assert case["expect"]["all_users"] == _result(evaluation, ALL_USERS).status


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_all_users_decided(case, make_snapshot, run_pack):
    """With every section collected, all-users reports no error text."""
    evaluation = run_pack(make_snapshot("m365", _data(case)), _overrides(case))

    assert None is _result(evaluation, ALL_USERS).error


@pytest.mark.parametrize("case", VERDICT_CASES)
def test_user_coverage_verdict(case, make_snapshot, run_pack):
    """m365.mfa.user-coverage gives each case its expected status."""
    evaluation = run_pack(make_snapshot("m365", _data(case)), _overrides(case))

    assert case["expect"]["user_coverage"] == _result(evaluation, USER_COVERAGE).status


@pytest.mark.parametrize("case", VERDICT_CASES)
def test_user_coverage_uncovered(case, make_snapshot, run_pack):
    """m365.mfa.user-coverage reports exactly the expected accounts."""
    evaluation = run_pack(make_snapshot("m365", _data(case)), _overrides(case))
    reported = sorted(UPN_BY_ID[violation.resource["id"]] for violation in _result(evaluation, USER_COVERAGE).violations)

    assert sorted(case["expect"]["uncovered"]) == reported


def test_no_policy_message(make_snapshot, run_pack):
    """With no policy and security defaults off, the one violation states that no policy requires MFA."""
    evaluation = run_pack(make_snapshot("m365", _data(_case("nothing-at-all"))))
    result = _result(evaluation, ALL_USERS)

    assert "fail" == result.status
    assert 1 == len(result.violations)
    assert "tenant" == result.violations[0].resource["type"]
    assert "requires MFA" in result.violations[0].message


def test_shortfall_evidence(make_snapshot, run_pack):
    """The all-users evidence names each policy and why it does not count."""
    evaluation = run_pack(make_snapshot("m365", _data(_case("mfa-or-compliant-device"))))
    evidence = _result(evaluation, ALL_USERS).violations[0].evidence

    assert ["CA01 mfa-or-compliant-device: grant can be met without MFA"] == evidence["conditionalAccessPolicies"]
    assert False is evidence["securityDefaults.isEnabled"]


def test_undeclared_exclusion_evidence(make_snapshot, run_pack):
    """The all-users evidence names the excluded id that break_glass does not declare."""
    evaluation = run_pack(make_snapshot("m365", _data(_case("undeclared-user-exclusion"))))
    evidence = _result(evaluation, ALL_USERS).violations[0].evidence

    assert [f"CA01 undeclared-user-exclusion: excludes undeclared ids {BREAK_GLASS_ID}"] == evidence["conditionalAccessPolicies"]


# Sections that were not collected: unknown is never a pass.

_UNAVAILABLE = [
    ("not_collected", "the ScubaGear export has no such section"),
    ("error", "HTTP 403 from /policies/identitySecurityDefaultsEnforcementPolicy: Access denied"),
]


@pytest.mark.parametrize(("status", "reason"), _UNAVAILABLE, ids=["not_collected", "error"])
def test_defaults_unknown_good_policy(status, reason, make_snapshot, run_pack):
    """Unknown security defaults plus an enforcing policy is still a pass."""
    document = make_snapshot("m365", _data(_case("base-enabled")), {"m365.securityDefaults": (status, reason)})
    evaluation = run_pack(document)

    assert "pass" == _result(evaluation, ALL_USERS).status
    assert "pass" == _result(evaluation, USER_COVERAGE).status


@pytest.mark.parametrize("case_id", ["report-only", "nothing-at-all", "excluded-role"])
@pytest.mark.parametrize(("status", "reason"), _UNAVAILABLE, ids=["not_collected", "error"])
def test_defaults_unknown_no_policy(case_id, status, reason, make_snapshot, run_pack):
    """Unknown security defaults and no enforcing policy is an error naming the section and reason."""
    document = make_snapshot("m365", _data(_case(case_id)), {"m365.securityDefaults": (status, reason)})
    result = _result(run_pack(document), ALL_USERS)

    assert "error" == result.status
    assert "m365.securityDefaults" in result.error
    assert reason in result.error
    assert [] == result.violations


@pytest.mark.parametrize(("status", "reason"), _UNAVAILABLE, ids=["not_collected", "error"])
def test_defaults_unknown_coverage(status, reason, make_snapshot, run_pack):
    """Unknown security defaults and no enforcing policy leave user-coverage in error, not fail."""
    document = make_snapshot("m365", _data(_case("report-only")), {"m365.securityDefaults": (status, reason)})
    result = _result(run_pack(document), USER_COVERAGE)

    assert "error" == result.status
    assert "m365.securityDefaults" in result.error
    assert [] == result.violations


@pytest.mark.parametrize("section", ["m365.users", "m365.groups", "m365.directoryRoles"])
def test_directory_unknown_coverage(section, make_snapshot, run_pack):
    """Without users, groups or roles, user-coverage is an error naming the missing section."""
    reason = f"the export has no {section.split('.')[1]}"
    document = make_snapshot("m365", _data(_case("excluded-role")), {section: ("not_collected", reason)})
    result = _result(run_pack(document), USER_COVERAGE)

    assert "error" == result.status
    assert section in result.error
    assert reason in result.error


def test_users_unknown_all_users(make_snapshot, run_pack):
    """all-users reads no user list, so a missing one does not change its verdict."""
    document = make_snapshot("m365", _data(_case("base-enabled")), {"m365.users": ("not_collected", "no user list")})

    assert "pass" == _result(run_pack(document), ALL_USERS).status


def test_policies_unknown_all_users(make_snapshot, run_pack):
    """Without conditional access policies and with security defaults off, all-users is an error."""
    document = make_snapshot(
        "m365", _data(_case("nothing-at-all")), {"m365.conditionalAccessPolicies": ("error", "HTTP 403: Access denied")}
    )
    result = _result(run_pack(document), ALL_USERS)

    assert "error" == result.status
    assert "m365.conditionalAccessPolicies" in result.error
