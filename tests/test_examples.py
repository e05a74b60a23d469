"""Tests for the example snapshots and params that examples/generate_example.py writes."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from engine.snapshot import load_snapshot
from engine.snapshot.model import SECTIONS

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
GENERATED = ["m365-snapshot.json", "params.yaml", "gws-snapshot.json"]

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
COLLECTED_AT = datetime.fromisoformat("2026-11-30T12:00:00+00:00")
NEVER = "0001-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """The output of a fresh generator run in a temporary folder."""
    output_dir = tmp_path_factory.mktemp("examples")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "generate_example.py"), "--output-dir", str(output_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert 0 == result.returncode, result.stderr

    return output_dir


@pytest.fixture(scope="module")
def m365():
    """The committed Microsoft 365 example snapshot, loaded and validated."""
    return load_snapshot(EXAMPLES / "m365-snapshot.json")


@pytest.fixture(scope="module")
def gws():
    """The committed Google Workspace example snapshot, loaded and validated."""
    return load_snapshot(EXAMPLES / "gws-snapshot.json")


@pytest.fixture(scope="module")
def params():
    """The committed tenant params of the Microsoft 365 example."""
    return yaml.safe_load((EXAMPLES / "params.yaml").read_text(encoding="utf-8"))


def _by_name(policies: list[dict], display_name: str) -> dict:
    matches = [policy for policy in policies if policy["displayName"] == display_name]
    assert 1 == len(matches), display_name

    return matches[0]


def _days_before_collection(timestamp: str) -> float:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))

    return (COLLECTED_AT - moment) / timedelta(days=1)


# Regeneration


@pytest.mark.parametrize("name", GENERATED)
def test_generator_reproduces_committed(regenerated, name):
    """The generator rewrites each committed example file byte for byte."""
    expected = (EXAMPLES / name).read_bytes()
    actual = (regenerated / name).read_bytes()

    assert expected == actual, f"examples/{name} is stale: run python examples/generate_example.py"


def test_generator_writes_only_examples(regenerated):
    """The generator writes exactly the three example files."""
    assert sorted(GENERATED) == sorted(path.name for path in regenerated.iterdir())


# Envelope and sections


def test_m365_envelope(m365):
    """The Microsoft 365 example is tenant contoso-example collected at the fixed time."""
    assert "m365" == m365.provider
    assert "contoso.example" == m365.tenant["domain"]
    assert "contoso-example" == m365.tenant["displayName"]
    assert COLLECTED_AT == m365.collected_at


def test_gws_envelope(gws):
    """The Google Workspace example is collected at the same fixed time."""
    assert "gws" == gws.provider
    assert "fabrikam.example" == gws.tenant["domain"]
    assert COLLECTED_AT == gws.collected_at


@pytest.mark.parametrize("fixture", ["m365", "gws"])
def test_every_section_ok(request, fixture):
    """Each example lists every section of its provider, all ok with data."""
    snapshot = request.getfixturevalue(fixture)

    assert list(SECTIONS[fixture]) == list(snapshot.sections)
    for section in SECTIONS[fixture]:
        assert "ok" == snapshot.status(section).status
        assert snapshot.data(section) is not None


@pytest.mark.parametrize("name", ["m365-snapshot.json", "gws-snapshot.json"])
def test_only_reserved_domains(name):
    """Every email address in the examples uses a reserved .example domain or the tenant's onmicrosoft domain."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    domains = set(re.findall(r"[A-Za-z0-9._%+#-]+@([A-Za-z0-9.-]+\.[A-Za-z]+)", text))

    assert set() != domains
    assert set() == {domain for domain in domains if not domain.endswith(".example")} - {"contoso.onmicrosoft.com"}


# Params


def test_params_values(params):
    """params.yaml sets two break-glass ids, stale_days 90 and no allowed forwarding domains."""
    assert {"break_glass", "stale_days", "allowed_forwarding_domains"} == set(params)
    assert 2 == len(params["break_glass"])
    assert 90 == params["stale_days"]
    assert [] == params["allowed_forwarding_domains"]


def test_params_break_glass_users(m365, params):
    """The break-glass ids are enabled cloud-only Global Administrators in the snapshot."""
    users = {user["id"]: user for user in m365.data("m365.users")}
    roles = m365.data("m365.directoryRoles")
    global_admins = next(role for role in roles if role["roleTemplateId"] == GLOBAL_ADMINISTRATOR)
    admin_ids = {reference["id"] for reference in global_admins["members"]}

    for user_id in params["break_glass"]:
        assert user_id in users
        assert True is users[user_id]["accountEnabled"]
        assert None is users[user_id]["onPremisesSyncEnabled"]
        assert user_id in admin_ids


