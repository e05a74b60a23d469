"""Tests for the renderer registries and the text renderer."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.diff import diff_documents
from engine.plan import plan_bytes
from engine.report import DIFF_RENDERERS, FORMATS, RENDERERS, render_json, render_text

PLAN_SCHEMA = Path(__file__).resolve().parents[1] / "schema" / "plan.schema.json"


@pytest.fixture
def combined(plan):
    """A combined result: the fixture plan and a tenant whose run failed."""
    return {"tenants": [{"name": "northwind", "plan": plan}, {"name": "fabrikam", "error": "token expired"}]}


def test_fixture_is_valid_plan(plan):
    """The hand-written fixture is a plan that schema/plan.schema.json accepts."""
    validator = Draft202012Validator(json.loads(PLAN_SCHEMA.read_text(encoding="utf-8")))
    assert [] == [error.message for error in validator.iter_errors(plan)]


def test_registry_formats():
    """Both registries offer the same six formats."""
    assert ("text", "json", "sarif", "junit", "markdown", "html") == FORMATS
    assert FORMATS == tuple(DIFF_RENDERERS)


@pytest.mark.parametrize("name", FORMATS)
def test_renders_plan_and_combined(name, plan, combined):
    """Every format renders a plan and a combined result, naming the failed tenant."""
    render = RENDERERS[name]
    single = render(plan, colour=False)
    many = render(combined, colour=False)
    assert "m365.mfa.all-users" in single
    assert "token expired" in many
    assert many.endswith("\n")


@pytest.mark.parametrize("name", FORMATS)
def test_renderers_pure(name, plan):
    """Rendering neither changes the document nor depends on anything but it."""
    before = copy.deepcopy(plan)
    first = RENDERERS[name](plan)
    assert before == plan
    assert first == RENDERERS[name](copy.deepcopy(plan))


@pytest.mark.parametrize("name", FORMATS)
def test_diff_renderers(name, plan):
    """Every format renders a diff document."""
    new = copy.deepcopy(plan)
    new["results"][5]["violations"].pop()
    text = DIFF_RENDERERS[name](diff_documents(plan, new, "old.json", "new.json"))
    assert "m365.mfa.all-users" in text


def test_json_matches_plan_file(plan):
    """The JSON format is byte for byte what `plan --out` writes."""
    assert plan_bytes(plan).decode("utf-8") == render_json(plan)


EXCEPTION = {
    "id": "exc-00000000000000b2",
    "policy": "m365.mfa.all-users",
    "resource": "u-2",
    "tenants": ["0b7e2c1a-5d4f-4c3b-9a8e-7f6d5c4b3a21"],
    "owner": "Sam Ortiz",
    "reason": "Kiosk account, replaced in January",
    "ticket": "SEC-150",
    "expires": "2027-01-31",
    "source": "exceptions.yaml:12",
}


def _partly_waived(plan: dict) -> dict:
    """The fixture plan with the second violation of m365.mfa.all-users waived, as build_plan marks it."""
    changed = copy.deepcopy(plan)
    result = next(result for result in changed["results"] if result["policy"] == "m365.mfa.all-users")
    result["violations"][1]["exception"] = dict(EXCEPTION)
    result["exception"] = dict(EXCEPTION)

    return changed


def _with_exception_report(plan: dict) -> dict:
    """The fixture plan with one expired and one unused exception in its ``exceptions`` block."""
    changed = copy.deepcopy(plan)
    expired = {**EXCEPTION, "id": "exc-00000000000000c3", "ticket": "SEC-101", "resource": "Sms", "expires": "2026-10-31", "violations": 2}
    unused = {**EXCEPTION, "id": "exc-00000000000000d4", "ticket": "RISK-7", "resource": "all", "source": "exceptions.yaml:30"}
    changed["exceptions"] = {"digest": "sha256:" + "4" * 64, "applied": [], "expired": [expired], "unused": [unused]}

    return changed


def test_text_marks_waived_violation(plan):
    """A waived violation carries its ticket, owner, expiry and reason on its own line."""
    text = render_text(plan)
    expected = (
        "      rule Invoices to bookkeeper: Inbox rule 'Invoices to bookkeeper' forwards mail to inbox@ledger.example"
        " [waived by SEC-142, owner Dana Lee, expires 2027-03-31: Bookkeeper contract until March]\n"
    )
    assert expected in text


def test_text_exception_line_short(plan):
    """The exception shows neither its id, its tenants nor its source."""
    text = render_text(plan)
    assert "exception:" not in text
    assert "exc-00000000000000a1" not in text
    assert '["0b7e2c1a' not in text
    assert "exceptions.yaml:2" not in text


def test_text_partial_waiver(plan):
    """Only the waived violation is marked, and the header counts it."""
    text = render_text(_partly_waived(plan))
    lines = text.splitlines()
    assert "  ✗ m365.mfa.all-users [critical] MFA is required for all users (2 violations, 1 waived)" in lines
    assert (
        "      user Tom Fletcher: MFA is not required for tom.fletcher@northwind.example"
        " [waived by SEC-150, owner Sam Ortiz, expires 2027-01-31: Kiosk account, replaced in January]"
    ) in lines
    assert 2 == text.count("[waived by ")


def test_text_waived_result_count(plan):
    """A waived result counts its violations without repeating that they are waived."""
    lines = render_text(plan).splitlines()
    assert "  ~ m365.mail.forwarding [medium] No inbox rule forwards mail outside the company (1 violation)" in lines


def test_text_lists_expired_and_unused(plan):
    """Expired and unused exceptions appear in an EXCEPTIONS block before the actions."""
    text = render_text(_with_exception_report(plan))
    block = text[text.index("EXCEPTIONS (1 expired, 1 unused)\n") : text.index("PROPOSED ACTIONS")]
    lines = block.splitlines()
    assert (
        "  ~ SEC-101 m365.mfa.all-users on Sms: expired after 2026-10-31, so it waives nothing"
        " (it would waive 2 violations); renew or remove it (owner Sam Ortiz, exceptions.yaml:12)"
    ) == lines[1]
    assert (
        "  ~ RISK-7 m365.mfa.all-users on all resources: unused because it matches no violation (expires 2027-01-31);"
        " remove it, or correct its policy or resource (owner Sam Ortiz, exceptions.yaml:30)"
    ) == lines[2]


def test_text_no_exception_block(plan):
    """A plan whose exceptions all applied, or made without exceptions, has no EXCEPTIONS block."""
    applied = copy.deepcopy(plan)
    applied["exceptions"] = {"digest": "sha256:" + "4" * 64, "applied": [], "expired": [], "unused": []}
    assert "EXCEPTIONS" not in render_text(plan)
    assert "EXCEPTIONS" not in render_text(applied)


def test_text_combined_exceptions(plan):
    """Each tenant of a combined result lists its own expired and unused exceptions."""
    combined = {"tenants": [{"name": "northwind", "plan": _with_exception_report(plan)}, {"name": "tailspin", "plan": plan}]}
    text = render_text(combined)
    assert 1 == text.count("EXCEPTIONS (1 expired, 1 unused)")
    assert text.index("EXCEPTIONS") < text.rindex("safeguard plan for northwind.example")


def test_text_combined_summary(combined):
    """A combined result starts with the tenants planned and failed, the results per status and the actions."""
    document = {
        **combined,
        "summary": {
            "tenants": 2,
            "planned": 1,
            "failed": 1,
            "results": {"pass": 1, "fail": 2, "error": 1, "waived": 1, "not_applicable": 1},
            "actions": 1,
            "exceptions": {"applied": ["exc-00000000000000a1"], "expired": [], "unused": ["exc-00000000000000d4"]},
        },
    }
    lines = render_text(document).splitlines()
    assert "safeguard plan for 2 tenants: 1 planned, 1 failed" == lines[0]
    assert "results: 2 fail, 1 error, 1 pass, 1 waived, 1 not applicable; 1 proposed action" == lines[1]
    assert "exceptions: 1 applied, 0 expired, 1 unused" == lines[2]


def test_text_combined_summary_counted(combined):
    """A combined result without ``summary`` gets one counted from its tenants."""
    lines = render_text(combined).splitlines()
    assert "safeguard plan for 2 tenants: 1 planned, 1 failed" == lines[0]
    assert "results: 2 fail, 1 error, 1 pass, 1 waived, 1 not applicable; 1 proposed action" == lines[1]
    assert "" == lines[2]


def test_text_single_plan_no_summary(plan):
    """One plan starts with its tenant, not with a summary over tenants."""
    assert render_text(plan).startswith("safeguard plan for northwind.example (m365,")


def test_text_one_policy(plan):
    """One policy is counted in the singular."""
    single = copy.deepcopy(plan)
    single["results"] = single["results"][1:2]
    assert "1 policy: " in render_text(single)


def test_text_combined(combined):
    """The text report renders each tenant and the error of a failed run."""
    text = render_text(combined)
    assert "safeguard plan for northwind.example (m365, tenant 0b7e2c1a-5d4f-4c3b-9a8e-7f6d5c4b3a21)" in text
    assert "safeguard plan for fabrikam: the run failed\n  error: token expired\n" in text


def test_text_colour(plan):
    """Colour adds ANSI escapes only when asked for."""
    assert "\x1b[" in render_text(plan, colour=True)
    assert "\x1b[" not in render_text(plan, colour=False)


# The shipped examples through the command line

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_ARGS = ("plan", "--inventory", EXAMPLES / "tenants-demo.yaml", "--all", "--no-progress", "--now", "2026-12-01T00:00:00Z")


@pytest.fixture(scope="module")
def demo_text(safeguard):
    """The three-tenant demo with examples/exceptions.yaml, as text."""
    _, out, _ = safeguard(*DEMO_ARGS, "--exceptions", EXAMPLES / "exceptions.yaml")

    return out


def test_demo_text_summary(demo_text):
    """The demo's text starts with the summary over its three tenants."""
    lines = demo_text.splitlines()
    assert "safeguard plan for 3 tenants: 3 planned, 0 failed" == lines[0]
    assert lines[1].startswith("results: ")
    assert lines[1].endswith(" proposed actions")
    assert "exceptions: 3 applied, 1 expired, 1 unused" == lines[2]


