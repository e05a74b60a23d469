"""Tests for the ScubaGoggles importer."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine.errors import ImportFormatError
from engine.importers import IMPORTERS, scubagoggles
from engine.importers.scubagoggles import setting_type
from engine.snapshot import SECTIONS, load_snapshot, serialize_snapshot, validate_document, write_snapshot

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "exports" / "scubagoggles-small.json"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_EXPORT = SHARED_DATA / "scubagoggles" / "provider-export.json.gz"


def fixture_export() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def write_export(path: Path, export: dict) -> Path:
    path.write_text(json.dumps(export), encoding="utf-8")
    return path


def policies_of(document: dict, setting: str) -> list[dict]:
    return [policy for policy in document["gws"]["policies"] if policy["setting"]["type"] == setting]


def org_unit(document: dict, path: str) -> dict:
    return next(unit for unit in document["gws"]["orgUnits"] if unit["orgUnitPath"] == path)


@pytest.fixture(scope="module")
def converted() -> dict:
    return scubagoggles.convert(FIXTURE)


@pytest.fixture(scope="module")
def real() -> dict:
    if not REAL_EXPORT.is_file():
        pytest.skip(f"real ScubaGoggles export not found at {REAL_EXPORT}")
    return scubagoggles.convert(REAL_EXPORT)


# ---------------------------------------------------------------- setting types

SETTING_CASES = [
    ("security_two_step_verification_enforcement", "settings/security.two_step_verification_enforcement"),
    ("gmail_auto_forwarding", "settings/gmail.auto_forwarding"),
    ("drive_and_docs_external_sharing", "settings/drive_and_docs.external_sharing"),
    ("drive_and_docs_service_status", "settings/drive_and_docs.service_status"),
    ("chrome_remote_desktop_service_status", "settings/chrome_remote_desktop.service_status"),
    ("play_console_user_takeout", "settings/play_console.user_takeout"),
    ("api_controls_unconfigured_third_party_apps", "settings/api_controls.unconfigured_third_party_apps"),
    ("groups_for_business_groups_sharing", "settings/groups_for_business.groups_sharing"),
    ("workspace_marketplace_apps_access_options", "settings/workspace_marketplace.apps_access_options"),
    ("multi_party_approval_security_actions_api_access", "settings/multi_party_approval.security_actions_api_access"),
    ("data_regions_data_at_rest_region", "settings/data_regions.data_at_rest_region"),
    ("cloud_sharing_options_cloud_data_sharing", "settings/cloud_sharing_options.cloud_data_sharing"),
    ("access_management_user_scoping", "settings/access_management.user_scoping"),
    ("chat_chat_history", "settings/chat.chat_history"),
    ("rule_dlp", "settings/rule.dlp"),
]


@pytest.mark.parametrize(("section", "expected"), SETTING_CASES)
def test_setting_type(section, expected):
    """ScubaGoggles section names map back to Google setting types."""
    assert expected == setting_type(section)


def test_setting_type_without_category():
    """A section name without an underscore has no category to restore."""
    with pytest.raises(ValueError) as caught:
        setting_type("orphan")

    assert "setting section 'orphan' has no category prefix" == str(caught.value)


# ---------------------------------------------------------------- fixture export


def test_registered_importer():
    """IMPORTERS maps the CLI tool name to this module's convert."""
    assert scubagoggles.convert is IMPORTERS["scubagoggles"]


def test_envelope(converted):
    """Tenant, collection time and collector come from the export."""
    assert {"id": "C0123abcd", "provider": "gws", "domain": "example.org"} == converted["tenant"]
    assert "2026-10-15T15:50:13Z" == converted["collectedAt"]
    assert {
        "name": "ScubaGoggles",
        "version": None,
        "importedBy": "safeguard import scubagoggles",
        "reportUuid": "06cfbd7d-0000-4000-8000-88191c5a8c78",
    } == converted["collector"]


def test_section_statuses(converted):
    """Org units, super admins and policies are ok; what ScubaGoggles lacks is not_collected."""
    statuses = {name: entry["status"] for name, entry in converted["sections"].items()}

    assert list(SECTIONS["gws"]) == list(statuses)
    assert {
        "gws.users": "not_collected",
        "gws.superAdmins": "ok",
        "gws.orgUnits": "ok",
        "gws.policies": "ok",
        "gws.autoForwarding": "not_collected",
        "gws.forwardingFilters": "not_collected",
        "gws.tokens": "not_collected",
    } == statuses
    assert "ScubaGoggles exports no OAuth tokens" == converted["sections"]["gws.tokens"]["message"]


