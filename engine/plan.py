"""Turn an evaluation into a plan document: results plus proposed actions.

The plan is plain JSON, validated by schema/plan.schema.json, and fully
deterministic: results are ordered by policy id, actions by policy, action and
target, action ids are derived from their content, and the only time in it is
the evaluation time (``--now`` or the snapshot's collection time).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from engine import __version__
from engine.evaluate import Evaluation, PolicyResult
from engine.language.values import format_timestamp, to_json
from engine.params import params_digest

__all__ = ["PLAN_SCHEMA_VERSION", "STATUSES", "build_plan", "plan_bytes", "exit_code_for"]

PLAN_SCHEMA_VERSION = "1.0"
STATUSES = ("pass", "fail", "error", "waived", "not_applicable")


def _action_id(policy_id: str, action: str, arguments: dict[str, Any]) -> str:
    canonical = orjson.dumps({"policy": policy_id, "action": action, "arguments": arguments}, option=orjson.OPT_SORT_KEYS)

    return "act-" + hashlib.sha256(canonical).hexdigest()[:16]


def _violation_id(policy_id: str, resource: dict[str, Any]) -> str:
    canonical = orjson.dumps({"policy": policy_id, "resource": resource}, option=orjson.OPT_SORT_KEYS)

    return "vio-" + hashlib.sha256(canonical).hexdigest()[:16]


def _result_document(result: PolicyResult, registry, snapshot, review=None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    policy = result.policy
    violations = []
    actions = []
    for index, violation in enumerate(result.violations):
        violation_id = _violation_id(policy.id, violation.resource)
        entry: dict[str, Any] = {
            "id": violation_id,
            "resource": violation.resource,
            "message": violation.message,
            "evidence": violation.evidence,
        }
        # A waived violation keeps its place in the plan, with its exception, and proposes no action.
        waiver = review.waiver_for(policy.id, index) if review is not None else None
        if waiver is not None:
            entry["exception"] = waiver
            violations.append(entry)
            continue
        skipped = []
        for proposal in violation.remediations:
            problem = proposal["problem"]
            if problem is None:
                problems = registry.validate_arguments(proposal["action"], proposal["arguments"])
                problem = "; ".join(problems) if problems else None
            if problem is not None:
                skipped.append({"action": proposal["action"], "reason": problem})
                continue
            declaration = registry.get(proposal["action"])
            target_argument = getattr(declaration, "target", None)
            target_id = proposal["arguments"].get(target_argument) if target_argument else None
            actions.append(
                {
                    "id": _action_id(policy.id, proposal["action"], proposal["arguments"]),
                    "action": proposal["action"],
                    "provider": getattr(declaration, "provider", policy.provider),
                    "target": {
                        "type": getattr(declaration, "target_type", violation.resource.get("type")),
                        "id": target_id if target_id is not None else violation.resource.get("id"),
                        "displayName": violation.resource.get("displayName"),
                    },
                    "arguments": proposal["arguments"],
                    "policy": policy.id,
                    "violation": violation_id,
                    "reversible": bool(getattr(declaration, "reversible", False)),
                    # The target's managed fields as the snapshot shows them; apply refuses the action
                    # when the live target no longer matches. Null when the snapshot cannot show them.
                    "precondition": declaration.precondition(snapshot, proposal["arguments"]),
                }
            )
        if skipped:
            entry["skippedRemediations"] = skipped
        violations.append(entry)
    document: dict[str, Any] = {
        "policy": policy.id,
        "title": policy.title,
        "status": review.status_for(result) if review is not None else result.status,
        "severity": policy.severity,
        "controls": policy.controls,
        "source": f"{policy.file}:{policy.line}",
        "sections": sorted(policy.sections),
        "checked": result.checked,
        "violations": violations,
        "error": result.error,
    }
    exception = review.result_exception(policy.id) if review is not None else None
    if exception is not None:
        document["exception"] = exception

    return document, actions


def build_plan(evaluation: Evaluation, registry=None, review=None) -> dict[str, Any]:
    """Build the plan document of an evaluation; ``review`` (engine.exceptions.ExceptionReview) waives violations."""
    if registry is None:
        from remediations import registry as default_registry

        registry = default_registry
    snapshot = evaluation.snapshot
    results = []
    actions: dict[str, dict[str, Any]] = {}
    for result in sorted(evaluation.results, key=lambda item: item.id):
        document, proposed = _result_document(result, registry, snapshot, review)
        results.append(document)
        for action in proposed:
            actions.setdefault(action["id"], action)
    summary = {status: 0 for status in STATUSES}
    for document in results:
        summary[document["status"]] += 1
    ordered_actions = sorted(
        actions.values(), key=lambda action: (action["policy"], action["action"], str(action["target"]["id"]), action["id"])
    )

    plan = {
        "schemaVersion": PLAN_SCHEMA_VERSION,
        "generator": {"name": "safeguard", "version": __version__},
        "createdAt": format_timestamp(evaluation.now),
        "snapshot": {
            "path": snapshot.path,
            "digest": snapshot.digest,
            "tenant": snapshot.tenant,
            "collectedAt": format_timestamp(snapshot.collected_at),
            "sections": {
                name: {"status": status.status, **({"message": status.message} if status.message else {})}
                for name, status in sorted(snapshot.sections.items())
            },
        },
        "policySet": {"digest": evaluation.policy_set.digest, "files": sorted(evaluation.policy_set.files)},
        "params": {"digest": params_digest(evaluation.params), "values": to_json(dict(sorted(evaluation.params.items())))},
        "summary": summary,
        "results": results,
        "actions": ordered_actions,
    }
    if review is not None:
        plan["exceptions"] = review.report()

    return plan


def plan_bytes(plan: dict[str, Any]) -> bytes:
    """Serialise a plan deterministically (two-space indent, trailing newline)."""
    return orjson.dumps(plan, option=orjson.OPT_INDENT_2) + b"\n"


def exit_code_for(plan: dict[str, Any]) -> int:
    """0 when every policy passes, is waived or does not apply; 2 otherwise."""
    summary = plan["summary"]

    return 2 if summary.get("fail", 0) or summary.get("error", 0) else 0
