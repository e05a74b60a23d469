"""Tests for policy test cases (engine/testing.py), condition coverage (engine/coverage.py) and `safeguard test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.coverage import instrument
from engine.errors import InputError
from engine.language.policyset import load_policies
from engine.testing import build_snapshot, discover_test_files, load_test_file, run_case, run_tests, untested_statuses
from helpers import write_text

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "policies"

POLICY = """package t.cov

param allowed: set<string> = []

policy "t.cov.forwarding" {
  title "Remote domains do not forward"
  severity low
  for d in m365.remoteDomains
    where d.domainName != "*"
  assert d.autoForwardEnabled == false or d.domainName in allowed
  message "{d.domainName} forwards"
}

policy "t.cov.audit" {
  title "Audit on"
  severity low
  assert m365.auditConfig.unifiedAuditLogIngestionEnabled == true
}
"""

HEADER = """provider: m365
now: "2026-12-01T00:00:00Z"
cases:
"""

FORWARDING_FAIL = """  - name: partner forwards
    snapshot:
      m365.remoteDomains:
        - {domainName: "*", autoForwardEnabled: true}
        - {domainName: partner.example, autoForwardEnabled: true}
        - {domainName: other.example, autoForwardEnabled: false}
    expect:
      t.cov.forwarding:
        status: fail
        violations:
          - resource: partner.example
            message: partner.example forwards
"""


@pytest.fixture
def small(tmp_path):
    """A folder with a two-policy package, and its compiled policy set."""
    write_text(tmp_path / "t.sg", POLICY)

    return tmp_path, load_policies([tmp_path])


def _cases(folder: Path, policy_set, body: str):
    path = write_text(folder / "t_test.yaml", HEADER + body)

    return load_test_file(path, policy_set)


# The shipped pack


def test_pack_cases_pass(safeguard):
    """`safeguard test` on the shipped pack passes every case and exits 0."""
    code, out, err = safeguard("test", PACK)

    assert 0 == code, out + err
    assert " 0 failed, 0 broken" in out


def test_pack_statuses_covered(pack):
    """Every policy of the pack has a case expecting pass, one expecting fail and one expecting error."""
    files = [load_test_file(path, pack) for path in discover_test_files([PACK])]

    assert {} == untested_statuses(files, pack)


def test_pack_test_files_beside_policies():
    """Each pack test file sits beside the policy file of the same stem."""
    for path in discover_test_files([PACK]):
        assert path.with_name(path.name.replace("_test.yaml", ".sg")).is_file()


# Snapshot fragments


def test_fragment_envelope(small):
    """A fragment gives ok sections for what it lists and not_collected for the rest."""
    folder, policy_set = small
    test_file = _cases(folder, policy_set, FORWARDING_FAIL)
    snapshot = build_snapshot(test_file.cases[0])

    assert "ok" == snapshot.status("m365.remoteDomains").status
    assert "not_collected" == snapshot.status("m365.users").status
    assert "m365" == snapshot.provider
    assert 3 == len(snapshot.data("m365.remoteDomains"))


def test_fragment_keeps_timestamps_as_text(small):
    """Unquoted YAML timestamps in a fragment stay RFC 3339 strings, as the snapshot schema wants."""
    folder, policy_set = small
    body = """  - name: user
    snapshot:
      m365.users:
        - {id: u1, createdDateTime: 2026-01-02T03:04:05Z}
    expect:
      t.cov.audit: error
"""
    snapshot = build_snapshot(_cases(folder, policy_set, body).cases[0])

    assert "2026-01-02T03:04:05Z" == snapshot.data("m365.users")[0]["createdDateTime"]


def test_section_override_drops_data(tmp_path, pack):
    """A sections override on a snapshot file marks the section and removes its data."""
    body = f"""  - name: example without audit
    snapshot_file: {REPO / "examples" / "m365-snapshot.json"}
    sections:
      m365.auditConfig: {{status: error, message: "HTTP 503"}}
    expect:
      m365.audit.unified-log-enabled:
        status: error
        error: "m365.auditConfig is error: HTTP 503"