def test_params_file_has_comments():
    """params.yaml explains each param in a comment before the values."""
    text = (EXAMPLES / "params.yaml").read_text(encoding="utf-8")
    header = text.split("break_glass:\n", 1)[0]

    for name in ("break_glass", "stale_days", "allowed_forwarding_domains"):
        assert f"# {name}:" in header


# Microsoft 365 contents


def test_users_mix(m365):
    """Users include a few dozen members, some guests and some disabled accounts."""
    users = m365.data("m365.users")
    members = [user for user in users if user["userType"] == "Member"]
    guests = [user for user in users if user["userType"] == "Guest"]
    disabled = [user for user in users if user["accountEnabled"] is False]

    assert 30 <= len(members)
    assert 3 <= len(guests)
    assert 3 <= len(disabled)
    assert len(users) == len({user["id"] for user in users})


def test_sign_in_edge_cases(m365):
    """Sign-in activity has a null object, the 0001-01-01 placeholder, null timestamps and stale members."""
    users = m365.data("m365.users")
    activities = [user["signInActivity"] for user in users]
    last_sign_ins = [activity["lastSignInDateTime"] for activity in activities if activity is not None]
    stale_members = [
        user
        for user in users
        if user["accountEnabled"]
        and user["userType"] == "Member"
        and user["signInActivity"] is not None
        and user["signInActivity"]["lastSignInDateTime"] not in (None, NEVER)
        and _days_before_collection(user["signInActivity"]["lastSignInDateTime"]) > 90
    ]

    assert None in activities
    assert NEVER in last_sign_ins
    assert None in last_sign_ins
    assert 3 <= len(stale_members)


def test_nested_groups_three_deep(m365):
    """A group contains a group that contains a group."""
    groups = {group["id"]: group for group in m365.data("m365.groups")}

    def depth(group_id: str) -> int:
        children = [ref["id"] for ref in groups[group_id]["members"] if ref["@odata.type"] == "#microsoft.graph.group"]
        return 1 + max((depth(child) for child in children), default=0)

    assert 3 <= max(depth(group_id) for group_id in groups)


def test_global_administrators(m365, params):
    """Global Administrator has three direct members, both break-glass accounts among them."""
    roles = m365.data("m365.directoryRoles")
    global_admins = [role for role in roles if role["roleTemplateId"] == GLOBAL_ADMINISTRATOR]
    member_ids = [reference["id"] for reference in global_admins[0]["members"]]

    assert 1 == len(global_admins)
    assert 3 == len(member_ids)
    assert set(params["break_glass"]) <= set(member_ids)
    assert 2 <= len({role["roleTemplateId"] for role in roles} - {GLOBAL_ADMINISTRATOR})


def test_mfa_policy_undeclared_exclusion(m365, params):
    """The enabled MFA-for-all policy excludes both break-glass accounts and one undeclared user."""
    policy = _by_name(m365.data("m365.conditionalAccessPolicies"), "CA001: Require MFA for all users")
    excluded = policy["conditions"]["users"]["excludeUsers"]
    undeclared = set(excluded) - set(params["break_glass"])
    user_ids = {user["id"] for user in m365.data("m365.users")}

    assert "enabled" == policy["state"]
    assert ["All"] == policy["conditions"]["users"]["includeUsers"]
    assert ["mfa"] == policy["grantControls"]["builtInControls"]
    assert set(params["break_glass"]) <= set(excluded)
    assert 1 == len(undeclared)
    assert undeclared <= user_ids


def test_report_only_mfa_policy(m365):
    """One MFA policy is report-only."""
    policy = _by_name(m365.data("m365.conditionalAccessPolicies"), "CA002: Require MFA for guests")

    assert "enabledForReportingButNotEnforced" == policy["state"]
    assert ["mfa"] == policy["grantControls"]["builtInControls"]


def test_risk_narrowed_mfa_policy(m365):
    """One enabled MFA policy applies only to high and medium sign-in risk."""
    policy = _by_name(m365.data("m365.conditionalAccessPolicies"), "CA003: Require MFA for risky sign-ins")

    assert "enabled" == policy["state"]
    assert ["high", "medium"] == policy["conditions"]["signInRiskLevels"]


