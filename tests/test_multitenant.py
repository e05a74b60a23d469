"""Tests for planning many tenants (engine/multitenant.py) and `safeguard plan --inventory`."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime
from pathlib import Path

import pytest

from engine.cli import plan as plan_command
from engine.collect import load_inventory
from engine.errors import UserError
from engine.multitenant import PlanSettings, TenantOutcome, combined_document, combined_exit_code, plan_tenant, plan_tenants
from engine.snapshot import load_snapshot
from helpers import write_text

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
DEMO = EXAMPLES / "tenants-demo.yaml"
NOW_TEXT = "2026-12-01T00:00:00Z"
NOW = datetime.fromisoformat("2026-12-01T00:00:00+00:00")


def _inventory(tmp_path: Path, entries: str) -> Path:
    return write_text(tmp_path / "tenants.yaml", "tenants:\n" + entries)


CONTOSO_ENTRY = f"""  - name: contoso
    provider: m365
    tenant_id: f768064f-9585-47ad-a39e-ed24c2c063fe
    domain: contoso.example
    snapshot: {EXAMPLES / "m365-snapshot.json"}
    credentials: {{type: client_secret, client_id: 4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d, client_secret_env: CONTOSO_SECRET}}
"""

WOODGROVE_ENTRY = f"""  - name: woodgrove
    provider: gws
    customer_id: C03wdgrv7
    domain: woodgrove.example
    snapshot: {EXAMPLES / "woodgrove-gws-snapshot.json"}
    credentials: {{type: service_account, key_file: key.json, subject: admin@woodgrove.example}}
"""


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, safeguard):
    """The three-tenant demo planned end to end through the CLI: exit code, stdout and the output folder."""
    folder = tmp_path_factory.mktemp("demo")
    code, out, _ = safeguard(
        "plan", "--inventory", DEMO, "--all", "--now", NOW_TEXT,
        "--exceptions", EXAMPLES / "exceptions.yaml",
        "--out-dir", folder / "plans", "--out", folder / "combined.json", "--format", "json",
    )  # fmt: skip

    return code, out, folder


# The three-tenant demo


def test_demo_exit_code(demo_run):
    """The demo has violations and no failed tenant, so it exits 2."""
    code, _, _ = demo_run

    assert 2 == code


def test_demo_plan_files(demo_run):
    """One NAME.plan.json per tenant lands in --out-dir."""
    _, _, folder = demo_run

    assert ["contoso.plan.json", "fabrikam.plan.json", "woodgrove.plan.json"] == sorted(path.name for path in (folder / "plans").iterdir())


def test_demo_combined_matches_stdout(demo_run):
    """--out contains the same combined document that --format json prints."""
    _, out, folder = demo_run

    assert out == (folder / "combined.json").read_text(encoding="utf-8")


def test_demo_combined_shape(demo_run):
    """The combined document lists the tenants in inventory order with their plans and a summary."""
    _, out, _ = demo_run
    document = json.loads(out)

    assert ["contoso", "fabrikam", "woodgrove"] == [entry["name"] for entry in document["tenants"]]
    assert 3 == document["summary"]["planned"]
    assert 0 == document["summary"]["failed"]
    assert sum(len(entry["plan"]["actions"]) for entry in document["tenants"]) == document["summary"]["actions"]


def test_demo_per_tenant_plan_equals_combined(demo_run):
    """Each per-tenant file contains the same plan as the combined document."""
    _, out, folder = demo_run
    document = json.loads(out)

    for entry in document["tenants"]:
        written = json.loads((folder / "plans" / f"{entry['name']}.plan.json").read_text(encoding="utf-8"))
        assert entry["plan"] == written


def test_demo_clean_tenant(demo_run):
    """The generated third tenant passes every policy that applies to it."""
    _, out, _ = demo_run
    woodgrove = json.loads(out)["tenants"][2]["plan"]

    assert 0 == woodgrove["summary"]["fail"]
    assert 0 == woodgrove["summary"]["error"]
    assert 7 == woodgrove["summary"]["pass"]


def test_demo_tenant_params(demo_run):
    """contoso's inventory params reach its plan: the break-glass ids."""
    _, out, _ = demo_run
    contoso = json.loads(out)["tenants"][0]["plan"]

    assert 2 == len(contoso["params"]["values"]["break_glass"])


def test_demo_exceptions(demo_run):
    """The example exceptions waive, expire and go unused as their comments describe."""
    _, out, _ = demo_run
    document = json.loads(out)
    contoso = document["tenants"][0]["plan"]
    statuses = {result["policy"]: result["status"] for result in contoso["results"]}

    assert "waived" == statuses["m365.mail.remote-domains-no-auto-forward"]
    assert "fail" == statuses["m365.accounts.stale-disabled"]
    assert 3 == len(document["summary"]["exceptions"]["applied"])
    assert 1 == len(document["summary"]["exceptions"]["expired"])
    assert 1 == len(document["summary"]["exceptions"]["unused"])


