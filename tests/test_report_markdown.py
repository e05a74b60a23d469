"""Tests for the Markdown renderer used for pull-request comments."""

from __future__ import annotations

import copy
import re

from engine.diff import diff_documents
from engine.report.markdown import MAX_COMMENT_LENGTH, MAX_ROWS, escape_markdown, render_diff_markdown, render_markdown


def _large_plan(plan, policies: int, violations: int) -> dict:
    large = copy.deepcopy(plan)
    template = large["results"][5]
    large["results"] = []
    for number in range(policies):
        result = copy.deepcopy(template)
        result["policy"] = f"m365.generated.p{number:04d}"
        result["violations"] = [
            {
                "id": f"vio-{number}-{index}",
                "resource": {"type": "user", "id": f"u-{number}-{index}", "displayName": f"User {index}"},
                "message": f"user{index}@northwind.example has no MFA method registered " + "x" * 120,
                "evidence": {},
            }
            for index in range(violations)
        ]
        large["results"].append(result)
    large["summary"] = {"pass": 0, "fail": policies, "error": 0, "waived": 0, "not_applicable": 0}

    return large


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_summary_before_details(plan):
    """The summary table comes before the first folded detail block."""
    text = render_markdown(plan)
    assert text.index("| Status | Policy |") < text.index("<details>")


def test_attention_rows_only(plan):
    """The table lists failing, erroring and waived policies; the rest are named on one line."""
    text = render_markdown(plan)
    assert "| ❌ fail | `m365.mfa.all-users` | critical | 2 |" in text
    assert "| ⏸️ waived | `m365.mail.forwarding` | medium | 1 |" in text
    assert "✅ Pass: `m365.audit.log-enabled`." in text
    assert "| ✅ pass |" not in text


def test_details_balanced(plan):
    """Every detail block is closed, one per failing, erroring or waived policy."""
    text = render_markdown(plan)
    assert 4 == text.count("<details>")
    assert 4 == text.count("</details>")


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


def _partly_waived(plan) -> dict:
    changed = copy.deepcopy(plan)
    result = next(result for result in changed["results"] if result["policy"] == "m365.mfa.all-users")
    result["violations"][1]["exception"] = dict(EXCEPTION)
    result["exception"] = dict(EXCEPTION)

    return changed


def _with_exception_report(plan) -> dict:
    changed = copy.deepcopy(plan)
    expired = {**EXCEPTION, "id": "exc-00000000000000c3", "ticket": "SEC-101", "resource": "Sms", "expires": "2026-10-31", "violations": 2}
    unused = {**EXCEPTION, "id": "exc-00000000000000d4", "ticket": "RISK-7", "resource": "all", "source": "exceptions.yaml:30"}
    changed["exceptions"] = {"digest": "sha256:" + "4" * 64, "applied": [], "expired": [expired], "unused": [unused]}

    return changed


def test_exception_shown(plan):
    """A waived violation's row shows the exception's ticket, owner, expiry and reason."""
    text = render_markdown(plan)
    row = next(line for line in text.splitlines() if line.startswith("| rule Invoices to bookkeeper |"))
    assert row.endswith(" | ⏸️ waived by SEC-142, owner Dana Lee, expires 2027-03-31: Bookkeeper contract until March |")
    assert "| Resource | Message | Exception |" in text


def test_exception_no_tenants_dump(plan):
    """The exception shows neither its id nor its tenants."""
    text = render_markdown(plan)
    assert "exc-00000000000000a1" not in text
    assert "0b7e2c1a-5d4f-4c3b-9a8e-7f6d5c4b3a21\"" not in text
    assert "Exception: " not in text


def test_partial_waiver_rows(plan):
    """Only the waived violation's row has an exception; the table and the summary count it."""
    text = render_markdown(_partly_waived(plan))
    lines = text.splitlines()
    tom = next(line for line in lines if line.startswith("| user Tom Fletcher |"))
    other = next(line for line in lines if "alert" in line and line.startswith("| user "))
    assert tom.endswith(" | ⏸️ waived by SEC-150, owner Sam Ortiz, expires 2027-01-31: Kiosk account, replaced in January |")
    assert other.endswith(" |  |")
    assert "| ❌ fail | `m365.mfa.all-users` | critical | 2 (1 waived) |" in text
    assert "<code>m365.mfa.all-users</code> (fail, 2 violations, 1 waived)</summary>" in text


def test_unwaived_table_has_two_columns(plan):
    """A policy without waived violations keeps the two-column violation table."""
    text = render_markdown(plan)
    naming = text[text.index("<code>m365.custom.naming</code>") :]
    assert naming.index("| Resource | Message |\n") < naming.index("</details>")


