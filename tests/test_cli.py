"""Tests for the safeguard command line: exit codes, messages for bad input, subcommands.

Most tests run ``engine.cli.main`` in process through the ``safeguard``
fixture, so they see exactly what a user sees on stdout and stderr. A few
run the installed ``safeguard`` script to check real exit codes and that no
traceback reaches the terminal.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner

from engine.cli import cli
from engine.snapshot import load_snapshot
from helpers import write_text
from remediations import registry

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
FIXTURES = REPO / "tests" / "fixtures" / "acceptance"
SAFEGUARD = Path(sys.executable).with_name("safeguard")

M365_EXAMPLE = EXAMPLES / "m365-snapshot.json"
PARAMS_EXAMPLE = EXAMPLES / "params.yaml"

EXIT_OK = 0
EXIT_FAILED_RUN = 1
EXIT_VIOLATIONS = 2


def _policy_count(folder: Path) -> int:
    return sum(len(re.findall(r'^policy "', path.read_text(encoding="utf-8"), re.M)) for path in folder.rglob("*.sg"))


def _compliant_gws(make_snapshot) -> dict:
    """Build a Google Workspace snapshot on which every shipped policy passes."""

    def setting(kind: str, value: dict) -> dict:
        query = {"orgUnit": "orgUnits/03ph0", "orgUnitPath": "/", "group": None, "groupEmail": None, "sortOrder": None}
        return {"name": None, "type": "ADMIN", "policyQuery": query, "setting": {"type": f"settings/{kind}", "value": value}}

    data = {
        "orgUnits": [{"orgUnitPath": "/", "orgUnitId": "id:03ph0", "name": "Example Org"}],
        "policies": [
            setting("security.two_step_verification_enforcement", {"enforcedFrom": "2026-01-01T00:00:00Z"}),
            setting("security.two_step_verification_enforcement_factor", {"allowedSignInFactorSet": "PASSKEY_ONLY"}),
            setting("security.two_step_verification_device_trust", {"allowTrustingDevice": False}),
            setting("gmail.auto_forwarding", {"enableAutoForwarding": False}),
        ],
        "superAdmins": [
            {"primaryEmail": "ada@example.org", "orgUnitPath": "/"},
            {"primaryEmail": "grace@example.org", "orgUnitPath": "/"},
        ],
        "autoForwarding": [{"userEmail": "ada@example.org", "enabled": False}],
    }

    return make_snapshot("gws", data)


@pytest.fixture
def compliant_gws(tmp_path, make_snapshot) -> Path:
    """A snapshot file on which the shipped pack finds nothing to fix."""
    return write_text(tmp_path / "compliant.json", json.dumps(_compliant_gws(make_snapshot)))


@pytest.fixture
def broken_policy(tmp_path) -> Path:
    """A folder with one policy that reads a field of a list."""
    write_text(
        tmp_path / "broken" / "bad.sg",
        'package t\n\npolicy "t.bad" {\n  title "Bad"\n  severity high\n  assert m365.users.foo == 1\n}\n',
    )

    return tmp_path / "broken"


# Exit codes


def test_plan_violations_exit(safeguard):
    """A plan with failing policies exits 2."""
    code, out, _ = safeguard("plan", "--snapshot", M365_EXAMPLE, "--params", PARAMS_EXAMPLE)

    assert EXIT_VIOLATIONS == code
    assert "FAIL (" in out


def test_plan_compliant_exit(compliant_gws, safeguard):
    """A plan where every policy passes or does not apply exits 0."""
    code, out, err = safeguard("plan", "--snapshot", compliant_gws, "--format", "json")
    summary = json.loads(out)["summary"]

    assert EXIT_OK == code, err
    assert 0 == summary["fail"]
    assert 0 == summary["error"]


def test_plan_error_only_exit(tmp_path, make_snapshot, safeguard):
    """A plan whose only problem is an error (data not collected) exits 2."""
    document = _compliant_gws(make_snapshot)
    document["sections"]["gws.autoForwarding"] = {"status": "error", "message": "HTTP 403 from Gmail"}
    del document["gws"]["autoForwarding"]
    snapshot = write_text(tmp_path / "partial.json", json.dumps(document))
    code, out, _ = safeguard("plan", "--snapshot", snapshot, "--format", "json")
    summary = json.loads(out)["summary"]

    assert EXIT_VIOLATIONS == code
    assert 0 == summary["fail"]
    assert 1 == summary["error"]


def test_plan_text_names_tenant(safeguard):
    """The text report starts with the tenant's domain and provider."""
    _, out, _ = safeguard("plan", "--snapshot", M365_EXAMPLE)

    assert out.startswith("safeguard plan for contoso.example (m365, tenant ")


