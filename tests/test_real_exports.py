"""End-to-end tests on real ScubaGear and ScubaGoggles exports: import, then plan.

The exports live outside the repository, in the shared data folder next to it
(DATA below). Every test here skips when an export is absent.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.snapshot import SECTIONS, load_snapshot

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SCUBAGEAR_EXPORT = DATA / "scubagear" / "ProviderSettingsExport.json"
SCUBAGOGGLES_EXPORT = DATA / "scubagoggles" / "provider-export.json.gz"

PLAN_SCHEMA = json.loads((REPO / "schema" / "plan.schema.json").read_text(encoding="utf-8"))

MFA_STRENGTH_POLICY = (
    "MS.AAD.3.2v1 If phishing-resistant MFA has not been enforced, an alternative MFA method SHALL be enforced for all users"
)
LEGACY_BLOCK_POLICY = "MS.AAD.1.1v1 Legacy authentication SHALL be blocked"
ADMIN_GROUP_SCOPE = "group:WORKSPACE_ALL_ADMIN_GROUP"


def _require(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"real export {path} not found: these tests need the shared data folder next to the repository")


def _import_and_plan(safeguard, tool: str, export: Path, folder: Path, *plan_args: str) -> tuple[Path, dict]:
    _require(export)
    snapshot = folder / f"{tool}.json"
    code, _, err = safeguard("import", tool, export, "-o", snapshot)
    assert 0 == code, err
    code, out, err = safeguard("plan", "--snapshot", snapshot, "--policies", REPO / "policies", "--format", "json", *plan_args)
    assert code in (0, 2), err

    return snapshot, json.loads(out)


@pytest.fixture(scope="module")
def scubagear(tmp_path_factory, safeguard):
    """The ScubaGear export imported and planned at its own collection time."""
    return _import_and_plan(safeguard, "scubagear", SCUBAGEAR_EXPORT, tmp_path_factory.mktemp("scubagear"))


@pytest.fixture(scope="module")
def scubagoggles(tmp_path_factory, safeguard):
    """The ScubaGoggles export imported and planned at its own collection time."""
    return _import_and_plan(safeguard, "scubagoggles", SCUBAGOGGLES_EXPORT, tmp_path_factory.mktemp("scubagoggles"))


def _results(plan: dict) -> dict[str, dict]:
    return {result["policy"]: result for result in plan["results"]}


def _missing_sections(snapshot_path: Path) -> set[str]:
    snapshot = load_snapshot(snapshot_path)

    return {name for name, status in snapshot.sections.items() if status.status != "ok"}


def _provider_results(plan: dict, provider: str) -> list[dict]:
    return [result for result in plan["results"] if result["policy"].startswith(f"{provider}.")]


# Verdicts that hold for both exports.

_BOTH = [("scubagear", "m365", "gws"), ("scubagoggles", "gws", "m365")]


@pytest.mark.parametrize(("fixture", "provider", "other"), _BOTH, ids=["scubagear", "scubagoggles"])
def test_own_policies_decided(request, fixture, provider, other):
    """Every policy of the export's provider gets a verdict other than not_applicable."""
    _, plan = request.getfixturevalue(fixture)
    statuses = {result["policy"]: result["status"] for result in _provider_results(plan, provider)}

    assert statuses
    assert {"pass", "fail", "error"} >= set(statuses.values()), statuses


@pytest.mark.parametrize(("fixture", "provider", "other"), _BOTH, ids=["scubagear", "scubagoggles"])
def test_other_provider_not_applicable(request, fixture, provider, other):
    """Every policy of the other provider is not_applicable."""
    _, plan = request.getfixturevalue(fixture)

    assert {"not_applicable"} == {result["status"] for result in _provider_results(plan, other)}


@pytest.mark.parametrize(("fixture", "provider", "other"), _BOTH, ids=["scubagear", "scubagoggles"])
def test_errors_name_missing_section(request, fixture, provider, other):
    """Every error result names a section the export lacks."""
    snapshot_path, plan = request.getfixturevalue(fixture)
    missing = _missing_sections(snapshot_path)

    for result in _provider_results(plan, provider):
        if result["status"] == "error":
            assert any(section in result["error"] for section in missing), result


_SECTION_CASES = [
    pytest.param("scubagear", "m365", id="scubagear"),
    pytest.param("scubagoggles", "gws", id="scubagoggles"),
]


