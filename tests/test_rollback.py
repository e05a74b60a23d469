"""`safeguard rollback`: undo an apply's reversible changes, last first, with the same checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from apply_scenario import (
    BEA,
    CARL,
    DANA,
    EXCLUSION_GROUP,
    GWS_TENANT,
    M365_REMEDIATED,
    M365_TENANT,
    TOKEN_ENV,
    action_ids,
    collect,
    journal_statuses,
    make_plan,
    run,
    seed,
    statuses,
    write_inventory,
    writes,
)
from engine.apply.runner import ApplyOptions, ApplyRefused
from engine.cli.apply import rollback
from engine.language.policyset import load_policies
from engine.simulator import Simulator

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.usefixtures("quiet_logs")]

BREAK_GLASS = {"break_glass": [BEA]}
EXCLUSION = {"mfa_exclusion_group": EXCLUSION_GROUP}

# A policy pack that plans the two Google actions that cannot be undone next to one that can.
GWS_POLICY = """\
package test.gws.leavers

policy "test.gws.leaver-locked" {
  title "Mia, who left, is suspended, signed out and holds no grants"
  severity low
  controls ["test"]
  for user in gws.users
    where user.primaryEmail == "mia@apply-gws.example"
  assert user.suspended == true
  message "{user.primaryEmail} is not suspended"
  remediate gws.revoke_tokens(user: user.primaryEmail)
  remediate gws.sign_out_user(user: user.primaryEmail)
  remediate gws.suspend_user(user: user.primaryEmail)
}
"""


@pytest.fixture
def applied(tmp_path, pack):
    """A simulated m365 tenant to which the seed's plan was applied."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path, m365_params=EXCLUSION)
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json", BREAK_GLASS)
        run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")
        sim.clear_writes()
        yield sim, inventory, plan, tmp_path / "plan.journal.jsonl"


def test_rollback_restores_state(applied, tmp_path, pack):
    """A rollback undoes every change, so the original violations come back."""
    sim, inventory, plan, journal = applied

    result = run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    after = statuses(pack, collect(sim, inventory, M365_TENANT), BREAK_GLASS)

    assert 6 == result.count("done")
    assert {policy: "fail" for policy in M365_REMEDIATED} == {policy: after[policy] for policy in M365_REMEDIATED}
    assert ("POST", f"/v1.0/groups/{EXCLUSION_GROUP}/members/$ref") in writes(sim)


def test_rollback_reverse_order(applied, tmp_path):
    """Undos run last change first."""
    sim, inventory, plan, journal = applied

    result = run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl")

    assert list(reversed(action_ids(plan))) == [outcome.item.planned.id for outcome in result.outcomes]


def test_rollback_journaled(applied, tmp_path):
    """The rollback appends pending and done entries to the apply's journal."""
    sim, inventory, plan, journal = applied

    run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    entries = [(operation, status) for operation, _, status in journal_statuses(journal)]

    assert [("apply", "pending"), ("apply", "done")] * 6 + [("rollback", "pending"), ("rollback", "done")] * 6 == entries


def test_rollback_audited(applied, tmp_path):
    """Each undo has an attempt and an outcome record in the audit log."""
    sim, inventory, plan, journal = applied

    run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    events = [record["event"] for record in records if record["operation"] == "rollback"]

    assert ["rollback.start"] + ["rollback.attempt", "rollback.outcome"] * 6 + ["rollback.finish"] == events


def test_rollback_twice_does_nothing(applied, tmp_path):
    """A finished rollback has nothing left to undo."""
    sim, inventory, plan, journal = applied
    run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    count = len(sim.writes())

    again = CliRunner().invoke(
        rollback,
        [str(journal), "--inventory", str(inventory), "--auto-approve", "--retry-delay", "0", "--audit-log", str(tmp_path / "audit.jsonl")],
        env={TOKEN_ENV: sim.graph_token},
    )

    assert 0 == again.exit_code, again.output
    assert "Nothing to roll back: no actions selected." in again.output
    assert count == len(sim.writes())


def test_rollback_changed_target_stale(applied, tmp_path):
    """A target changed after the apply is stale for the rollback and left alone."""
    sim, inventory, plan, journal = applied
    sim.states.m365.find_user(CARL)["accountEnabled"] = True

    result = run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    stale = [outcome.item.planned.arguments.get("user") for outcome in result.outcomes if outcome.status == "stale"]

    assert [CARL] == stale
    assert 2 == result.exit_code
    assert ("PATCH", f"/v1.0/users/{CARL}") not in writes(sim)


def test_rollback_cli_dry_run(applied, tmp_path):
    """rollback --dry-run shows each undo as before → after and writes nothing."""
    sim, inventory, plan, journal = applied

    result = CliRunner().invoke(
        rollback,
        [str(journal), "--inventory", str(inventory), "--dry-run", "--retry-delay", "0"],
        env={TOKEN_ENV: sim.graph_token},
    )

    assert 2 == result.exit_code, result.output
    assert f'    memberOf: absent → ["{EXCLUSION_GROUP}"]' in result.output
    assert "    accountEnabled: false → true" in result.output
    assert "6 to undo." in result.output
    assert [] == sim.writes()


