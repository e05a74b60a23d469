"""Tests for the benchmark in bench/: generator, runner and agreement of the three implementations.

The benchmark runs once, at 1,000 users with one run per configuration and a
small multi-tenant set, as `python -m bench.run` would. Nothing here asserts a
timing: the figures depend on the machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from engine.snapshot import load_snapshot, serialize_snapshot

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ("safeguard-three", "regorus-three", "baseline-three", "safeguard-pack")
RULES = {"mfa_unregistered", "external_forwarding", "stale_accounts"}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Results of one benchmark run at 1,000 users and 3 tenants of 20 users."""
    folder = tmp_path_factory.mktemp("bench")
    output = folder / "results.json"
    command = [
        sys.executable, "-m", "bench.run", str(output),
        "--sizes", "1000", "--runs", "1", "--tenants", "3", "--tenant-users", "20", "--out", str(folder / "out"),
    ]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert 0 == completed.returncode, completed.stderr

    return orjson.loads(output.read_bytes())


@pytest.fixture()
def bench_modules(monkeypatch):
    """The bench package, importable from the repository root."""
    monkeypatch.syspath_prepend(str(REPO))
    from bench import generate, run

    return generate, run


def test_implementations_agree(results):
    """safeguard, regorus and the hand-written baseline report the same violations."""
    size = results["sizes"][0]

    assert [] == size["problems"]
    assert size["agreement"] is True


def test_violations_found(results):
    """Each benchmark policy finds violations in the generated tenant."""
    counts = results["sizes"][0]["violations"]

    assert RULES == set(counts)
    for rule in RULES:
        assert counts[rule] > 0, rule


def test_every_configuration_measured(results):
    """Each configuration reports its phases and peak RSS."""
    summary = results["sizes"][0]["summary"]

    for config in CONFIGS:
        assert summary[config]["total_s"] > 0, config
        assert summary[config]["peak_rss_bytes"] > 0, config
        assert summary[config]["total_s"] >= summary[config]["evaluate_s"], config


def test_pack_has_no_errors(results):
    """The full FTC pack judges every resource of the generated tenant."""
    run = results["sizes"][0]["runs"]["safeguard-pack"][0]

    assert {} == run["unresolved"]
    assert "error" not in set(run["statuses"].values())


def test_multi_tenant_plans_every_tenant(results):
    """The multi-tenant run plans every tenant of the inventory."""
    multi = results["multi_tenant"]

    assert 3 == multi["planned"]
    assert 0 == multi["failed_tenants"]


def test_targets_listed(results):
    """The results name every target with its limit and measured value."""
    names = {target["target"] for target in results["targets"]}

    assert {"three_vs_regorus", "three_vs_baseline", "pack_vs_regorus_three", "peak_rss_vs_file",
            "multi_tenant_seconds"} == names


def test_generated_snapshot_loads(tmp_path, bench_modules):
    """A generated snapshot passes load_snapshot's validation."""
    generate, _ = bench_modules
    path = tmp_path / "small.json"
    generate.write_snapshot_file(path, 300)

    snapshot = load_snapshot(path)

    assert 300 == len(snapshot.data("m365.users"))
    assert 20 == len(snapshot.data("m365.conditionalAccessPolicies"))


def test_generator_deterministic(bench_modules):
    """The same size and seed give byte-identical snapshots."""
    generate, _ = bench_modules

    first = serialize_snapshot(generate.build_snapshot(200, seed=7))
    second = serialize_snapshot(generate.build_snapshot(200, seed=7))

    assert first == second


def test_generator_seed_changes_data(bench_modules):
    """Another seed gives another tenant."""
    generate, _ = bench_modules

    first = generate.build_snapshot(200, seed=7)
    second = generate.build_snapshot(200, seed=8)

    assert first["tenant"]["id"] != second["tenant"]["id"]


def test_ca_policy_count_scales(bench_modules):
    """Conditional access policies grow from 20 to 200 with the tenant size."""
    generate, _ = bench_modules

    assert 20 == generate.ca_policy_count(1000)
    assert 110 == generate.ca_policy_count(10000)
    assert 200 == generate.ca_policy_count(100000)


