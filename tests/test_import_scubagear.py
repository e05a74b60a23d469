"""Tests for the ScubaGear importer and the shared conversion helpers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from engine.errors import ImportFormatError, InputError
from engine.importers import IMPORTERS, scubagear
from engine.importers.common import camel_case, camelize, convert_dotnet_date
from engine.snapshot import SECTIONS, load_snapshot, serialize_snapshot, validate_document, write_snapshot

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "exports" / "scubagear-small.json"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_EXPORT = SHARED_DATA / "scubagear" / "ProviderSettingsExport.json"

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"


def fixture_export() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8-sig"))


def write_export(path: Path, export: dict) -> Path:
    path.write_text(json.dumps(export), encoding="utf-8")
    return path


def role(document: dict, template_id: str) -> dict:
    return next(entry for entry in document["m365"]["directoryRoles"] if entry["roleTemplateId"] == template_id)


@pytest.fixture(scope="module")
def converted() -> dict:
    return scubagear.convert(FIXTURE)


@pytest.fixture(scope="module")
def real() -> dict:
    if not REAL_EXPORT.is_file():
        pytest.skip(f"real ScubaGear export not found at {REAL_EXPORT}")
    return scubagear.convert(REAL_EXPORT)


# ---------------------------------------------------------------- helpers

CAMEL_CASES = [
    ("Id", "id"),
    ("BuiltInControls", "builtInControls"),
    ("IncludeGuestsOrExternalUsers", "includeGuestsOrExternalUsers"),
    ("NDREnabled", "ndrEnabled"),
    ("IPAllowList", "ipAllowList"),
    ("OAuth2ClientProfileEnabled", "oAuth2ClientProfileEnabled"),
    ("X509CertificateField", "x509CertificateField"),
    ("ID", "id"),
    ("@odata.type", "@odata.type"),
    ("roles", "roles"),
    ("already", "already"),
]


@pytest.mark.parametrize(("name", "expected"), CAMEL_CASES)
def test_camel_case(name, expected):
    """PascalCase names lose their leading capitals; acronyms stay one word."""
    assert expected == camel_case(name)


DATE_CASES = [
    ("/Date(1647536088205)/", "2022-03-17T16:54:48.205Z"),
    ("/Date(1613679244000)/", "2021-02-18T20:14:04Z"),
    ("/Date(0)/", "1970-01-01T00:00:00Z"),
    ("/Date(-1000)/", "1969-12-31T23:59:59Z"),
    ("/Date(1647536088205+0100)/", "2022-03-17T16:54:48.205Z"),
    ("Date(1647536088205)", None),
    ("2022-03-17T16:54:48Z", None),
]


@pytest.mark.parametrize(("value", "expected"), DATE_CASES)
def test_dotnet_date(value, expected):
    """/Date(ms)/ strings become RFC 3339 UTC; other strings are left alone."""
    assert expected == convert_dotnet_date(value, "x.json", [])


def test_dotnet_date_out_of_range():
    """A .NET date outside the datetime range names its JSON path."""
    with pytest.raises(ImportFormatError) as caught:
        convert_dotnet_date("/Date(999999999999999999)/", "x.json", ["a", 0])

    assert "x.json: $.a[0]: date /Date(999999999999999999)/ is out of range" == str(caught.value)


def test_camelize_drops_annotations():
    """camelize converts keys and dates recursively and drops @odata.context annotations."""
    value = {
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#x",
        "@odata.type": "#microsoft.graph.x",
        "Targets@odata.context": "https://graph.microsoft.com/beta/$metadata#y",
        "Targets": [{"Id": "all_users", "When": "/Date(0)/"}],
    }

    expected = {"@odata.type": "#microsoft.graph.x", "targets": [{"id": "all_users", "when": "1970-01-01T00:00:00Z"}]}

    assert expected == camelize(value, "x.json", [])


def test_camelize_key_collision():
    """Two keys that camelCase to the same name are reported, not silently merged."""
    with pytest.raises(ImportFormatError) as caught:
        camelize({"Policy": {"Id": 1, "id": 2}}, "x.json", [])

    assert "x.json: $.Policy: keys 'Id' and 'id' both become 'id'" == str(caught.value)


# ---------------------------------------------------------------- fixture export


def test_fixture_has_bom():
    """The hand-written fixture starts with a UTF-8 byte-order mark, as ScubaGear writes it."""
    assert FIXTURE.read_bytes().startswith(b"\xef\xbb\xbf")


def test_registered_importer():
    """IMPORTERS maps the CLI tool name to this module's convert."""
    assert scubagear.convert is IMPORTERS["scubagear"]