def test_rollback_dry_run_exit_code(applied, tmp_path, safeguard, monkeypatch):
    """Through the console entry point, rollback --dry-run exits 2 while something is left to undo, 0 after."""
    sim, inventory, plan, journal = applied
    monkeypatch.setenv(TOKEN_ENV, sim.graph_token)
    arguments = ("rollback", journal, "--inventory", inventory, "--retry-delay", "0", "--audit-log", tmp_path / "audit.jsonl")

    pending = safeguard(*arguments, "--dry-run")
    safeguard(*arguments, "--auto-approve")
    finished = safeguard(*arguments, "--dry-run")

    assert 2 == pending[0], pending[2]
    assert "6 to undo." in pending[1]
    assert 0 == finished[0], finished[2]
    assert "Nothing to roll back: no actions selected." in finished[1]


def test_rollback_help_exit_codes():
    """rollback --help states its own exit codes, dry run included."""
    result = CliRunner().invoke(rollback, ["--help"])
    text = " ".join(result.output.split())

    assert 0 == result.exit_code
    assert "2 when a target is stale (or, with --dry-run, when something is left to undo)" in text


def test_rollback_only(applied, tmp_path):
    """--only undoes just the named action."""
    sim, inventory, plan, journal = applied
    chosen = action_ids(plan, "m365.require_mfa")[0]

    result = run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl", options=ApplyOptions(only=(chosen,)))

    assert 1 == result.count("done")
    assert [("POST", f"/v1.0/groups/{EXCLUSION_GROUP}/members/$ref")] == writes(sim)
    assert DANA in [member["id"] for member in sim.states.m365.group_members[EXCLUSION_GROUP]]


def test_rollback_max_changes(applied, tmp_path):
    """The change cap applies to a rollback too."""
    sim, inventory, plan, journal = applied

    with pytest.raises(ApplyRefused) as caught:
        run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl", options=ApplyOptions(max_changes=5))

    assert "the run would change 6 targets, more than the limit of 5" in str(caught.value)
    assert [] == sim.writes()


def test_rollback_skips_irreversible(tmp_path):
    """Only reversible actions are undone; revoked grants and sign-outs are listed as skipped."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "leavers.sg").write_text(GWS_POLICY, encoding="utf-8")
    pack = load_policies([policies])
    with Simulator([seed("gws")]) as sim:
        inventory = write_inventory(sim, tmp_path)
        plan = make_plan(pack, seed("gws"), tmp_path / "plan.json")
        applied = run("apply", sim, plan, inventory, GWS_TENANT, tmp_path / "audit.jsonl")
        sim.clear_writes()

        result = run("rollback", sim, tmp_path / "plan.journal.jsonl", inventory, GWS_TENANT, tmp_path / "audit.jsonl")
        statuses = {outcome.item.planned.name: outcome.status for outcome in result.outcomes}
        suspended = sim.states.gws.find_user("mia@apply-gws.example")["suspended"]

    assert 3 == applied.count("done")
    assert {"gws.suspend_user": "done", "gws.sign_out_user": "skipped", "gws.revoke_tokens": "skipped"} == statuses
    assert False is suspended
    assert [("PATCH", "/admin/directory/v1/users/mia@apply-gws.example")] == writes(sim)


def test_rollback_for_other_tenant_refused(applied, tmp_path):
    """A journal of another tenant is refused before any request."""
    sim, inventory, plan, journal = applied
    lines = journal.read_text().splitlines()
    header = json.loads(lines[0])
    header["tenant"]["id"] = "00000000-0000-4000-8000-0000000000ff"
    other = tmp_path / "other.journal.jsonl"
    other.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n", encoding="utf-8")
    requests = len(sim.requests())

    result = CliRunner().invoke(rollback, [str(other), "--inventory", str(inventory), "--tenant", M365_TENANT, "--dry-run"], env={TOKEN_ENV: sim.graph_token})

    assert 1 == result.exit_code
    assert "refusing to apply it to another tenant" in str(result.exception)
    assert requests == len(sim.requests())


def test_rollback_unknown_journal(tmp_path):
    """A missing journal is reported by path."""
    result = CliRunner().invoke(rollback, [str(tmp_path / "missing.jsonl"), "--dry-run"])

    assert 1 == result.exit_code
    assert f"{tmp_path / 'missing.jsonl'}: journal not found" in str(result.exception)


def test_plan_path_unused(applied):
    """The journal alone drives a rollback: the plan file may be gone."""
    sim, inventory, plan, journal = applied
    Path(plan).unlink()

    result = run("rollback", sim, journal, inventory, M365_TENANT, journal.with_name("audit.jsonl"))

    assert 6 == result.count("done")
