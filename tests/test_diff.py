"""Tests for `safeguard diff`: violation categories, tenant pairing, input errors and exit codes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.diff import check_document, diff_documents, exit_code_for_diff, load_document
from engine.errors import InputError, UserError

TENANT_ID = "0b7e2c1a-5d4f-4c3b-9a8e-7f6d5c4b3a21"


def _result(plan, policy):
    return next(result for result in plan["results"] if result["policy"] == policy)


def _violation(resource_id: str, name: str = "New user") -> dict:
    return {"id": f"vio-{resource_id}", "resource": {"type": "user", "id": resource_id, "displayName": name}, "message": f"{name} has no MFA", "evidence": {}}


def _keys(tenant, category) -> list[tuple[str, str]]:
    return [(violation["policy"], violation["resource"]["id"]) for violation in tenant["violations"][category]]


def _run(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    captured = capsys.readouterr()

    return done.value.code, captured.out, captured.err


def _write(tmp_path: Path, name: str, document) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")

    return str(path)


def test_identical_plans(plan):
    """Two equal plans have only unchanged and waived violations and exit 0."""
    diff = diff_documents(plan, copy.deepcopy(plan))
    summary = diff["summary"]
    assert 0 == summary["new"]
    assert 0 == summary["resolved"]
    assert 3 == summary["unchanged"]
    assert 1 == summary["waived"]
    assert 0 == summary["statusChanges"]
    assert 0 == exit_code_for_diff(diff)


def test_new_violation(plan):
    """A violation only in NEW is new, and the exit code is 2."""
    new = copy.deepcopy(plan)
    _result(new, "m365.mfa.all-users")["violations"].append(_violation("u-9"))
    diff = diff_documents(plan, new)
    assert [("m365.mfa.all-users", "u-9")] == _keys(diff["tenants"][0], "new")
    assert 2 == exit_code_for_diff(diff)


def test_renamed_resource_unchanged(plan):
    """A changed display name or message does not make a violation new."""
    new = copy.deepcopy(plan)
    violation = _result(new, "m365.mfa.all-users")["violations"][1]
    violation["resource"]["displayName"] = "Thomas Fletcher"
    violation["message"] = "reworded"
    tenant = diff_documents(plan, new)["tenants"][0]
    assert [] == _keys(tenant, "new")
    assert ("m365.mfa.all-users", "u-2") in _keys(tenant, "unchanged")


def test_same_id_other_type_is_new(plan):
    """A resource id reused by another resource type is a different violation."""
    new = copy.deepcopy(plan)
    _result(new, "m365.mfa.all-users")["violations"][1]["resource"]["type"] = "group"
    tenant = diff_documents(plan, new)["tenants"][0]
    assert [("m365.mfa.all-users", "u-2")] == _keys(tenant, "new")
    assert [("m365.mfa.all-users", "u-2")] == _keys(tenant, "resolved")


def test_resolved_when_policy_passes(plan):
    """A policy that passes in NEW resolves its OLD violations and changes status."""
    new = copy.deepcopy(plan)
    result = _result(new, "m365.mfa.all-users")
    result["status"] = "pass"
    result["violations"] = []
    tenant = diff_documents(plan, new)["tenants"][0]
    assert [("m365.mfa.all-users", "u-1"), ("m365.mfa.all-users", "u-2")] == _keys(tenant, "resolved")
    row = next(row for row in tenant["policies"] if row["policy"] == "m365.mfa.all-users")
    assert ("fail", "pass") == (row["old"], row["new"])
    assert 1 == tenant["counts"]["statusChanges"]


def test_error_leaves_unverified(plan):
    """A policy that errors in NEW leaves its OLD violations unverified, not resolved."""
    new = copy.deepcopy(plan)
    result = _result(new, "m365.mfa.all-users")
    result.update(status="error", violations=[], error="section m365.users was not collected")
    tenant = diff_documents(plan, new, "old.json", "new.json")["tenants"][0]
    assert [] == _keys(tenant, "resolved")
    assert 2 == len(tenant["violations"]["unverified"])
    expected = "the policy's status in new.json is error: section m365.users was not collected"
    assert expected == tenant["violations"]["unverified"][0]["reason"]


def test_missing_policy_unverified(plan):
    """A policy missing from NEW leaves its violations unverified and its status absent."""
    new = copy.deepcopy(plan)
    new["results"] = [result for result in new["results"] if result["policy"] != "m365.custom.naming"]
    tenant = diff_documents(plan, new, "old.json", "new.json")["tenants"][0]
    assert "the policy is not in new.json" == tenant["violations"]["unverified"][0]["reason"]
    row = next(row for row in tenant["policies"] if row["policy"] == "m365.custom.naming")
    assert ("fail", None) == (row["old"], row["new"])


def test_waived_in_new(plan):
    """Violations under a policy waived in NEW are waived, marked as present in OLD."""
    new = copy.deepcopy(plan)
    result = _result(new, "m365.mfa.all-users")
    result["status"] = "waived"
    result["exception"] = {"owner": "Dana Lee", "reason": "rollout", "ticket": "SEC-7", "expires": "2027-01-31"}
    tenant = diff_documents(plan, new)["tenants"][0]
    waived = {(violation["resource"]["id"], violation["inOld"]) for violation in tenant["violations"]["waived"]}
    assert {("u-1", True), ("u-2", True), ("rule-4", True)} == waived
    assert 0 == tenant["counts"]["new"]


def test_expired_waiver_not_new(plan):
    """A violation waived in OLD and failing in NEW is unchanged, and the status change shows the expiry."""
    new = copy.deepcopy(plan)
    result = _result(new, "m365.mail.forwarding")
    result["status"] = "fail"
    del result["exception"]
    tenant = diff_documents(plan, new)["tenants"][0]
    assert ("m365.mail.forwarding", "rule-4") in _keys(tenant, "unchanged")
    row = next(row for row in tenant["policies"] if row["policy"] == "m365.mail.forwarding")
    assert ("waived", "fail") == (row["old"], row["new"])


def test_different_tenants_rejected(plan):
    """Two plans of different tenants are rejected, naming both."""
    other = copy.deepcopy(plan)
    other["snapshot"]["tenant"].update(id="ffff", domain="fabrikam.example")
    with pytest.raises(UserError) as raised:
        diff_documents(plan, other, "old.json", "new.json")
    expected = (
        f"old.json is a plan of tenant {TENANT_ID} (northwind.example) but new.json is a plan of tenant "
        "ffff (fabrikam.example); diff compares two plans of the same tenant"
    )
    assert expected == str(raised.value)


def test_combined_paired_by_id(plan):
    """Combined results pair tenants by tenant id even when the names differ."""
    old = {"tenants": [{"name": "northwind-old-name", "plan": plan}]}
    new = {"tenants": [{"name": "northwind", "plan": copy.deepcopy(plan)}]}
    diff = diff_documents(old, new)
    assert ["northwind"] == [tenant["name"] for tenant in diff["tenants"]]
    assert 0 == diff["summary"]["new"]


def test_single_against_combined(plan):
    """A plan compares with a combined result holding the same tenant."""
    new = {"tenants": [{"name": "northwind", "plan": copy.deepcopy(plan)}]}
    assert 3 == diff_documents(plan, new)["summary"]["unchanged"]


def test_name_with_other_id_rejected(plan):
    """A tenant name that has another tenant id in NEW is rejected."""
    other = copy.deepcopy(plan)
    other["snapshot"]["tenant"]["id"] = "ffff"
    old = {"tenants": [{"name": "northwind", "plan": plan}]}
    new = {"tenants": [{"name": "northwind", "plan": other}]}
    with pytest.raises(UserError) as raised:
        diff_documents(old, new, "old.json", "new.json")
    expected = f"tenant 'northwind' is {TENANT_ID} in old.json but ffff in new.json; diff compares plans of the same tenant"
    assert expected == str(raised.value)


def test_no_common_tenant_rejected(plan):
    """Combined results with no tenant in common are rejected."""
    other = copy.deepcopy(plan)
    other["snapshot"]["tenant"]["id"] = "ffff"
    old = {"tenants": [{"name": "northwind", "plan": plan}]}
    new = {"tenants": [{"name": "fabrikam", "plan": other}]}
    with pytest.raises(UserError) as raised:
        diff_documents(old, new, "old.json", "new.json")
    assert "old.json and new.json have no tenant in common (northwind; fabrikam)" in str(raised.value)


def test_added_tenant_all_new(plan):
    """A tenant only in NEW compares against an empty baseline, with a note."""
    other = copy.deepcopy(plan)
    other["snapshot"]["tenant"]["id"] = "ffff"
    old = {"tenants": [{"name": "northwind", "plan": plan}]}
    new = {"tenants": [{"name": "northwind", "plan": copy.deepcopy(plan)}, {"name": "fabrikam", "plan": other}]}
    added = diff_documents(old, new, "old.json", "new.json")["tenants"][1]
    assert ["the tenant is not in old.json: every violation counts as new"] == added["notes"]
    assert 3 == added["counts"]["new"]


def test_failed_run_unverified(plan):
    """A tenant whose NEW run failed leaves its violations unverified with the error."""
    old = {"tenants": [{"name": "northwind", "plan": plan}]}
    new = {"tenants": [{"name": "northwind", "error": "token expired"}]}
    tenant = diff_documents(old, new, "old.json", "new.json")["tenants"][0]
    assert 3 == tenant["counts"]["unverified"]
    assert "new.json has no plan for this tenant: token expired" == tenant["violations"]["unverified"][0]["reason"]
    assert 0 == tenant["counts"]["resolved"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "x.json: want a JSON object (a plan or a combined result), got list"),
        ({"a": 1}, "x.json: not a plan or a combined result: the object has neither `results` nor `tenants`"),
        ({"tenants": [{"name": "a"}]}, "x.json: tenants[0]: has neither `plan` nor an `error` string"),
        ({"results": [], "snapshot": {"tenant": {}}}, "x.json: snapshot.tenant.id: missing or not a string"),
    ],
)
def test_bad_shapes(document, message):
    """A document of the wrong shape is rejected with the JSON path of the problem."""
    with pytest.raises(InputError) as raised:
        check_document(document, "x.json")
    assert message == str(raised.value)


def test_bad_status(plan):
    """An unknown policy status is rejected with the allowed ones."""
    plan["results"][1]["status"] = "passed"
    with pytest.raises(InputError) as raised:
        check_document(plan, "x.json")
    expected = "x.json: results[1].status: 'passed' is not a policy status; want one of pass, fail, error, waived, not_applicable"
    assert expected == str(raised.value)


def test_unsupported_version(plan):
    """A plan of another major schema version is rejected."""
    plan["schemaVersion"] = "2.0"
    with pytest.raises(InputError) as raised:
        check_document(plan, "x.json")
    assert "x.json: schemaVersion: plan schema version '2.0' is not supported; this safeguard reads version 1.x" == str(raised.value)


def test_invalid_json(tmp_path):
    """A file that is not JSON is rejected with its line and column."""
    path = tmp_path / "broken.json"
    path.write_text('{"results": [\n', encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_document(path)
    assert str(raised.value).startswith(f"{path}:2:1: invalid JSON:")


def test_cli_exit_two_on_new(plan, tmp_path, capsys):
    """The command exits 2 and lists the new violation when NEW adds one."""
    new = copy.deepcopy(plan)
    _result(new, "m365.mfa.all-users")["violations"].append(_violation("u-9", "Rita Moreno"))
    code, out, _ = _run(["diff", _write(tmp_path, "old.json", plan), _write(tmp_path, "new.json", new)], capsys)
    assert 2 == code
    assert "    + m365.mfa.all-users user Rita Moreno: Rita Moreno has no MFA" in out


def test_cli_exit_zero_without_new(plan, tmp_path, capsys):
    """The command exits 0 when NEW only resolves violations."""
    new = copy.deepcopy(plan)
    _result(new, "m365.mfa.all-users")["violations"].pop()
    code, out, _ = _run(["diff", _write(tmp_path, "old.json", plan), _write(tmp_path, "new.json", new)], capsys)
    assert 0 == code
    assert "safeguard diff: 0 new, 1 resolved, 1 waived, 0 unverified, 2 unchanged violations; 0 status changes" in out


@pytest.mark.parametrize("name", ["text", "json", "markdown", "sarif", "junit", "html"])
def test_cli_formats(name, plan, tmp_path, capsys):
    """Every output format is written to stdout with the same exit code."""
    new = copy.deepcopy(plan)
    _result(new, "m365.mfa.all-users")["violations"].append(_violation("u-9"))
    argv = ["diff", _write(tmp_path, "old.json", plan), _write(tmp_path, "new.json", new), "--format", name]
    code, out, _ = _run(argv, capsys)
    assert 2 == code
    assert "New user has no MFA" in out


def test_cli_json_is_diff(plan, tmp_path, capsys):
    """The JSON output is the diff document."""
    argv = ["diff", _write(tmp_path, "old.json", plan), _write(tmp_path, "new.json", plan), "--format", "json"]
    _, out, _ = _run(argv, capsys)
    document = json.loads(out)
    assert "diff" == document["kind"]
    assert 3 == document["summary"]["unchanged"]


def test_cli_different_tenants(plan, tmp_path, capsys):
    """Plans of different tenants exit 1 with the error and no traceback."""
    other = copy.deepcopy(plan)
    other["snapshot"]["tenant"]["id"] = "ffff"
    code, out, err = _run(["diff", _write(tmp_path, "old.json", plan), _write(tmp_path, "new.json", other)], capsys)
    assert 1 == code
    assert "" == out
    assert "diff compares two plans of the same tenant" in err
    assert "Traceback" not in err


def test_cli_missing_file(plan, tmp_path, capsys):
    """A missing input exits 1 naming the file."""
    missing = tmp_path / "absent.json"
    code, _, err = _run(["diff", _write(tmp_path, "old.json", plan), str(missing)], capsys)
    assert 1 == code
    assert f"error: {missing}: file not found" in err