def test_expired_and_unused_listed(plan):
    """Expired and unused exceptions are tabulated in the summary, before any detail block."""
    text = render_markdown(_with_exception_report(plan))
    lines = text.splitlines()
    assert "**Exceptions that waive nothing** (1 expired, 1 unused):" in lines
    assert (
        "| SEC-101 m365.mfa.all-users on Sms | ⌛ expired after 2026-10-31, so it waives nothing (it would waive 2 violations);"
        " renew or remove it | owner Sam Ortiz, exceptions.yaml:12 |"
    ) in lines
    assert (
        "| RISK-7 m365.mfa.all-users on all resources | ❔ unused because it matches no violation (expires 2027-01-31);"
        " remove it, or correct its policy or resource | owner Sam Ortiz, exceptions.yaml:30 |"
    ) in lines
    assert text.index("Exceptions that waive nothing") < text.index("<details>")


def test_exceptions_per_tenant(plan):
    """In a combined result, each tenant's section lists its own expired and unused exceptions."""
    combined = {"tenants": [{"name": "tailspin", "plan": plan}, {"name": "northwind", "plan": _with_exception_report(plan)}]}
    text = render_markdown(combined)
    assert 1 == text.count("Exceptions that waive nothing")
    assert text.index("### northwind") < text.index("Exceptions that waive nothing")


def test_hostile_message_escaped(plan):
    """Tenant text cannot add HTML, mentions, issue links or table cells."""
    text = render_markdown(plan)
    row = next(line for line in text.splitlines() if "alert" in line)
    assert "<script>" not in text
    assert "<img" not in text
    assert "&lt;script&gt;" in row
    assert "@octocat" not in text
    assert "@\u2060octocat" in row
    assert "#\u206012" in row
    assert 3 == _unescaped_pipes(row)
    assert "\\*\\*bold\\*\\*" in row


def test_email_not_altered():
    """An e-mail address keeps its @ untouched, since GitHub does not treat it as a mention."""
    assert "tom.fletcher@northwind.example" == escape_markdown("tom.fletcher@northwind.example").replace("\\", "")


def test_newline_stays_in_row(plan):
    """A line break in a message does not end the table row."""
    text = render_markdown(plan)
    row = next(line for line in text.splitlines() if "alert" in line)
    assert "next line" in row


def test_truncated_within_limit(plan):
    """A small limit keeps the summary, drops detail blocks and adds a note."""
    text = render_markdown(plan, limit=2500)
    assert len(text) <= 2500
    assert "| Status | Policy |" in text
    assert "**Truncated**" in text
    assert text.count("<details>") == text.count("</details>")


def test_github_limit_respected(plan):
    """A plan far larger than a comment stays under 65,536 characters with a note."""
    text = render_markdown(_large_plan(plan, policies=200, violations=60))
    assert len(text.encode("utf-16-le")) // 2 <= MAX_COMMENT_LENGTH
    assert "**Truncated**" in text
    assert text.count("<details>") == text.count("</details>")


def test_rows_capped_per_policy(plan):
    """A policy lists at most MAX_ROWS violations and counts the rest."""
    text = render_markdown(_large_plan(plan, policies=1, violations=MAX_ROWS + 7))
    assert "… and 7 more violations" in text
    assert MAX_ROWS == text.count("has no MFA method registered")


def test_summary_alone_too_long(plan):
    """When even the summary exceeds the limit, it is cut at a line and a note follows."""
    text = render_markdown(_large_plan(plan, policies=400, violations=1), limit=3000)
    assert len(text) <= 3000
    assert "the summary alone exceeds" in text


def test_combined_tenant_table(plan):
    """A combined result starts with one summary row per tenant, a failed run included."""
    combined = {"tenants": [{"name": "northwind", "plan": plan}, {"name": "fabrikam", "error": "token expired"}]}
    text = render_markdown(combined)
    assert "| northwind | 2 | 1 | 1 | 1 | 1 |" in text
    assert "| fabrikam | ⚠️ run failed: token expired |" in text
    assert text.index("| Tenant |") < text.index("### northwind")


def test_diff_markdown(plan):
    """A diff comment counts the categories and folds the new violations."""
    new = copy.deepcopy(plan)
    new["results"][3]["violations"].append(
        {"id": "vio-9", "resource": {"type": "user", "id": "u-9", "displayName": "shared-hr"}, "message": "Mailbox shared-hr", "evidence": {}}
    )
    text = render_diff_markdown(diff_documents(plan, new))
    assert "🆕 1 new" in text
    assert "| northwind.example | 1 | 0 | 1 | 0 | 3 | 0 |" in text
    assert "🆕 northwind.example: new violations (1)" in text
    assert "m365.custom.naming: Mailbox shared-hr" in text