def test_output_validates(converted):
    """The converted document is a valid snapshot."""
    validate_document(converted, "converted.json")

    assert ["superAdmins", "orgUnits", "policies"] == list(converted["gws"])


def test_top_level_key_is_root(converted):
    """The key named after the top-level org unit applies to /, with the root id learnt from its children."""
    (policy,) = policies_of(converted, "settings/security.two_step_verification_enforcement")

    assert {
        "orgUnit": "orgUnits/03ph8a2z0",
        "orgUnitPath": "/",
        "group": None,
        "groupEmail": None,
        "sortOrder": None,
    } == policy["policyQuery"]
    assert {"enforcedFrom": "2026-01-01T00:00:00Z"} == policy["setting"]["value"]


def test_first_level_key(converted):
    """A plain org unit name resolves to /Name with the Cloud Identity org unit name."""
    policies = policies_of(converted, "settings/gmail.auto_forwarding")

    assert ["/", "/Sales"] == [policy["policyQuery"]["orgUnitPath"] for policy in policies]
    assert "orgUnits/03ph8a2z1" == policies[1]["policyQuery"]["orgUnit"]


def test_nested_key(converted):
    """"East (in Sales)" resolves to /Sales/East."""
    (policy,) = policies_of(converted, "settings/youtube.service_status")

    assert "/Sales/East" == policy["policyQuery"]["orgUnitPath"]
    assert "orgUnits/03ph8a2z2" == policy["policyQuery"]["orgUnit"]


def test_listed_name_with_parenthesis(converted):
    """A first-level org unit whose own name contains " (in " resolves to the listed unit."""
    (policy,) = policies_of(converted, "settings/gmail.imap_access")

    assert "/Sales (in Europe)" == policy["policyQuery"]["orgUnitPath"]
    assert "orgUnits/03ph8a2z3" == policy["policyQuery"]["orgUnit"]


def test_group_keys(converted):
    """"Unit (group email)" keys set groupEmail inside the resolved org unit."""
    (root_group,) = policies_of(converted, "settings/security.two_step_verification_enforcement_factor")
    (nested_group,) = policies_of(converted, "settings/gmail.pop_access")

    assert ("/", "admins@example.org") == (
        root_group["policyQuery"]["orgUnitPath"],
        root_group["policyQuery"]["groupEmail"],
    )
    assert ("/Sales/East", "east-leads@example.org") == (
        nested_group["policyQuery"]["orgUnitPath"],
        nested_group["policyQuery"]["groupEmail"],
    )


def test_unlisted_units_added(converted):
    """A unit named only by a policy key is added with its parents and a null id."""
    (policy,) = policies_of(converted, "settings/security.less_secure_apps")

    assert "/Support/Tier 2/Night Shift" == policy["policyQuery"]["orgUnitPath"]
    assert policy["policyQuery"]["orgUnit"] is None
    assert {
        "orgUnitPath": "/Support/Tier 2",
        "orgUnitId": None,
        "name": "Tier 2",
        "parentOrgUnitPath": "/Support",
    } == org_unit(converted, "/Support/Tier 2")
    assert "/" == org_unit(converted, "/Support")["parentOrgUnitPath"]


def test_root_added(converted):
    """The root org unit is added under the organisation's name when the export omits it."""
    assert {"orgUnitPath": "/", "orgUnitId": "id:03ph8a2z0", "name": "Example Org"} == org_unit(converted, "/")


def test_every_policy_unit_listed(converted):
    """Every policy's org unit path is in gws.orgUnits, and paths are unique."""
    paths = [unit["orgUnitPath"] for unit in converted["gws"]["orgUnits"]]

    assert len(paths) == len(set(paths))
    assert set() == {policy["policyQuery"]["orgUnitPath"] for policy in converted["gws"]["policies"]} - set(paths)


def test_list_section_split(converted):
    """Each rule of a list-valued section becomes its own policy; dlp_pii is left out."""
    rules = policies_of(converted, "settings/rule.dlp")

    assert ["Block SSNs", "Block cards"] == [rule["setting"]["value"]["displayName"] for rule in rules]
    assert [] == [policy for policy in converted["gws"]["policies"] if "dlp_pii" in policy["setting"]["type"]]