def test_legacy_auth_block_policy(m365):
    """The legacy authentication policy blocks Exchange ActiveSync and other clients."""
    policy = _by_name(m365.data("m365.conditionalAccessPolicies"), "CA004: Block legacy authentication")

    assert "enabled" == policy["state"]
    assert ["exchangeActiveSync", "other"] == policy["conditions"]["clientAppTypes"]
    assert ["block"] == policy["grantControls"]["builtInControls"]
    assert 1 == len(policy["conditions"]["users"]["excludeGroups"])


def test_admin_phishing_resistant_policy(m365):
    """The admin policy requires the phishing-resistant strength for Global Administrators."""
    policy = _by_name(m365.data("m365.conditionalAccessPolicies"), "CA005: Require phishing-resistant MFA for admins")
    strength = policy["grantControls"]["authenticationStrength"]

    assert [GLOBAL_ADMINISTRATOR] == policy["conditions"]["users"]["includeRoles"]
    assert "mfa" == strength["requirementsSatisfied"]
    assert {"fido2", "windowsHelloForBusiness", "x509CertificateMultiFactor"} == set(strength["allowedCombinations"])


def test_policies_keep_graph_nulls(m365):
    """Conditions not set are null, as Graph returns them, not absent."""
    for policy in m365.data("m365.conditionalAccessPolicies"):
        for condition in ("platforms", "locations", "devices"):
            assert condition in policy["conditions"]
            assert None is policy["conditions"][condition]
        assert "authenticationStrength" in policy["grantControls"]

    policies = m365.data("m365.conditionalAccessPolicies")
    strengths = [policy["grantControls"]["authenticationStrength"] for policy in policies]
    assert None in strengths


def test_security_defaults_off(m365):
    """Security defaults are disabled."""
    assert False is m365.data("m365.securityDefaults")["isEnabled"]


def test_authentication_method_states(m365):
    """SMS and email are enabled, voice is disabled, FIDO2 and Authenticator are enabled."""
    configurations = m365.data("m365.authenticationMethodsPolicy")["authenticationMethodConfigurations"]
    states = {configuration["id"]: configuration["state"] for configuration in configurations}

    assert "enabled" == states["Sms"]
    assert "disabled" == states["Voice"]
    assert "enabled" == states["Email"]
    assert "enabled" == states["Fido2"]
    assert "enabled" == states["MicrosoftAuthenticator"]


def test_registration_details_every_user(m365):
    """Every user has registration details, with unregistered, SMS-only and phishing-resistant users."""
    users = m365.data("m365.users")
    details = m365.data("m365.userRegistrationDetails")
    methods = [detail["methodsRegistered"] for detail in details]

    assert [user["id"] for user in users] == [detail["id"] for detail in details]
    assert any(detail["isMfaRegistered"] is False for detail in details)
    assert ["mobilePhone"] in methods
    assert any("fido2" in registered for registered in methods)
    assert any("windowsHelloForBusiness" in registered for registered in methods)
    assert {"member", "guest"} == {detail["userType"] for detail in details}


def _forward_addresses(rule: dict, action: str) -> list[str]:
    return [recipient["emailAddress"]["address"] for recipient in rule["actions"].get(action, [])]


def test_inbox_rules_forwarding(m365):
    """Inbox rules forward externally by each action, internally once, and one external forward is disabled."""
    rules = m365.data("m365.inboxRules")
    users = {user["id"]: user for user in m365.data("m365.users")}
    external_enabled = {
        action
        for rule in rules
        if rule["isEnabled"]
        for action in ("forwardTo", "redirectTo", "forwardAsAttachmentTo")
        if any(not address.endswith("@contoso.example") for address in _forward_addresses(rule, action))
    }
    internal = [
        rule
        for rule in rules
        if _forward_addresses(rule, "forwardTo")
        and all(address.endswith("@contoso.example") for address in _forward_addresses(rule, "forwardTo"))
    ]
    disabled_external = [rule for rule in rules if not rule["isEnabled"] and _forward_addresses(rule, "forwardTo")]

    assert {"forwardTo", "redirectTo", "forwardAsAttachmentTo"} == external_enabled
    assert 1 == len(internal)
    assert 1 == len(disabled_external)
    for rule in rules:
        assert users[rule["userId"]]["userPrincipalName"] == rule["userPrincipalName"]