def test_tenant_inventory_written(tmp_path, bench_modules):
    """The multi-tenant mode writes one snapshot per tenant and an inventory naming them."""
    generate, _ = bench_modules

    inventory = generate.write_tenants(tmp_path, 2, 20)

    assert ["tenant-0000.json", "tenant-0001.json", "tenants.yaml"] == sorted(path.name for path in tmp_path.iterdir())
    assert "snapshot: tenant-0001.json" in inventory.read_text(encoding="utf-8")


def test_disagreement_detected(bench_modules):
    """check_agreement names a rule whose ids differ between implementations."""
    _, run = bench_modules
    same = {"mfa_unregistered": ["a", "b"], "external_forwarding": [], "stale_accounts": ["c"]}
    other = {"mfa_unregistered": ["a"], "external_forwarding": [], "stale_accounts": ["c"]}
    runs = {
        "safeguard-three": [{"violations": same, "unresolved": {}}],
        "regorus-three": [{"violations": other}],
        "baseline-three": [{"violations": same}],
    }

    problems = run.check_agreement(runs)

    assert 1 == len(problems)
    assert "regorus-three run 1: mfa_unregistered" in problems[0]


def _mutations(document):
    """Yield (path, parent, key) of every value in the document, lists cut to their first two items."""
    stack = [((), document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            children = node.items()
        elif isinstance(node, list):
            children = enumerate(node[:2])
        else:
            children = ()
        for key, child in children:
            yield path + (key,), node, key
            stack.append((path + (key,), child))


def test_compiled_check_agrees_with_jsonschema(bench_modules):
    """The compiled schema check accepts exactly what jsonschema accepts, over random mutations."""
    import copy
    import random

    from engine.snapshot import validation

    generate, _ = bench_modules
    rng = random.Random(20261130)
    base = orjson.loads(orjson.dumps(generate.build_snapshot(10, seed=3)))
    replacements = [None, 5, 2.0, "x", "", True, [], {}, ["a"], "2026-02-30T00:00:00Z", "2026-01-01T00:00:00", "gws"]
    check = validation._compiled_validator()
    reference = validation._validator()

    rejected = 0
    for _ in range(150):
        document = copy.deepcopy(base)
        path, parent, key = rng.choice(list(_mutations(document)))
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[key]
        else:
            parent[key] = copy.deepcopy(rng.choice(replacements))
        valid = next(reference.iter_errors(document), None) is None
        rejected += not valid

        assert valid == check(document), path
    assert rejected > 50


def test_mapped_parse_same_document(tmp_path, monkeypatch, bench_modules):
    """The section-by-section parse of a large file gives the document a plain parse gives."""
    from engine.snapshot import loader

    generate, _ = bench_modules
    path = tmp_path / "large.json"
    generate.write_snapshot_file(path, 200)
    monkeypatch.setattr(loader, "_LARGE_FILE_BYTES", 0)

    document, size = loader._parse_mapped(path)

    assert orjson.loads(path.read_bytes()) == document
    assert path.stat().st_size == size


def test_mapped_parse_with_bom(tmp_path, monkeypatch, bench_modules):
    """A large file with a UTF-8 byte-order mark loads like one without."""
    from engine.snapshot import loader

    generate, _ = bench_modules
    path = tmp_path / "bom.json"
    generate.write_snapshot_file(path, 50)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    monkeypatch.setattr(loader, "_LARGE_FILE_BYTES", 0)

    snapshot = load_snapshot(path)

    assert 50 == len(snapshot.data("m365.users"))


def test_mapped_parse_error_position(tmp_path, monkeypatch):
    """Invalid JSON in a large file is reported with its line and column."""
    from engine.errors import SnapshotError
    from engine.snapshot import loader

    path = tmp_path / "broken.json"
    path.write_text('{\n  "schemaVersion": "1.0",\n  "tenant": {,\n}\n', encoding="utf-8")
    monkeypatch.setattr(loader, "_LARGE_FILE_BYTES", 0)

    with pytest.raises(SnapshotError) as caught:
        load_snapshot(path)

    assert str(caught.value).startswith(f"{path}:3:")