def test_super_admins(converted):
    """Super admins are deduplicated and their paths get the leading slash back."""
    assert [
        {"primaryEmail": "ada@example.org", "orgUnitPath": "/"},
        {"primaryEmail": "Grace@example.org", "orgUnitPath": "/Sales/East"},
    ] == converted["gws"]["superAdmins"]


def test_deterministic_output():
    """Converting the same export twice gives byte-identical snapshots."""
    assert serialize_snapshot(scubagoggles.convert(FIXTURE)) == serialize_snapshot(scubagoggles.convert(FIXTURE))


def test_gzip_detected_by_magic(tmp_path):
    """A gzip export is detected by its magic bytes even without a .gz extension."""
    path = tmp_path / "provider-export.json"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes()))

    assert scubagoggles.convert(FIXTURE) == scubagoggles.convert(path)


# ---------------------------------------------------------------- collection time


def test_collected_at_string():
    """An RFC 3339 --collected-at value overrides the output folder time."""
    document = scubagoggles.convert(FIXTURE, collected_at="2026-11-02T10:11:12+01:00")

    assert "2026-11-02T09:11:12Z" == document["collectedAt"]


def test_collected_at_naive_datetime():
    """A naive datetime, as click.DateTime gives, is read as UTC."""
    document = scubagoggles.convert(FIXTURE, collected_at=datetime(2026, 11, 2, 10, 11, 12))

    assert "2026-11-02T10:11:12Z" == document["collectedAt"]


def test_collected_at_aware_datetime():
    """An aware datetime is converted to UTC."""
    moment = datetime(2026, 11, 2, 10, 11, 12, 500000, tzinfo=timezone.utc)

    assert "2026-11-02T10:11:12.500Z" == scubagoggles.convert(FIXTURE, collected_at=moment)["collectedAt"]


def test_collected_at_invalid_string():
    """A --collected-at value that is not RFC 3339 raises ImportFormatError."""
    with pytest.raises(ImportFormatError) as caught:
        scubagoggles.convert(FIXTURE, collected_at="last Tuesday")

    assert str(caught.value).startswith("--collected-at: expected an RFC 3339 timestamp")


def test_collected_at_unknown(tmp_path):
    """Without a timestamped output path the error requests --collected-at."""
    export = fixture_export()
    export["scuba_config"]["outputpath"] = "C:\\output\\GWSBaselineConformance"
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagoggles.convert(path)

    assert "pass --collected-at" in str(caught.value)
    assert str(caught.value).startswith(f"{path}: cannot tell when the export was collected")


# ---------------------------------------------------------------- odd exports


def test_unsuccessful_org_unit_call(tmp_path):
    """A failed org unit listing makes gws.orgUnits an error naming the call."""
    export = fixture_export()
    export["unsuccessful_calls"] = ["directory/v1/orgunits/list"]

    document = scubagoggles.convert(write_export(tmp_path / "e.json", export))

    assert {
        "status": "error",
        "message": "ScubaGoggles lists directory/v1/orgunits/list in unsuccessful_calls",
    } == document["sections"]["gws.orgUnits"]
    assert "orgUnits" not in document["gws"]


def test_unsuccessful_user_call(tmp_path):
    """A failed user listing makes gws.superAdmins an error."""
    export = fixture_export()
    export["unsuccessful_calls"] = ["directory/v1/users/list"]

    document = scubagoggles.convert(write_export(tmp_path / "e.json", export))

    assert "error" == document["sections"]["gws.superAdmins"]["status"]


def test_no_super_admins_key(tmp_path):
    """An export without super_admins (commoncontrols not run) has superAdmins not_collected."""
    export = fixture_export()
    del export["super_admins"]

    document = scubagoggles.convert(write_export(tmp_path / "e.json", export))

    assert "not_collected" == document["sections"]["gws.superAdmins"]["status"]
    assert "commoncontrols" in document["sections"]["gws.superAdmins"]["message"]


@pytest.mark.parametrize(
    ("remove", "expected_path"),
    [
        (("tenant_info",), "$.tenant_info"),
        (("policies",), "$.policies"),
        (("organizational_units",), "$.organizational_units"),
        (("tenant_info", "topLevelOU"), "$.tenant_info.topLevelOU"),
    ],
)
def test_missing_key(tmp_path, remove, expected_path):
    """A missing required key raises ImportFormatError naming the file and the key."""
    export = fixture_export()
    parent = export
    for key in remove[:-1]:
        parent = parent[key]
    del parent[remove[-1]]
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagoggles.convert(path)

    assert f"{path}: {expected_path}: missing; is this a ScubaGoggles export?" == str(caught.value)