def test_plan_now_option(compliant_gws, safeguard):
    """--now moves the evaluation clock, and a date before enforcement fails."""
    code, out, _ = safeguard("plan", "--snapshot", compliant_gws, "--format", "json", "--now", "2025-12-31T00:00:00Z")
    plan = json.loads(out)
    result = next(result for result in plan["results"] if result["policy"] == "gws.2sv.enforced")

    assert EXIT_VIOLATIONS == code
    assert "2025-12-31T00:00:00Z" == plan["createdAt"]
    assert "fail" == result["status"]


# Bad input: exit 1, a message naming the file, position or value, no traceback


def test_snapshot_missing(tmp_path, safeguard):
    """A missing snapshot file is named, with how to create one."""
    code, out, err = safeguard("plan", "--snapshot", tmp_path / "nope.json")

    assert EXIT_FAILED_RUN == code
    assert "nope.json: snapshot not found" in err
    assert "Traceback" not in err
    assert "" == out


def test_snapshot_not_json(tmp_path, safeguard):
    """A snapshot that is not JSON is reported with line and column."""
    snapshot = write_text(tmp_path / "broken.json", '{"schemaVersion": "1.0",\n  "tenant": }\n')
    code, _, err = safeguard("plan", "--snapshot", snapshot)

    assert EXIT_FAILED_RUN == code
    assert re.search(r"broken\.json:2:\d+: not valid JSON", err), err
    assert "Traceback" not in err


def test_snapshot_schema_invalid(tmp_path, safeguard):
    """A snapshot with a wrongly typed field names its JSON path and value."""
    document = json.loads(M365_EXAMPLE.read_text(encoding="utf-8"))
    document["m365"]["users"][2]["accountEnabled"] = "yes"
    snapshot = write_text(tmp_path / "invalid.json", json.dumps(document))
    code, _, err = safeguard("plan", "--snapshot", snapshot)

    assert EXIT_FAILED_RUN == code
    assert "invalid.json: $.m365.users[2].accountEnabled:" in err
    assert '"yes"' in err
    assert "Traceback" not in err


def test_snapshot_unknown_section(tmp_path, safeguard):
    """A misspelt section name is rejected with a suggestion."""
    document = json.loads(M365_EXAMPLE.read_text(encoding="utf-8"))
    document["sections"]["m365.user"] = {"status": "not_collected", "message": "typo"}
    snapshot = write_text(tmp_path / "typo.json", json.dumps(document))
    code, _, err = safeguard("plan", "--snapshot", snapshot)

    assert EXIT_FAILED_RUN == code
    assert 'unknown section "m365.user"' in err


def test_policy_type_error(broken_policy, safeguard):
    """A policy error prints FILE:LINE:COL: code: message, the source line and a caret."""
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--policies", broken_policy)
    lines = err.splitlines()
    first = next(index for index, line in enumerate(lines) if "bad.sg:" in line)

    assert EXIT_FAILED_RUN == code
    assert re.search(r"bad\.sg:6:21: type_mismatch: cannot read field 'foo'", lines[first]), err
    assert "assert m365.users.foo == 1" in lines[first + 1]
    assert "^" == lines[first + 2].strip()
    assert lines[first + 1].index("foo") == lines[first + 2].index("^")
    assert "Traceback" not in err


