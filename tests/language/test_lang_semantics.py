"""Evaluation semantics: three-valued logic, absent and null, equality, sets, time, status rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.evaluate import evaluate
from engine.params import resolve_params

# A boolean read from a section whose collection failed: unknown at run time.
UNKNOWN = "m365.securityDefaults.isEnabled"
UNKNOWN_REASON = "depends on data that was not collected (m365.securityDefaults is error: HTTP 403)"

USERS = [
    {
        "id": "u1",
        "displayName": "Adele Vance",
        "userPrincipalName": "adele@contoso.example",
        "accountEnabled": True,
        "mail": None,
        "createdDateTime": "2026-11-20T00:00:00Z",
        "signInActivity": None,
    },
    {
        "id": "u2",
        "displayName": "Ben Okafor",
        "userPrincipalName": "ben@contoso.example",
        "accountEnabled": False,
        "createdDateTime": "2025-01-01t08:00:00z",
    },
    {
        "id": "u3",
        "userPrincipalName": "cara@contoso.example",
        "accountEnabled": True,
        "mail": "cara@contoso.example",
        "createdDateTime": "2024-06-01T00:00:00Z",
        "signInActivity": {"lastSignInDateTime": "2026-11-30T12:00:00Z"},
    },
]


@pytest.fixture
def unknown_snapshot(make_snapshot):
    """An m365 snapshot whose securityDefaults section failed with HTTP 403."""
    return make_snapshot("m365", {"users": USERS}, {"m365.securityDefaults": ("error", "HTTP 403")})


@pytest.fixture
def users_snapshot(make_snapshot):
    """An m365 snapshot with three users and nothing else collected."""
    return make_snapshot("m365", {"users": USERS})


def status_of(run_policy, assertion, snapshot):
    result = run_policy(f"assert {assertion}", snapshot)

    return result.status


# ---------------------------------------------------------------- three-valued logic

# Each truth value as an expression, and the status a policy asserting it gets.
TRUTH = {"true": "true", "false": "false", "unknown": UNKNOWN}
STATUS = {"true": "pass", "false": "fail", "unknown": "error"}

AND_TABLE = [
    ("true", "true", "true"),
    ("true", "false", "false"),
    ("true", "unknown", "unknown"),
    ("false", "true", "false"),
    ("false", "false", "false"),
    ("false", "unknown", "false"),
    ("unknown", "true", "unknown"),
    ("unknown", "false", "false"),
    ("unknown", "unknown", "unknown"),
]

OR_TABLE = [
    ("true", "true", "true"),
    ("true", "false", "true"),
    ("true", "unknown", "true"),
    ("false", "true", "true"),
    ("false", "false", "false"),
    ("false", "unknown", "unknown"),
    ("unknown", "true", "true"),
    ("unknown", "false", "unknown"),
    ("unknown", "unknown", "unknown"),
]


@pytest.mark.parametrize(("left", "right", "expected"), AND_TABLE)
def test_and_truth_table(run_policy, unknown_snapshot, left, right, expected):
    """and is false when either side is false, else unknown when either is unknown."""
    status = status_of(run_policy, f"{TRUTH[left]} and {TRUTH[right]}", unknown_snapshot)

    assert STATUS[expected] == status


@pytest.mark.parametrize(("left", "right", "expected"), OR_TABLE)
def test_or_truth_table(run_policy, unknown_snapshot, left, right, expected):
    """or is true when either side is true, else unknown when either is unknown."""
    status = status_of(run_policy, f"{TRUTH[left]} or {TRUTH[right]}", unknown_snapshot)

    assert STATUS[expected] == status


@pytest.mark.parametrize(("operand", "expected"), [("true", "false"), ("false", "true"), ("unknown", "unknown")])
def test_not_truth_table(run_policy, unknown_snapshot, operand, expected):
    """not of unknown is unknown."""
    status = status_of(run_policy, f"not {TRUTH[operand]}", unknown_snapshot)

    assert STATUS[expected] == status


SPREADING = [
    f"{UNKNOWN} == true",
    f"{UNKNOWN} != true",
    f"{UNKNOWN} is null",
    f"({UNKNOWN} ?? false)",
    f"(if {UNKNOWN} then true else false)",
    f"len([{UNKNOWN}, true]) == 2",
    f"len([x for x in [1, 2] where {UNKNOWN}]) == 0",
    f"string(len(keys(m365.securityDefaults))) == \"4\"",
    f"m365.securityDefaults.displayName == null",
]


@pytest.mark.parametrize("assertion", SPREADING)
def test_unknown_spreads(run_policy, unknown_snapshot, assertion):
    """Operators, checks, ??, if, list literals, comprehensions and calls pass unknown on."""
    result = run_policy(f"assert {assertion}", unknown_snapshot)

    assert "error" == result.status
    assert UNKNOWN_REASON == result.error


QUANTIFIER_CASES = [
    ("any(x in [1, 2]: x == 1 or U)", "true"),
    ("any(x in [1, 2]: x == 2 and U)", "unknown"),
    ("any(x in [1, 2]: x == 3 and U)", "false"),
    ("all(x in [1, 2]: x > 0 or U)", "true"),
    ("all(x in [1, 2]: x == 1 or U)", "unknown"),
    ("all(x in [1, 2]: x == 3 and U)", "false"),
    ("none(x in [1, 2]: x == 1 or U)", "false"),
    ("none(x in [1, 2]: x == 2 and U)", "unknown"),
    ("count(x in [1, 2]: x == 1 and U) >= 0", "unknown"),
    ("count(x in [1, 2] where U) >= 0", "unknown"),
    ("all(x in [1, 2] where U: x > 0)", "true"),
    ("all(x in [1, 2] where U: x > 1)", "unknown"),
    ("any(x in [1, 2] where U: x > 0)", "unknown"),
]


@pytest.mark.parametrize(("assertion", "expected"), QUANTIFIER_CASES)
def test_quantifier_unknown_items(run_policy, unknown_snapshot, assertion, expected):
    """A quantifier decides from known items when it can, otherwise it is unknown."""
    status = status_of(run_policy, assertion.replace("U", UNKNOWN), unknown_snapshot)

    assert STATUS[expected] == status


EMPTY_CASES = [
    ("all(x in []: false)", "pass"),
    ("any(x in []: true)", "fail"),
    ("none(x in []: true)", "pass"),
    ("count(x in []) == 0", "pass"),
    ("all(x in [1, 2] where x > 5: false)", "pass"),
]


@pytest.mark.parametrize(("assertion", "expected"), EMPTY_CASES)
def test_quantifier_empty(run_policy, assertion, expected):
    """all over nothing is true, any over nothing is false, count is zero."""
    assert expected == run_policy(f"assert {assertion}").status


COUNT_CASES = [
    ("count(x in [1, 2, 3])", 3),
    ("count(x in [1, 2, 3] where x > 1)", 2),
    ("count(x in [1, 2, 3]: x > 1)", 2),
    ("count(x in [1, 2, 3] where x > 1: x > 2)", 1),
]


@pytest.mark.parametrize(("expression", "expected"), COUNT_CASES)
def test_count_values(run_policy, expression, expected):
    """count counts items passing the where and the condition."""
    result = run_policy(f"assert false\nevidence {{ n: {expression} }}")

    assert expected == result.violations[0].evidence["n"]


def test_unknown_collection_is_error(run_policy, make_snapshot):
    """A for over a section that was not collected is an error naming the section and reason."""
    snapshot = make_snapshot("m365", {}, {"m365.users": ("not_collected", "the export has no users")})
    result = run_policy("for u in m365.users\nassert u.accountEnabled == true", snapshot)

    assert "error" == result.status
    assert "depends on data that was not collected (m365.users is not_collected: the export has no users)" == result.error
    assert [] == result.violations


def test_unlisted_section_is_unknown(run_policy, make_snapshot):
    """A section the snapshot does not list counts as not collected."""
    result = run_policy("assert m365.auditConfig.unifiedAuditLogIngestionEnabled == true", make_snapshot("m365", {}))

    assert "error" == result.status
    assert "m365.auditConfig is not_collected: the snapshot does not list section m365.auditConfig" in result.error


def test_known_violation_beats_unknown(run_policy, unknown_snapshot):
    """A definite violation makes the policy fail; the unknown resources are noted."""
    body = f"for u in m365.users\nassert u.accountEnabled == true and {UNKNOWN}"
    result = run_policy(body, unknown_snapshot)

    assert "fail" == result.status
    assert ["u2"] == [violation.resource["id"] for violation in result.violations]
    assert f"2 more resources could not be judged: {UNKNOWN_REASON}" == result.error


def test_unknown_items_never_pass(run_policy, unknown_snapshot):
    """Without a violation, an unknown verdict makes the policy error, not pass."""
    body = f"for u in m365.users\n  where u.accountEnabled == true\nassert u.id != \"\" and {UNKNOWN}"
    result = run_policy(body, unknown_snapshot)

    assert "error" == result.status
    assert 2 == result.unresolved


def test_unknown_where_with_holding_assert(run_policy, unknown_snapshot):
    """An item whose where is unknown passes when its assertion is true anyway."""
    result = run_policy(f"for u in m365.users\n  where {UNKNOWN}\nassert u.id != \"\"", unknown_snapshot)

    assert "pass" == result.status
    assert 3 == result.checked


# ---------------------------------------------------------------- when and providers


def test_when_false_not_applicable(run_policy, users_snapshot):
    """A false when makes the policy not_applicable without evaluating the assertion."""
    result = run_policy("when 1 > 2\nassert 1 / 0 == 1", users_snapshot)

    assert "not_applicable" == result.status


def test_when_unknown_error(run_policy, unknown_snapshot):
    """A when that depends on uncollected data makes the policy error."""
    result = run_policy(f"when {UNKNOWN}\nassert true", unknown_snapshot)

    assert "error" == result.status
    assert UNKNOWN_REASON == result.error


def test_when_null_error(run_policy):
    """A when that evaluates to null is an error, not a licence to run."""
    result = run_policy("when blob\nassert false", declarations="param blob: any", params={"blob": None})

    assert "error" == result.status
    assert "t.sg:6:8: 'when' needs a boolean, got null" == result.error


def test_provider_mismatch(run_policy, make_snapshot):
    """A policy that reads m365 sections does not apply to a gws snapshot."""
    result = run_policy("assert len(m365.users) > 0", make_snapshot("gws", {"users": []}))

    assert "not_applicable" == result.status
    assert "applies to m365 tenants; this snapshot is gws" == result.error


def test_no_section_any_provider(run_policy, make_snapshot):
    """A policy that reads no section is evaluated on any provider."""
    result = run_policy("assert tenant_domain() == \"contoso.example\"", make_snapshot("gws", {}))

    assert "pass" == result.status


# ---------------------------------------------------------------- absent and null

ABSENT_NULL_CASES = [
    # Adele's signInActivity is null, Ben has no signInActivity field, Cara has one.
    ("u.signInActivity is null", ["u2", "u3"]),
    ("u.signInActivity is absent", ["u1", "u3"]),
    ("u.signInActivity is empty", ["u3"]),
    ("u.signInActivity is not null", ["u1"]),
    ("u.signInActivity is not absent", ["u2"]),
    ("u.signInActivity == null", ["u2", "u3"]),
    ("u.signInActivity.lastSignInDateTime is null", ["u2", "u3"]),
    ("u.signInActivity.lastSignInDateTime is absent", ["u1", "u3"]),
    ("(u.mail ?? \"none\") == \"none\"", ["u3"]),
    ("u[\"mail\"] is absent", ["u1", "u3"]),
    ("u.mail in [null]", ["u2", "u3"]),
]


@pytest.mark.parametrize(("assertion", "failing"), ABSENT_NULL_CASES)
def test_absent_and_null(run_policy, users_snapshot, assertion, failing):
    """Absent and null are different values; fields of null are null, of absent absent."""
    result = run_policy(f"for u in m365.users\nassert {assertion}", users_snapshot)

    assert failing == [violation.resource["id"] for violation in result.violations]


# Rows come from an 'any' param, so only the run time can find these mistakes.
ROWS = [{"id": "n", "userPrincipalName": "null@x", "mail": None}, {"id": "a", "userPrincipalName": "absent@x"}]

NOTHING_ERRORS = [
    ("u.mail > \"a\"", "'>'", "t.sg:7:10: left side of '>' is {kind}; handle it with '??' or 'is {kind}'"),
    ("len(u.mail) > 0", "len", "t.sg:7:10: argument 1 of len() is {kind}; handle it with '??' or 'is {kind}'"),
    ("\"a\" in u.mail", "in", "t.sg:7:10: the right side of 'in' is {kind}; handle it with '??' or 'is {kind}'"),
    ("u.mail + \"x\" == \"\"", "+", "t.sg:7:10: left operand of '+' is {kind}; handle it with '??' or 'is {kind}'"),
    ("any(x in u.mail: true)", "any", "t.sg:7:19: the collection is {kind}; handle it with '??' or 'is {kind}'"),
    ("u.mail and true", "and", "t.sg:7:10: 'and' needs booleans, but its left operand is {kind}"),
    ("not u.mail", "not", "t.sg:7:10: 'not' needs a boolean, got {kind}"),
    ("-u.mail < 0", "minus", "t.sg:7:10: '-' needs a number or duration, got {kind}"),
    ("len(set(u.mail) | []) == 0", "set", "t.sg:7:14: argument 1 of set() is {kind}; handle it with '??' or 'is {kind}'"),
    ("u.mail", "assert", "t.sg:7:10: 'assert' needs a boolean, got {kind}"),
]


@pytest.mark.parametrize(("assertion", "name", "message"), NOTHING_ERRORS, ids=[case[1] for case in NOTHING_ERRORS])
def test_null_operand_errors(run_policy, assertion, name, message):
    """An operator that needs a value fails at run time on null and absent, naming the position."""
    result = run_policy(f"for u in rows\nassert {assertion}", declarations="param rows: any", params={"rows": ROWS})

    expected = f"{message.format(kind='null')} for null@x; {message.format(kind='absent')} for absent@x"
    assert "error" == result.status
    assert expected == result.error


def test_ordering_null_with_violation(run_policy, users_snapshot):
    """A run-time error on one resource does not hide a definite violation on another."""
    result = run_policy("for u in m365.users\nassert u.signInActivity.lastSignInDateTime > now() - 1h", users_snapshot)

    assert "fail" == result.status
    assert ["u3"] == [violation.resource["id"] for violation in result.violations]
    assert result.error.startswith("2 more resources could not be judged: t.sg:7:10: left side of '>' is null")


def test_error_names_at_most_three(run_policy, make_snapshot):
    """The error text lists three failing resources and counts the rest."""
    users = [{"id": f"u{index}", "userPrincipalName": f"user{index}@x", "mail": None} for index in range(5)]
    result = run_policy("for u in m365.users\nassert len(u.mail) > 0", make_snapshot("m365", {"users": users}))

    assert "error" == result.status
    assert 5 == result.unresolved
    assert 3 == result.error.count("argument 1 of len() is null")


# ---------------------------------------------------------------- equality and membership

EQUALITY_CASES = [
    ("true != 1", True),
    ("false != 0", True),
    ("1 == 1.0", True),
    ("null != false", True),
    ("[true] != [1]", True),
    ("set([1]) != set([true])", True),
    ("not (1 in set([true]))", True),
    ("not (true in set([1, false]))", True),
    ("not (true in [1])", True),
    ("\"1\" != 1", True),
    ("[1, 2] == [1, 2]", True),
    ("[1, 2] != [2, 1]", True),
    ("set([1, 2]) == set([2, 1])", True),
    ("time(\"2026-01-01T00:00:00Z\") == time(\"2026-01-01T01:00:00+01:00\")", True),
    ("m365.users[0].createdDateTime != \"2026-11-20T00:00:00Z\"", True),
    ("m365.users[0].signInActivity != m365.users[1].signInActivity", True),
]


@pytest.mark.parametrize(("assertion", "holds"), EQUALITY_CASES)
def test_strict_equality(run_policy, users_snapshot, assertion, holds):
    """Equality never mixes booleans with numbers, null with absent, or timestamps with text."""
    result = run_policy(f"assert {assertion}", users_snapshot)

    assert ("pass" if holds else "fail") == result.status


MEMBERSHIP_CASES = [
    ("\"b\" in [\"a\", \"b\"]", True),
    ("\"c\" not in [\"a\", \"b\"]", True),
    ("\"ab\" in \"cabd\"", True),
    ("\"id\" in m365.users[0]", True),
    ("\"nothing\" not in m365.users[0]", True),
    ("null not in [\"a\"]", True),
    ("\"a\" in set([\"a\"])", True),
]


@pytest.mark.parametrize(("assertion", "holds"), MEMBERSHIP_CASES)
def test_membership(run_policy, users_snapshot, assertion, holds):
    """in works on lists, sets, substrings and object field names."""
    result = run_policy(f"assert {assertion}", users_snapshot)

    assert ("pass" if holds else "fail") == result.status


# ---------------------------------------------------------------- values


def evidence_value(run_policy, expression, snapshot=None, declarations="", params=None, now=None):
    kwargs = {"now": now} if now is not None else {}
    result = run_policy(f"assert false\nevidence {{ v: {expression} }}", snapshot, declarations, params, **kwargs)

    return result.violations[0].evidence["v"]


VALUE_CASES = [
    ("set([\"b\", \"a\"]) | [\"c\"]", ["a", "b", "c"]),
    ("set([\"a\", \"b\"]) & set([\"b\", \"c\"])", ["b"]),
    ("[\"a\", \"b\", \"a\"] - [\"a\"]", ["b"]),
    ("set([\"a\", \"a\", \"b\"])", ["a", "b"]),
    ("sorted(set([\"b\", \"a\"]))", ["a", "b"]),
    ("{lower(x) for x in [\"A\", \"a\"]}", ["a"]),
    ("[x * 2 for x in [1, 2, 3] where x > 1]", [4, 6]),
    ("[1] + [2]", [1, 2]),
    ("\"a\" + \"b\"", "ab"),
    ("7 / 2", 3.5),
    ("7 % 3", 1),
    ("[1, 2, 3][-1]", 3),
    ("[1, 2][5]", "<absent>"),
    ("\"abc\"[1]", "b"),
    ("null ?? 3", 3),
    ("if 1 > 2 then \"a\" else \"b\"", "b"),
    ("domain_of(\"Adele@Contoso.EXAMPLE\")", "contoso.example"),
    ("split(\"a,b\", \",\")", ["a", "b"]),
    ("join([\"a\", \"b\"], \"-\")", "a-b"),
    ("matches(\"admin-01\", \"^admin-[0-9]+$\")", True),
    ("keys(m365.users[2].signInActivity)", ["lastSignInDateTime"]),
    ("len(\"héllo\")", 5),
]


@pytest.mark.parametrize(("expression", "expected"), VALUE_CASES)
def test_expression_values(run_policy, users_snapshot, expression, expected):
    """Operators and built-ins compute the documented values."""
    assert expected == evidence_value(run_policy, expression, users_snapshot)


def test_division_by_zero(run_policy):
    """Division by zero is a run-time error with the position."""
    result = run_policy("assert 1 / 0 == 1")

    assert "error" == result.status
    assert "t.sg:6:10: division by zero" == result.error


def test_set_of_objects_error(run_policy, users_snapshot):
    """A set cannot hold objects."""
    result = run_policy("assert len(set(m365.users)) == 3", users_snapshot)

    assert "error" == result.status
    assert "t.sg:6:14: set() can only hold strings, numbers and booleans" == result.error


# ---------------------------------------------------------------- time

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def test_now_is_injected(run_policy):
    """now() is the evaluation time passed in, not the wall clock."""
    value = evidence_value(run_policy, "now()", now=datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc))

    assert "2030-05-06T07:08:09Z" == value


@pytest.mark.parametrize(("now", "failing"), [(NOW, ["u2", "u3"]), (NOW + timedelta(days=30), ["u1", "u2", "u3"])])
def test_timestamp_fields(run_policy, users_snapshot, now, failing):
    """Timestamp fields compare with now() and durations; the verdict moves with the clock."""
    result = run_policy("for u in m365.users\nassert u.createdDateTime > now() - 14d", users_snapshot, now=now)

    assert failing == [violation.resource["id"] for violation in result.violations]


def test_timestamp_lower_case(run_policy, users_snapshot):
    """RFC 3339 timestamps with a lower-case t and z are read."""
    value = evidence_value(run_policy, "m365.users[1].createdDateTime", users_snapshot)

    assert "2025-01-01T08:00:00Z" == value


def test_invalid_timestamp_field(run_policy, make_snapshot):
    """A field that should hold a timestamp but does not is a run-time error naming the field."""
    snapshot = make_snapshot("m365", {"users": [{"id": "x", "userPrincipalName": "x@y", "createdDateTime": "soon"}]})
    result = run_policy("for u in m365.users\nassert u.createdDateTime < now()", snapshot)

    assert "error" == result.status
    assert "t.sg:7:10: field 'createdDateTime' holds 'soon', which is not an RFC 3339 timestamp for x@y" == result.error


TIME_CASES = [
    ("in_days(now() - time(\"2026-11-01T00:00:00Z\"))", 30),
    ("now() - 90d", "2026-09-02T00:00:00Z"),
    ("time(\"2026-01-01\")", "2026-01-01T00:00:00Z"),
    ("days(2) + hours(12)", "60h"),
    ("days(1) / hours(1)", 24),
    ("-3d", "-3d"),
    ("1.5d", "36h"),
    ("2w", "14d"),
    ("latest([time(\"2026-01-01T00:00:00Z\"), null, time(\"2026-02-01T00:00:00Z\")])", "2026-02-01T00:00:00Z"),
    ("earliest([time(\"2026-01-01T00:00:00Z\"), time(\"2026-02-01T00:00:00Z\")])", "2026-01-01T00:00:00Z"),
    ("latest([])", None),
]


@pytest.mark.parametrize(("expression", "expected"), TIME_CASES)
def test_time_values(run_policy, expression, expected):
    """Durations and timestamps combine as documented."""
    assert expected == evidence_value(run_policy, expression)


def test_timestamp_out_of_range(run_policy):
    """A timestamp before year 1 is a run-time error, not a crash."""
    result = run_policy("assert time(\"0001-01-01T00:00:00Z\") - 1d < now()")

    assert "error" == result.status
    assert "t.sg:6:10: the result of '-' is out of range" == result.error


def test_duration_param(run_policy, users_snapshot):
    """A duration param takes 90d style text from the params file."""
    result = run_policy(
        "for u in m365.users\nassert u.createdDateTime > now() - window",
        users_snapshot,
        declarations="param window: duration = 7d",
        params={"window": "30d"},
    )

    assert ["u2", "u3"] == [violation.resource["id"] for violation in result.violations]


# ---------------------------------------------------------------- messages, evidence, resources


def test_message_rendering(run_policy, users_snapshot):
    """Templates render strings, null, booleans, lists, sets, times, durations, absent and errors."""
    body = (
        "for u in m365.users\n  where u.id == \"u1\"\n"
        "assert false\n"
        "message \"{u.userPrincipalName}|{u.mail}|{u.accountEnabled}|{[1, 2]}|{set(['b', 'a'])}"
        "|{u.createdDateTime}|{36h}|{[1][5]}|{1 / 0}|{2.5}|{{x}}\""
    )
    result = run_policy(body, users_snapshot)

    expected = "adele@contoso.example|null|true|1, 2|a, b|2026-11-20T00:00:00Z|36h|<absent>|<error: division by zero>|2.5|{x}"
    assert expected == result.violations[0].message


def test_message_unknown_value(run_policy, unknown_snapshot):
    """A template value from uncollected data renders as unknown."""
    result = run_policy(f"assert false\nmessage \"defaults: {{{UNKNOWN}}}\"", unknown_snapshot)

    assert "defaults: <unknown: m365.securityDefaults not collected>" == result.violations[0].message


def test_default_messages(run_policies, users_snapshot):
    """Without message: the title for the tenant, TITLE: NAME for a resource."""
    source = (
        "package t\n"
        'policy "m365.t.tenant" {\n  title "Tenant rule"\n  severity low\n  assert len(m365.users) == 0\n}\n'
        'policy "m365.t.users" {\n  title "User rule"\n  severity low\n  for u in m365.users\n  assert false\n}\n'
    )
    results = run_policies(source, users_snapshot)

    assert ["Tenant rule"] == [violation.message for violation in results["m365.t.tenant"].violations]
    expected = ["User rule: Adele Vance", "User rule: Ben Okafor", "User rule: cara@contoso.example"]
    assert expected == [violation.message for violation in results["m365.t.users"].violations]


def test_automatic_evidence(run_policy, users_snapshot):
    """Without evidence, each compared side is shown under its source text; literals are left out."""
    result = run_policy("for u in m365.users\n  where u.id == \"u1\"\nassert u.accountEnabled == false and u.mail is not null", users_snapshot)

    assert {"u.accountEnabled": True, "u.mail": None} == result.violations[0].evidence


def test_explicit_evidence(run_policy, users_snapshot):
    """An evidence clause replaces the automatic evidence; absent shows as <absent>."""
    body = "for u in m365.users\n  where u.id == \"u2\"\nassert false\nevidence {\n  upn: u.userPrincipalName,\n  \"sign in\": u.signInActivity,\n}"
    result = run_policy(body, users_snapshot)

    assert {"upn": "ben@contoso.example", "sign in": "<absent>"} == result.violations[0].evidence


def test_resource_identity(run_policy, users_snapshot):
    """A violation names the resource by the for variable, its id and display name."""
    result = run_policy("for account in m365.users\n  where account.id == \"u3\"\nassert false", users_snapshot)

    assert {"type": "account", "id": "u3", "displayName": "cara@contoso.example"} == result.violations[0].resource


def test_tenant_resource(run_policy):
    """A tenant-level violation is about the tenant."""
    result = run_policy("assert false")

    assert {"type": "tenant", "id": "tenant-1", "displayName": "contoso.example"} == result.violations[0].resource


def test_remediation_arguments(run_policy, users_snapshot):
    """Remediation arguments are evaluated per violation; an absent one is recorded as a problem."""
    body = "for u in m365.users\n  where u.id != \"u3\"\nassert false\nremediate m365.disable_user(user: u.id)\nremediate m365.require_mfa(user: u.id, group: u.mail)"
    result = run_policy(body, users_snapshot)
    first, second = result.violations

    assert [{"action": "m365.disable_user", "arguments": {"user": "u1"}, "problem": None}] == first.remediations[:1]
    assert {"action": "m365.require_mfa", "arguments": {"user": "u2"}, "problem": "argument 'group' is <absent>"} == second.remediations[1]


def test_for_over_set(run_policy):
    """for iterates a set in sorted order; each item is its own resource."""
    result = run_policy("for role in roles\nassert role == \"b\"", declarations="param roles: set<string> = [\"c\", \"a\", \"b\"]")

    assert ["a", "c"] == [violation.resource["id"] for violation in result.violations]
    assert "role" == result.violations[0].resource["type"]


def test_for_over_null(run_policy):
    """A for over null is an error whose message names the fix."""
    result = run_policy("for x in blob\nassert true", declarations="param blob: any", params={"blob": None})

    assert "error" == result.status
    assert "t.sg:6:12: 'for' needs a list or set, got null; handle it with '??' or 'is null'" == result.error


def test_lets_and_checked_count(run_policy, users_snapshot):
    """Tenant lets run once, item lets per kept item, and checked counts judged items."""
    body = "let enabled = [u.id for u in m365.users where u.accountEnabled == true]\nfor u in m365.users\n  where u.id in enabled\nlet upn = u.userPrincipalName\nassert endswith(upn, \"@contoso.example\")"
    result = run_policy(body, users_snapshot)

    assert "pass" == result.status
    assert 2 == result.checked


def test_package_let_cached_and_shared(run_policies, users_snapshot):
    """A package let is visible to every policy of the package and from an importing file."""
    lib = ("lib.sg", "package t.lib\nlet enabled_ids = {u.id for u in m365.users where u.accountEnabled == true}\n")
    main = (
        "main.sg",
        "package t.main\nimport t.lib\n"
        'policy "m365.t.count" {\n  title "T"\n  severity low\n  assert len(lib.enabled_ids) == 2\n}\n',
    )
    results = run_policies([lib, main], users_snapshot)

    assert "pass" == results["m365.t.count"].status


# ---------------------------------------------------------------- determinism

DETERMINISM_SCRIPT = """
import json, sys
from datetime import datetime, timezone
from engine.evaluate import evaluate
from engine.language.policyset import compile_sources
from engine.params import resolve_params
from engine.snapshot.model import Snapshot
source = sys.stdin.read()
document = json.loads(sys.argv[1])
policy_set = compile_sources([("t.sg", source)])
evaluation = evaluate(policy_set, Snapshot("s.json", document), resolve_params(policy_set, {}), datetime(2026, 12, 1, tzinfo=timezone.utc))
print(json.dumps([[r.id, r.status, [[v.resource, v.message, v.evidence] for v in r.violations]] for r in evaluation.results]))
"""


def test_deterministic_across_hash_seeds(users_snapshot):
    """Results do not depend on Python's string hash seed (set order)."""
    source = (
        "package t\nparam ids: set<string> = [\"u3\", \"u1\", \"u2\", \"zz\", \"aa\"]\n"
        'policy "m365.t.p" {\n  title "T"\n  severity low\n  for id in ids\n'
        "  assert false\n  message \"{id} {set(['x', 'y', 'z', id])}\"\n"
        "  evidence { all: ids | set([u.id for u in m365.users]) }\n}\n"
    )
    outputs = []
    for seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        completed = subprocess.run(
            [sys.executable, "-c", DETERMINISM_SCRIPT, json.dumps(users_snapshot.document)],
            input=source,
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            cwd=Path(__file__).resolve().parents[2],
            timeout=60,
        )
        outputs.append(completed.stdout)

    assert outputs[0] == outputs[1]
    assert '"aa aa, x, y, z"' in outputs[0]


def test_evaluation_repeatable(compile_policies, users_snapshot):
    """Evaluating twice gives equal results."""
    policy_set = compile_policies("package t\npolicy \"m365.t.p\" {\n  title \"T\"\n  severity low\n  for u in m365.users\n  assert u.mail is not null\n}\n")
    params = resolve_params(policy_set, {})
    first = evaluate(policy_set, users_snapshot, params, NOW).results[0]
    second = evaluate(policy_set, users_snapshot, params, NOW).results[0]

    assert [v.resource for v in first.violations] == [v.resource for v in second.violations]
    assert first.status == second.status
