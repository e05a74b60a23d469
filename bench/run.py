"""Run the benchmark: safeguard, regorus and hand-written Python side by side, and a multi-tenant run.

For each snapshot size, every configuration runs --runs times, each time in a
fresh interpreter (bench/worker.py), round-robin so that a busy moment of the
machine falls on all configurations alike. The table shows medians; the JSON
file keeps every run. The three implementations of the three benchmark
policies must report the same violations at every size, or the run fails.

Usage:
    python -m bench.run RESULTS.json [--sizes 1000 10000 100000] [--runs 5]
                        [--tenants 1000 --tenant-users 50 | --no-multi-tenant]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from bench.generate import DEFAULT_OUT, SEED, snapshot_path, tenants_folder, write_snapshot_file, write_tenants

__all__ = ["THREE", "TARGETS", "check_agreement", "main", "run_benchmark"]

REPO = Path(__file__).resolve().parents[1]
THREE = ("safeguard-three", "regorus-three", "baseline-three")
SIZE_CONFIGS = ("safeguard-three", "regorus-three", "baseline-three", "safeguard-pack")
# A single configuration that takes longer than this has hung.
WORKER_TIMEOUT_S = 1800

# Targets checked at the largest size (and for the multi-tenant run), with their limits.
TARGETS = {
    "three_vs_regorus": 0.5,
    "three_vs_baseline": 1.25,
    "pack_vs_regorus_three": 1.0,
    "peak_rss_vs_file": 3.0,
    "multi_tenant_seconds": 60.0,
}


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    memory = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
                break
    except OSError:
        pass

    versions = {}
    for package in ("msgspec", "orjson", "fastjsonschema", "jsonschema", "opa-eval"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_bytes": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def _generator_version() -> str:
    """Hash of the generator's source: a changed generator writes new files instead of reusing old ones."""
    return hashlib.sha256((REPO / "bench" / "generate.py").read_bytes()).hexdigest()[:10]


def _snapshot(out: Path, users: int) -> Path:
    path = snapshot_path(out, users, SEED)
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        write_snapshot_file(path, users, SEED)
    return path


def _inventory(out: Path, tenants: int, users: int) -> Path:
    folder = tenants_folder(out, tenants, users, SEED)
    inventory = folder / "tenants.yaml"
    if not inventory.exists():
        print(f"generating {tenants} tenants of {users} users ...", flush=True)
        write_tenants(folder, tenants, users, SEED)
    return inventory


def _run_worker(config: str, target: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="safeguard-bench-") as scratch:
        output = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "bench.worker", config, str(target), str(output)]
        completed = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False
        )
        if completed.returncode != 0 or not output.exists():
            message = f"{config} on {target.name} failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}"
            raise RuntimeError(message)
        return orjson.loads(output.read_bytes())


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if isinstance(run.get(key), (int, float))]
    return statistics.median(values) if values else None


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("load_s", "parse_s", "validate_s", "compile_s", "evaluate_s", "plan_s", "total_s")
    summary: dict[str, Any] = {key: _median(runs, key) for key in keys if any(key in run for run in runs)}
    summary["peak_rss_bytes"] = max(run["peak_rss_bytes"] for run in runs)
    summary["rss_after_imports_bytes"] = _median(runs, "rss_after_imports_bytes")
    return summary