def test_empty_tenant_id(tmp_path):
    """An empty customer id is rejected with advice to rerun ScubaGoggles."""
    export = fixture_export()
    export["tenant_info"]["ID"] = ""
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagoggles.convert(path)

    assert str(caught.value).startswith(f"{path}: $.tenant_info.ID: empty")


def test_odd_setting_value(tmp_path):
    """A setting value that is not an object is reported with its JSON path."""
    export = fixture_export()
    export["policies"]["Sales"]["gmail_pop_access"] = True
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagoggles.convert(path)

    expected = (
        f"{path}: $.policies.Sales.gmail_pop_access: expected object, got boolean; is this a ScubaGoggles export?"
    )

    assert expected == str(caught.value)


def test_org_unit_without_path(tmp_path):
    """A listed org unit without orgUnitPath is reported with its index."""
    export = fixture_export()
    del export["organizational_units"]["organizationUnits"][1]["orgUnitPath"]
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagoggles.convert(path)

    assert f"{path}: $.organizational_units.organizationUnits[1].orgUnitPath: missing" in str(caught.value)


def test_empty_org_unit_listing(tmp_path):
    """An export whose listing is empty still has the root and the units its keys name."""
    export = fixture_export()
    export["organizational_units"] = {}

    document = scubagoggles.convert(write_export(tmp_path / "e.json", export))
    paths = sorted(unit["orgUnitPath"] for unit in document["gws"]["orgUnits"])

    assert "/" == paths[0]
    assert "/Sales/East" in paths
    assert org_unit(document, "/")["orgUnitId"] is None


# ---------------------------------------------------------------- real export


def test_real_sections(real):
    """The real ScubaGoggles export gives org units, super admins and policies."""
    statuses = {name: entry["status"] for name, entry in real["sections"].items()}
    ok = [name for name, status in statuses.items() if status == "ok"]

    assert ["gws.superAdmins", "gws.orgUnits", "gws.policies"] == ok
    assert {"id": "ABCDEFG", "provider": "gws", "domain": "example.org"} == real["tenant"]
    assert "2026-10-15T15:50:13Z" == real["collectedAt"]


def test_real_nested_key(real):
    """A doubly nested key resolves to its full path, with the missing parents added."""
    key_path = "/Jacqueline Fuentes's OU/Sandra Miller's OU/Ashley Jones's OU"
    paths = {policy["policyQuery"]["orgUnitPath"] for policy in real["gws"]["policies"]}
    units = {unit["orgUnitPath"] for unit in real["gws"]["orgUnits"]}

    assert key_path in paths
    assert {key_path, "/Jacqueline Fuentes's OU/Sandra Miller's OU", "/Jacqueline Fuentes's OU"} <= units
    assert paths <= units


def test_real_group_keys(real):
    """Group keys keep the group label, email or Google's own group id."""
    groups = {
        (policy["policyQuery"]["orgUnitPath"], policy["policyQuery"]["groupEmail"])
        for policy in real["gws"]["policies"]
        if policy["policyQuery"]["groupEmail"] is not None
    }

    assert {("/", "tracy83@example.org"), ("/", "WORKSPACE_ALL_ADMIN_GROUP")} == groups


def test_real_two_step_verification(real):
    """The top-level 2-Step Verification enforcement comes through with its timestamp."""
    policies = [
        policy
        for policy in policies_of(real, "settings/security.two_step_verification_enforcement")
        if policy["policyQuery"]["orgUnitPath"] == "/" and policy["policyQuery"]["groupEmail"] is None
    ]

    assert 1 == len(policies)
    assert "enforcedFrom" in policies[0]["setting"]["value"]


def test_real_super_admins(real):
    """31 duplicate super admin rows collapse to one admin at the root."""
    assert [{"primaryEmail": "tracycarpenter@example.net", "orgUnitPath": "/"}] == real["gws"]["superAdmins"]


def test_real_deterministic_roundtrip(real, tmp_path):
    """The real export converts byte-identically twice and loads back after writing."""
    path = tmp_path / "snapshot.json"

    write_snapshot(real, path)

    assert serialize_snapshot(scubagoggles.convert(REAL_EXPORT)) == path.read_bytes()
    assert "gws" == load_snapshot(path).provider
