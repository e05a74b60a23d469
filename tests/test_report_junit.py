"""Tests for the JUnit XML renderer, read back with junitparser."""

from __future__ import annotations

import copy
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped

from engine.diff import diff_documents
from engine.report.junit import render_diff_junit, render_junit


def _parse(text: str, tmp_path: Path) -> JUnitXml:
    path = tmp_path / "report.xml"
    path.write_text(text, encoding="utf-8")

    return JUnitXml.fromfile(str(path))


def _cases(xml: JUnitXml) -> dict[tuple[str, str], object]:
    return {(case.classname, case.name): case for suite in xml for case in suite}


def _kinds(case) -> list[str]:
    return [type(item).__name__ for item in case.result]


def test_case_per_policy(plan, tmp_path):
    """Each policy is one test case with the tenant as classname and the policy id as name."""
    xml = _parse(render_junit(plan), tmp_path)
    cases = _cases(xml)
    expected = {("northwind.example", result["policy"]) for result in plan["results"]}
    assert expected == set(cases)


def test_status_mapping(plan, tmp_path):
    """Fail is a failure, error an error, waived and not applicable are skipped, pass is empty."""
    cases = _cases(_parse(render_junit(plan), tmp_path))
    assert ["Failure"] == _kinds(cases[("northwind.example", "m365.mfa.all-users")])
    assert ["Error"] == _kinds(cases[("northwind.example", "m365.auth.legacy-blocked")])
    assert ["Skipped"] == _kinds(cases[("northwind.example", "m365.mail.forwarding")])
    assert ["Skipped"] == _kinds(cases[("northwind.example", "gws.2sv.enforced")])
    assert [] == _kinds(cases[("northwind.example", "m365.audit.log-enabled")])


def test_failure_lists_violations(plan, tmp_path):
    """The failure message counts the violations and its text lists each resource."""
    case = _cases(_parse(render_junit(plan), tmp_path))[("northwind.example", "m365.mfa.all-users")]
    failure = case.result[0]
    assert isinstance(failure, Failure)
    assert "2 violations: MFA is required for all users" == failure.message
    assert "critical" == failure.type
    assert "user Tom Fletcher (u-2): MFA is not required for tom.fletcher@northwind.example" in failure.text


def test_skipped_carries_reason(plan, tmp_path):
    """A waived case names the exception; a not applicable case gives the reason."""
    cases = _cases(_parse(render_junit(plan), tmp_path))
    waived = cases[("northwind.example", "m365.mail.forwarding")].result[0]
    not_applicable = cases[("northwind.example", "gws.2sv.enforced")].result[0]
    assert isinstance(waived, Skipped)
    assert waived.message.startswith("waived: owner: Dana Lee; reason: Bookkeeper contract until March; ticket: SEC-142")
    assert "not applicable: applies to gws tenants; this snapshot is m365" == not_applicable.message


def test_suite_counts(plan, tmp_path):
    """The suite counts tests, failures, errors and skips."""
    suite = next(iter(_parse(render_junit(plan), tmp_path)))
    assert 6 == suite.tests
    assert 2 == suite.failures
    assert 1 == suite.errors
    assert 2 == suite.skipped


def test_control_characters_removed(plan, tmp_path):
    """Characters XML 1.0 forbids are written as escapes, so the file still parses."""
    text = render_junit(plan)
    assert "\x07" not in text
    assert "\\u0007" in text
    case = _cases(_parse(text, tmp_path))[("northwind.example", "m365.mfa.all-users")]
    assert '</td><script>alert("x")</script>' in case.result[0].text


def test_combined_suites(plan, tmp_path):
    """A combined result gives one suite per tenant; a failed tenant is one errored case."""
    combined = {"tenants": [{"name": "northwind", "plan": plan}, {"name": "fabrikam", "error": "token expired"}]}
    xml = _parse(render_junit(combined), tmp_path)
    suites = {suite.name: suite for suite in xml}
    assert ["northwind", "fabrikam"] == list(suites)
    case = next(iter(suites["fabrikam"]))
    assert "plan" == case.name
    assert isinstance(case.result[0], Error)
    assert "token expired" == case.result[0].message
    assert ("northwind", "m365.mfa.all-users") in _cases(xml)


def test_diff_fails_on_new(plan, tmp_path):
    """In a diff report only a policy with new violations fails."""
    new = copy.deepcopy(plan)
    new["results"][3]["violations"].append(
        {"id": "vio-9", "resource": {"type": "user", "id": "u-9", "displayName": "shared-hr"}, "message": "Mailbox shared-hr", "evidence": {}}
    )
    cases = _cases(_parse(render_diff_junit(diff_documents(plan, new)), tmp_path))
    assert ["Failure"] == _kinds(cases[("northwind.example", "m365.custom.naming")])
    assert [] == _kinds(cases[("northwind.example", "m365.mfa.all-users")])
    assert ["Error"] == _kinds(cases[("northwind.example", "m365.auth.legacy-blocked")])
