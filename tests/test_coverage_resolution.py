"""Per-user MFA coverage: nested groups, directory roles and break-glass accounts.

One directory is judged by m365.mfa.user-coverage of the shipped pack. Two
enabled conditional access policies require MFA:

- "CA01 staff": includes the group All Staff, excludes the group Vendors and
  the role Exchange Administrator.
- "CA02 admins": includes the roles Global Administrator and User
  Administrator, and one user by id.

Groups nest three deep: Finance East is in Finance, which is in All Staff.
Vendors Temp is in Vendors. Helpdesk Admins is a role-assignable group with
an active User Administrator assignment.
"""

from __future__ import annotations

import copy

import pytest

from engine.plan import build_plan

POLICY = "m365.mfa.user-coverage"

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"

ALL_STAFF = "c0000000-0000-4000-8000-000000000001"
FINANCE = "c0000000-0000-4000-8000-000000000002"
FINANCE_EAST = "c0000000-0000-4000-8000-000000000003"
VENDORS = "c0000000-0000-4000-8000-000000000004"
VENDORS_TEMP = "c0000000-0000-4000-8000-000000000005"
HELPDESK_ADMINS = "c0000000-0000-4000-8000-000000000006"
EMERGENCY = "c0000000-0000-4000-8000-000000000007"

# User ids, one per situation the test covers.
NESTED_MEMBER = "d0000000-0000-4000-8000-000000000001"
NESTED_VENDOR = "d0000000-0000-4000-8000-000000000002"
GLOBAL_ADMIN = "d0000000-0000-4000-8000-000000000003"
GROUP_ROLE_ADMIN = "d0000000-0000-4000-8000-000000000004"
EXCLUDED_ROLE_HOLDER = "d0000000-0000-4000-8000-000000000005"
UNGROUPED = "d0000000-0000-4000-8000-000000000006"
ELIGIBLE_ONLY = "d0000000-0000-4000-8000-000000000007"
BREAK_GLASS = "d0000000-0000-4000-8000-000000000008"
DISABLED = "d0000000-0000-4000-8000-000000000009"
GUEST = "d0000000-0000-4000-8000-000000000010"
BREAK_GLASS_BY_GROUP = "d0000000-0000-4000-8000-000000000011"
LISTED_USER = "d0000000-0000-4000-8000-000000000012"

USER = "#microsoft.graph.user"
GROUP = "#microsoft.graph.group"


def _user(object_id: str, name: str, enabled: bool = True, user_type: str = "Member") -> dict:
    return {
        "id": object_id,
        "displayName": name.title(),
        "userPrincipalName": f"{name}@contoso.example",
        "mail": f"{name}@contoso.example",
        "accountEnabled": enabled,
        "userType": user_type,
        "createdDateTime": "2024-01-01T00:00:00Z",
        "onPremisesSyncEnabled": None,
        "signInActivity": None,
    }


def _group(object_id: str, name: str, members: list[tuple[str, str]], role_assignable: bool = False) -> dict:
    return {
        "id": object_id,
        "displayName": name,
        "securityEnabled": True,
        "mailEnabled": False,
        "groupTypes": [],
        "isAssignableToRole": role_assignable,
        "members": [{"@odata.type": kind, "id": member} for kind, member in members],
    }


def _role(template: str, name: str, members: list[tuple[str, str]], eligible: list[tuple[str, str]] = ()) -> dict:
    return {
        "id": f"role-{template[:8]}",
        "displayName": name,
        "roleTemplateId": template,
        "members": [{"@odata.type": kind, "id": member} for kind, member in members],
        "eligibleMembers": [{"@odata.type": kind, "id": member} for kind, member in eligible],
    }


