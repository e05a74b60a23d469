"""Measure one benchmark configuration in this process and write the figures as JSON.

bench/run.py starts a fresh interpreter per measurement, so peak RSS belongs
to one configuration and no run warms another's caches. Module imports happen
before the clock starts; every timed phase is wall-clock time from
time.perf_counter.

Usage: python -m bench.worker CONFIG SNAPSHOT_OR_INVENTORY RESULT_JSON
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import structlog

__all__ = ["BENCH_POLICIES", "CONFIGS", "PACK", "REGO", "RULE_OF_POLICY", "main", "measure", "peak_rss_bytes"]

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "policies"
BENCH_POLICIES = REPO / "bench" / "policies"
REGO = REPO / "bench" / "rego" / "bench.rego"
REGO_QUERY = "data.bench.violations"

# Safeguard policy id of each check, keyed by the Rego rule name the other implementations use.
RULE_OF_POLICY = {
    "bench.mfa-registered": "mfa_unregistered",
    "bench.inbox-rules-external-forward": "external_forwarding",
    "bench.stale-accounts": "stale_accounts",
}

CONFIGS = ("safeguard-pack", "safeguard-three", "regorus-three", "baseline-three", "multi-tenant")


def peak_rss_bytes() -> int:
    """Return the peak resident set size of this process: VmHWM, else ru_maxrss (KiB on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _quiet_logging(events: list[dict[str, Any]]) -> None:
    """Keep snapshot.loaded events (they split load into parse and validation) and drop all output."""

    def collect(logger, method_name, event_dict):
        if event_dict.get("event") == "snapshot.loaded":
            events.append(dict(event_dict))
        raise structlog.DropEvent

    structlog.configure(processors=[collect], wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))


def _safeguard(snapshot: Path, policy_paths: list[Path], events: list[dict[str, Any]]) -> dict[str, Any]:
    from engine.evaluate import evaluate
    from engine.language.policyset import load_policies
    from engine.params import resolve_params
    from engine.snapshot import load_snapshot

    started = time.perf_counter()
    policy_set = load_policies(policy_paths)
    params = resolve_params(policy_set, {})
    compiled = time.perf_counter()
    loaded_snapshot = load_snapshot(snapshot)
    loaded = time.perf_counter()
    evaluation = evaluate(policy_set, loaded_snapshot, params, loaded_snapshot.collected_at)
    finished = time.perf_counter()

    statuses = {result.id: result.status for result in evaluation.results}
    violations = {result.id: sorted(str(v.resource.get("id")) for v in result.violations) for result in evaluation.results}
    unresolved = {result.id: result.unresolved for result in evaluation.results if result.unresolved}
    figures: dict[str, Any] = {
        "compile_s": compiled - started,
        "load_s": loaded - compiled,
        "evaluate_s": finished - loaded,
        "total_s": finished - started,
        "statuses": statuses,
        "violation_counts": {policy: len(ids) for policy, ids in violations.items()},
        "unresolved": unresolved,
    }
    if events:
        figures["parse_s"] = events[-1].get("parse_ms", 0) / 1000
        figures["validate_s"] = events[-1].get("validate_ms", 0) / 1000
    if all(policy in violations for policy in RULE_OF_POLICY):
        figures["violations"] = {rule: violations[policy] for policy, rule in RULE_OF_POLICY.items()}

    return figures


def _regorus(snapshot: Path) -> dict[str, Any]:
    import opa_eval

    started = time.perf_counter()
    engine = opa_eval.OpaEval(str(REGO), query=REGO_QUERY)
    compiled = time.perf_counter()
    # The JSON text goes to regorus as a str; parsing it into the engine happens inside evaluate_parsed.
    text = snapshot.read_text(encoding="utf-8")
    loaded = time.perf_counter()
    result = engine.evaluate_parsed(text)
    finished = time.perf_counter()

    return {
        "compile_s": compiled - started,
        "load_s": loaded - compiled,
        "evaluate_s": finished - loaded,
        "total_s": finished - started,
        "violations": {rule: sorted(str(item) for item in ids) for rule, ids in result.items()},
    }


def _baseline(snapshot: Path) -> dict[str, Any]:
    from bench import baseline

    started = time.perf_counter()
    document = baseline.load(snapshot)
    loaded = time.perf_counter()
    result = baseline.evaluate(document)
    finished = time.perf_counter()

    return {
        "compile_s": 0.0,
        "load_s": loaded - started,
        "evaluate_s": finished - loaded,
        "total_s": finished - started,
        "violations": {rule: sorted(ids) for rule, ids in result.items()},
    }


def _multi_tenant(inventory_path: Path) -> dict[str, Any]:
    from engine.collect import load_inventory
    from engine.language.policyset import load_policies
    from engine.multitenant import PlanSettings, combined_document, plan_tenants

    # The steps of `safeguard plan --inventory FILE --all --jobs 2 --out FILE`.
    started = time.perf_counter()
    policy_set = load_policies([PACK])
    compiled = time.perf_counter()
    inventory = load_inventory(inventory_path)
    outcomes = plan_tenants(list(inventory.tenants), PlanSettings(policy_set=policy_set), jobs=2)
    document = combined_document(outcomes)
    combined = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    finished = time.perf_counter()

    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    return {
        "tenants": len(outcomes),
        "compile_s": compiled - started,
        "plan_s": finished - compiled,
        "total_s": finished - started,
        "summary": document["summary"],
        "errors": errors[:3],
        "error_count": len(errors),
        "combined_bytes": len(combined),
    }


def measure(config: str, target: Path) -> dict[str, Any]:
    """Run one configuration on a snapshot (for multi-tenant, on an inventory of snapshot files)."""
    events: list[dict[str, Any]] = []
    _quiet_logging(events)
    rss_before = peak_rss_bytes()

    if config == "safeguard-pack":
        figures = _safeguard(target, [PACK], events)
    elif config == "safeguard-three":
        figures = _safeguard(target, [BENCH_POLICIES], events)
    elif config == "regorus-three":
        figures = _regorus(target)
    elif config == "baseline-three":
        figures = _baseline(target)
    elif config == "multi-tenant":
        figures = _multi_tenant(target)
    else:
        message = f"unknown configuration {config!r}; choose one of {', '.join(CONFIGS)}"
        raise SystemExit(message)

    figures["rss_after_imports_bytes"] = rss_before
    figures["peak_rss_bytes"] = peak_rss_bytes()
    return figures


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 3:
        raise SystemExit(__doc__)
    config, target, output = arguments

    # Import what the configuration needs before any clock starts, so each phase measures work, not
    # imports, and peak RSS carries no module another configuration needs.
    if config == "regorus-three":
        import opa_eval  # noqa: F401
    elif config == "baseline-three":
        import bench.baseline  # noqa: F401
    else:
        import engine.evaluate  # noqa: F401
        import engine.language.policyset  # noqa: F401
        import engine.plan  # noqa: F401
        import engine.snapshot  # noqa: F401
        import remediations.registry  # noqa: F401
        if config == "multi-tenant":
            import engine.collect  # noqa: F401
            import engine.multitenant  # noqa: F401

    figures = measure(config, Path(target))
    Path(output).write_bytes(orjson.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