@pytest.mark.parametrize(("fixture", "provider"), _SECTION_CASES)
def test_error_sections_listed(request, fixture, provider):
    """The section an error result names is among the sections its result lists."""
    snapshot_path, plan = request.getfixturevalue(fixture)
    missing = _missing_sections(snapshot_path)

    for result in _provider_results(plan, provider):
        if result["status"] == "error":
            named = {section for section in missing if section in result["error"]}
            assert named <= set(result["sections"]), result


@pytest.mark.parametrize(("fixture", "provider"), _SECTION_CASES)
def test_complete_policies_not_error(request, fixture, provider):
    """A policy whose listed sections were all collected is never in error."""
    snapshot_path, plan = request.getfixturevalue(fixture)
    missing = _missing_sections(snapshot_path)

    for result in _provider_results(plan, provider):
        if not set(result["sections"]) & missing:
            assert "error" != result["status"], result


def test_scubagear_admins_unknown_members(scubagear):
    """Role members of unknown type need the groups section, so the admin count is an error naming it."""
    result = _results(scubagear[1])["m365.admins.count"]

    assert "error" == result["status"]
    assert "m365.groups" in result["error"]


@pytest.mark.parametrize(("fixture", "provider", "other"), _BOTH, ids=["scubagear", "scubagoggles"])
def test_plan_valid(request, fixture, provider, other):
    """The plan of each real export validates against the plan schema."""
    _, plan = request.getfixturevalue(fixture)
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in Draft202012Validator(PLAN_SCHEMA).iter_errors(plan)]

    assert [] == errors


@pytest.mark.parametrize(("fixture", "provider", "other"), _BOTH, ids=["scubagear", "scubagoggles"])
def test_snapshot_lists_sections(request, fixture, provider, other):
    """The imported snapshot lists every section of its provider."""
    snapshot_path, _ = request.getfixturevalue(fixture)

    assert set(SECTIONS[provider]) == set(load_snapshot(snapshot_path).sections)


# ScubaGear (Microsoft 365)


def test_scubagear_mfa_strength(scubagear):
    """The enabled MFA authentication-strength policy passes all-users without security defaults."""
    snapshot_path, plan = scubagear
    snapshot = load_snapshot(snapshot_path)
    policy = next(p for p in snapshot.data("m365.conditionalAccessPolicies") if p["displayName"] == MFA_STRENGTH_POLICY)

    assert "not_collected" == snapshot.status("m365.securityDefaults").status
    assert "enabled" == policy["state"]
    assert "mfa" == policy["grantControls"]["authenticationStrength"]["requirementsSatisfied"]
    assert "pass" == _results(plan)["m365.mfa.all-users"]["status"]


def test_scubagear_legacy_block(scubagear):
    """The export's enabled policy blocking legacy clients passes legacy-blocked."""
    snapshot_path, plan = scubagear
    policies = load_snapshot(snapshot_path).data("m365.conditionalAccessPolicies")
    policy = next(p for p in policies if p["displayName"] == LEGACY_BLOCK_POLICY)

    assert ["exchangeActiveSync", "other"] == sorted(policy["conditions"]["clientAppTypes"])
    assert ["block"] == policy["grantControls"]["builtInControls"]
    assert "pass" == _results(plan)["m365.auth.legacy-blocked"]["status"]


def test_scubagear_no_phishing_resistant(scubagear):
    """No policy requires a phishing-resistant strength, so both phishing-resistant policies fail."""
    results = _results(scubagear[1])

    assert "fail" == results["m365.mfa.phishing-resistant-all-users"]["status"]
    assert "fail" == results["m365.mfa.phishing-resistant-admins"]["status"]


def test_scubagear_user_coverage_error(scubagear):
    """Without a user list, user-coverage is an error naming m365.users, never a pass."""
    result = _results(scubagear[1])["m365.mfa.user-coverage"]

    assert "error" == result["status"]
    assert "m365.users" in result["error"]


def test_scubagear_inbox_rules_error(scubagear):
    """Without inbox rules, the forwarding policy is an error naming m365.inboxRules."""
    result = _results(scubagear[1])["m365.mail.inbox-rules-no-external-forward"]

    assert "error" == result["status"]
    assert "m365.inboxRules" in result["error"]


def test_scubagear_tenant(scubagear):
    """The plan names the exported tenant."""
    tenant = scubagear[1]["snapshot"]["tenant"]

    assert "3c19c757-3b55-411f-b03f-2bcc514a598d" == tenant["id"]
    assert "m365" == tenant["provider"]