def test_envelope(converted):
    """Tenant, collection time and collector come from the export's own fields."""
    assert {
        "id": "00000000-0000-4000-8000-000000000009",
        "provider": "m365",
        "domain": "contoso.example",
        "displayName": "Contoso",
    } == converted["tenant"]
    assert "2026-05-04T17:15:48.307Z" == converted["collectedAt"]
    assert {
        "name": "ScubaGear",
        "version": "1.8.0",
        "importedBy": "safeguard import scubagear",
        "reportUuid": "11111111-2222-4333-8444-555555555555",
    } == converted["collector"]


def test_section_statuses(converted):
    """Exported sections are ok; sections ScubaGear never exports are not_collected."""
    statuses = {name: entry["status"] for name, entry in converted["sections"].items()}

    assert list(SECTIONS["m365"]) == list(statuses)
    assert {
        "m365.users": "not_collected",
        "m365.groups": "not_collected",
        "m365.directoryRoles": "ok",
        "m365.conditionalAccessPolicies": "ok",
        "m365.securityDefaults": "not_collected",
        "m365.authenticationMethodsPolicy": "ok",
        "m365.userRegistrationDetails": "not_collected",
        "m365.inboxRules": "not_collected",
        "m365.acceptedDomains": "ok",
        "m365.remoteDomains": "ok",
        "m365.auditConfig": "ok",
    } == statuses
    assert "ScubaGear exports no per-user list, only total_user_count" == converted["sections"]["m365.users"]["message"]


def test_output_validates(converted):
    """The converted document is a valid snapshot."""
    validate_document(converted, "converted.json")

    assert ["directoryRoles", "conditionalAccessPolicies", "authenticationMethodsPolicy"] == list(converted["m365"])[:3]


def test_conditional_access_camel_case(converted):
    """Conditional Access policies get camelCase keys, RFC 3339 dates and no annotations."""
    policy = converted["m365"]["conditionalAccessPolicies"][0]

    assert ["block"] == policy["grantControls"]["builtInControls"]
    assert "2022-03-17T16:54:48.205Z" == policy["createdDateTime"]
    assert policy["modifiedDateTime"] is None
    assert ["All"] == policy["conditions"]["users"]["includeUsers"]
    assert policy["grantControls"]["authenticationStrength"] is None
    assert "authenticationStrength@odata.context" not in policy["grantControls"]


def test_role_members_typed(converted):
    """Assigned principals are members, typed from privileged_users and privileged_service_principals."""
    members = role(converted, GLOBAL_ADMIN)["members"]

    assert [
        {
            "@odata.type": "#microsoft.graph.user",
            "id": "10000000-0000-4000-8000-000000000001",
            "displayName": "Adele Vance",
        },
        {
            "@odata.type": "#microsoft.graph.servicePrincipal",
            "id": "50000000-0000-4000-8000-000000000001",
            "displayName": "Mail Sync App",
        },
        {"@odata.type": "#microsoft.graph.directoryObject", "id": "70000000-0000-4000-8000-000000000001"},
    ] == members


def test_role_activated_is_eligible(converted):
    """An Activated (PIM) assignment makes its principal an eligible member, not a member."""
    entry = role(converted, GLOBAL_ADMIN)

    assert ["10000000-0000-4000-8000-000000000002"] == [member["id"] for member in entry["eligibleMembers"]]
    assert "10000000-0000-4000-8000-000000000002" not in [member["id"] for member in entry["members"]]