"""
    result = run_case(_cases(tmp_path, pack, body).cases[0], pack)

    assert "passed" == result.status


# Comparing expectations


def test_matching_case_passes(small):
    """A case whose status, violation ids and message substrings match passes."""
    folder, policy_set = small
    result = run_case(_cases(folder, policy_set, FORWARDING_FAIL).cases[0], policy_set)

    assert "passed" == result.status


def test_status_mismatch_diff(small):
    """A wrong status fails the case with a diff of expected against actual."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("status: fail", "status: pass").replace(
        "        violations:\n          - resource: partner.example\n            message: partner.example forwards\n", ""
    )
    result = run_case(_cases(folder, policy_set, body).cases[0], policy_set)
    diff = result.outcomes[0].diff()

    assert "failed" == result.status
    assert "-status: pass" in diff
    assert "+status: fail" in diff
    assert '+- partner.example (message "partner.example forwards")' in diff


def test_message_mismatch_fails(small):
    """A violation whose message lacks the expected substring fails the case."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("message: partner.example forwards", "message: is fine")
    result = run_case(_cases(folder, policy_set, body).cases[0], policy_set)
    diff = result.outcomes[0].diff()

    assert "failed" == result.status
    assert '-- partner.example (message contains "is fine")' in diff


def test_missing_violation_fails(small):
    """An expected violation that does not occur fails the case."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("            message: partner.example forwards\n", "            message: partner.example forwards\n          - other.example\n")
    result = run_case(_cases(folder, policy_set, body).cases[0], policy_set)

    assert "failed" == result.status
    assert "-- other.example" in result.outcomes[0].diff()


def test_error_substring(small):
    """An error expectation matches a substring of the result's error text."""
    folder, policy_set = small
    body = """  - name: no domains
    snapshot:
      m365.users: []
    expect:
      t.cov.forwarding:
        status: error
        error: m365.remoteDomains is not_collected
"""
    result = run_case(_cases(folder, policy_set, body).cases[0], policy_set)

    assert "passed" == result.status


def test_params_and_clock_apply(small):
    """Case params reach the policy: an allowed domain no longer violates."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("    snapshot:", "    params: {allowed: [partner.example]}\n    snapshot:", 1)
    result = run_case(_cases(folder, policy_set, body).cases[0], policy_set)
    diff = result.outcomes[0].diff()

    assert "failed" == result.status
    assert "+status: pass" in diff


def test_only_named_policies_evaluated(small):
    """A case compares only the policies it names."""
    folder, policy_set = small
    result = run_case(_cases(folder, policy_set, FORWARDING_FAIL).cases[0], policy_set)

    assert ["t.cov.forwarding"] == [outcome.policy for outcome in result.outcomes]


def test_invalid_fragment_is_broken(small):
    """A fragment that breaks the snapshot schema makes the case broken, naming the case and the JSON path."""
    folder, policy_set = small
    body = """  - name: bad user
    snapshot:
      m365.remoteDomains:
        - {domainName: x.example}
    expect:
      t.cov.forwarding: pass
"""
    result = run_case(_cases(folder, policy_set, body).cases[0], policy_set)

    assert "broken" == result.status
    assert "case 'bad user'" in result.error
    assert "$.m365.remoteDomains[0]" in result.error


# Invalid test files


def test_unknown_policy_suggests(small):
    """An expectation for an unknown policy is an error with a did-you-mean hint and the line."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("      t.cov.forwarding:", "      t.cov.forwardin:")

    with pytest.raises(InputError) as caught:
        _cases(folder, policy_set, body)

    assert "t_test.yaml:12:9: unknown_policy:" in str(caught.value)
    assert "did you mean 't.cov.forwarding'?" in str(caught.value)