def test_scubagear_no_actions(scubagear):
    """No remediation targets a user, since the export has no user list."""
    targets = {action["target"]["type"] for action in scubagear[1]["actions"]}

    assert "user" not in targets


# ScubaGoggles (Google Workspace)


def _enforcement_dates(snapshot_path: Path) -> dict[str, str]:
    """Map each scope that sets 2SV enforcement to its enforcedFrom."""
    dates = {}
    for policy in load_snapshot(snapshot_path).data("gws.policies"):
        if policy["setting"]["type"] != "settings/security.two_step_verification_enforcement":
            continue
        query = policy["policyQuery"]
        scope = f"group:{query['groupEmail']}" if query["groupEmail"] else query["orgUnitPath"]
        dates[scope] = policy["setting"]["value"]["enforcedFrom"]

    return dates


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_scubagoggles_enforcement_scopes(scubagoggles):
    """The export sets 2SV enforcement at the root, on /2SV Exempt and for the admin group."""
    assert ["/", "/2SV Exempt", ADMIN_GROUP_SCOPE] == sorted(_enforcement_dates(scubagoggles[0]))


def test_scubagoggles_enforced_at_collection(scubagoggles):
    """Every enforcement date precedes the collection time, so 2SV enforcement passes."""
    snapshot_path, plan = scubagoggles
    collected_at = load_snapshot(snapshot_path).collected_at

    assert all(_parse(date) <= collected_at for date in _enforcement_dates(snapshot_path).values())
    assert "pass" == _results(plan)["gws.2sv.enforced"]["status"]


def _reported_at(safeguard, tmp_path: Path, now: str) -> list[str]:
    _, plan = _import_and_plan(safeguard, "scubagoggles", SCUBAGOGGLES_EXPORT, tmp_path, "--now", now)
    result = _results(plan)["gws.2sv.enforced"]
    assert "fail" == result["status"]

    return sorted(violation["resource"]["id"] for violation in result["violations"])


def test_scubagoggles_clock_between_dates(tmp_path, scubagoggles, safeguard):
    """Between the admin group's date and the org units' date, only the org units are reported."""
    dates = _enforcement_dates(scubagoggles[0])
    assert _parse(dates[ADMIN_GROUP_SCOPE]) < _parse("2026-09-01T00:00:00Z") < _parse(dates["/"])

    assert ["/", "/2SV Exempt"] == _reported_at(safeguard, tmp_path, "2026-09-01T00:00:00Z")


def test_scubagoggles_clock_before_dates(tmp_path, scubagoggles, safeguard):
    """Before every enforcement date, the root, the exempt org unit and the admin group are reported."""
    assert ["/", "/2SV Exempt", ADMIN_GROUP_SCOPE] == _reported_at(safeguard, tmp_path, "2026-08-01T00:00:00Z")


def test_scubagoggles_single_super_admin(scubagoggles):
    """The export has one super admin (listed many times), below the minimum of two."""
    snapshot_path, plan = scubagoggles
    admins = {admin["primaryEmail"] for admin in load_snapshot(snapshot_path).data("gws.superAdmins")}
    result = _results(plan)["gws.admins.count"]

    assert {"tracycarpenter@example.net"} == admins
    assert "fail" == result["status"]
    assert ["tracycarpenter@example.net"] == result["violations"][0]["evidence"]["superAdmins"]


def test_scubagoggles_factor_no_telephony(scubagoggles):
    """NO_TELEPHONY everywhere passes no-telephony but is not phishing resistant."""
    results = _results(scubagoggles[1])

    assert "pass" == results["gws.2sv.no-telephony"]["status"]
    assert "fail" == results["gws.2sv.phishing-resistant"]["status"]


def test_scubagoggles_trusted_devices(scubagoggles):
    """Both scopes that allow trusting a device are reported."""
    result = _results(scubagoggles[1])["gws.2sv.no-trusted-devices"]

    assert ["/", "/2SV Exempt"] == sorted(violation["resource"]["id"] for violation in result["violations"])


def test_scubagoggles_forwarding_error(scubagoggles):
    """Without per-user forwarding data, the user-forwarding policy is an error naming it."""
    result = _results(scubagoggles[1])["gws.gmail.user-forwarding-external"]

    assert "error" == result["status"]
    assert "gws.autoForwarding" in result["error"]