def test_role_group_inherited_skipped(converted):
    """An assignment inherited through a group is not listed as a direct member."""
    ids = [member["id"] for member in role(converted, GLOBAL_ADMIN)["members"]]

    assert "10000000-0000-4000-8000-000000000003" not in ids


def test_role_rules_kept(converted):
    """PIM rules are kept, camelCased."""
    rules = role(converted, GLOBAL_ADMIN)["rules"]

    assert "Eligibility" == rules[0]["target"]["level"]
    assert "P365D" == rules[0]["maximumDuration"]


def test_authentication_methods_policy(converted):
    """The policy and its feature settings are joined into one Graph-shaped object."""
    policy = converted["m365"]["authenticationMethodsPolicy"]

    assert "authenticationMethodsPolicy" == policy["id"]
    assert "2026-05-01T00:32:23Z" == policy["lastModifiedDateTime"]
    assert ["MicrosoftAuthenticator", "Sms"] == [entry["id"] for entry in policy["authenticationMethodConfigurations"]]
    assert "enabled" == policy["authenticationMethodConfigurations"][0]["featureSettings"][
        "numberMatchingRequiredState"
    ]["state"]
    assert "@odata.context" not in policy
    assert "includeTargets@odata.context" not in policy["authenticationMethodConfigurations"][0]


def test_exchange_sections(converted):
    """A bare remote domain object becomes a list; audit config is the first list item."""
    assert [
        {
            "domainName": "*",
            "isInternal": False,
            "autoForwardEnabled": False,
            "ndrEnabled": True,
            "tnefEnabled": None,
            "id": "Default",
        }
    ] == converted["m365"]["remoteDomains"]
    assert True is converted["m365"]["auditConfig"]["unifiedAuditLogIngestionEnabled"]
    assert "2024-12-04T20:13:54Z" == converted["m365"]["auditConfig"]["whenChanged"]
    assert [True, False] == [domain["default"] for domain in reversed(converted["m365"]["acceptedDomains"])]


def test_deterministic_output():
    """Converting the same export twice gives byte-identical snapshots."""
    first = serialize_snapshot(scubagear.convert(FIXTURE))
    second = serialize_snapshot(scubagear.convert(FIXTURE))

    assert first == second


def test_gzip_detected_by_magic(tmp_path):
    """A gzip-compressed export is read by its magic bytes, whatever its name."""
    path = tmp_path / "export.json"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes()))

    assert scubagear.convert(FIXTURE) == scubagear.convert(path)


# ---------------------------------------------------------------- odd exports


def test_unsuccessful_command_is_error(tmp_path):
    """A section whose command ScubaGear lists as unsuccessful gets status error naming the command."""
    export = fixture_export()
    export["exo_unsuccessful_commands"] = ["Get-RemoteDomain"]

    document = scubagear.convert(write_export(tmp_path / "e.json", export))

    assert {
        "status": "error",
        "message": "ScubaGear lists Get-RemoteDomain in exo_unsuccessful_commands",
    } == document["sections"]["m365.remoteDomains"]
    assert "remoteDomains" not in document["m365"]


def test_unsuccessful_role_command(tmp_path):
    """A failed Get-PrivilegedUser makes directory roles an error, since member types come from it."""
    export = fixture_export()
    export["aad_unsuccessful_commands"] = ["Get-PrivilegedUser"]

    document = scubagear.convert(write_export(tmp_path / "e.json", export))

    assert "error" == document["sections"]["m365.directoryRoles"]["status"]
    assert "Get-PrivilegedUser" in document["sections"]["m365.directoryRoles"]["message"]


def test_missing_section_key(tmp_path):
    """A section key the export lacks makes that section not_collected, naming the key."""
    export = fixture_export()
    del export["remote_domains"]

    document = scubagear.convert(write_export(tmp_path / "e.json", export))

    assert {
        "status": "not_collected",
        "message": "the ScubaGear export has no remote_domains key",
    } == document["sections"]["m365.remoteDomains"]