def test_unknown_section_suggests(small):
    """A fragment section that the provider does not have is an error with a suggestion."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("m365.remoteDomains:", "m365.remoteDomain:")

    with pytest.raises(InputError) as caught:
        _cases(folder, policy_set, body)

    assert "did you mean 'm365.remoteDomains'?" in str(caught.value)


def test_unknown_field_suggests(small):
    """A misspelt case field is a schema error with a suggestion."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("    expect:", "    expcet:")

    with pytest.raises(InputError) as caught:
        _cases(folder, policy_set, body)

    assert "did you mean 'expect'?" in str(caught.value)


def test_misspelt_status_suggests(small):
    """A misspelt bare status names the valid statuses and the closest one, not the schema's oneOf text."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("      t.cov.forwarding:\n        status: fail\n        violations:\n          - resource: partner.example\n            message: partner.example forwards\n", "      t.cov.forwarding: passs\n")

    with pytest.raises(InputError) as caught:
        _cases(folder, policy_set, body)

    assert "t_test.yaml:11:25: invalid_test: invalid status 'passs' for policy 't.cov.forwarding'; want pass, fail, error or not_applicable; did you mean 'pass'?" in str(caught.value)
    assert "is not valid under any of the given schemas" not in str(caught.value)
    assert 1 == len(str(caught.value).splitlines())


def test_misspelt_status_field_suggests(small):
    """A misspelt `status:` field in an expectation mapping gets the same message at the field."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("status: fail", "status: fial")

    with pytest.raises(InputError) as caught:
        _cases(folder, policy_set, body)

    assert "invalid status 'fial' for policy 't.cov.forwarding'; want pass, fail, error or not_applicable; did you mean 'fail'?" in str(caught.value)
    assert 1 == len(str(caught.value).splitlines())


