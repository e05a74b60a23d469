"""Crashes during apply: resuming from the journal never repeats a write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from apply_scenario import (
    BEA,
    EXCLUSION_GROUP,
    M365_TENANT,
    TOKEN_ENV,
    action_ids,
    journal_statuses,
    make_plan,
    run,
    seed,
    write_inventory,
)
from engine.apply.runner import CHECKPOINTS, ApplyOptions, ApplyRefused
from engine.audit import verify_audit_log
from engine.journal import Journal, JournalError
from engine.simulator import Simulator

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.usefixtures("quiet_logs")]

BREAK_GLASS = {"break_glass": [BEA]}
EXCLUSION = {"mfa_exclusion_group": EXCLUSION_GROUP}


class Crash(BaseException):
    """Stands in for the process dying: nothing catches it, so the run stops where it is."""


@pytest.fixture
def m365(tmp_path, pack):
    """A simulated m365 tenant, its inventory and a plan made from its seed."""
    with Simulator([seed("m365")]) as sim:
        inventory = write_inventory(sim, tmp_path, m365_params=EXCLUSION)
        plan = make_plan(pack, seed("m365"), tmp_path / "plan.json", BREAK_GLASS)
        yield sim, inventory, plan


def crash_at(point: str, action_id: str):
    """Return a checkpoint callback that crashes the run at ``point`` of ``action_id``."""

    def checkpoint(name: str, current: str) -> None:
        if name == point and current == action_id:
            raise Crash(f"{name} of {current}")

    return checkpoint


def successful_writes(sim: Simulator) -> Counter:
    return Counter((entry["method"], entry["path"]) for entry in sim.writes() if entry["status"] < 300)


def three_actions(plan: Path) -> tuple[str, ...]:
    """Return the ids of three actions of different kinds, which keeps each crash test short."""
    return tuple(action_ids(plan, name)[0] for name in ("m365.disable_user", "m365.require_mfa", "m365.disable_weak_auth_methods"))


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("point", CHECKPOINTS)
def test_crash_then_resume(m365, tmp_path, point, position):
    """A crash at any boundary of the first, middle or last action, then apply again: every write happens once."""
    sim, inventory, plan = m365
    selected = ApplyOptions(only=three_actions(plan))
    victim = selected.only[position]

    with pytest.raises(Crash):
        run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl", options=selected, checkpoint=crash_at(point, victim))
    resumed = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl", options=selected)
    final = {action_id: status for _, action_id, status in journal_statuses(tmp_path / "plan.journal.jsonl")}

    assert [1, 1, 1] == list(successful_writes(sim).values())
    assert {action_id: "done" for action_id in selected.only} == final
    assert 0 == resumed.exit_code
    assert verify_audit_log(tmp_path / "audit.jsonl").valid


def test_resume_marks_done_without_writing(m365, tmp_path):
    """An action written just before the crash is found in effect and journaled done with resumed set."""
    sim, inventory, plan = m365
    victim = action_ids(plan)[0]

    with pytest.raises(Crash):
        run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl", checkpoint=crash_at("after_write", victim))
    before = len(sim.writes())
    resumed = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    outcome = next(outcome for outcome in resumed.outcomes if outcome.item.planned.id == victim)
    entries = [entry for entry in Journal.read(tmp_path / "plan.journal.jsonl").entries() if entry["actionId"] == victim]

    assert outcome.resumed
    assert "done" == outcome.status
    assert ["pending", "done"] == [entry["status"] for entry in entries]
    assert entries[-1]["resumed"]
    assert before + 5 == len(sim.writes())


def test_killed_process_then_resume(m365, tmp_path):
    """A killed `safeguard apply` process, then apply again: the write log shows no duplicate write."""
    sim, inventory, plan = m365
    sim.latency = 0.02
    second = action_ids(plan)[1]
    journal = tmp_path / "plan.journal.jsonl"
    command = [str(Path(sys.executable).parent / "safeguard"), "apply", str(plan), "--inventory", str(inventory)]
    command += ["--auto-approve", "--retry-delay", "0", "--audit-log", str(tmp_path / "audit.jsonl")]
    environment = {**os.environ, TOKEN_ENV: sim.graph_token}

    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and f'"actionId":"{second}"' in journal.read_text(encoding="utf-8"):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=30)
    sim.latency = 0.0
    resumed = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")

    assert -signal.SIGKILL == process.returncode
    assert [1] * 6 == list(successful_writes(sim).values())
    assert 6 == len(successful_writes(sim))
    assert 0 == resumed.exit_code
    assert verify_audit_log(tmp_path / "audit.jsonl").valid


def test_partial_journal_line_dropped(m365, tmp_path):
    """A journal line cut short by a crash is dropped when the journal is opened again."""
    sim, inventory, plan = m365
    run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl", checkpoint=None)
    journal = tmp_path / "plan.journal.jsonl"
    complete = journal.read_bytes()
    journal.write_bytes(complete + b'{"type":"action","runId":"run-x","status":"pen')

    again = run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")

    lines = journal.read_bytes()[len(complete):].splitlines()

    assert 0 == again.exit_code
    assert journal.read_bytes().startswith(complete)
    assert ["run"] == [json.loads(line)["type"] for line in lines]


def test_journal_of_other_plan_refused(m365, tmp_path, pack):
    """A journal belongs to one plan: using it with another plan is an error."""
    sim, inventory, plan = m365
    run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl", options=None)
    other = make_plan(pack, seed("m365"), tmp_path / "other.json")

    with pytest.raises(JournalError) as caught:
        run("apply", sim, other, inventory, M365_TENANT, tmp_path / "audit.jsonl", journal_path=tmp_path / "plan.journal.jsonl")

    assert "this journal belongs to the plan with digest" in str(caught.value)


def test_journal_locked_while_running(m365, tmp_path):
    """A second run cannot open a journal another run holds."""
    sim, inventory, plan = m365
    header = {"id": sim.states.m365.tenant_id, "provider": "m365"}
    digest = "sha256:" + "ab" * 32

    with Journal.open(tmp_path / "held.jsonl", digest, header, "2026-12-01T10:00:00.000Z"):
        with pytest.raises(JournalError) as caught:
            Journal.open(tmp_path / "held.jsonl", digest, header, "2026-12-01T10:00:00.000Z")

    assert "another safeguard run is using this journal" in str(caught.value)


def test_interrupted_rollback_blocks_apply(m365, tmp_path):
    """While a rollback is interrupted, apply refuses to start and names the command that finishes it."""
    sim, inventory, plan = m365
    journal = tmp_path / "plan.journal.jsonl"
    run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")
    victim = action_ids(plan)[-1]
    with pytest.raises(Crash):
        run("rollback", sim, journal, inventory, M365_TENANT, tmp_path / "audit.jsonl", checkpoint=crash_at("after_pending", victim))

    with pytest.raises(ApplyRefused) as caught:
        run("apply", sim, plan, inventory, M365_TENANT, tmp_path / "audit.jsonl")

    assert f"action {victim} has an interrupted rollback" in str(caught.value)
    assert json.loads(journal.read_text().splitlines()[-1])["status"] == "pending"