def test_roles_without_assignments(tmp_path):
    """Roles exported without assignments (no Entra ID P2) are not_collected, not empty."""
    export = fixture_export()
    for entry in export["privileged_roles"]:
        del entry["Assignments"]

    document = scubagear.convert(write_export(tmp_path / "e.json", export))

    assert "not_collected" == document["sections"]["m365.directoryRoles"]["status"]
    assert "Entra ID P2" in document["sections"]["m365.directoryRoles"]["message"]


def test_empty_audit_config(tmp_path):
    """An empty admin_audit_log_config list is not_collected rather than an empty object."""
    export = fixture_export()
    export["admin_audit_log_config"] = []

    document = scubagear.convert(write_export(tmp_path / "e.json", export))

    assert {
        "status": "not_collected",
        "message": "the export's admin_audit_log_config list is empty",
    } == document["sections"]["m365.auditConfig"]


@pytest.mark.parametrize("key", ["tenant_id", "timestamp_zulu"])
def test_missing_required_key(tmp_path, key):
    """A missing envelope key raises ImportFormatError naming the file and the key."""
    export = fixture_export()
    del export[key]
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagear.convert(path)

    assert f"{path}: $.{key}: missing; is this a ScubaGear export?" == str(caught.value)


def test_missing_assignment_field(tmp_path):
    """An assignment without PrincipalId is reported with its JSON path."""
    export = fixture_export()
    del export["privileged_roles"][0]["Assignments"][2]["PrincipalId"]
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagear.convert(path)

    assert f"{path}: $.privileged_roles[0].Assignments[2].PrincipalId: missing; is this a ScubaGear export?" == str(
        caught.value
    )


def test_unknown_assignment_type(tmp_path):
    """An unknown assignment type is rejected, not guessed."""
    export = fixture_export()
    export["privileged_roles"][0]["Assignments"][0]["AssignmentType"] = "Scheduled"
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagear.convert(path)

    assert "unknown assignment type 'Scheduled'" in str(caught.value)
    assert "$.privileged_roles[0].Assignments[0].AssignmentType" in str(caught.value)


def test_wrong_type_names_key(tmp_path):
    """A section of the wrong JSON type is reported with its key."""
    export = fixture_export()
    export["conditional_access_policies"] = ["not a policy"]
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagear.convert(path)

    assert f"{path}: $.conditional_access_policies[0]: expected object, got string; is this a ScubaGear export?" == str(
        caught.value
    )


def test_invalid_policy_reported_as_import_error(tmp_path):
    """A policy that converts to an invalid snapshot names the input file and the snapshot path."""
    export = fixture_export()
    export["conditional_access_policies"][0]["State"] = None
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagear.convert(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: the export converts to an invalid snapshot:")
    assert "$.m365.conditionalAccessPolicies[0].state: expected string, got null" in message


def test_domain_from_domain_settings(tmp_path):
    """Without a default accepted domain, the default Entra domain is the tenant domain."""
    export = fixture_export()
    del export["accepted_domains"]

    document = scubagear.convert(write_export(tmp_path / "e.json", export))

    assert "contoso.example" == document["tenant"]["domain"]


def test_no_domain_anywhere(tmp_path):
    """An export with no domain information raises ImportFormatError."""
    export = fixture_export()
    for key in ("accepted_domains", "domain_settings", "tenant_details"):
        del export[key]
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagear.convert(path)

    assert str(caught.value).startswith(f"{path}: cannot find the tenant's primary domain")


def test_not_json(tmp_path):
    """A file that is not JSON raises InputError with line and column."""
    path = tmp_path / "e.json"
    path.write_text("<html>")

    with pytest.raises(InputError) as caught:
        scubagear.convert(path)

    assert str(caught.value).startswith(f"{path}:1:1: not valid JSON")


def test_missing_export(tmp_path):
    """A missing export file raises InputError naming it."""
    path = tmp_path / "absent.json"

    with pytest.raises(InputError) as caught:
        scubagear.convert(path)

    assert f"{path}: export file not found" == str(caught.value)


def test_corrupt_gzip(tmp_path):
    """A file with the gzip magic bytes but broken content raises InputError."""
    path = tmp_path / "e.json.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00broken")

    with pytest.raises(InputError) as caught:
        scubagear.convert(path)

    assert str(caught.value).startswith(f"{path}: starts like a gzip file but cannot be decompressed")