def test_policy_syntax_errors(tmp_path, safeguard):
    """Syntax errors in two files are both reported, in file order, with a count."""
    folder = tmp_path / "syntax"
    write_text(folder / "a.sg", 'package a\n\npolicy "a.one" {\n  title "One"\n  assert (1 +\n}\n')
    write_text(folder / "b.sg", 'package b\n\npolicy "b.two" {\n  title "Two"\n  severity high\n  assert == 1\n}\n')
    code, _, err = safeguard("validate", folder)
    positions = re.findall(r"([ab]\.sg):(\d+):(\d+): syntax_error:", err)

    assert EXIT_FAILED_RUN == code
    assert ["a.sg", "b.sg"] == [file for file, _, _ in positions]
    assert "2 errors" in err


def test_params_unknown_name(tmp_path, safeguard):
    """A misspelt param name gets a did-you-mean hint."""
    params = write_text(tmp_path / "params.yaml", "break_glas: []\n")
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--params", params)

    assert EXIT_FAILED_RUN == code
    assert "params.yaml: unknown param 'break_glas'; did you mean 'break_glass'?" in err
    assert "Traceback" not in err


def test_params_wrong_type(tmp_path, safeguard):
    """A param of the wrong type names the param and the value."""
    params = write_text(tmp_path / "params.yaml", "stale_days: ninety\n")
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--params", params)

    assert EXIT_FAILED_RUN == code
    assert "param 'stale_days'" in err
    assert '"ninety"' in err


def test_params_set_item_type(tmp_path, safeguard):
    """A set param with an item of the wrong type names the item's index."""
    params = write_text(tmp_path / "params.yaml", "break_glass:\n  - 5966eb44-e0c6-4744-9511-3dc30e9a8df5\n  - 42\n")
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--params", params)

    assert EXIT_FAILED_RUN == code
    assert "param 'break_glass'[1]" in err
    assert "42" in err


def test_params_invalid_yaml(tmp_path, safeguard):
    """A params file that is not YAML is reported with line and column."""
    params = write_text(tmp_path / "params.yaml", "break_glass: [a, b\nstale_days: 3\n")
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--params", params)

    assert EXIT_FAILED_RUN == code
    assert re.search(r"params\.yaml:2:\d+: invalid YAML", err), err


def test_params_not_mapping(tmp_path, safeguard):
    """A params file that is a list, not a mapping, is rejected."""
    params = write_text(tmp_path / "params.yaml", "- break_glass\n")
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--params", params)

    assert EXIT_FAILED_RUN == code
    assert "must be a mapping" in err


def test_params_missing_file(tmp_path, safeguard):
    """A params file that does not exist is named."""
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--params", tmp_path / "absent.yaml")

    assert EXIT_FAILED_RUN == code
    assert "absent.yaml: params file not found" in err


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yesterday", "--now: invalid time 'yesterday'"),
        ("2026-12-01T00:00:00", "--now: time '2026-12-01T00:00:00' has no UTC offset"),
    ],
    ids=["not-a-time", "no-offset"],
)
def test_now_invalid(value, expected, safeguard):
    """An invalid --now names the option and the value."""
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--now", value)

    assert EXIT_FAILED_RUN == code
    assert expected in err


def test_unknown_command(safeguard):
    """A misspelt command gets a did-you-mean hint and exit code 1."""
    code, _, err = safeguard("plna")

    assert EXIT_FAILED_RUN == code
    assert "No such command 'plna'. Did you mean 'plan'?" in err


def test_unknown_option(safeguard):
    """An unknown option is a usage error with exit code 1."""
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--frmat", "json")

    assert EXIT_FAILED_RUN == code
    assert "--frmat" in err


# --out


def test_out_writes_plan(tmp_path, safeguard):
    """--out writes the same JSON that --format json prints."""
    out_path = tmp_path / "plan.json"
    _, printed, _ = safeguard("plan", "--snapshot", M365_EXAMPLE, "--format", "json", "--out", out_path)

    assert printed == out_path.read_text(encoding="utf-8")