def check_agreement(runs_by_config: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Return the differences between the violation id sets of the three implementations (empty if none)."""
    problems = []
    reference_config = THREE[0]
    reference = runs_by_config[reference_config][0]["violations"]
    for config in THREE:
        for number, run in enumerate(runs_by_config[config], start=1):
            found = run.get("violations")
            if found is None:
                problems.append(f"{config} run {number} reported no violations")
                continue
            for rule in sorted(set(reference) | set(found)):
                expected = reference.get(rule, [])
                actual = found.get(rule, [])
                if len(actual) != len(set(actual)):
                    problems.append(f"{config} run {number}: {rule} lists an id twice")
                if set(expected) != set(actual):
                    missing = sorted(set(expected) - set(actual))[:3]
                    extra = sorted(set(actual) - set(expected))[:3]
                    problems.append(
                        f"{config} run {number}: {rule} has {len(actual)} ids, {reference_config} {len(expected)}; "
                        f"missing {missing}, extra {extra}"
                    )
    for run in runs_by_config[reference_config] + runs_by_config.get("safeguard-pack", []):
        if run.get("unresolved"):
            problems.append(f"safeguard left resources unjudged: {run['unresolved']}")

    return problems


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _measure_size(out: Path, users: int, runs: int) -> dict[str, Any]:
    path = _snapshot(out, users)
    runs_by_config: dict[str, list[dict[str, Any]]] = {config: [] for config in SIZE_CONFIGS}
    for number in range(1, runs + 1):
        for config in SIZE_CONFIGS:
            print(f"  {users:>7} users  run {number}/{runs}  {config} ...", flush=True)
            runs_by_config[config].append(_run_worker(config, path))

    problems = check_agreement(runs_by_config)
    summaries = {config: _summary(config_runs) for config, config_runs in runs_by_config.items()}
    counts = {rule: len(ids) for rule, ids in runs_by_config["safeguard-three"][0]["violations"].items()}
    for config_runs in runs_by_config.values():
        for run in config_runs:
            run.pop("violations", None)

    file_bytes = path.stat().st_size
    total = {config: summaries[config]["total_s"] for config in SIZE_CONFIGS}
    ratios = {
        "three_vs_regorus": _ratio(total["safeguard-three"], total["regorus-three"]),
        "three_vs_baseline": _ratio(total["safeguard-three"], total["baseline-three"]),
        "pack_vs_regorus_three": _ratio(total["safeguard-pack"], total["regorus-three"]),
        "peak_rss_vs_file": _ratio(summaries["safeguard-pack"]["peak_rss_bytes"], file_bytes),
        "three_peak_rss_vs_file": _ratio(summaries["safeguard-three"]["peak_rss_bytes"], file_bytes),
    }
    return {
        "users": users,
        "snapshot": path.name,
        "file_bytes": file_bytes,
        "violations": counts,
        "agreement": not problems,
        "problems": problems,
        "summary": summaries,
        "ratios": ratios,
        "runs": runs_by_config,
    }


def _measure_multi_tenant(out: Path, tenants: int, users: int, runs: int) -> dict[str, Any]:
    inventory = _inventory(out, tenants, users)
    all_runs = []
    for number in range(1, runs + 1):
        print(f"  {tenants} tenants x {users} users  run {number}/{runs} ...", flush=True)
        all_runs.append(_run_worker("multi-tenant", inventory))
    failed = [run for run in all_runs if run["error_count"]]

    return {
        "tenants": tenants,
        "users_per_tenant": users,
        "summary": _summary(all_runs),
        "planned": all_runs[0]["summary"]["planned"],
        "failed_tenants": max(run["error_count"] for run in all_runs),
        "errors": failed[0]["errors"] if failed else [],
        "runs": all_runs,
    }


def _targets(sizes: list[dict[str, Any]], multi: dict[str, Any] | None) -> list[dict[str, Any]]:
    found = []
    if sizes:
        largest = max(sizes, key=lambda size: size["users"])
        for name in ("three_vs_regorus", "three_vs_baseline", "pack_vs_regorus_three", "peak_rss_vs_file"):
            value = largest["ratios"][name]
            found.append({
                "target": name,
                "users": largest["users"],
                "limit": TARGETS[name],
                "measured": value,
                "met": value is not None and value <= TARGETS[name],
            })
    if multi is not None:
        value = multi["summary"]["total_s"]
        found.append({
            "target": "multi_tenant_seconds",
            "tenants": multi["tenants"],
            "users_per_tenant": multi["users_per_tenant"],
            "limit": TARGETS["multi_tenant_seconds"],
            "measured": value,
            "met": value < TARGETS["multi_tenant_seconds"] and multi["failed_tenants"] == 0,
        })
    return found


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:8.3f}"


def _print_tables(results: dict[str, Any]) -> None:
    print()
    print("Median seconds per phase (load includes reading the file; regorus parses its input inside evaluate)")
    header = f"{'users':>7}  {'configuration':<16} {'load':>8} {'compile':>8} {'evaluate':>8} {'total':>8}  {'peak RSS':>9}  {'us/user':>8}"
    print(header)
    print("-" * len(header))
    for size in results["sizes"]:
        for config in SIZE_CONFIGS:
            summary = size["summary"][config]
            per_user = summary["total_s"] / size["users"] * 1e6
            print(
                f"{size['users']:>7}  {config:<16} {_seconds(summary.get('load_s'))} {_seconds(summary.get('compile_s'))} "
                f"{_seconds(summary.get('evaluate_s'))} {_seconds(summary['total_s'])}  "
                f"{summary['peak_rss_bytes'] / 2**20:7.0f} MiB  {per_user:8.1f}"
            )
        ratios = size["ratios"]
        print(
            f"{'':>7}  ratios: three/regorus {ratios['three_vs_regorus']:.2f}, three/baseline {ratios['three_vs_baseline']:.2f}, "
            f"pack/regorus-three {ratios['pack_vs_regorus_three']:.2f}, pack peak RSS/file {ratios['peak_rss_vs_file']:.2f} "
            f"(file {size['file_bytes'] / 1e6:.1f} MB); implementations agree: {size['agreement']}"
        )
    multi = results.get("multi_tenant")
    if multi is not None:
        summary = multi["summary"]
        print()
        print(
            f"multi-tenant: {multi['tenants']} tenants x {multi['users_per_tenant']} users: total {summary['total_s']:.2f} s "
            f"(compile {summary['compile_s']:.2f} s, plan {summary['plan_s']:.2f} s), peak RSS "
            f"{summary['peak_rss_bytes'] / 2**20:.0f} MiB, failed tenants {multi['failed_tenants']}"
        )
    print()
    for target in results["targets"]:
        verdict = "met" if target["met"] else "NOT MET"
        measured = "-" if target["measured"] is None else f"{target['measured']:.3f}"
        print(f"target {target['target']:<24} limit {target['limit']:<6} measured {measured:<8} {verdict}")


def run_benchmark(
    sizes: list[int], runs: int, out: Path, tenants: int | None, tenant_users: int
) -> dict[str, Any]:
    """Measure every size (and the multi-tenant run unless ``tenants`` is None) and return the results."""
    out = out / f"generator-{_generator_version()}"
    started = time.time()
    results: dict[str, Any] = {
        "machine": _machine(),
        "runs_per_configuration": runs,
        "load_average_start": os.getloadavg(),
        "sizes": [],
    }
    for users in sizes:
        results["sizes"].append(_measure_size(out, users, runs))
    results["multi_tenant"] = _measure_multi_tenant(out, tenants, tenant_users, runs) if tenants else None
    results["targets"] = _targets(results["sizes"], results["multi_tenant"])
    results["load_average_end"] = os.getloadavg()
    results["wall_seconds"] = time.time() - started
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark safeguard against regorus and hand-written Python.")
    parser.add_argument("results", type=Path, help="JSON file to write the results to")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="users per snapshot")
    parser.add_argument("--runs", type=int, default=5, help="runs per configuration and size (default: 5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for generated snapshots")
    parser.add_argument("--tenants", type=int, default=1000, help="tenants in the multi-tenant run (default: 1000)")
    parser.add_argument("--tenant-users", type=int, default=50, help="users per tenant (default: 50)")
    parser.add_argument("--no-multi-tenant", action="store_true", help="skip the multi-tenant run")
    arguments = parser.parse_args(argv)
    if arguments.runs < 1:
        parser.error("--runs must be at least 1")

    tenants = None if arguments.no_multi_tenant else arguments.tenants
    results = run_benchmark(arguments.sizes, arguments.runs, arguments.out, tenants, arguments.tenant_users)
    arguments.results.parent.mkdir(parents=True, exist_ok=True)
    arguments.results.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    _print_tables(results)
    print(f"\nwrote {arguments.results}")

    disagreements = [problem for size in results["sizes"] for problem in size["problems"]]
    if disagreements:
        print("\nFAILED: the implementations disagree:", file=sys.stderr)
        for problem in disagreements:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if results["multi_tenant"] is not None and results["multi_tenant"]["failed_tenants"]:
        print(f"\nFAILED: tenants failed: {results['multi_tenant']['errors']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
