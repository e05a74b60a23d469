"""`safeguard apply` against the simulator through the real SDKs: preconditions, staleness, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from apply_scenario import (
    BEA,
    CARL,
    DANA,
    EVE,
    EXCLUSION_GROUP,
    GWS_TENANT,
    M365_REMEDIATED,
    M365_TENANT,
    PILOT_GROUP,
    TOKEN_ENV,
    action_ids,
    collect,
    journal_statuses,
    make_plan,
    plan_document,
    run,
    seed,
    statuses,
    write_inventory,
    writes,
)
from engine.apply.planfile import PlanError, load_plan
from engine.apply.runner import ApplyOptions, ApplyRefused
from engine.apply.state import state_fingerprint
from engine.cli.apply import apply
from engine.plan import _action_id
from engine.simulator import Fault, Simulator

# msgraph-sdk's request builders warn about their own deprecated configuration classes.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.usefixtures("quiet_logs")]

BREAK_GLASS = {"break_glass": [BEA]}
EXCLUSION = {"mfa_exclusion_group": EXCLUSION_GROUP}


@pytest.fixture
def m365(tmp_path, pack):
    """A simulated m365 tenant, its inventory (with an MFA exclusion group) and a plan made from its seed."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path, m365_params=EXCLUSION)
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json", BREAK_GLASS)
        yield sim, inventory, plan


def cli_apply(sim, *arguments):
    """Run the apply command in process with the simulator's token and fast retries."""
    return CliRunner().invoke(apply, [*map(str, arguments), "--retry-delay", "0"], env={TOKEN_ENV: sim.graph_token})


def reseal(path: Path, index: int, **arguments) -> None:
    """Change an action's arguments and target, then recompute its id, as a careful hand edit would."""
    document = plan_document(path)
    action = document["actions"][index]
    action["arguments"].update(arguments)
    action["target"]["id"] = action["arguments"]["user"]
    action["id"] = _action_id(action["policy"], action["action"], action["arguments"])
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


# The plan file.


def test_plan_preconditions_fingerprinted(m365):
    """Every planned action carries the target's observed fields and their fingerprint."""
    _, _, plan = m365
    actions = {action["action"] + ":" + str(action["target"]["id"]): action["precondition"] for action in plan_document(plan)["actions"]}

    assert {"fields": {"accountEnabled": True}, "fingerprint": state_fingerprint({"accountEnabled": True})} == actions[f"m365.disable_user:{CARL}"]
    assert {"memberOf": [EXCLUSION_GROUP]} == actions[f"m365.require_mfa:{DANA}"]["fields"]
    assert {"isEnabled": True} == actions["m365.disable_inbox_rule:AQAAAAEVZ2U="]["fields"]
    assert {"Sms": {"state": "enabled"}} == actions["m365.disable_weak_auth_methods:Sms"]["fields"]


def test_plan_bytes_deterministic(tmp_path, pack):
    """The same snapshot, policies and params give a byte-identical plan."""
    first = make_plan(pack, seed("m365"), tmp_path / "first.json", BREAK_GLASS)
    second = make_plan(pack, seed("m365"), tmp_path / "second.json", BREAK_GLASS)

    assert first.read_bytes() == second.read_bytes()


def test_plan_edited_precondition_rejected(m365):
    """A precondition edited without its fingerprint makes the plan unusable."""
    _, _, plan = m365
    document = plan_document(plan)
    document["actions"][0]["precondition"]["fields"]["accountEnabled"] = False
    plan.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(PlanError) as caught:
        load_plan(plan)

    assert "precondition.fingerprint does not match its fields" in str(caught.value)


def test_plan_edited_argument_rejected(m365):
    """An argument edited without recomputing the action id makes the plan unusable."""
    _, _, plan = m365
    document = plan_document(plan)
    document["actions"][0]["arguments"]["user"] = EVE
    document["actions"][0]["target"]["id"] = EVE
    plan.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(PlanError) as caught:
        load_plan(plan)

    assert "the id does not match the action's policy, name and arguments" in str(caught.value)


def test_plan_edited_params_rejected(m365):
    """Param values edited after planning no longer match the params digest."""
    _, _, plan = m365
    document = plan_document(plan)
    document["params"]["values"]["break_glass"] = []
    plan.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(PlanError) as caught:
        load_plan(plan)

    assert "params.digest is" in str(caught.value)