def test_demo_text_exceptions(demo_text):
    """contoso lists its expired exception, woodgrove its unused one, each under its own tenant."""
    contoso = demo_text[demo_text.index("safeguard plan for contoso.example") : demo_text.index("safeguard plan for fabrikam.example")]
    woodgrove = demo_text[demo_text.index("safeguard plan for woodgrove.example") :]
    assert "EXCEPTIONS (1 expired)" in contoso
    assert "  ~ SEC-1893 m365.mfa.weak-methods-disabled on Sms: expired after 2026-10-31, so it waives nothing" in contoso
    assert "EXCEPTIONS (1 unused)" in woodgrove
    assert "  ~ RISK-120 gws.admins.count on all resources: unused because it matches no violation" in woodgrove


def test_demo_text_waived_violation(demo_text):
    """The violation SEC-2057 waives is marked where it is listed, and its policy counts it."""
    assert "Enabled accounts without sign-in activity are disabled (5 violations, 1 waived)" in demo_text
    line = next(line for line in demo_text.splitlines() if line.startswith("      user Project Atlas: "))
    assert "[waived by SEC-2057, owner pmo@contoso.example, expires 2027-01-31: Project Atlas mailbox" in line


def test_gws_messages_skip_resource_id(safeguard):
    """A gws violation message does not repeat the setting scope or user that its resource label names."""
    _, out, _ = safeguard("plan", "--snapshot", EXAMPLES / "gws-snapshot.json", "--format", "json")
    violations = [violation for result in json.loads(out)["results"] for violation in result["violations"]]
    labelled = [violation for violation in violations if violation["resource"]["type"] != "tenant"]
    assert 9 == len(labelled)
    for violation in labelled:
        assert str(violation["resource"]["id"]) not in violation["message"]


def test_text_escapes_control_characters(plan):
    """Control characters from tenant data reach the terminal only as escapes."""
    hostile = copy.deepcopy(plan)
    hostile["results"][0]["title"] = "Title\x1b[31m red\x07"

    text = render_text(hostile)

    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\\x1b[31m red\\x07" in text
