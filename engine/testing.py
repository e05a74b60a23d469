"""Policy test cases: load ``*_test.yaml`` files, run each case, compare with what it expects.

A case gives a snapshot, params and a clock. The snapshot is either a
fragment of sections merged into a minimal valid envelope, or a snapshot
file. Per policy, the case gives the expected status and, optionally, the
exact violations (resource ids, each optionally with a substring of its
message) and a substring of the error text. Only the policies a case names are evaluated and compared. The format
is schema/policy-test.schema.json; docs/policy-tests.md explains it.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from engine import __version__
from engine._yaml_source import YamlDocument, load_yaml, raise_diagnostics, schema_diagnostics
from engine.diagnostics import Diagnostic, DiagnosticSink, suggest
from engine.errors import InputError, SafeguardError, SnapshotError
from engine.evaluate import PolicyResult, evaluate
from engine.language.policyset import PolicySet
from engine.params import resolve_params
from engine.schemas import load_schema
from engine.snapshot import SCHEMA_VERSION, SECTIONS, Snapshot, validate_document
from engine.snapshot.model import parse_collected_at

__all__ = [
    "TEST_SUFFIX",
    "DEFAULT_NOW",
    "ExpectedViolation",
    "Expectation",
    "TestCase",
    "TestFile",
    "PolicyOutcome",
    "CaseResult",
    "discover_test_files",
    "load_test_file",
    "build_snapshot",
    "run_case",
    "run_tests",
    "untested_statuses",
]

TEST_SUFFIX = "_test.yaml"

# Clock and collection time of a fragment case that sets no `now`.
DEFAULT_NOW = "2026-01-01T00:00:00Z"

# The statuses every policy of a pack should have a case for.
REQUIRED_STATUSES = ("pass", "fail", "error")

_DEFAULT_TENANTS = {
    "m365": {"id": "00000000-0000-4000-8000-000000000000", "domain": "tenant.example"},
    "gws": {"id": "C00000000", "domain": "tenant.example"},
}


@dataclass(frozen=True)
class ExpectedViolation:
    """A violation a case expects: the resource id and, optionally, a substring of the message."""

    resource: str
    message: str | None = None

    def render(self) -> str:
        if self.message is None:
            return f"- {self.resource}"

        return f"- {self.resource} (message contains {_quote(self.message)})"


@dataclass(frozen=True)
class Expectation:
    """The outcome one case expects of one policy; ``violations`` None means they are not compared."""

    policy: str
    status: str
    violations: tuple[ExpectedViolation, ...] | None = None
    error: str | None = None


@dataclass
class TestCase:
    """One case of a test file, with the file-level defaults already applied."""

    __test__ = False  # not a pytest test class

    file: str
    name: str
    line: int
    provider: str | None
    tenant: dict[str, Any]
    now: str | None
    params: dict[str, Any]
    fragment: dict[str, Any] | None
    snapshot_file: Path | None
    sections: dict[str, dict[str, str]]
    expectations: list[Expectation]

    @property
    def label(self) -> str:
        return f"{self.file}:{self.line}: case {self.name!r}"


@dataclass
class TestFile:
    """The cases of one ``*_test.yaml`` file."""

    __test__ = False

    path: str
    cases: list[TestCase]


@dataclass
class PolicyOutcome:
    """The comparison of one expectation with the policy's result, as lines for a diff."""

    policy: str
    passed: bool
    expected: list[str]
    actual: list[str]

    def diff(self) -> list[str]:
        """Return a unified diff of expected against actual, without file headers' timestamps."""
        return list(difflib.unified_diff(self.expected, self.actual, "expected", "actual", lineterm="", n=20))


@dataclass
class CaseResult:
    """The outcome of one case: a comparison per policy, or the error that kept it from running."""

    case: TestCase
    outcomes: list[PolicyOutcome] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        """``passed``, ``failed`` (an expectation was not met) or ``broken`` (the case could not run)."""
        if self.error is not None:
            return "broken"
        if all(outcome.passed for outcome in self.outcomes):
            return "passed"

        return "failed"


def _quote(text: str) -> str:
    return orjson.dumps(text).decode("utf-8")