def test_out_missing_folder(tmp_path, safeguard):
    """--out into a missing folder fails, names the folder, and creates nothing."""
    code, out, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--out", tmp_path / "missing" / "plan.json")

    assert EXIT_FAILED_RUN == code
    assert "folder" in err
    assert "missing" in err
    assert not (tmp_path / "missing").exists()
    assert "" == out


def test_out_kept_on_failed_run(tmp_path, safeguard):
    """When the run fails, an existing --out file keeps its bytes and no temporary file is left."""
    out_path = write_text(tmp_path / "plan.json", '{"previous": true}\n')
    before = out_path.read_bytes()
    code, _, _ = safeguard("plan", "--snapshot", tmp_path / "absent.json", "--out", out_path)

    assert EXIT_FAILED_RUN == code
    assert before == out_path.read_bytes()
    assert ["plan.json"] == sorted(path.name for path in tmp_path.iterdir())


def test_out_kept_on_bad_params(tmp_path, safeguard):
    """A params error after the snapshot was read also leaves the --out file alone."""
    out_path = write_text(tmp_path / "plan.json", '{"previous": true}\n')
    params = write_text(tmp_path / "params.yaml", "stale_days: soon\n")
    before = out_path.read_bytes()
    code, _, _ = safeguard("plan", "--snapshot", M365_EXAMPLE, "--params", params, "--out", out_path)

    assert EXIT_FAILED_RUN == code
    assert before == out_path.read_bytes()


def test_out_replaced_on_violations(tmp_path, safeguard):
    """A run that finds violations (exit 2) still replaces the --out file."""
    out_path = write_text(tmp_path / "plan.json", '{"previous": true}\n')
    code, _, _ = safeguard("plan", "--snapshot", M365_EXAMPLE, "--out", out_path)

    assert EXIT_VIOLATIONS == code
    assert "1.0" == json.loads(out_path.read_text(encoding="utf-8"))["schemaVersion"]


# validate


def test_validate_pack(safeguard):
    """validate on the shipped pack counts its policies and finds no problems."""
    code, out, err = safeguard("validate", REPO / "policies")

    assert EXIT_OK == code, err
    assert out.startswith(f"{_policy_count(REPO / 'policies')} policies in ")
    assert "no problems found" in out


def test_validate_one_policy(tmp_path, safeguard):
    """validate counts one policy in one file in the singular."""
    path = tmp_path / "one.sg"
    path.write_text('package t\n\npolicy "t.a" {\n  title "A"\n  severity low\n  assert 1 == 1\n}\n', encoding="utf-8")

    code, out, err = safeguard("validate", path)

    assert EXIT_OK == code, err
    assert "1 policy in 1 file: no problems found\n" == out


def test_validate_broken(broken_policy, safeguard):
    """validate on a broken folder exits 1 with the diagnostic."""
    code, out, err = safeguard("validate", broken_policy)

    assert EXIT_FAILED_RUN == code
    assert "bad.sg:6:21: type_mismatch:" in err
    assert "no problems found" not in out


def test_validate_missing_path(tmp_path, safeguard):
    """validate on a path that does not exist names it."""
    code, _, err = safeguard("validate", tmp_path / "nowhere")

    assert EXIT_FAILED_RUN == code
    assert "nowhere: no such file or directory" in err


def test_validate_empty_folder(tmp_path, safeguard):
    """validate on a folder without policy files reports that none were found."""
    (tmp_path / "empty").mkdir()
    code, _, err = safeguard("validate", tmp_path / "empty")

    assert EXIT_FAILED_RUN == code
    assert "no .sg policy files found" in err


# actions


def test_actions_text(safeguard):
    """actions lists every registered action with its arguments."""
    code, out, _ = safeguard("actions")
    registry.load_entry_points()

    assert EXIT_OK == code
    for name in registry.names():
        assert f"{name}(" in out
    assert "m365.require_mfa(user: string, group: string?)" in out


def test_actions_json(safeguard):
    """actions --format json describes each registered action once, in name order."""
    code, out, _ = safeguard("actions", "--format", "json")
    declarations = json.loads(out)
    registry.load_entry_points()

    assert EXIT_OK == code
    assert list(registry.names()) == [declaration["name"] for declaration in declarations]
    assert sorted(registry.names()) == [declaration["name"] for declaration in declarations]


