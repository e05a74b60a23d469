"""Tests for the attestations loader, review dates and the 16 CFR 314.4 element table."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.report.attestations import (
    REVIEW_CURRENT,
    REVIEW_FUTURE,
    REVIEW_STALE,
    load_attestations,
    parse_attestations,
    review_due,
    review_state,
)
from engine.report.elements import ELEMENTS, element_of

REPO = Path(__file__).resolve().parents[1]

VALID = """\
attestations:
  - element: FTC 16 CFR 314.4(h)
    statement: The incident response plan is written.
    evidence: docs/irp.md
    owner: Security team
    lastReviewed: 2026-02-28
    tenants: [contoso]
"""


def _one(last_reviewed: str):
    text = VALID.replace("2026-02-28", last_reviewed)

    return parse_attestations(text, "a.yaml")[0]


def _error(text: str) -> str:
    with pytest.raises(InputError) as raised:
        parse_attestations(text, "a.yaml")

    return str(raised.value)


def test_example_file_loads():
    """The shipped example loads, one attestation per element it covers."""
    attestations = load_attestations(REPO / "examples" / "attestations.yaml")
    expected = ["(a)", "(b)", "(d)", "(e)", "(h)", "(i)"]
    assert expected == [attestation.element.key for attestation in attestations]


def test_fields_parsed():
    """Each field lands in the attestation, with the entry's file and line."""
    attestation = _one("2026-02-28")
    assert "(h)" == attestation.element.key
    assert "The incident response plan is written." == attestation.statement
    assert "docs/irp.md" == attestation.evidence
    assert "Security team" == attestation.owner
    assert date(2026, 2, 28) == attestation.last_reviewed
    assert ("contoso",) == attestation.tenants
    assert "a.yaml:2" == attestation.source


def test_tenant_scope():
    """An attestation with tenants covers only those; one without covers all."""
    scoped = _one("2026-02-28")
    unscoped = parse_attestations(VALID.replace("    tenants: [contoso]\n", ""), "a.yaml")[0]
    assert True is scoped.applies_to(["contoso", "id-1"])
    assert False is scoped.applies_to(["fabrikam", "id-2"])
    assert True is unscoped.applies_to(["fabrikam"])


def test_missing_file(tmp_path):
    """A missing file is an InputError naming it."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(InputError) as raised:
        load_attestations(path)
    assert f"{path}: attestations file not found" == str(raised.value)


def test_invalid_yaml():
    """Broken YAML names the file, line and column."""
    message = _error("attestations:\n  - element: [unclosed\n")
    assert message.startswith("a.yaml:3:1: invalid_yaml:")


def test_not_a_mapping():
    """A file that is a list is rejected with the expected shape."""
    message = _error("- element: x\n")
    assert message.startswith("a.yaml:1:1: invalid_attestation: an attestations file must be a mapping")


def test_unknown_field_suggests():
    """A misspelt field is reported at its line with the closest field name."""
    message = _error(VALID.replace("    tenants:", "    tenant:"))
    assert message.startswith("a.yaml:7:13: invalid_attestation: attestations[0]: unknown field `tenant`; did you mean `tenants`?")


def test_missing_field():
    """A missing required field is named."""
    message = _error(VALID.replace("    owner: Security team\n", ""))
    assert "a.yaml:2:5: invalid_attestation: attestations[0]: missing required field `owner`" in message


def test_unknown_element():
    """An element outside 16 CFR 314.4 is rejected with the closest valid one."""
    message = _error(VALID.replace("314.4(h)", "314.4 (h)"))
    assert "attestations[0].element: 'FTC 16 CFR 314.4 (h)' is not an element of 16 CFR 314.4; did you mean 'FTC 16 CFR 314.4(h)'?" in message
    assert message.startswith("a.yaml:2:14:")


def test_impossible_date():
    """A date that matches the pattern but is not on the calendar names the field."""
    message = _error(VALID.replace("2026-02-28", "2026-02-30"))
    assert message.startswith("a.yaml:6:19: invalid_attestation: attestations[0].lastReviewed: '2026-02-30' is not a calendar date")


def test_date_format():
    """A date in another format is rejected."""
    message = _error(VALID.replace("2026-02-28", "28/02/2026"))
    assert "attestations[0].lastReviewed: '28/02/2026' is not a date; write YYYY-MM-DD" in message


def test_errors_collected():
    """Every schema problem of the file is reported in one error, in line order."""
    text = VALID + VALID.split("\n", 1)[1].replace("Security team", "").replace("docs/irp.md", '""')
    message = _error(text)
    assert message.index("a.yaml:10:15: invalid_attestation: attestations[1].evidence: must not be empty") < message.index(
        "a.yaml:11:11: invalid_attestation: attestations[1].owner: has no value; write a string"
    )


@pytest.mark.parametrize(
    ("reviewed", "expected"),
    [
        ("2025-11-30", REVIEW_CURRENT),
        ("2025-11-29", REVIEW_STALE),
        ("2026-11-30", REVIEW_CURRENT),
        ("2026-12-01", REVIEW_FUTURE),
    ],
)
def test_review_state(reviewed, expected):
    """A review more than 12 months before the evaluation is stale; one after it is future."""
    evaluated = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    assert expected == review_state(_one(reviewed), evaluated)


def test_review_state_utc_date():
    """The evaluation time is compared as a UTC date, whatever its offset."""
    evaluated = datetime.fromisoformat("2026-11-30T23:30:00-05:00")
    assert REVIEW_STALE == review_state(_one("2025-11-30"), evaluated)


def test_leap_day_due():
    """A review on 29 February falls due on 28 February of the next year."""
    assert date(2025, 2, 28) == review_due(date(2024, 2, 29))


def test_schema_elements_match():
    """The schema's element list is the element table's."""
    schema = json.loads((REPO / "schema" / "attestations.schema.json").read_text(encoding="utf-8"))
    enum = schema["$defs"]["attestation"]["properties"]["element"]["enum"]
    assert [element.control for element in ELEMENTS] == enum


@pytest.mark.parametrize(
    ("control", "key"),
    [
        ("FTC 16 CFR 314.4(c)(5)", "(c)(5)"),
        ("FTC 16 CFR 314.4(c)(1)(ii)", "(c)(1)"),
        ("FTC 16 CFR 314.4(c)", "(c)"),
        ("FTC 16 CFR 314.4(d)(2)", "(d)"),
        ("FTC 16 CFR 314.4(a)", "(a)"),
        ("FTC 16 CFR 314.4(i)", "(i)"),
        ("FTC 16 CFR 314.4(c)(9)", None),
        ("FTC 16 CFR 314.4(z)", None),
        ("CISA MS.AAD.3.2v1", None),
    ],
)
def test_element_of(control, key):
    """Controls map to their element; deeper paragraphs roll up, unknown ones map to none."""
    element = element_of(control)
    assert key == (element.key if element is not None else None)