def test_unknown_status_without_guess(small):
    """A status close to no valid one lists the valid statuses without a guess."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("status: fail", "status: zzz")

    with pytest.raises(InputError) as caught:
        _cases(folder, policy_set, body)

    assert str(caught.value).endswith("invalid status 'zzz' for policy 't.cov.forwarding'; want pass, fail, error or not_applicable")


def test_duplicate_case_names(small):
    """Two cases with one name in a file are an error."""
    folder, policy_set = small

    with pytest.raises(InputError) as caught:
        _cases(folder, policy_set, FORWARDING_FAIL + FORWARDING_FAIL)

    assert "duplicate_case" in str(caught.value)


def test_snapshot_and_file_exclusive(small):
    """A case cannot give both a fragment and a snapshot file."""
    folder, policy_set = small
    body = FORWARDING_FAIL.replace("    snapshot:", "    snapshot_file: x.json\n    snapshot:", 1)

    with pytest.raises(InputError) as caught:
        _cases(folder, policy_set, body)

    assert "invalid_test" in str(caught.value)


# Command line


def test_cli_failing_case_exits_2(small, safeguard):
    """A failing case makes `safeguard test` print the diff and exit 2."""
    folder, _ = small
    write_text(folder / "t_test.yaml", HEADER + FORWARDING_FAIL.replace("status: fail", "status: pass"))

    code, out, _ = safeguard("test", folder)

    assert 2 == code
    assert "FAIL   partner forwards" in out
    assert "-status: pass" in out
    assert "1 case in 1 file: 0 passed, 1 failed, 0 broken" in out


def test_cli_counts_plural(small, safeguard):
    """The closing line counts several cases and files in the plural."""
    folder, _ = small
    write_text(folder / "a_test.yaml", HEADER + FORWARDING_FAIL)
    write_text(folder / "b_test.yaml", HEADER + FORWARDING_FAIL)

    code, out, _ = safeguard("test", folder)

    assert 0 == code, out
    assert "2 cases in 2 files: 2 passed, 0 failed, 0 broken" in out


def test_cli_broken_case_exits_1(small, safeguard):
    """A case whose snapshot is invalid makes `safeguard test` exit 1."""
    folder, _ = small
    body = FORWARDING_FAIL.replace('{domainName: "*", autoForwardEnabled: true}', '{domainName: "*"}')
    write_text(folder / "t_test.yaml", HEADER + body)

    code, out, _ = safeguard("test", folder)

    assert 1 == code
    assert "BROKEN partner forwards" in out


def test_cli_no_test_files(small, safeguard):
    """A folder without test files is an error."""
    folder, _ = small

    code, _, err = safeguard("test", folder)

    assert 1 == code
    assert "no *_test.yaml files found" in err


def test_cli_notes_untested_statuses(small, safeguard):
    """The summary names the statuses no case expects of a policy."""
    folder, _ = small
    write_text(folder / "t_test.yaml", HEADER + FORWARDING_FAIL)

    _, out, _ = safeguard("test", folder)

    assert "note: no case expects pass or error of t.cov.forwarding" in out
    assert "note: no case expects pass or fail or error of t.cov.audit" in out


# Coverage


def test_coverage_same_results(small):
    """The instrumented policy set gives the same case results as the plain one."""
    folder, policy_set = small
    test_file = _cases(folder, policy_set, FORWARDING_FAIL)
    instrumented, _ = instrument(policy_set)

    plain = run_tests([test_file], policy_set)
    covered = run_tests([test_file], instrumented)

    assert [result.status for result in plain] == [result.status for result in covered]
    assert [outcome.actual for outcome in plain[0].outcomes] == [outcome.actual for outcome in covered[0].outcomes]


def test_coverage_outcomes(small):
    """Coverage records the outcomes each clause and operand showed, and skips short-circuited operands."""
    folder, policy_set = small
    test_file = _cases(folder, policy_set, FORWARDING_FAIL)
    instrumented, recorder = instrument(policy_set)
    run_tests([test_file], instrumented)
    owner = next(owner for owner in recorder.owners if owner.name == "t.cov.forwarding")
    seen = {(point.kind, point.text): point.seen for point in owner.points}

    assert {"items"} == seen[("for", "m365.remoteDomains")]
    assert {"true", "false"} == seen[("where", 'd.domainName != "*"')]
    assert {"true", "false"} == seen[("assert", "d.autoForwardEnabled == false or d.domainName in allowed")]
    assert {"true", "false"} == seen[("or operand", "d.autoForwardEnabled == false")]
    assert {"false"} == seen[("or operand", "d.domainName in allowed")]


def test_coverage_counts(small):
    """An owner counts two outcomes per point and the ones seen."""
    folder, policy_set = small
    test_file = _cases(folder, policy_set, FORWARDING_FAIL)
    instrumented, recorder = instrument(policy_set)
    run_tests([test_file], instrumented)
    forwarding = next(owner for owner in recorder.owners if owner.name == "t.cov.forwarding")
    audit = next(owner for owner in recorder.owners if owner.name == "t.cov.audit")

    assert 10 == forwarding.total
    assert 8 == forwarding.covered
    assert 2 == audit.total
    assert 0 == audit.covered


def test_coverage_counts_function_bodies(pack):
    """Conditions inside functions are counted once, under the function."""
    _, recorder = instrument(pack)
    names = {owner.name for owner in recorder.owners if owner.kind == "func"}

    assert "ftc.lib.ca.grant_requires_mfa" in names
    assert "ftc.m365.mail.is_internal" in names


def test_cli_coverage_report(small, safeguard):
    """--coverage prints each owner's share and the outcomes never seen."""
    folder, _ = small
    write_text(folder / "t_test.yaml", HEADER + FORWARDING_FAIL)

    code, out, _ = safeguard("test", "--coverage", folder)

    assert 0 == code
    assert " 80%    8/10  policy t.cov.forwarding" in out
    assert "d.domainName in allowed  (never true)" in out
    assert "for: m365.remoteDomains  (never no items)" in out
    assert "total 8/12 outcomes (66%)" in out


def test_pack_coverage_runs(safeguard):
    """--coverage on the shipped pack passes every case and reports a total."""
    code, out, _ = safeguard("test", "--coverage", PACK)

    assert 0 == code
    assert "Coverage:" in out
    assert "  total " in out