def test_exchange_settings(m365):
    """Accepted domains, the Default remote domain allowing forwarding, and unified audit logging."""
    accepted = {domain["domainName"]: domain for domain in m365.data("m365.acceptedDomains")}
    remote = m365.data("m365.remoteDomains")

    assert {"contoso.example", "contoso.onmicrosoft.com"} == set(accepted)
    assert True is accepted["contoso.example"]["default"]
    remote_settings = [(domain["name"], domain["domainName"], domain["autoForwardEnabled"]) for domain in remote]
    assert [("Default", "*", True)] == remote_settings
    assert True is m365.data("m365.auditConfig")["unifiedAuditLogIngestionEnabled"]


# Google Workspace contents


def _gws_policies(gws, setting: str) -> list[dict]:
    return [policy for policy in gws.data("gws.policies") if policy["setting"]["type"] == f"settings/{setting}"]


def test_gws_org_unit_tree(gws):
    """The org unit tree has the root, Sales, Sales/East, Engineering and 2SV Exempt."""
    units = {unit["orgUnitPath"]: unit for unit in gws.data("gws.orgUnits")}

    assert {"/", "/Sales", "/Sales/East", "/Engineering", "/2SV Exempt"} == set(units)
    assert "parentOrgUnitPath" not in units["/"]
    assert "/Sales" == units["/Sales/East"]["parentOrgUnitPath"]


def test_gws_2sv_enforcement(gws):
    """2SV is enforced at the root in the past, /2SV Exempt and one group override it with future dates."""
    enforcement = _gws_policies(gws, "security.two_step_verification_enforcement")
    by_target = {}
    for policy in enforcement:
        target = (policy["policyQuery"]["orgUnitPath"], policy["policyQuery"]["groupEmail"])
        by_target[target] = policy["setting"]["value"]["enforcedFrom"]
    group_targets = [target for target in by_target if target[1] is not None]

    assert 0 < _days_before_collection(by_target[("/", None)])
    assert 0 > _days_before_collection(by_target[("/2SV Exempt", None)])
    assert 1 == len(group_targets)
    assert 0 > _days_before_collection(by_target[group_targets[0]])


def test_gws_settings(gws):
    """Telephony is allowed in /Sales, trusted devices at the root and auto-forwarding in /Sales."""
    factors = {
        policy["policyQuery"]["orgUnitPath"]: policy["setting"]["value"]["allowedSignInFactorSet"]
        for policy in _gws_policies(gws, "security.two_step_verification_enforcement_factor")
    }
    device_trust = [
        (policy["policyQuery"]["orgUnitPath"], policy["setting"]["value"]["allowTrustingDevice"])
        for policy in _gws_policies(gws, "security.two_step_verification_device_trust")
    ]
    forwarding = {
        policy["policyQuery"]["orgUnitPath"]: policy["setting"]["value"]["enableAutoForwarding"]
        for policy in _gws_policies(gws, "gmail.auto_forwarding")
    }

    assert "ALL" == factors["/Sales"]
    assert "NO_TELEPHONY" == factors["/"]
    assert [("/", True)] == device_trust
    assert True is forwarding["/Sales"]
    assert False is forwarding["/"]


def test_gws_users_and_admins(gws):
    """About twenty users with 2SV flags, and one super admin who is a user."""
    users = {user["primaryEmail"]: user for user in gws.data("gws.users")}
    super_admins = gws.data("gws.superAdmins")

    assert 18 <= len(users) <= 24
    assert 1 == len(super_admins)
    assert True is users[super_admins[0]["primaryEmail"]]["isAdmin"]
    assert any(user["isEnforcedIn2Sv"] and not user["isEnrolledIn2Sv"] for user in users.values())
    assert any(not user["isEnforcedIn2Sv"] for user in users.values())


def test_gws_auto_forwarding(gws):
    """Every user has an auto-forwarding entry and two forward outside the domain."""
    users = [user["primaryEmail"] for user in gws.data("gws.users")]
    forwarding = gws.data("gws.autoForwarding")
    external = [
        entry for entry in forwarding if entry["enabled"] and not entry["emailAddress"].endswith("@fabrikam.example")
    ]

    assert users == [entry["userEmail"] for entry in forwarding]
    assert 2 == len(external)


def test_gws_tokens_belong_to_users(gws):
    """Every token names an existing user by email and id."""
    users = {user["primaryEmail"]: user["id"] for user in gws.data("gws.users")}
    tokens = gws.data("gws.tokens")

    assert 0 < len(tokens)
    for token in tokens:
        assert users[token["userEmail"]] == token["userKey"]