def test_actions_require_mfa(safeguard):
    """The require_mfa declaration is reversible and requires a user argument."""
    _, out, _ = safeguard("actions", "--format", "json")
    declaration = next(item for item in json.loads(out) if item["name"] == "m365.require_mfa")

    assert True is declaration["reversible"]
    assert True is declaration["arguments"]["user"]["required"]
    assert False is declaration["arguments"]["group"]["required"]


# import


def test_import_scubagear(tmp_path, safeguard):
    """import scubagear writes a valid snapshot and lists the sections the export lacks."""
    output = tmp_path / "m365.json"
    code, out, err = safeguard("import", "scubagear", FIXTURES / "scubagear-export.json", "-o", output)
    snapshot = load_snapshot(output)

    assert EXIT_OK == code, err
    assert out.startswith(f"wrote {output}: 6 sections collected, 5 not available")
    assert "m365.users: not_collected" in out
    assert "6d2f4a80-1b3c-4d5e-8f90-a1b2c3d4e5f6" == snapshot.tenant["id"]
    assert "northwind.example" == snapshot.tenant["domain"]
    assert "ok" == snapshot.status("m365.conditionalAccessPolicies").status


def test_import_scubagear_plan(tmp_path, safeguard):
    """A plan on an imported ScubaGear export passes MFA through the authentication strength policy."""
    output = tmp_path / "m365.json"
    safeguard("import", "scubagear", FIXTURES / "scubagear-export.json", "-o", output)
    code, out, _ = safeguard("plan", "--snapshot", output, "--format", "json")
    statuses = {result["policy"]: result["status"] for result in json.loads(out)["results"]}

    assert EXIT_VIOLATIONS == code
    assert "pass" == statuses["m365.mfa.all-users"]
    assert "pass" == statuses["m365.auth.legacy-blocked"]
    assert "fail" == statuses["m365.mfa.weak-methods-disabled"]
    assert "error" == statuses["m365.mfa.user-coverage"]


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_import_scubagoggles(tmp_path, compressed, safeguard):
    """import scubagoggles reads a plain or gzip export and resolves org unit paths."""
    source = FIXTURES / "scubagoggles-export.json"
    if compressed:
        packed = tmp_path / "provider-export.json.gz"
        packed.write_bytes(gzip.compress(source.read_bytes()))
        source = packed
    output = tmp_path / "gws.json"
    code, out, err = safeguard("import", "scubagoggles", source, "-o", output)
    snapshot = load_snapshot(output)
    paths = sorted({policy["policyQuery"]["orgUnitPath"] for policy in snapshot.document["gws"]["policies"]})

    assert EXIT_OK == code, err
    assert out.startswith(f"wrote {output}: ")
    assert "2026-10-01T12:00:00Z" == snapshot.document["collectedAt"]
    assert ["/", "/Interns", "/Sales/East"] == paths


def test_import_scubagoggles_plan(tmp_path, safeguard):
    """A plan on an imported ScubaGoggles export reports the org unit whose 2SV date is ahead."""
    output = tmp_path / "gws.json"
    safeguard("import", "scubagoggles", FIXTURES / "scubagoggles-export.json", "-o", output)
    _, out, _ = safeguard("plan", "--snapshot", output, "--format", "json")
    result = next(result for result in json.loads(out)["results"] if result["policy"] == "gws.2sv.enforced")

    assert "fail" == result["status"]
    assert ["/Interns"] == [violation["resource"]["id"] for violation in result["violations"]]


def test_import_wrong_tool(tmp_path, safeguard):
    """A ScubaGoggles export given to the ScubaGear importer is rejected with a message."""
    code, _, err = safeguard("import", "scubagear", FIXTURES / "scubagoggles-export.json", "-o", tmp_path / "x.json")

    assert EXIT_FAILED_RUN == code
    assert "scubagoggles-export.json" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.json").exists()