def _ca_policy(policy_id: str, name: str, users: dict) -> dict:
    scope = {
        "includeUsers": [],
        "excludeUsers": [],
        "includeGroups": [],
        "excludeGroups": [],
        "includeRoles": [],
        "excludeRoles": [],
        "includeGuestsOrExternalUsers": None,
        "excludeGuestsOrExternalUsers": None,
    }
    scope.update(users)

    return {
        "id": policy_id,
        "displayName": name,
        "state": "enabled",
        "conditions": {
            "users": scope,
            "applications": {"includeApplications": ["All"], "excludeApplications": []},
            "clientAppTypes": ["all"],
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "platforms": None,
            "locations": None,
            "devices": None,
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"], "authenticationStrength": None},
        "sessionControls": None,
    }


DIRECTORY = {
    "users": [
        _user(NESTED_MEMBER, "nina"),
        _user(NESTED_VENDOR, "victor"),
        _user(GLOBAL_ADMIN, "gloria"),
        _user(GROUP_ROLE_ADMIN, "hugo"),
        _user(EXCLUDED_ROLE_HOLDER, "erin"),
        _user(UNGROUPED, "otto"),
        _user(ELIGIBLE_ONLY, "elias"),
        _user(BREAK_GLASS, "breakglass"),
        _user(DISABLED, "dora", enabled=False),
        _user(GUEST, "gary_partner.example#EXT#", user_type="Guest"),
        _user(LISTED_USER, "ivy"),
    ],
    "groups": [
        _group(ALL_STAFF, "All Staff", [(GROUP, FINANCE), (GROUP, VENDORS), (USER, EXCLUDED_ROLE_HOLDER)]),
        _group(FINANCE, "Finance", [(GROUP, FINANCE_EAST)]),
        _group(FINANCE_EAST, "Finance East", [(USER, NESTED_MEMBER)]),
        _group(VENDORS, "Vendors", [(GROUP, VENDORS_TEMP)]),
        _group(VENDORS_TEMP, "Vendors Temp", [(USER, NESTED_VENDOR)]),
        _group(HELPDESK_ADMINS, "Helpdesk Admins", [(USER, GROUP_ROLE_ADMIN)], role_assignable=True),
    ],
    "directoryRoles": [
        _role(GLOBAL_ADMINISTRATOR, "Global Administrator", [(USER, GLOBAL_ADMIN)], eligible=[(USER, ELIGIBLE_ONLY)]),
        _role(USER_ADMINISTRATOR, "User Administrator", [(GROUP, HELPDESK_ADMINS)]),
        _role(EXCHANGE_ADMINISTRATOR, "Exchange Administrator", [(USER, EXCLUDED_ROLE_HOLDER)]),
    ],
}

CA_POLICIES = [
    _ca_policy(
        "e0000000-0000-4000-8000-000000000001",
        "CA01 staff",
        {"includeGroups": [ALL_STAFF], "excludeGroups": [VENDORS], "excludeRoles": [EXCHANGE_ADMINISTRATOR]},
    ),
    _ca_policy(
        "e0000000-0000-4000-8000-000000000002",
        "CA02 admins",
        {"includeUsers": [LISTED_USER], "includeRoles": [GLOBAL_ADMINISTRATOR, USER_ADMINISTRATOR]},
    ),
]

# Members that no enforcing policy covers when break_glass names BREAK_GLASS.
UNCOVERED = sorted([NESTED_VENDOR, EXCLUDED_ROLE_HOLDER, UNGROUPED, ELIGIBLE_ONLY])

BREAK_GLASS_PARAMS = {"break_glass": [BREAK_GLASS]}


def _evaluate(make_snapshot, run_pack, overrides=None, policies=None, directory=None):
    data = copy.deepcopy(DIRECTORY if directory is None else directory)
    data["conditionalAccessPolicies"] = copy.deepcopy(CA_POLICIES if policies is None else policies)
    data["securityDefaults"] = {"isEnabled": False}

    return run_pack(make_snapshot("m365", data), overrides if overrides is not None else BREAK_GLASS_PARAMS)


def _result(evaluation):
    return next(result for result in evaluation.results if result.id == POLICY)


def _violating_ids(evaluation) -> list[str]:
    return sorted(violation.resource["id"] for violation in _result(evaluation).violations)


def _mfa_actions(evaluation) -> list[dict]:
    return [action for action in build_plan(evaluation)["actions"] if action["action"] == "m365.require_mfa"]


@pytest.fixture(scope="module")
def evaluation(make_snapshot, run_pack):
    """The directory judged with both policies and the declared break-glass ids."""
    return _evaluate(make_snapshot, run_pack)


def test_coverage_fails(evaluation):
    """Some members are uncovered, so the policy fails."""
    assert "fail" == _result(evaluation).status


def test_uncovered_users(evaluation):
    """Exactly the uncovered members get a violation."""
    assert UNCOVERED == _violating_ids(evaluation)


@pytest.mark.parametrize(
    ("user_id", "situation"),
    [
        (NESTED_MEMBER, "member of a group inside a group inside the included group"),
        (GLOBAL_ADMIN, "holds an included role directly"),
        (GROUP_ROLE_ADMIN, "holds an included role through a role-assignable group"),
        (LISTED_USER, "listed by id in includeUsers"),
    ],
    ids=["nested-include", "direct-role", "group-role", "listed-user"],
)
def test_covered_user(evaluation, user_id, situation):
    """A member covered by id, through nested groups or through roles gets no violation."""
    assert user_id not in _violating_ids(evaluation), situation


@pytest.mark.parametrize(
    ("user_id", "situation"),
    [
        (NESTED_VENDOR, "in the included group, but also inside a nested excluded group"),
        (EXCLUDED_ROLE_HOLDER, "in the included group, but holds an excluded role"),
        (UNGROUPED, "in no group and no role"),
        (ELIGIBLE_ONLY, "only eligible for an included role, so not covered until the role is activated"),
    ],
    ids=["nested-exclude", "excluded-role", "ungrouped", "eligible-only"],
)
def test_uncovered_user(evaluation, user_id, situation):
    """A member whom no policy covers gets a violation."""
    assert user_id in _violating_ids(evaluation), situation


@pytest.mark.parametrize("user_id", [BREAK_GLASS, DISABLED, GUEST], ids=["break-glass", "disabled", "guest"])
def test_out_of_scope_user(evaluation, user_id):
    """Break-glass, disabled and guest accounts are not judged."""
    assert user_id not in _violating_ids(evaluation)


def test_checked_count(evaluation):
    """Every enabled member outside break_glass is checked once."""
    assert 8 == _result(evaluation).checked


def test_nested_groups_evidence(evaluation):
    """The evidence of a nested vendor lists every group it belongs to, transitively."""
    violation = next(item for item in _result(evaluation).violations if item.resource["id"] == NESTED_VENDOR)

    assert sorted([ALL_STAFF, VENDORS, VENDORS_TEMP]) == violation.evidence["memberGroups"]


def test_enforcing_policies_evidence(evaluation):
    """The evidence names both enforcing policies."""
    violation = _result(evaluation).violations[0]

    assert ["CA01 staff", "CA02 admins"] == violation.evidence["enforcingPolicies"]


def test_action_targets(evaluation):
    """The plan proposes m365.require_mfa for each uncovered member and no one else."""
    targets = sorted(action["target"]["id"] for action in _mfa_actions(evaluation))

    assert UNCOVERED == targets


def test_action_arguments(evaluation):
    """Each m365.require_mfa action names its user as the only argument."""
    for action in _mfa_actions(evaluation):
        assert {"user": action["target"]["id"]} == action["arguments"]


def test_action_links(evaluation):
    """Each action points at the violation of its target user."""
    plan = build_plan(evaluation)
    result = next(result for result in plan["results"] if result["policy"] == POLICY)
    violation_by_user = {violation["resource"]["id"]: violation["id"] for violation in result["violations"]}

    for action in _mfa_actions(evaluation):
        assert violation_by_user[action["target"]["id"]] == action["violation"]
        assert POLICY == action["policy"]


def test_action_reversible(evaluation):
    """Bringing a user under an MFA policy can be undone."""
    assert {True} == {action["reversible"] for action in _mfa_actions(evaluation)}


def test_break_glass_undeclared(make_snapshot, run_pack):
    """Without break_glass, the emergency account is judged and gets an action."""
    evaluation = _evaluate(make_snapshot, run_pack, overrides={})
    targets = [action["target"]["id"] for action in _mfa_actions(evaluation)]

    assert BREAK_GLASS in _violating_ids(evaluation)
    assert BREAK_GLASS in targets


def test_break_glass_never_target(evaluation):
    """No action of any policy targets a declared break-glass account."""
    targets = {action["target"]["id"] for action in build_plan(evaluation)["actions"]}

    assert BREAK_GLASS not in targets


@pytest.fixture(scope="module")
def group_declared(make_snapshot, run_pack):
    """The directory plus an emergency account declared through its group in break_glass."""
    directory = copy.deepcopy(DIRECTORY)
    directory["users"].append(_user(BREAK_GLASS_BY_GROUP, "breakglass2"))
    directory["groups"].append(_group(EMERGENCY, "Emergency Access", [(USER, BREAK_GLASS_BY_GROUP)]))

    return _evaluate(make_snapshot, run_pack, overrides={"break_glass": [EMERGENCY]}, directory=directory)


def test_break_glass_group_coverage(group_declared):
    """A member of a group declared in break_glass gets no coverage violation and no MFA action."""
    targets = [action["target"]["id"] for action in _mfa_actions(group_declared)]

    assert BREAK_GLASS_BY_GROUP not in _violating_ids(group_declared)
    assert BREAK_GLASS_BY_GROUP not in targets


def test_break_glass_group_never_target(group_declared):
    """No action of any policy targets a member of a group declared in break_glass."""
    targets = {action["target"]["id"] for action in build_plan(group_declared)["actions"]}

    assert BREAK_GLASS_BY_GROUP not in targets


def test_security_defaults_cover_all(make_snapshot, run_pack):
    """With security defaults on, every member is covered and no action is proposed."""
    data = copy.deepcopy(DIRECTORY)
    data["conditionalAccessPolicies"] = []
    data["securityDefaults"] = {"isEnabled": True}
    evaluation = run_pack(make_snapshot("m365", data), BREAK_GLASS_PARAMS)

    assert "pass" == _result(evaluation).status
    assert [] == _mfa_actions(evaluation)


def test_report_only_covers_nobody(make_snapshot, run_pack):
    """Report-only policies cover no one, so every judged member gets a violation."""
    policies = copy.deepcopy(CA_POLICIES)
    for policy in policies:
        policy["state"] = "enabledForReportingButNotEnforced"
    evaluation = _evaluate(make_snapshot, run_pack, policies=policies)
    judged = sorted(UNCOVERED + [NESTED_MEMBER, GLOBAL_ADMIN, GROUP_ROLE_ADMIN, LISTED_USER])

    assert judged == _violating_ids(evaluation)
