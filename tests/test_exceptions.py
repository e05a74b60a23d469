"""Tests for policy exceptions (engine/exceptions.py) and their effect on plans."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from engine.errors import InputError
from engine.evaluate import evaluate
from engine.exceptions import load_exceptions, review_exceptions
from engine.params import load_params_file, resolve_params
from engine.plan import build_plan, exit_code_for, plan_bytes
from engine.snapshot import Snapshot, load_snapshot

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CONTOSO = "f768064f-9585-47ad-a39e-ed24c2c063fe"
NOW = datetime.fromisoformat("2026-12-01T00:00:00+00:00")
STALE = "m365.accounts.stale-disabled"
ATLAS = "e0826073-2e99-4a6e-b5c6-b35d6a5e3357"
REMOTE = "m365.mail.remote-domains-no-auto-forward"


def _entry(**fields) -> dict:
    entry = {
        "policy": REMOTE,
        "resource": "*",
        "tenants": [CONTOSO],
        "owner": "it-security@contoso.example",
        "reason": "Blocked by a transport rule.",
        "ticket": "SEC-1",
        "expires": "2027-03-31",
    }
    entry.update(fields)

    return entry


def _file(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "exceptions.yaml"
    path.write_text(yaml.safe_dump({"exceptions": list(entries)}, sort_keys=False), encoding="utf-8")

    return path


@pytest.fixture(scope="module")
def evaluation(pack):
    """The shipped pack evaluated on the Microsoft 365 example with its params."""
    snapshot = load_snapshot(EXAMPLES / "m365-snapshot.json")
    params = resolve_params(pack, load_params_file(EXAMPLES / "params.yaml"))

    return evaluate(pack, snapshot, params, NOW)


def _plan(pack, evaluation, tmp_path, *entries):
    exceptions = load_exceptions(_file(tmp_path, *entries), [policy.id for policy in pack.policies])

    return build_plan(evaluation, review=review_exceptions(evaluation, exceptions))


def _result(plan: dict, policy_id: str) -> dict:
    return next(result for result in plan["results"] if result["policy"] == policy_id)


# Loading


def test_load_fields(tmp_path):
    """An entry loads with its fields, its expiry as a date and its source line."""
    path = _file(tmp_path, _entry())
    (exception,) = load_exceptions(path)

    assert REMOTE == exception.policy
    assert "*" == exception.resource
    assert (CONTOSO,) == exception.tenants
    assert date(2027, 3, 31) == exception.expires
    assert f"{path}:2" == exception.source


def test_id_ignores_file_order(tmp_path):
    """An exception's id depends on its fields, not on its place in the file."""
    first = load_exceptions(_file(tmp_path, _entry(), _entry(ticket="SEC-2")))
    second = load_exceptions(_file(tmp_path, _entry(ticket="SEC-2"), _entry()))

    assert first[0].id == second[1].id
    assert first[0].id != first[1].id


def test_unknown_policy_suggests(tmp_path):
    """A policy id not in the policy set is an error with a suggestion and the line."""
    path = _file(tmp_path, _entry(policy="m365.mail.remote-domain-no-auto-forward"))

    with pytest.raises(InputError) as caught:
        load_exceptions(path, [REMOTE, STALE])

    assert f"{path}:2:" in str(caught.value)
    assert f"did you mean '{REMOTE}'?" in str(caught.value)


def test_invalid_date(tmp_path):
    """An expiry that is not a calendar date is an error naming the field."""
    with pytest.raises(InputError) as caught:
        load_exceptions(_file(tmp_path, _entry(expires="2027-02-30")))

    assert "expires" in str(caught.value)
    assert "YYYY-MM-DD" in str(caught.value)


def test_missing_owner(tmp_path):
    """An entry without an owner is a schema error."""
    entry = _entry()
    del entry["owner"]

    with pytest.raises(InputError) as caught:
        load_exceptions(_file(tmp_path, entry))

    assert "missing required field 'owner'" in str(caught.value)


