"""Shared set-up of the apply, rollback and audit tests: seed tenants, plans, inventories, runs.

The seeds in tests/fixtures/apply are small tenants with one violation per
remediation: a stale account, forwarding inbox rules, a user in an MFA
exclusion group, weak authentication methods, external Gmail forwarding.
Bea (a0000000-...-0002) is the Microsoft 365 break-glass account.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from engine.apply.planfile import load_plan
from engine.apply.runner import ApplyOptions, RunResult, Runner, apply_items, rollback_items
from engine.apply.sessions import open_session
from engine.apply.settings import tenant_settings
from engine.audit import AuditLog
from engine.collect import CollectOptions, RetryPolicy, collect_tenant, load_inventory
from engine.evaluate import evaluate
from engine.journal import Journal
from engine.params import resolve_params
from engine.plan import build_plan, plan_bytes
from engine.simulator import Simulator
from engine.snapshot import Snapshot

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "apply"
TOKEN_ENV = "SAFEGUARD_TEST_APPLY_TOKEN"

M365_TENANT = "apply-m365"
GWS_TENANT = "apply-gws"

BEA = "a0000000-0000-4000-8000-000000000002"
CARL = "a0000000-0000-4000-8000-000000000003"
DANA = "a0000000-0000-4000-8000-000000000004"
EVE = "a0000000-0000-4000-8000-000000000005"
FINN = "a0000000-0000-4000-8000-000000000006"
EXCLUSION_GROUP = "b0000000-0000-4000-8000-000000000001"
PILOT_GROUP = "b0000000-0000-4000-8000-000000000002"

# Policies whose violations the shipped pack remediates in the m365 seed.
M365_REMEDIATED = (
    "m365.accounts.stale-disabled",
    "m365.mail.inbox-rules-no-external-forward",
    "m365.mfa.user-coverage",
    "m365.mfa.weak-methods-disabled",
)

FAST_RETRY = RetryPolicy(max_retries=2, base_delay=0.0)

# Collection time of both seeds; collecting "at" this time keeps the stale-account policy's verdicts fixed.
SEED_TIME = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def seed(provider: str) -> dict[str, Any]:
    """Return a fresh copy of the seed snapshot document of ``provider``."""
    return json.loads((FIXTURES / f"{provider}-tenant.json").read_text(encoding="utf-8"))


def make_plan(pack: Any, document: Mapping[str, Any], path: Path, overrides: Mapping[str, Any] | None = None) -> Path:
    """Evaluate ``pack`` on a snapshot document and write the plan to ``path``."""
    snapshot = Snapshot("snapshot.json", dict(document))
    params = resolve_params(pack, dict(overrides or {}), source="test params")
    evaluation = evaluate(pack, snapshot, params, snapshot.collected_at)
    path.write_bytes(plan_bytes(build_plan(evaluation)))

    return path


def plan_document(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def action_ids(path: Path, name: str | None = None) -> list[str]:
    return [action["id"] for action in plan_document(path)["actions"] if name is None or action["action"] == name]


def write_inventory(sim: Simulator, folder: Path, m365_params: Mapping[str, Any] | None = None, gws_params: Mapping[str, Any] | None = None) -> Path:
    """Write a tenants.yaml pointing at the simulator, with the given params per tenant."""
    tenants = []
    if sim.states.m365 is not None:
        tenants.append(
            {
                "name": M365_TENANT,
                "provider": "m365",
                "tenant_id": sim.states.m365.tenant_id,
                "domain": sim.states.m365.domain,
                "endpoint": sim.base_url,
                "credentials": {"type": "static_token", "token_env": TOKEN_ENV},
                "params": dict(m365_params or {}),
            }
        )
    if sim.states.gws is not None:
        key_file = folder / "service-account.json"
        key_file.write_text(json.dumps(sim.create_service_account_key()), encoding="utf-8")
        tenants.append(
            {
                "name": GWS_TENANT,
                "provider": "gws",
                "customer_id": sim.states.gws.customer_id,
                "domain": sim.states.gws.domain,
                "endpoint": sim.base_url,
                "credentials": {"type": "service_account", "key_file": str(key_file), "subject": "root@apply-gws.example"},
                "params": dict(gws_params or {}),
            }
        )
    path = folder / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": tenants}, sort_keys=False), encoding="utf-8")

    return path


def tenant(inventory: Path, name: str) -> Any:
    return load_inventory(inventory).get(name)


def run(
    operation: str,
    sim: Simulator,
    source: Path,
    inventory: Path,
    name: str,
    audit_path: Path,
    *,
    journal_path: Path | None = None,
    options: ApplyOptions | None = None,
    checkpoint: Callable[[str, str], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> RunResult:
    """Run apply (``source`` is the plan) or rollback (``source`` is the journal) through the library, as the CLI does."""
    options = options or ApplyOptions()
    target = tenant(inventory, name)
    environ = {TOKEN_ENV: sim.graph_token}
    extra = {"clock": clock} if clock is not None else {}
    if operation == "apply":
        plan = load_plan(source)
        settings = tenant_settings(target, plan.params)
        journal_file = journal_path or source.with_name(source.stem + ".journal.jsonl")
        journal = Journal.open(journal_file, plan.digest, record(target), "2026-12-01T10:00:00.000Z", plan_path=str(source))
        digest = plan.digest
    else:
        journal = Journal.open(source, Journal.read(source).header["planDigest"], Journal.read(source).header["tenant"], "2026-12-01T10:00:00.000Z")
        settings = tenant_settings(target)
        digest = journal.header["planDigest"]

    session = None
    try:
        with AuditLog(audit_path, actor="tester") as audit:
            items = apply_items(plan, journal, options.only) if operation == "apply" else rollback_items(journal, options.only)
            session = open_session(target, settings, FAST_RETRY, 10.0, environ)
            runner = Runner(
                operation,
                items,
                session=session,
                settings=settings,
                tenant=record(target),
                plan_digest=digest,
                journal=journal,
                audit=audit,
                options=options,
                actor="tester",
                checkpoint=checkpoint,
                **extra,
            )
            runner.check()
            changes = runner.preview()

            return runner.execute(changes)
    finally:
        if session is not None:
            session.close()
        journal.close()


def record(target: Any) -> dict[str, str]:
    return {"id": target.id, "provider": target.provider, "domain": target.domain, "name": target.name}


def collect(sim: Simulator, inventory: Path, name: str) -> dict[str, Any]:
    """Collect the simulated tenant through the real SDKs, dated like the seed, and return the snapshot document."""
    options = CollectOptions(retry=FAST_RETRY, max_concurrency=4, timeout=10.0)

    return collect_tenant(tenant(inventory, name), options, clock=lambda: SEED_TIME, environ={TOKEN_ENV: sim.graph_token})


def statuses(pack: Any, document: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Return each policy's status on a snapshot document."""
    snapshot = Snapshot("collected.json", dict(document))
    params = resolve_params(pack, dict(overrides or {}), source="test params")
    evaluation = evaluate(pack, snapshot, params, snapshot.collected_at)

    return {result.id: result.status for result in evaluation.results}


def writes(sim: Simulator) -> list[tuple[str, str]]:
    """Return (method, path) of every write the simulator received, token exchanges excluded."""
    return [(entry["method"], entry["path"]) for entry in sim.writes()]


def journal_statuses(path: Path) -> list[tuple[str, str, str]]:
    """Return (operation, action id, status) of every action record of a journal."""
    return [(entry["operation"], entry["actionId"], entry["status"]) for entry in Journal.read(path).entries()]
