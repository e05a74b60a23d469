"""The `safeguard collect` and `safeguard simulate` commands, driven in-process."""

from __future__ import annotations

import json
import socket
import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.collect import collect
from engine.cli.simulate import collect_snippet, simulate
from engine.collect import load_inventory
from engine.errors import InputError, UserError
from engine.simulator import Fault, Simulator
from engine.snapshot import load_snapshot

# msgraph-sdk's request builders warn about their own deprecated configuration classes.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.usefixtures("quiet_logs")]

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "collect"
TOKEN_ENV = "SAFEGUARD_TEST_SIMULATOR_TOKEN"


def seeds() -> list[dict]:
    return [json.loads((FIXTURES / name).read_text(encoding="utf-8")) for name in ("m365-small.json", "gws-small.json")]


def run_collect(sim: Simulator, tmp_path: Path, *arguments: str):
    """Write the simulator's tenants.yaml into tmp_path and run collect with fast retries."""
    inventory = tmp_path / "tenants.yaml"
    inventory.write_text(collect_snippet(sim, tmp_path, TOKEN_ENV), encoding="utf-8")
    runner = CliRunner()
    base = ["--inventory", str(inventory), "--retry-delay", "0", "--no-progress"]

    return runner.invoke(collect, [*base, *arguments], env={TOKEN_ENV: sim.graph_token})


def test_simulate_then_collect(tmp_path):
    """The simulator's tenants.yaml collects both tenants into one snapshot each, exit code 0."""
    with Simulator(seeds()) as sim:
        result = run_collect(sim, tmp_path, "--output-dir", str(tmp_path / "out"))

    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    providers = [load_snapshot(tmp_path / "out" / name).provider for name in written]
    assert 0 == result.exit_code, result.output
    assert ["gws-small.example.json", "m365-small.example.json"] == written
    assert ["gws", "m365"] == providers


def test_collect_one_tenant_to_file(tmp_path):
    """--tenant and --output write one snapshot and report its sections."""
    with Simulator(seeds()[:1]) as sim:
        result = run_collect(sim, tmp_path, "--tenant", "m365-small.example", "--output", str(tmp_path / "m365.json"))
    snapshot = load_snapshot(tmp_path / "m365.json")

    assert 0 == result.exit_code, result.output
    assert f"wrote {tmp_path / 'm365.json'}: 9 ok, 0 error, 2 not collected" == result.output.splitlines()[0]
    assert "m365" == snapshot.provider


def test_collect_partial_exit_code(tmp_path):
    """A failed section writes the snapshot but exits 1, or 0 with --allow-partial."""
    with Simulator(seeds()[1:], faults=[Fault(path="/admin/directory/v1/users/*/tokens", status=500)]) as sim:
        strict = run_collect(sim, tmp_path, "--max-retries", "1", "--output", str(tmp_path / "strict.json"))
        lenient = run_collect(sim, tmp_path, "--max-retries", "1", "--output", str(tmp_path / "lenient.json"), "--allow-partial")

    assert 1 == strict.exit_code
    assert "  gws.tokens: error: HTTP 500 backendError from /admin/directory/v1/users/" in strict.output
    assert (tmp_path / "strict.json").exists()
    assert 0 == lenient.exit_code


def test_collect_output_needs_one_tenant(tmp_path):
    """--output with several tenants is a usage error."""
    with Simulator(seeds()) as sim:
        result = run_collect(sim, tmp_path, "--output", str(tmp_path / "one.json"))

    assert isinstance(result.exception, UserError)
    assert "--output names one file, but 2 tenants are selected" in str(result.exception)


def test_collect_unknown_tenant(tmp_path):
    """An unknown --tenant name gets a suggestion."""
    with Simulator(seeds()[:1]) as sim:
        result = run_collect(sim, tmp_path, "--tenant", "m365-small.exampel")

    assert isinstance(result.exception, InputError)
    assert "did you mean 'm365-small.example'?" in str(result.exception)


def test_simulate_prints_inventory(tmp_path):
    """simulate prints its URLs and a tenants.yaml that loads, and writes the key owner-only."""
    snapshots = [str(FIXTURES / "m365-small.json"), str(FIXTURES / "gws-small.json")]
    result = CliRunner().invoke(simulate, [*sum((["--snapshot", path] for path in snapshots), []), "--state-dir", str(tmp_path), "--exit-after", "0.2"], env={"SAFEGUARD_SIMULATOR_TOKEN": ""})
    inventory = load_inventory(tmp_path / "tenants.yaml")
    key_mode = stat.S_IMODE((tmp_path / "simulator-service-account.json").stat().st_mode)

    assert 0 == result.exit_code, result.output
    assert result.output.startswith("simulator listening on http://127.0.0.1:")
    assert "export SAFEGUARD_SIMULATOR_TOKEN=" in result.output
    assert ["m365-small.example", "gws-small.example"] == inventory.names()
    assert ["m365", "gws"] == [tenant.provider for tenant in inventory.tenants]
    assert "admin@small.example" == inventory.tenants[1].credentials.subject
    assert 0o600 == key_mode


def test_simulate_relative_state_dir(tmp_path, monkeypatch):
    """A relative --state-dir writes a tenants.yaml whose key file loads from another working folder."""
    monkeypatch.chdir(tmp_path)
    snapshots = [str(FIXTURES / "m365-small.json"), str(FIXTURES / "gws-small.json")]
    result = CliRunner().invoke(simulate, [*sum((["--snapshot", path] for path in snapshots), []), "--state-dir", "sim3", "--exit-after", "0.1"], env={"SAFEGUARD_SIMULATOR_TOKEN": ""})
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    inventory = load_inventory(tmp_path / "sim3" / "tenants.yaml")
    key_file = inventory.get("gws-small.example").credentials.key_file

    assert 0 == result.exit_code, result.output
    assert (tmp_path / "sim3" / "simulator-service-account.json").resolve() == key_file
    assert key_file.is_file()


def closed_port() -> int:
    """Return a port of 127.0.0.1 that was free a moment ago and that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_collect_refused_fails_fast(tmp_path):
    """collect against a port nothing listens on fails within seconds and names the address to check."""
    port = closed_port()
    seed = seeds()[0]
    inventory = tmp_path / "tenants.yaml"
    inventory.write_text(
        "tenants:\n"
        "  - name: stopped\n"
        "    provider: m365\n"
        f"    tenant_id: {seed['tenant']['id']}\n"
        f"    domain: {seed['tenant']['domain']}\n"
        f"    endpoint: http://127.0.0.1:{port}\n"
        f"    credentials: {{type: static_token, token_env: {TOKEN_ENV}}}\n",
        encoding="utf-8",
    )

    # The default retry options, as a user runs it.
    start = time.monotonic()
    result = CliRunner().invoke(collect, ["--inventory", str(inventory), "--no-progress", "--output-dir", str(tmp_path / "out")], env={TOKEN_ENV: "token"})
    seconds = time.monotonic() - start

    assert 1 == result.exit_code
    assert f"tenant 'stopped': cannot connect to 127.0.0.1:{port} for /v1.0/organization: connection refused;" in str(result.exception)
    assert f"check that the tenant's endpoint http://127.0.0.1:{port} in the inventory is right" in str(result.exception)
    assert "`safeguard simulate`" in str(result.exception)
    assert seconds < 15