def test_all_tenants(tmp_path):
    """`tenants: all` applies to any tenant id."""
    (exception,) = load_exceptions(_file(tmp_path, _entry(tenants="all")))

    assert exception.applies_to("C0anything")


def test_example_file_loads(pack):
    """examples/exceptions.yaml is valid against the shipped pack."""
    exceptions = load_exceptions(EXAMPLES / "exceptions.yaml", [policy.id for policy in pack.policies])

    assert 5 == len(exceptions)


@pytest.mark.parametrize(
    ("moment", "expired"),
    [
        ("2027-03-31T23:59:59+00:00", False),
        ("2027-04-01T00:00:00+00:00", True),
        ("2027-04-01T01:00:00+02:00", False),
    ],
)
def test_expiry_boundary(tmp_path, moment, expired):
    """An exception applies through its expiry day in UTC."""
    (exception,) = load_exceptions(_file(tmp_path, _entry()))

    assert expired == exception.expired(datetime.fromisoformat(moment))


# Review and plans


def test_full_waiver(pack, evaluation, tmp_path):
    """Every violation covered: the result is waived and keeps its violation and exception."""
    plan = _plan(pack, evaluation, tmp_path, _entry())
    result = _result(plan, REMOTE)

    assert "waived" == result["status"]
    assert 1 == len(result["violations"])
    assert "SEC-1" == result["violations"][0]["exception"]["ticket"]
    assert "SEC-1" == result["exception"]["ticket"]
    assert 1 == plan["summary"]["waived"]


def test_partial_waiver(pack, evaluation, tmp_path):
    """Some violations covered: the result stays fail and only those are marked."""
    plan = _plan(pack, evaluation, tmp_path, _entry(policy=STALE, resource=ATLAS))
    result = _result(plan, STALE)
    marked = [violation["resource"]["id"] for violation in result["violations"] if "exception" in violation]

    assert "fail" == result["status"]
    assert 5 == len(result["violations"])
    assert [ATLAS] == marked


def test_waived_violation_proposes_no_action(pack, evaluation, tmp_path):
    """A waived violation's remediation is not in the plan's actions; the others are."""
    plain = build_plan(evaluation)
    waived = _plan(pack, evaluation, tmp_path, _entry(policy=STALE, resource=ATLAS))

    def targets(plan):
        return sorted(action["target"]["id"] for action in plan["actions"] if action["policy"] == STALE)

    assert ATLAS in targets(plain)
    assert sorted(set(targets(plain)) - {ATLAS}) == targets(waived)


def test_expired_waives_nothing(pack, evaluation, tmp_path):
    """An expired exception waives nothing and is reported with the violations it would cover."""
    plan = _plan(pack, evaluation, tmp_path, _entry(expires="2026-11-30"))
    report = plan["exceptions"]

    assert "fail" == _result(plan, REMOTE)["status"]
    assert "exception" not in _result(plan, REMOTE)["violations"][0]
    assert [] == report["applied"]
    assert 1 == len(report["expired"])
    assert 1 == report["expired"][0]["violations"]


def test_unused_reported(pack, evaluation, tmp_path):
    """An exception that matches no violation of its tenant is reported as unused."""
    plan = _plan(pack, evaluation, tmp_path, _entry(policy="m365.admins.count", resource="all"))
    report = plan["exceptions"]

    assert ["m365.admins.count"] == [entry["policy"] for entry in report["unused"]]
    assert [] == report["applied"]


def test_other_tenant_ignored(pack, evaluation, tmp_path):
    """An exception for another tenant id neither waives nor appears in the report."""
    plan = _plan(pack, evaluation, tmp_path, _entry(tenants=["00000000-0000-4000-8000-000000000009"]))
    report = plan["exceptions"]

    assert "fail" == _result(plan, REMOTE)["status"]
    assert ([], [], []) == (report["applied"], report["expired"], report["unused"])