# ---------------------------------------------------------------- real export


def test_real_sections(real):
    """The real ScubaGear 1.8 export gives the sections it carries and marks the rest not_collected."""
    ok = [name for name, entry in real["sections"].items() if entry["status"] == "ok"]

    assert [
        "m365.directoryRoles",
        "m365.conditionalAccessPolicies",
        "m365.authenticationMethodsPolicy",
        "m365.acceptedDomains",
        "m365.remoteDomains",
        "m365.auditConfig",
    ] == ok
    assert "not_collected" == real["sections"]["m365.users"]["status"]
    assert "3c19c757-3b55-411f-b03f-2bcc514a598d" == real["tenant"]["id"]
    assert "tqhjy.onmicrosoft.com" == real["tenant"]["domain"]
    assert "2026-05-04T17:15:48.307Z" == real["collectedAt"]


def test_real_conditional_access(real):
    """Real Conditional Access policies are camelCased with RFC 3339 dates."""
    policies = {policy["id"]: policy for policy in real["m365"]["conditionalAccessPolicies"]}
    session = policies["e430772e-f1c9-4618-9b68-4f125e80a288"]

    assert 7 == len(policies)
    assert "2022-03-17T16:54:48.205Z" == session["createdDateTime"]
    assert "never" == session["sessionControls"]["persistentBrowser"]["mode"]
    assert 4 == session["sessionControls"]["signInFrequency"]["value"]
    assert ["block"] == policies["f56276cf-d30f-4e0f-9d73-d72f99370dcb"]["grantControls"]["builtInControls"]
    assert "mfa" == policies["a205d789-8090-43d1-b42b-0d915b08fbfd"]["grantControls"]["authenticationStrength"][
        "requirementsSatisfied"
    ]


def test_real_no_pascal_case_left(real):
    """No converted section keeps a PascalCase key or a /Date()/ value."""
    leftovers = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                if key[:1].isupper():
                    leftovers.append(f"{path}.{key}")
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        elif isinstance(value, str) and value.startswith("/Date("):
            leftovers.append(path)

    walk(real["m365"], "$.m365")

    assert [] == leftovers


def test_real_directory_roles(real):
    """Real role assignments become members; principals are typed or marked unknown."""
    global_admin = role(real, GLOBAL_ADMIN)

    assert 8 == len(real["m365"]["directoryRoles"])
    assert 7 == len(global_admin["members"])
    assert {"#microsoft.graph.directoryObject"} == {member["@odata.type"] for member in global_admin["members"]}
    assert [] == global_admin["eligibleMembers"]


def test_real_deterministic_roundtrip(real, tmp_path):
    """The real export converts byte-identically twice and loads back after writing."""
    path = tmp_path / "snapshot.json"

    write_snapshot(real, path)

    assert serialize_snapshot(scubagear.convert(REAL_EXPORT)) == path.read_bytes()
    assert "m365" == load_snapshot(path).provider


def test_missing_feature_settings(tmp_path):
    """An authentication method entry without its method configurations is rejected, not read as none."""
    export = fixture_export()
    del export["authentication_method"][0]["authentication_method_feature_settings"]
    path = write_export(tmp_path / "e.json", export)

    with pytest.raises(ImportFormatError) as caught:
        scubagear.convert(path)

    expected = (
        f"{path}: $.authentication_method[0].authentication_method_feature_settings: missing; "
        "is this a ScubaGear export?"
    )

    assert expected == str(caught.value)