def discover_test_files(paths: Sequence[str | Path]) -> list[Path]:
    """List the ``*_test.yaml`` files under each folder (sorted) and each file given directly."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(candidate for candidate in path.rglob(f"*{TEST_SUFFIX}") if candidate.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            message = f"{path}: no such file or directory; pass a folder of *{TEST_SUFFIX} files or one such file"
            raise InputError(message)

    return list(dict.fromkeys(files))


# Loading -------------------------------------------------------------------


def _expectation(policy: str, raw: Any) -> Expectation:
    if isinstance(raw, str):
        return Expectation(policy=policy, status=raw)
    violations = None
    if "violations" in raw:
        violations = tuple(
            ExpectedViolation(resource=entry) if isinstance(entry, str) else ExpectedViolation(entry["resource"], entry.get("message"))
            for entry in raw["violations"]
        )

    return Expectation(policy=policy, status=raw["status"], violations=violations, error=raw.get("error"))


def _provider_of(raw: dict[str, Any], default: str | None) -> str | None:
    if raw.get("provider"):
        return raw["provider"]
    if default:
        return default
    providers = {name.split(".", 1)[0] for name in (raw.get("snapshot") or {})}

    return providers.pop() if len(providers) == 1 else None


def _case_problems(source: YamlDocument, index: int, raw: dict[str, Any], case: TestCase, policy_set: PolicySet) -> list[Diagnostic]:
    problems = []
    where = ("cases", index)
    if case.fragment is not None and case.provider is None:
        message = f"case {case.name!r}: cannot tell the provider; add `provider: m365` or `provider: gws`"
        problems.append(Diagnostic(source.position(where), "invalid_test", message))
    known_sections = SECTIONS.get(case.provider or "", ())
    for key in ("snapshot", "sections"):
        for section in raw.get(key) or {}:
            if case.provider is not None and section not in known_sections:
                guess = suggest(section, known_sections)
                hint = f"; did you mean {guess!r}?" if guess else f"; {case.provider} sections: {', '.join(known_sections)}"
                message = f"case {case.name!r}: {section!r} is not a {case.provider} section{hint}"
                problems.append(Diagnostic(source.position((*where, key, section)), "invalid_test", message))
    policy_ids = [policy.id for policy in policy_set.policies]
    for policy in raw["expect"]:
        if policy_set.get(policy) is None:
            guess = suggest(policy, policy_ids)
            hint = f"; did you mean {guess!r}?" if guess else ""
            message = f"case {case.name!r}: no policy {policy!r} in the policy set{hint}"
            problems.append(Diagnostic(source.position((*where, "expect", policy)), "unknown_policy", message))

    return problems


def _status_problems(source: YamlDocument, statuses: tuple[str, ...]) -> list[Diagnostic]:
    """Report each expected status that is a string but not one of ``statuses``, with the closest one."""
    cases = source.document.get("cases")
    problems = []
    for index, raw in enumerate(cases if isinstance(cases, list) else []):
        expect = raw.get("expect") if isinstance(raw, dict) else None
        for policy, expected in (expect.items() if isinstance(expect, dict) else ()):
            where = ("cases", index, "expect", policy)
            if isinstance(expected, dict):
                expected, where = expected.get("status"), (*where, "status")
            if not isinstance(expected, str) or expected in statuses:
                continue

            guess = suggest(expected, statuses)
            hint = f"; did you mean {guess!r}?" if guess else ""
            message = f"invalid status {expected!r} for policy {policy!r}; want {', '.join(statuses[:-1])} or {statuses[-1]}{hint}"
            problems.append(Diagnostic(source.position(where), "invalid_test", message))

    return problems


def load_test_file(path: str | Path, policy_set: PolicySet) -> TestFile:
    """Read and check one test file against the schema and the policy set; raise InputError listing every problem."""
    source = load_yaml(path, "policy test file")
    sink = DiagnosticSink()
    if not isinstance(source.document, dict):
        message = "a policy test file is a mapping with a `cases` list"
        sink.add(Diagnostic(source.position(()), "invalid_test", message))
        raise_diagnostics(sink)
    schema = load_schema("policy-test.schema.json")
    status_problems = _status_problems(source, tuple(schema["$defs"]["status"]["enum"]))
    # The schema reports a misspelt status as matching no branch of `expectation`, so a clearer diagnostic replaces that one.
    replaced = {diagnostic.position for diagnostic in status_problems}
    for diagnostic in schema_diagnostics(source, schema, "invalid_test"):
        if diagnostic.position not in replaced:
            sink.add(diagnostic)
    for diagnostic in status_problems:
        sink.add(diagnostic)
    raise_diagnostics(sink)

    document = source.document
    base = Path(path).parent
    cases = []
    names: dict[str, int] = {}
    for index, raw in enumerate(document["cases"]):
        tenant = {**(document.get("tenant") or {}), **(raw.get("tenant") or {})}
        case = TestCase(
            file=source.path,
            name=raw["name"],
            line=source.position(("cases", index)).line,
            provider=_provider_of(raw, document.get("provider")),
            tenant=tenant,
            now=raw.get("now") or document.get("now"),
            params={**(document.get("params") or {}), **(raw.get("params") or {})},
            fragment=raw.get("snapshot"),
            snapshot_file=base / raw["snapshot_file"] if raw.get("snapshot_file") else None,
            sections=raw.get("sections") or {},
            expectations=[_expectation(policy, expected) for policy, expected in raw["expect"].items()],
        )
        if case.name in names:
            message = f"case name {case.name!r} is already used by cases[{names[case.name]}]; case names must be unique in a file"
            sink.add(Diagnostic(source.position(("cases", index, "name")), "duplicate_case", message))
        names.setdefault(case.name, index)
        for problem in _case_problems(source, index, raw, case, policy_set):
            sink.add(problem)
        cases.append(case)
    raise_diagnostics(sink)

    return TestFile(path=source.path, cases=cases)


# Snapshots -----------------------------------------------------------------


_SNAPSHOT_FILES: dict[Path, dict[str, Any]] = {}


def _read_snapshot_file(path: Path, label: str) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved not in _SNAPSHOT_FILES:
        try:
            _SNAPSHOT_FILES[resolved] = orjson.loads(resolved.read_bytes())
        except FileNotFoundError:
            message = f"{label}: snapshot_file {path} not found; paths are relative to the test file"
            raise SnapshotError(message) from None
        except (OSError, orjson.JSONDecodeError) as error:
            message = f"{label}: cannot read snapshot_file {path}: {error}"
            raise SnapshotError(message) from None

    return copy.deepcopy(_SNAPSHOT_FILES[resolved])


def _fragment_document(case: TestCase) -> dict[str, Any]:
    provider = case.provider
    document: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "tenant": {**_DEFAULT_TENANTS[provider], **case.tenant, "provider": provider},
        "collectedAt": case.now or DEFAULT_NOW,
        "collector": {"name": "safeguard test", "version": __version__},
        "sections": {
            name: {"status": "not_collected", "message": "the test case does not give this section"} for name in SECTIONS[provider]
        },
        provider: {},
    }
    for section, data in case.fragment.items():
        document["sections"][section] = {"status": "ok"}
        document[provider][section.split(".", 1)[1]] = copy.deepcopy(data)

    return document


def build_snapshot(case: TestCase) -> Snapshot:
    """Build and validate the snapshot of a case; raise SnapshotError naming the case."""
    if case.snapshot_file is not None:
        document = _read_snapshot_file(case.snapshot_file, case.label)
        source = f"{case.label}: {case.snapshot_file}"
    else:
        document = _fragment_document(case)
        source = case.label
    provider = document.get("tenant", {}).get("provider") if isinstance(document.get("tenant"), dict) else None
    for section, override in case.sections.items():
        entry = {"status": override["status"], "message": override.get("message") or f"set to {override['status']} by the test case"}
        document.setdefault("sections", {})[section] = entry
        data = document.get(provider)
        if isinstance(data, dict):
            data.pop(section.split(".", 1)[1], None)
    validate_document(document, source)

    return Snapshot(source, document)


# Running -------------------------------------------------------------------


def _match_violations(expected: Sequence[ExpectedViolation], actual: list[tuple[str, str]]) -> tuple[list[str], list[str], bool]:
    """Pair expected and actual violations; return the rendered expected and actual lists and whether they match."""
    unmatched = list(range(len(actual)))
    rendered_actual: list[str] = []
    missing = False
    # Entries with a message constraint first, so an id-only entry cannot take the violation they need.
    ordered = sorted(expected, key=lambda entry: entry.message is None)
    for entry in ordered:
        found = next(
            (
                index
                for index in unmatched
                if actual[index][0] == entry.resource and (entry.message is None or entry.message in actual[index][1])
            ),
            None,
        )
        if found is None:
            missing = True
            continue
        unmatched.remove(found)
        rendered_actual.append(entry.render())
    for index in unmatched:
        resource, message = actual[index]
        rendered_actual.append(f"- {resource} (message {_quote(message)})")

    rendered_expected = sorted(entry.render() for entry in expected)

    return rendered_expected, sorted(rendered_actual), not missing and not unmatched


def compare(expectation: Expectation, result: PolicyResult) -> PolicyOutcome:
    """Compare one expectation with a policy result."""
    expected = [f"status: {expectation.status}"]
    actual = [f"status: {result.status}"]
    passed = expectation.status == result.status

    if expectation.error is not None:
        expected.append(f"error contains {_quote(expectation.error)}")
        if result.error is not None and expectation.error in result.error:
            actual.append(expected[-1])
        else:
            actual.append(f"error {_quote(result.error)}" if result.error else "error: none")
            passed = False
    elif not passed and result.error:
        actual.append(f"error {_quote(result.error)}")

    violations = [(str(violation.resource.get("id")), violation.message) for violation in result.violations]
    if expectation.violations is not None:
        rendered_expected, rendered_actual, matched = _match_violations(expectation.violations, violations)
        expected += ["violations:", *rendered_expected]
        actual += ["violations:", *rendered_actual]
        passed = passed and matched
    elif not passed and violations:
        _, rendered_actual, _ = _match_violations((), violations)
        actual += ["violations:", *rendered_actual]

    return PolicyOutcome(policy=expectation.policy, passed=passed, expected=expected, actual=actual)


def _now(case: TestCase, snapshot: Snapshot) -> datetime:
    if case.now is not None:
        return parse_collected_at(case.now)

    return snapshot.collected_at


def run_case(case: TestCase, policy_set: PolicySet) -> CaseResult:
    """Run one case: build its snapshot and params, evaluate the policies it names, compare."""
    try:
        snapshot = build_snapshot(case)
        params = resolve_params(policy_set, case.params, source=case.label)
    except SafeguardError as error:
        return CaseResult(case=case, error=str(error))
    wanted = {expectation.policy for expectation in case.expectations}
    selected = replace(policy_set, policies=[policy for policy in policy_set.policies if policy.id in wanted])
    evaluation = evaluate(selected, snapshot, params, _now(case, snapshot))
    results = {result.id: result for result in evaluation.results}
    outcomes = [compare(expectation, results[expectation.policy]) for expectation in case.expectations]

    return CaseResult(case=case, outcomes=outcomes)


def run_tests(files: Sequence[TestFile], policy_set: PolicySet, name_filter: str | None = None) -> list[CaseResult]:
    """Run every case of the files, in file order; ``name_filter`` keeps cases whose name contains it."""
    results = []
    for test_file in files:
        for case in test_file.cases:
            if name_filter is not None and name_filter not in case.name:
                continue
            results.append(run_case(case, policy_set))

    return results


def untested_statuses(files: Sequence[TestFile], policy_set: PolicySet) -> dict[str, list[str]]:
    """Map each policy to the statuses among pass, fail and error that no case expects of it."""
    seen: dict[str, set[str]] = {policy.id: set() for policy in policy_set.policies}
    for test_file in files:
        for case in test_file.cases:
            for expectation in case.expectations:
                seen.setdefault(expectation.policy, set()).add(expectation.status)

    gaps = {}
    for policy_id in sorted(seen):
        missing = [status for status in REQUIRED_STATUSES if status not in seen[policy_id]]
        if missing:
            gaps[policy_id] = missing

    return gaps
