"""Tests for schema/plan.schema.json and the plan documents `safeguard plan` writes."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.plan import STATUSES

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SCHEMA = json.loads((REPO / "schema" / "plan.schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)

EXAMPLE_RUNS = {
    "m365": ["--snapshot", "examples/m365-snapshot.json", "--params", "examples/params.yaml"],
    "gws": ["--snapshot", "examples/gws-snapshot.json"],
    "m365-exceptions": [
        "--snapshot",
        "examples/m365-snapshot.json",
        "--params",
        "examples/params.yaml",
        "--exceptions",
        "examples/exceptions.yaml",
    ],
}


# What the safeguard console script runs.
_ENTRY_POINT = "from engine.cli import main; main()"


def _plan_file(out_path: Path, arguments: list[str], hash_seed: str) -> bytes:
    """Run `safeguard plan --out` in a child process and return the bytes it wrote.

    A child process per run makes set and dict ordering depend on its own
    PYTHONHASHSEED, so two runs with different seeds show any ordering leak.
    """
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    command = [sys.executable, "-c", _ENTRY_POINT, "plan", *arguments, "--format", "json", "--out", str(out_path)]
    completed = subprocess.run(command, capture_output=True, cwd=REPO, env=environment, timeout=60, check=False)
    assert completed.returncode in (0, 2), completed.stderr.decode()

    return out_path.read_bytes()


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """Each example planned twice, under different hash seeds."""
    folder = tmp_path_factory.mktemp("plans")
    runs: dict[str, dict[str, bytes]] = {}
    for name, arguments in EXAMPLE_RUNS.items():
        runs[name] = {seed: _plan_file(folder / f"{name}-{seed}.json", arguments, seed) for seed in ("1", "2")}

    return runs


def _plan(plans, name: str) -> dict:
    return json.loads(plans[name]["1"])


def _errors(document: dict) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}" for error in VALIDATOR.iter_errors(document)]


def test_schema_valid():
    """The plan schema is itself a valid JSON Schema 2020-12 document."""
    Draft202012Validator.check_schema(SCHEMA)

    assert "https://json-schema.org/draft/2020-12/schema" == SCHEMA["$schema"]


def test_schema_statuses():
    """The schema's status enum is the engine's list of statuses."""
    assert list(STATUSES) == SCHEMA["$defs"]["Result"]["properties"]["status"]["enum"]
    assert sorted(STATUSES) == sorted(SCHEMA["properties"]["summary"]["required"])


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_example_plan_valid(plans, name):
    """The plan of each example validates against the schema."""
    assert [] == _errors(_plan(plans, name))


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_plan_deterministic(plans, name):
    """Two runs with different hash seeds write byte-identical --out files."""
    assert plans[name]["1"] == plans[name]["2"]


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_summary_matches_results(plans, name):
    """Each summary count is the number of results with that status."""
    plan = _plan(plans, name)

    for status in STATUSES:
        assert sum(1 for result in plan["results"] if result["status"] == status) == plan["summary"][status], status


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_results_ordered(plans, name):
    """Results are ordered by policy id, one per policy."""
    policies = [result["policy"] for result in _plan(plans, name)["results"]]

    assert sorted(set(policies)) == policies


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_actions_point_at_violations(plans, name):
    """Every action names a violation of the policy that proposed it."""
    plan = _plan(plans, name)
    violations = {(result["policy"], violation["id"]) for result in plan["results"] for violation in result["violations"]}

    for action in plan["actions"]:
        assert (action["policy"], action["violation"]) in violations


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_ids_unique(plans, name):
    """Action ids and violation ids are unique within a plan."""
    plan = _plan(plans, name)
    action_ids = [action["id"] for action in plan["actions"]]
    violation_ids = [violation["id"] for result in plan["results"] for violation in result["violations"]]

    assert len(set(action_ids)) == len(action_ids)
    assert len(set(violation_ids)) == len(violation_ids)


def test_m365_plan_has_actions(plans):
    """The Microsoft 365 example proposes actions, so the action schema is exercised."""
    actions = _plan(plans, "m365")["actions"]

    assert 0 < len(actions)
    assert {"m365"} == {action["provider"] for action in actions}


def test_snapshot_digest_differs(plans):
    """The two examples are different snapshots, so their digests differ."""
    assert _plan(plans, "m365")["snapshot"]["digest"] != _plan(plans, "gws")["snapshot"]["digest"]


# The schema rejects what a plan must not contain.


def _mutated(plans, change) -> dict:
    document = copy.deepcopy(_plan(plans, "m365"))
    change(document)

    return document


def _first_failing(document: dict) -> dict:
    return next(result for result in document["results"] if result["status"] == "fail")


def _first_passing(document: dict) -> dict:
    return next(result for result in document["results"] if result["status"] == "pass")


def _set_status(document: dict) -> None:
    document["results"][0]["status"] = "skipped"


def _drop_summary_count(document: dict) -> None:
    del document["summary"]["waived"]


def _short_digest(document: dict) -> None:
    document["snapshot"]["digest"] = "sha256:abc"


def _pass_with_violation(document: dict) -> None:
    _first_passing(document)["violations"] = copy.deepcopy(_first_failing(document)["violations"][:1])


def _fail_without_violation(document: dict) -> None:
    _first_failing(document)["violations"] = []


def _error_without_reason(document: dict) -> None:
    result = _first_passing(document)
    result["status"] = "error"
    result["error"] = None


def _unknown_field(document: dict) -> None:
    document["actions"][0]["approvedBy"] = "someone"


def _local_time(document: dict) -> None:
    document["createdAt"] = "2026-11-30T13:00:00+01:00"


def _section_without_reason(document: dict) -> None:
    document["snapshot"]["sections"]["m365.users"] = {"status": "error"}


def _bad_action_name(document: dict) -> None:
    document["actions"][0]["action"] = "Disable User"


def _negative_count(document: dict) -> None:
    document["summary"]["pass"] = -1


def _resource_without_id(document: dict) -> None:
    _first_failing(document)["violations"][0]["resource"]["id"] = None


_MUTATIONS = [
    _set_status,
    _drop_summary_count,
    _short_digest,
    _pass_with_violation,
    _fail_without_violation,
    _error_without_reason,
    _unknown_field,
    _local_time,
    _section_without_reason,
    _bad_action_name,
    _negative_count,
    _resource_without_id,
]


@pytest.mark.parametrize("change", _MUTATIONS, ids=[change.__name__.lstrip("_") for change in _MUTATIONS])
def test_schema_rejects(plans, change):
    """The schema rejects a plan with one invalid change."""
    assert [] != _errors(_mutated(plans, change))


def _precondition(document: dict) -> None:
    document["actions"][0]["precondition"] = {"fingerprint": "sha256:" + "0" * 64, "fields": {"accountEnabled": True}}


def _waived_with_exception(document: dict) -> None:
    result = _first_failing(document)
    result["status"] = "waived"
    result["exception"] = {
        "id": "exc-0123456789abcdef",
        "policy": result["policy"],
        "resource": "all",
        "tenants": "all",
        "owner": "secops@example.org",
        "reason": "Replacement control in place",
        "ticket": "SEC-1",
        "expires": "2027-01-01",
        "source": "exceptions.yaml:3",
    }
    document["summary"]["fail"] -= 1
    document["summary"]["waived"] += 1


def _minor_version(document: dict) -> None:
    document["schemaVersion"] = "1.1"


_ADDITIONS = [_precondition, _waived_with_exception, _minor_version]


@pytest.mark.parametrize("change", _ADDITIONS, ids=[change.__name__.lstrip("_") for change in _ADDITIONS])
def test_schema_accepts_additions(plans, change):
    """The schema accepts the additions it reserves room for."""
    assert [] == _errors(_mutated(plans, change))


def test_exceptions_block_recorded(plans):
    """A plan made with --exceptions lists applied exceptions and marks waived violations."""
    document = _plan(plans, "m365-exceptions")
    waived = [violation for result in document["results"] for violation in result["violations"] if "exception" in violation]

    assert [] == _errors(document)
    assert document["exceptions"]["applied"]
    assert waived


def test_digest_independent_of_cwd(tmp_path):
    """The policy-set digest and file list do not depend on the working folder."""
    command = [sys.executable, "-c", _ENTRY_POINT, "plan", "--snapshot", str(EXAMPLES / "m365-snapshot.json")]
    command += ["--policies", str(REPO / "policies"), "--format", "json"]
    runs = [subprocess.run(command, capture_output=True, cwd=folder, timeout=60, check=False) for folder in (REPO, tmp_path)]
    sets = [json.loads(run.stdout)["policySet"] for run in runs]

    assert sets[0] == sets[1]
    assert "m365/mfa.sg" in sets[0]["files"]