def test_woodgrove_snapshot_current():
    """examples/woodgrove-gws-snapshot.json is what examples/generate_tenants_demo.py writes today."""
    spec = importlib.util.spec_from_file_location("generate_tenants_demo", EXAMPLES / "generate_tenants_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = json.loads((EXAMPLES / "gws-snapshot.json").read_text(encoding="utf-8"))
    expected = module.render(module.build_woodgrove_snapshot(source))

    assert expected == (EXAMPLES / module.OUTPUT_NAME).read_text(encoding="utf-8"), "run python examples/generate_tenants_demo.py"


def test_woodgrove_snapshot_valid():
    """The generated tenant is a valid snapshot of its own customer id and domain."""
    snapshot = load_snapshot(EXAMPLES / "woodgrove-gws-snapshot.json")

    assert "C03wdgrv7" == snapshot.tenant["id"]
    assert "woodgrove.example" == snapshot.tenant["domain"]


# Library


def test_snapshot_path_relative_to_inventory(tmp_path):
    """A relative `snapshot` path resolves against the inventory's folder."""
    path = _inventory(tmp_path, CONTOSO_ENTRY.replace(str(EXAMPLES / "m365-snapshot.json"), "snaps/contoso.json"))

    assert tmp_path / "snaps" / "contoso.json" == load_inventory(path).tenants[0].snapshot


def test_params_merge(tmp_path, pack):
    """Inventory params override the defaults file key by key; other defaults stay."""
    tenant = load_inventory(_inventory(tmp_path, CONTOSO_ENTRY.rstrip("\n") + "\n    params: {stale_days: 30}\n")).tenants[0]
    settings = PlanSettings(policy_set=pack, default_params={"stale_days": 60, "global_admins_max": 3}, now=NOW)
    values = plan_tenant(tenant, settings)["params"]["values"]

    assert 30 == values["stale_days"]
    assert 3 == values["global_admins_max"]


def test_failed_tenant_does_not_stop_others(tmp_path, pack):
    """A tenant whose snapshot is missing fails alone; the others are planned."""
    missing = CONTOSO_ENTRY.replace(str(EXAMPLES / "m365-snapshot.json"), str(tmp_path / "absent.json"))
    tenants = load_inventory(_inventory(tmp_path, missing + WOODGROVE_ENTRY)).tenants
    outcomes = plan_tenants(tenants, PlanSettings(policy_set=pack, now=NOW))

    assert ["contoso", "woodgrove"] == [outcome.name for outcome in outcomes]
    assert "snapshot not found" in outcomes[0].error
    assert outcomes[1].plan is not None


def test_identity_mismatch(tmp_path, pack):
    """A snapshot of another tenant than the inventory entry names is an error for that tenant."""
    swapped = CONTOSO_ENTRY.replace("f768064f-9585-47ad-a39e-ed24c2c063fe", "00000000-0000-4000-8000-000000000009")
    (tenant,) = load_inventory(_inventory(tmp_path, swapped)).tenants
    (outcome,) = plan_tenants([tenant], PlanSettings(policy_set=pack, now=NOW))

    assert "the snapshot is of m365 tenant f768064f-9585-47ad-a39e-ed24c2c063fe" in outcome.error


def test_unknown_param_fails_tenant(tmp_path, pack):
    """An inventory param that no policy declares fails that tenant with a suggestion."""
    entry = CONTOSO_ENTRY.rstrip("\n") + "\n    params: {stale_day: 30}\n"
    (outcome,) = plan_tenants(load_inventory(_inventory(tmp_path, entry)).tenants, PlanSettings(policy_set=pack, now=NOW))

    assert "did you mean 'stale_days'?" in outcome.error


def test_jobs_do_not_change_plans(pack):
    """Planning on one thread or two gives identical plans in the same order."""
    tenants = load_inventory(DEMO).tenants
    settings = PlanSettings(policy_set=pack, now=NOW)

    assert plan_tenants(tenants, settings, jobs=1) == plan_tenants(tenants, settings, jobs=2)


def test_progress_events(pack):
    """The progress callback hears a start and a finish for every tenant."""
    events = []
    plan_tenants(load_inventory(DEMO).tenants, PlanSettings(policy_set=pack, now=NOW), progress=lambda name, event: events.append((name, event)))

    assert 6 == len(events)
    assert {("woodgrove", "start"), ("woodgrove", "finish")} <= set(events)


def test_live_collection_path(tmp_path, pack, monkeypatch):
    """A tenant without `snapshot` is collected, and the snapshot is kept in the out folder."""
    document = json.loads((EXAMPLES / "woodgrove-gws-snapshot.json").read_text(encoding="utf-8"))
    calls = []

    def fake_collect(tenant, options):
        calls.append(tenant.name)
        return document

    monkeypatch.setattr("engine.multitenant.collect_tenant", fake_collect)
    entry = WOODGROVE_ENTRY.replace(f"    snapshot: {EXAMPLES / 'woodgrove-gws-snapshot.json'}\n", "")
    (tenant,) = load_inventory(_inventory(tmp_path, entry)).tenants
    plan = plan_tenant(tenant, PlanSettings(policy_set=pack, now=NOW, snapshot_dir=tmp_path))

    assert ["woodgrove"] == calls
    assert str(tmp_path / "woodgrove.snapshot.json") == plan["snapshot"]["path"]
    assert document == json.loads((tmp_path / "woodgrove.snapshot.json").read_text(encoding="utf-8"))


def test_combined_exit_codes():
    """1 when a tenant failed, else 2 with violations, else 0."""
    clean = {"summary": {"pass": 1, "fail": 0, "error": 0, "waived": 0, "not_applicable": 0}, "actions": []}
    failing = {"summary": {"pass": 0, "fail": 1, "error": 0, "waived": 0, "not_applicable": 0}, "actions": []}

    assert 0 == combined_exit_code(combined_document([TenantOutcome("a", plan=clean)]))
    assert 2 == combined_exit_code(combined_document([TenantOutcome("a", plan=clean), TenantOutcome("b", plan=failing)]))
    assert 1 == combined_exit_code(combined_document([TenantOutcome("a", plan=failing), TenantOutcome("b", error="down")]))


def test_combined_unused_only_if_unused_everywhere():
    """An exception unused in one tenant but applied in another is not reported unused."""
    summary = {"pass": 0, "fail": 0, "error": 0, "waived": 1, "not_applicable": 0}
    first = {"summary": summary, "actions": [], "exceptions": {"applied": [{"id": "exc-a"}], "expired": [], "unused": []}}
    second = {"summary": summary, "actions": [], "exceptions": {"applied": [], "expired": [], "unused": [{"id": "exc-a"}, {"id": "exc-b"}]}}
    document = combined_document([TenantOutcome("one", plan=first), TenantOutcome("two", plan=second)])

    assert ["exc-b"] == document["summary"]["exceptions"]["unused"]


# Command line


def test_cli_tenant_selection(safeguard):
    """--tenant plans only the named tenants, in the order given."""
    code, out, _ = safeguard("plan", "--inventory", DEMO, "--tenant", "woodgrove", "--tenant", "contoso", "--format", "json")
    document = json.loads(out)

    assert 2 == code
    assert ["woodgrove", "contoso"] == [entry["name"] for entry in document["tenants"]]


def test_cli_clean_tenant_exits_zero(safeguard):
    """A run of only the compliant tenant exits 0."""
    code, _, _ = safeguard("plan", "--inventory", DEMO, "--tenant", "woodgrove", "--now", NOW_TEXT)

    assert 0 == code


def test_cli_failed_tenant_exits_one(tmp_path, safeguard):
    """A tenant that cannot be planned makes the run exit 1 and is named on stderr."""
    missing = CONTOSO_ENTRY.replace(str(EXAMPLES / "m365-snapshot.json"), str(tmp_path / "absent.json"))
    inventory = _inventory(tmp_path, missing + WOODGROVE_ENTRY)

    code, out, err = safeguard("plan", "--inventory", inventory, "--all", "--format", "json")

    assert 1 == code
    assert "error: tenant contoso:" in err
    assert "absent.json" in json.loads(out)["tenants"][0]["error"]


def test_cli_unknown_tenant(safeguard):
    """An unknown --tenant name is an error with a suggestion."""
    code, _, err = safeguard("plan", "--inventory", DEMO, "--tenant", "contso")

    assert 1 == code
    assert "did you mean 'contoso'?" in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "give either --snapshot FILE"),
        (("--inventory", DEMO), "--inventory needs --all or at least one --tenant NAME"),
        (("--inventory", DEMO, "--all", "--tenant", "contoso"), "--all and --tenant exclude each other"),
        (("--snapshot", EXAMPLES / "m365-snapshot.json", "--all"), "go with --inventory"),
    ],
)
def test_cli_option_conflicts(safeguard, arguments, message):
    """Conflicting or missing selection options are usage errors with exit 1."""
    code, _, err = safeguard("plan", *arguments)

    assert 1 == code
    assert message in err