def test_plan_for_other_tenant_refused(m365, tmp_path):
    """A plan whose snapshot tenant is not the inventory tenant is refused before any read."""
    sim, inventory, plan = m365
    document = plan_document(plan)
    document["snapshot"]["tenant"]["id"] = "00000000-0000-4000-8000-0000000000ff"
    plan.write_text(json.dumps(document), encoding="utf-8")

    result = cli_apply(sim, plan, "--inventory", inventory, "--tenant", M365_TENANT, "--dry-run")

    assert 1 == result.exit_code
    assert "refusing to apply it to another tenant" in str(result.exception)
    assert [] == sim.requests()


# Apply end to end.


def test_apply_then_plan_clean(m365, tmp_path, pack):
    """plan → apply → collect → plan: every remediated policy passes and each write happened once."""
    sim, inventory, plan = m365

    result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")
    after = statuses(pack, collect(sim, inventory, M365_TENANT), BREAK_GLASS)

    assert 0 == result.exit_code, result.output
    assert {policy: "pass" for policy in M365_REMEDIATED} == {policy: after[policy] for policy in M365_REMEDIATED}
    assert sorted(writes(sim)) == sorted(
        [
            ("PATCH", f"/v1.0/users/{CARL}"),
            ("PATCH", f"/v1.0/users/{EVE}/mailFolders/inbox/messageRules/AQAAAAEVZ2U="),
            ("PATCH", "/v1.0/users/a0000000-0000-4000-8000-000000000006/mailFolders/inbox/messageRules/AQAAAAFGaW4="),
            ("DELETE", f"/v1.0/groups/{EXCLUSION_GROUP}/members/{DANA}/$ref"),
            ("PATCH", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Email"),
            ("PATCH", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Sms"),
        ]
    )


def test_apply_writes_only_managed_fields(m365, tmp_path):
    """Each PATCH body holds only the field its action manages."""
    sim, inventory, plan = m365

    cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")
    bodies = {entry["path"]: entry["body"] for entry in sim.writes() if entry["method"] == "PATCH"}

    assert {"@odata.type": "#microsoft.graph.user", "accountEnabled": False} == bodies[f"/v1.0/users/{CARL}"]
    assert {"isEnabled": False} == bodies[f"/v1.0/users/{EVE}/mailFolders/inbox/messageRules/AQAAAAEVZ2U="]
    assert {"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "state": "disabled"} == bodies[
        "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Sms"
    ]


def test_apply_output_and_journal(m365, tmp_path):
    """apply prints each action's result and journals pending then done for each."""
    sim, inventory, plan = m365

    result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")
    recorded = journal_statuses(tmp_path / "plan.journal.jsonl")

    assert f"done      m365.disable_user  user {CARL} (Carl Stale)  [" in result.output
    assert "6 applied. Run run-" in result.output
    assert [status for _, _, status in recorded] == ["pending", "done"] * 6


def test_apply_audit_records(m365, tmp_path):
    """Each action gets an attempt and an outcome record, with the actor taken from GITHUB_ACTOR."""
    sim, inventory, plan = m365
    arguments = [str(plan), "--inventory", str(inventory), "--auto-approve", "--retry-delay", "0", "--audit-log", str(tmp_path / "audit.jsonl")]

    CliRunner().invoke(apply, arguments, env={TOKEN_ENV: sim.graph_token, "GITHUB_ACTOR": "octocat", "SAFEGUARD_ACTOR": None})
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    outcome = next(record for record in records if record["event"] == "apply.outcome" and record.get("arguments") == {"user": CARL})

    assert ["apply.start"] + ["apply.attempt", "apply.outcome"] * 6 + ["apply.finish"] == [record["event"] for record in records]
    assert {"octocat"} == {record["actor"] for record in records}
    assert {"accountEnabled": True} == outcome["before"]
    assert {"accountEnabled": False} == outcome["after"]
    assert "done" == outcome["result"]
    assert load_plan(plan).digest == outcome["plan_digest"]


def test_apply_twice_writes_once(m365, tmp_path):
    """A fully applied plan is not applied again: the second run writes nothing and exits 0."""
    sim, inventory, plan = m365

    cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")
    first = len(sim.writes())
    again = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")

    assert 0 == again.exit_code
    assert "0 to change, 6 already done." in again.output
    assert "Nothing to apply." in again.output
    assert first == len(sim.writes())


def test_dry_run_shows_changes(m365, tmp_path):
    """--dry-run shows field-level before → after, writes nothing, creates no journal and exits 2."""
    sim, inventory, plan = m365

    result = cli_apply(sim, plan, "--inventory", inventory, "--dry-run", "--audit-log", tmp_path / "audit.jsonl")

    assert 2 == result.exit_code
    assert "    accountEnabled: true → false" in result.output
    assert f"    memberOf: [\"{EXCLUSION_GROUP}\"] → absent" in result.output
    assert "    Sms.state: \"enabled\" → \"disabled\"" in result.output
    assert "6 to change." in result.output
    assert [] == sim.writes()
    assert not (tmp_path / "plan.journal.jsonl").exists()
    assert not (tmp_path / "audit.jsonl").exists()


def test_no_terminal_refuses(m365, tmp_path):
    """Without --auto-approve and without a terminal, apply refuses before reading anything."""
    sim, inventory, plan = m365

    result = CliRunner().invoke(apply, [str(plan), "--inventory", str(inventory)], env={TOKEN_ENV: sim.graph_token})

    assert 1 == result.exit_code
    assert "standard input is not a terminal" in str(result.exception)
    assert [] == sim.requests()


def test_terminal_confirmation_declined(m365, tmp_path, monkeypatch):
    """On a terminal apply shows the changes and prompts; declining writes nothing and exits 1."""
    sim, inventory, plan = m365
    monkeypatch.setattr("engine.cli.apply._stdin_is_terminal", lambda: True)
    arguments = [str(plan), "--inventory", str(inventory), "--retry-delay", "0", "--audit-log", str(tmp_path / "audit.jsonl")]

    result = CliRunner().invoke(apply, arguments, input="n\n", env={TOKEN_ENV: sim.graph_token})

    assert 1 == result.exit_code
    assert "    accountEnabled: true → false" in result.output
    assert "Apply 6 changes to tenant apply-m365? [y/N]: n" in result.output
    assert [] == sim.writes()


def test_terminal_confirmation_accepted(m365, tmp_path, monkeypatch):
    """Confirming on the terminal applies the plan."""
    sim, inventory, plan = m365
    monkeypatch.setattr("engine.cli.apply._stdin_is_terminal", lambda: True)
    arguments = [str(plan), "--inventory", str(inventory), "--retry-delay", "0", "--audit-log", str(tmp_path / "audit.jsonl")]

    result = CliRunner().invoke(apply, arguments, input="y\n", env={TOKEN_ENV: sim.graph_token})

    assert 0 == result.exit_code
    assert 6 == len(sim.writes())


# Staleness.


def test_changed_target_is_stale(m365, tmp_path):
    """A target changed between plan and apply is reported stale, left alone, and the run exits 2."""
    sim, inventory, plan = m365
    sim.states.m365.find_user(CARL)["accountEnabled"] = False

    result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")

    assert 2 == result.exit_code
    assert "    stale: the target changed since the plan was made; not applied" in result.output
    assert "    accountEnabled: planned true, now false" in result.output
    assert ("PATCH", f"/v1.0/users/{CARL}") not in writes(sim)
    assert 5 == len(sim.writes())


def test_unchanged_target_not_stale(m365, tmp_path):
    """Absent, null and empty fields and list order do not make an unchanged target stale."""
    sim, inventory, plan = m365
    # Graph may leave an empty list out, or order members differently from the snapshot.
    rule = sim.states.m365.inbox_rules[EVE][0]
    rule.pop("conditions")
    sim.states.m365.group_members[EXCLUSION_GROUP].insert(0, {"@odata.type": "#microsoft.graph.user", "id": EVE})

    result = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")

    assert 0 == result.count("stale")
    assert 6 == result.count("done")


def test_deleted_target_is_stale(m365, tmp_path):
    """A target that no longer exists is stale, not failed."""
    sim, inventory, plan = m365
    sim.states.m365.inbox_rules[EVE].clear()

    result = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    stale = [outcome for outcome in result.outcomes if outcome.status == "stale"]

    assert 1 == len(stale)
    assert "the target no longer exists: HTTP 404" in stale[0].error
    assert 2 == result.exit_code


# Break-glass accounts and the change cap.


def test_break_glass_target_refused(m365, tmp_path):
    """A hand-edited plan that targets a break-glass account is refused before any write."""
    sim, inventory, plan = m365
    index = next(i for i, action in enumerate(plan_document(plan)["actions"]) if action["action"] == "m365.disable_user")
    reseal(plan, index, user=BEA)

    result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")

    assert 1 == result.exit_code
    assert "apply refused before any write: action " in str(result.exception)
    assert f"touches break-glass account {BEA}, which params.break_glass protects" in str(result.exception)
    assert [] == sim.writes()


def test_break_glass_by_sign_in_name(tmp_path, pack):
    """A break-glass account listed by sign-in name in the inventory is recognised from the live user."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path, m365_params={**EXCLUSION, "break_glass": ["BEA@apply.example"]})
        # Planned without break_glass params, so Bea's dormant account is a target.
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json")

        with pytest.raises(ApplyRefused) as caught:
            run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")
        written = sim.writes()

    assert "touches break-glass account bea@apply.example" in str(caught.value)
    assert [] == written


def test_max_changes_refused(m365, tmp_path):
    """--max-changes below the number of pending actions refuses the run before any request."""
    sim, inventory, plan = m365

    result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--max-changes", "2", "--audit-log", tmp_path / "audit.jsonl")

    assert 1 == result.exit_code
    assert "the run would change 6 targets, more than the limit of 2 (--max-changes)" in str(result.exception)
    assert [] == sim.requests()


def test_max_changes_tenant_default(tmp_path, pack):
    """The inventory's max_changes param caps a run when --max-changes is not given."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path, m365_params={**EXCLUSION, "max_changes": 3})
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json", BREAK_GLASS)

        result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")
        written = sim.writes()

    assert 1 == result.exit_code
    assert "more than the limit of 3 (param max_changes of tenant 'apply-m365')" in str(result.exception)
    assert [] == written


def test_missing_precondition_counted(m365, tmp_path):
    """One action without a precondition is named in the singular, and the run is refused before any request."""
    sim, inventory, plan = m365
    document = plan_document(plan)
    document["actions"][0]["precondition"] = None
    plan.write_text(json.dumps(document, indent=2), encoding="utf-8")

    result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")

    assert 1 == result.exit_code
    assert f"action {document['actions'][0]['id']} has no precondition, because the snapshot lacked a section" in str(result.exception)
    assert "or leave it out with --only" in str(result.exception)
    assert [] == sim.requests()


def test_refusal_audited(m365, tmp_path):
    """A refused run leaves an audit record saying why."""
    sim, inventory, plan = m365

    cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--max-changes", "1", "--audit-log", tmp_path / "audit.jsonl")
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]

    assert ["apply.refused"] == [record["event"] for record in records]
    assert "refused" == records[0]["result"]


# Selection, failures and retries.


def test_only_applies_selected(m365, tmp_path):
    """--only limits the run to the named actions."""
    sim, inventory, plan = m365
    chosen = action_ids(plan, "m365.disable_user")[0]

    result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--only", chosen, "--audit-log", tmp_path / "audit.jsonl")

    assert 0 == result.exit_code
    assert [("PATCH", f"/v1.0/users/{CARL}")] == writes(sim)


def test_only_unknown_id(m365, tmp_path):
    """--only with an id the plan lacks names the closest id."""
    sim, inventory, plan = m365
    chosen = action_ids(plan, "m365.disable_user")[0]

    result = cli_apply(sim, plan, "--inventory", inventory, "--dry-run", "--only", chosen[:-1] + "x")

    assert 1 == result.exit_code
    assert f"did you mean {chosen}?" in str(result.exception)


def test_failed_action_does_not_stop_others(m365, tmp_path):
    """A write that keeps failing marks its action failed; the other actions are still applied."""
    sim, inventory, plan = m365
    sim.add_fault(path=f"/v1.0/users/{CARL}", method="PATCH", status=500)

    result = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    failed = [outcome for outcome in result.outcomes if outcome.status == "failed"]

    assert 1 == len(failed)
    assert "HTTP 500" in failed[0].error
    assert 5 == result.count("done")
    assert 1 == result.exit_code


def test_fail_fast_skips_rest(m365, tmp_path):
    """With fail_fast the actions after a failure are skipped, not attempted."""
    sim, inventory, plan = m365
    sim.add_fault(path=f"/v1.0/users/{CARL}", method="PATCH", status=500)

    result = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl", options=ApplyOptions(fail_fast=True))

    assert ["failed", "skipped", "skipped", "skipped", "skipped", "skipped"] == [outcome.status for outcome in result.outcomes]
    assert 0 == len([entry for entry in sim.writes() if entry["status"] < 300])


def test_throttled_write_retried(m365, tmp_path):
    """A write throttled with 429 and Retry-After is retried and succeeds."""
    sim, inventory, plan = m365
    sim.add_fault(Fault(path=f"/v1.0/users/{CARL}", method="PATCH", status=429, times=1, retry_after=0))

    result = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    attempts = [entry["status"] for entry in sim.writes() if entry["path"] == f"/v1.0/users/{CARL}"]

    assert [429, 204] == attempts
    assert 6 == result.count("done")


# m365.require_mfa settings.


def test_require_mfa_without_group_refused(tmp_path, pack):
    """Without mfa_group or mfa_exclusion_group the run is refused with what to set."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path)
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json", BREAK_GLASS)

        result = cli_apply(sim, plan, "--inventory", inventory, "--auto-approve", "--audit-log", tmp_path / "audit.jsonl")
        written = sim.writes()

    assert 1 == result.exit_code
    assert "m365.require_mfa needs to know how tenant 'apply-m365' enforces MFA: set param mfa_group" in str(result.exception)
    assert [] == written


def test_dry_run_lists_blocked_action(tmp_path, pack):
    """--dry-run previews the other actions, lists the one missing a setting as blocked, and exits 1."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path)
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json", BREAK_GLASS)
        blocked = action_ids(plan, "m365.require_mfa")[0]

        result = cli_apply(sim, plan, "--inventory", inventory, "--dry-run", "--audit-log", tmp_path / "audit.jsonl")
        written = sim.writes()

    assert 1 == result.exit_code
    assert f"x m365.require_mfa  user {DANA} (Dana Excluded)  [{blocked}]" in result.output
    assert "    blocked: m365.require_mfa needs to know how tenant 'apply-m365' enforces MFA: set param mfa_group" in result.output
    assert "    accountEnabled: true → false" in result.output
    assert "    Sms.state: \"enabled\" → \"disabled\"" in result.output
    assert "5 to change, 1 blocked." in result.output
    assert f"1 action blocked ({blocked}), so the apply would be refused before any write" in str(result.exception)
    assert [] == written
    assert not (tmp_path / "plan.journal.jsonl").exists()
    assert not (tmp_path / "audit.jsonl").exists()


def test_dry_run_lists_break_glass_action(tmp_path, pack):
    """--dry-run lists an action on a break-glass account, found by sign-in name, as blocked and previews the rest."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path, m365_params={**EXCLUSION, "break_glass": ["BEA@apply.example"]})
        # Planned without break_glass params, so Bea's dormant account is a target.
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json")

        result = cli_apply(sim, plan, "--inventory", inventory, "--dry-run")
        written = sim.writes()

    assert 1 == result.exit_code, result.output
    assert f"x m365.disable_user  user {BEA} (Bea Breakglass)  [" in result.output
    assert f"x m365.require_mfa  user {BEA} (Bea Breakglass)  [" in result.output
    assert "    blocked: touches break-glass account bea@apply.example, which params.break_glass protects" in result.output
    assert "    accountEnabled: true → false" in result.output
    assert "6 to change, 2 blocked." in result.output
    assert [] == written


def test_max_changes_help_says_no_cap():
    """apply --help states that without --max-changes and the tenant param there is no cap."""
    result = CliRunner().invoke(apply, ["--help"])

    assert 0 == result.exit_code
    assert "Default: param max_changes of the tenant; without either, no cap." in " ".join(result.output.split())


def test_require_mfa_adds_to_group(tmp_path, pack):
    """With mfa_group the user is added to the group an enabled MFA policy includes, and then covered."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path, m365_params={"mfa_group": PILOT_GROUP})
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json", BREAK_GLASS)
        only = tuple(action_ids(plan, "m365.require_mfa"))

        result = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl", options=ApplyOptions(only=only))
        after = statuses(pack, collect(sim, inventory, M365_TENANT), BREAK_GLASS)
        written = sim.writes()
        base_url = sim.base_url

    assert 1 == result.count("done")
    assert [("POST", f"/v1.0/groups/{PILOT_GROUP}/members/$ref")] == [(entry["method"], entry["path"]) for entry in written]
    assert {"@odata.id": f"{base_url}/v1.0/directoryObjects/{DANA}"} == written[0]["body"]
    assert "pass" == after["m365.mfa.user-coverage"]


def test_require_mfa_group_not_enforced(tmp_path, pack):
    """An mfa_group that no enabled conditional access policy includes is refused by name."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path, m365_params={"mfa_group": EXCLUSION_GROUP})
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json", BREAK_GLASS)

        with pytest.raises(ApplyRefused) as caught:
            run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")

    assert f"group {EXCLUSION_GROUP} (from param mfa_group) is not included by any enabled conditional access policy" in str(caught.value)


def test_gws_apply_then_plan_clean(tmp_path, pack):
    """plan → apply → collect → plan on Google Workspace: external Gmail forwarding is gone."""
    with Simulator([seed("gws")]) as sim:
        inventory = write_inventory(sim, tmp_path)
        plan = make_plan(pack, seed("gws"), tmp_path / "plan.json")

        result = run("apply", sim, plan, inventory, GWS_TENANT, tmp_path / "audit.jsonl")
        after = statuses(pack, collect(sim, inventory, GWS_TENANT))
        written = writes(sim)

    assert 1 == result.count("done")
    assert [("PUT", "/gmail/v1/users/liam@apply-gws.example/settings/autoForwarding")] == written
    assert "pass" == after["gws.gmail.user-forwarding-external"]
