"""Plan many tenants of an inventory in one run.

Each tenant's snapshot comes from the file its inventory entry names
(``snapshot``) or, without one, from live collection through
``engine.collect``. Params are the ``--params`` file as defaults with the
tenant's inventory ``params`` merged over them, key by key. Tenants run on a
thread pool: collection waits on the network, so threads overlap it, while
evaluation is CPU-bound Python and the interpreter lock runs it one tenant at
a time. A tenant that fails is recorded with its error and the others go on.

The combined result is ``{"tenants": [{"name", "plan"} | {"name", "error"}],
"summary": {...}}``, tenants in the order they were requested.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from engine.collect import CollectOptions, Tenant, collect_tenant
from engine.errors import SafeguardError, SnapshotError
from engine.evaluate import evaluate
from engine.exceptions import PolicyException, review_exceptions
from engine.language.policyset import PolicySet
from engine.params import resolve_params
from engine.plan import STATUSES, build_plan, exit_code_for
from engine.snapshot import Snapshot, load_snapshot, validate_document, write_snapshot

__all__ = ["PlanSettings", "TenantOutcome", "plan_tenant", "plan_tenants", "combined_document", "combined_exit_code"]

log = structlog.get_logger()

# Called from worker threads with (tenant name, event): "start", "finish" or "error".
ProgressCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class PlanSettings:
    """Settings every tenant of a run shares: policies, default params, exceptions, clock, collection."""

    policy_set: PolicySet
    default_params: Mapping[str, Any] = field(default_factory=dict)
    exceptions: Sequence[PolicyException] | None = None
    now: datetime | None = None
    collect_options: CollectOptions | None = None
    # Where live-collected snapshots are written as NAME.snapshot.json; None keeps them in memory.
    snapshot_dir: Path | None = None


@dataclass(frozen=True)
class TenantOutcome:
    """One tenant's plan, or the error that stopped it."""

    name: str
    plan: dict[str, Any] | None = None
    error: str | None = None


def _check_identity(tenant: Tenant, snapshot: Snapshot) -> None:
    found = snapshot.tenant
    if found.get("id") == tenant.id and found.get("provider") == tenant.provider:
        return
    message = (
        f"{snapshot.path}: the snapshot is of {found.get('provider')} tenant {found.get('id')}, "
        f"but the inventory gives {tenant.provider} tenant {tenant.id} for {tenant.name!r}; "
        "fix the `snapshot` path or the tenant id"
    )
    raise SnapshotError(message)


def _snapshot(tenant: Tenant, settings: PlanSettings) -> Snapshot:
    if tenant.snapshot is not None:
        snapshot = load_snapshot(tenant.snapshot)
        _check_identity(tenant, snapshot)
        return snapshot

    document = collect_tenant(tenant, settings.collect_options)
    source = f"{tenant.name} (collected)"
    validate_document(document, source)
    if settings.snapshot_dir is not None:
        target = settings.snapshot_dir / f"{tenant.name}.snapshot.json"
        write_snapshot(document, target)
        source = str(target)
    snapshot = Snapshot(source, document)
    _check_identity(tenant, snapshot)

    return snapshot


def plan_tenant(tenant: Tenant, settings: PlanSettings) -> dict[str, Any]:
    """Build one tenant's plan; raise a SafeguardError subclass when it cannot be built."""
    snapshot = _snapshot(tenant, settings)
    overrides = {**settings.default_params, **tenant.params}
    params = resolve_params(settings.policy_set, overrides, source=f"params of tenant {tenant.name!r}")
    evaluation = evaluate(settings.policy_set, snapshot, params, settings.now or snapshot.collected_at)
    review = review_exceptions(evaluation, settings.exceptions) if settings.exceptions is not None else None

    return build_plan(evaluation, review=review)


def _run_one(tenant: Tenant, settings: PlanSettings, progress: ProgressCallback | None) -> TenantOutcome:
    if progress is not None:
        progress(tenant.name, "start")
    log.info("plan.tenant.start", tenant=tenant.name, provider=tenant.provider, source="file" if tenant.snapshot else "collect")
    try:
        plan = plan_tenant(tenant, settings)
    except SafeguardError as error:
        log.info("plan.tenant.failed", tenant=tenant.name, error=str(error))
        outcome = TenantOutcome(name=tenant.name, error=str(error))
    except Exception as error:  # noqa: BLE001 - one tenant's bug must not stop the others
        log.error("plan.tenant.crashed", tenant=tenant.name, error=repr(error), exc_info=True)
        outcome = TenantOutcome(name=tenant.name, error=f"internal error: {error!r}; run again with -vv for the traceback")
    else:
        log.info("plan.tenant.finish", tenant=tenant.name, actions=len(plan["actions"]), **plan["summary"])
        outcome = TenantOutcome(name=tenant.name, plan=plan)
    if progress is not None:
        progress(tenant.name, "finish" if outcome.plan is not None else "error")

    return outcome


def plan_tenants(
    tenants: Sequence[Tenant], settings: PlanSettings, jobs: int = 2, progress: ProgressCallback | None = None
) -> list[TenantOutcome]:
    """Plan every tenant on ``jobs`` threads; outcomes come back in the order of ``tenants``."""
    if jobs < 1:
        message = f"jobs must be 1 or more, not {jobs}"
        raise ValueError(message)
    with ThreadPoolExecutor(max_workers=min(jobs, max(len(tenants), 1)), thread_name_prefix="plan") as pool:
        futures = [pool.submit(_run_one, tenant, settings, progress) for tenant in tenants]

        return [future.result() for future in futures]


def _exception_ids(plans: list[dict[str, Any]], block: str) -> set[str]:
    return {entry["id"] for plan in plans for entry in plan.get("exceptions", {}).get(block, ())}


def combined_document(outcomes: Sequence[TenantOutcome]) -> dict[str, Any]:
    """Combine tenant outcomes into one result with a summary over all tenants."""
    entries = []
    plans = []
    for outcome in outcomes:
        if outcome.plan is not None:
            entries.append({"name": outcome.name, "plan": outcome.plan})
            plans.append(outcome.plan)
        else:
            entries.append({"name": outcome.name, "error": outcome.error})
    results = {status: sum(plan["summary"].get(status, 0) for plan in plans) for status in STATUSES}
    summary: dict[str, Any] = {
        "tenants": len(outcomes),
        "planned": len(plans),
        "failed": len(outcomes) - len(plans),
        "results": results,
        "actions": sum(len(plan["actions"]) for plan in plans),
    }
    if any("exceptions" in plan for plan in plans):
        applied = _exception_ids(plans, "applied")
        summary["exceptions"] = {
            "applied": sorted(applied),
            "expired": sorted(_exception_ids(plans, "expired")),
            # Unused in every planned tenant it applies to.
            "unused": sorted(_exception_ids(plans, "unused") - applied),
        }

    return {"tenants": entries, "summary": summary}


def combined_exit_code(document: dict[str, Any]) -> int:
    """1 when a tenant failed, else 2 when any plan has a failing or erroring policy, else 0."""
    if document["summary"]["failed"]:
        return 1
    codes = [exit_code_for(entry["plan"]) for entry in document["tenants"]]

    return max(codes, default=0)