def test_import_missing_source(tmp_path, safeguard):
    """A missing export file is named."""
    code, _, err = safeguard("import", "scubagoggles", tmp_path / "absent.json.gz", "-o", tmp_path / "x.json")

    assert EXIT_FAILED_RUN == code
    assert "absent.json.gz" in err


def test_import_output_missing_folder(tmp_path, safeguard):
    """An output path in a missing folder fails with a message and writes nothing."""
    code, _, err = safeguard(
        "import", "scubagear", FIXTURES / "scubagear-export.json", "-o", tmp_path / "missing" / "m365.json"
    )

    assert EXIT_FAILED_RUN == code
    assert "m365.json" in err
    assert not (tmp_path / "missing").exists()


# CliRunner on the click group itself


def test_group_help():
    """The group's help lists the core subcommands."""
    result = CliRunner().invoke(cli, ["--help"])

    assert EXIT_OK == result.exit_code
    for command in ("plan", "validate", "import", "actions"):
        assert command in result.output


def test_group_plan_exit_code():
    """Invoked through click directly, plan also exits 2 on violations."""
    result = CliRunner().invoke(cli, ["plan", "--snapshot", str(M365_EXAMPLE), "--format", "json"])
    structlog.reset_defaults()

    assert EXIT_VIOLATIONS == result.exit_code
    assert "m365.mfa.all-users" in result.stdout


# The installed script, in a child process


def _script(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    if not SAFEGUARD.exists():
        pytest.skip(f"the safeguard script is not installed next to {sys.executable}")

    return subprocess.run(
        [str(SAFEGUARD), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def test_script_violations():
    """The installed script exits 2 on the Microsoft 365 example, without a traceback."""
    completed = _script("plan", "--snapshot", M365_EXAMPLE, "--params", PARAMS_EXAMPLE, cwd=REPO)

    assert EXIT_VIOLATIONS == completed.returncode
    assert "Traceback" not in completed.stderr


def test_script_missing_snapshot(tmp_path):
    """The installed script exits 1 on a missing snapshot, with one error line and no traceback."""
    completed = _script("plan", "--snapshot", "absent.json", cwd=tmp_path)

    assert EXIT_FAILED_RUN == completed.returncode
    assert completed.stderr.startswith("error: absent.json: snapshot not found")
    assert "Traceback" not in completed.stderr


def test_script_broken_policy(broken_policy, tmp_path):
    """The installed script exits 1 on a broken policy, without a traceback."""
    completed = _script("validate", broken_policy, cwd=tmp_path)

    assert EXIT_FAILED_RUN == completed.returncode
    assert "type_mismatch" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_script_unknown_command(tmp_path):
    """The installed script exits 1 on an unknown command, without a traceback."""
    completed = _script("aply", cwd=tmp_path)

    assert EXIT_FAILED_RUN == completed.returncode
    assert "No such command 'aply'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_script_default_pack(tmp_path):
    """Run outside the repository, plan falls back to the shipped pack."""
    snapshot = tmp_path / "m365.json"
    shutil.copyfile(M365_EXAMPLE, snapshot)
    completed = _script("plan", "--snapshot", snapshot, "--format", "json", cwd=tmp_path)
    plan = json.loads(completed.stdout)

    assert EXIT_VIOLATIONS == completed.returncode
    assert _policy_count(REPO / "policies") == len(plan["results"])


def test_plan_html_attestations(safeguard):
    """--format html with --attestations shows the manual statements in the report."""
    code, out, _ = safeguard(
        "plan", "--snapshot", M365_EXAMPLE, "--format", "html", "--attestations", str(REPO / "examples" / "attestations.yaml")
    )

    assert EXIT_VIOLATIONS == code
    assert "Qualified individual" in out or "qualified individual" in out


def test_attestations_need_html(safeguard):
    """--attestations without --format html is rejected with a hint."""
    code, _, err = safeguard("plan", "--snapshot", M365_EXAMPLE, "--attestations", str(REPO / "examples" / "attestations.yaml"))

    assert EXIT_FAILED_RUN == code
    assert "--format html" in err