def test_cli_markdown_combined(safeguard):
    """--format markdown renders the combined result through engine.report."""
    code, out, _ = safeguard("plan", "--inventory", DEMO, "--all", "--format", "markdown", "--now", NOW_TEXT)

    assert 2 == code
    assert "woodgrove" in out
    assert "contoso" in out


def test_missing_renderer_named(monkeypatch):
    """A format without a renderer is an error that names the missing renderer."""
    monkeypatch.setattr(plan_command, "_renderers", lambda: {})

    with pytest.raises(UserError) as caught:
        plan_command.render_document({}, "sarif", colour=False)

    assert "no sarif renderer" in str(caught.value)


def test_single_snapshot_plan_unchanged(tmp_path, safeguard):
    """A tenant planned through the inventory gets the same results as with --snapshot and the same params."""
    params = write_text(tmp_path / "params.yaml", "stale_days: 45\n")
    _, single, _ = safeguard("plan", "--snapshot", EXAMPLES / "woodgrove-gws-snapshot.json", "--params", params, "--format", "json")
    _, combined, _ = safeguard("plan", "--inventory", DEMO, "--tenant", "woodgrove", "--params", params, "--format", "json")
    through_inventory = json.loads(combined)["tenants"][0]["plan"]
    alone = json.loads(single)

    assert alone["results"] == through_inventory["results"]
    assert alone["params"] == through_inventory["params"]