def test_applied_counts(pack, evaluation, tmp_path):
    """Each applied exception comes with the number of violations it covered."""
    plan = _plan(pack, evaluation, tmp_path, _entry(policy=STALE, resource="all"))

    assert [5] == [entry["violations"] for entry in plan["exceptions"]["applied"]]
    assert "waived" == _result(plan, STALE)["status"]


def test_unresolved_stays_fail(pack, run_pack, make_snapshot, tmp_path):
    """All violations waived but some resources unjudged: the result stays fail."""
    users = [
        {"id": "u1", "userPrincipalName": "a@contoso.example", "accountEnabled": True, "createdDateTime": "2020-01-01T00:00:00Z", "signInActivity": None},
        {"id": "u2", "userPrincipalName": "b@contoso.example", "accountEnabled": True, "createdDateTime": "not a time", "signInActivity": None},
    ]
    document = make_snapshot("m365", {"users": []})
    document["m365"]["users"] = users
    evaluation = run_pack(document, now=NOW)
    tenant = document["tenant"]["id"]
    exceptions = load_exceptions(_file(tmp_path, _entry(policy=STALE, resource="u1", tenants=[tenant])))
    plan = build_plan(evaluation, review=review_exceptions(evaluation, exceptions))
    result = _result(plan, STALE)

    assert "fail" == result["status"]
    assert "could not be judged" in result["error"]
    assert "exception" in result["violations"][0]


def test_only_waived_exits_zero(pack, make_snapshot, tmp_path):
    """A plan whose only failure is waived exits 0."""
    document = make_snapshot("m365", {"auditConfig": {"unifiedAuditLogIngestionEnabled": False, "adminAuditLogEnabled": True}})
    audit_only = replace(pack, policies=[pack.get("m365.audit.unified-log-enabled")])
    evaluation = evaluate(audit_only, Snapshot("audit.json", document), resolve_params(pack, {}), NOW)
    tenant = document["tenant"]["id"]
    entry = _entry(policy="m365.audit.unified-log-enabled", resource="all", tenants=[tenant])
    plan = build_plan(evaluation, review=review_exceptions(evaluation, load_exceptions(_file(tmp_path, entry))))

    assert 2 == exit_code_for(build_plan(evaluation))
    assert 0 == exit_code_for(plan)


def test_plan_without_exceptions_unchanged(evaluation):
    """Without exceptions a plan has no exceptions block and no exception fields."""
    plan = build_plan(evaluation)

    assert "exceptions" not in plan
    assert all("exception" not in result for result in plan["results"])


def test_waived_plan_deterministic(pack, evaluation, tmp_path):
    """Two plans with the same exceptions are byte-identical."""
    first = plan_bytes(_plan(pack, evaluation, tmp_path, _entry(), _entry(policy=STALE, resource=ATLAS)))
    second = plan_bytes(_plan(pack, evaluation, tmp_path, _entry(), _entry(policy=STALE, resource=ATLAS)))

    assert first == second


# Command line


def test_cli_exceptions_option(tmp_path, safeguard):
    """`plan --exceptions` waives in the JSON plan and reports the exceptions block."""
    path = _file(tmp_path, _entry(), _entry(policy="m365.mfa.weak-methods-disabled", resource="Sms", expires="2026-01-01"))
    code, out, _ = safeguard(
        "plan", "--snapshot", EXAMPLES / "m365-snapshot.json", "--now", "2026-12-01T00:00:00Z", "--exceptions", path, "--format", "json"
    )
    plan = json.loads(out)

    assert 2 == code
    assert "waived" == _result(plan, REMOTE)["status"]
    assert 1 == len(plan["exceptions"]["applied"])
    assert 1 == len(plan["exceptions"]["expired"])


def test_cli_bad_exceptions_file(tmp_path, safeguard):
    """An invalid exceptions file stops the plan with exit 1 and the file's line."""
    path = _file(tmp_path, _entry(policy="m365.nope"))

    code, out, err = safeguard("plan", "--snapshot", EXAMPLES / "m365-snapshot.json", "--exceptions", path)

    assert 1 == code
    assert f"{path}:2:" in err
    assert "" == out
