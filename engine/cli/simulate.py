"""``safeguard simulate``: serve a snapshot as a local Microsoft 365 / Google Workspace tenant."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from engine.errors import InputError
from engine.simulator import CONTROL_PREFIX, Simulator, fault_from_dict

__all__ = ["collect_snippet", "simulate"]


@click.command("simulate")
@click.option("-s", "--snapshot", "snapshots", required=True, multiple=True, type=click.Path(dir_okay=False, exists=True), help="Snapshot to serve; give one per provider to serve both.")
@click.option("-p", "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1; 0 picks a free one.")
@click.option("--page-size", default=100, show_default=True, type=click.IntRange(1, 999), help="Items per page of every list response.")
@click.option("--faults", "faults_file", type=click.Path(dir_okay=False, exists=True), help="JSON list of faults to inject (path, status, times, after, retry_after, reason, method).")
@click.option("--no-pim", is_flag=True, help="Make PIM requests fail as in a tenant without an Entra ID P2 licence.")
@click.option("--token-env", default="SAFEGUARD_SIMULATOR_TOKEN", show_default=True, help="Environment variable holding the Graph bearer token to accept; a random one is made when it is unset.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Folder for the generated service account key and tenants.yaml; default: a new temporary folder.")
@click.option("--exit-after", type=click.FloatRange(min=0), help="Stop after this many seconds instead of at Ctrl-C.")
def simulate(snapshots, port, page_size, faults_file, no_pim, token_env, state_dir, exit_after) -> None:
    """Serve snapshots over the Graph and Google APIs on 127.0.0.1 until interrupted.

    Prints the base URLs and a tenants.yaml that points `safeguard collect`
    at the simulator. Writes are applied to the served state and logged; read
    the log at /_simulator/writes.
    """
    token = os.environ.get(token_env) or secrets.token_urlsafe(24)
    faults = _read_faults(faults_file) if faults_file else []
    simulator = Simulator.from_files(snapshots, port=port, page_size=page_size, graph_token=token, pim_available=not no_pim, faults=faults)

    simulator.start()
    try:
        folder = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="safeguard-simulator-"))
        folder.mkdir(parents=True, exist_ok=True)
        inventory = collect_snippet(simulator, folder, token_env)
        inventory_path = folder / "tenants.yaml"
        inventory_path.write_text(inventory, encoding="utf-8")

        click.echo(f"simulator listening on {simulator.base_url}")
        if simulator.states.m365 is not None:
            click.echo(f"  Microsoft Graph: {simulator.graph_url}")
        if simulator.states.gws is not None:
            click.echo(f"  Google APIs:     {simulator.base_url}/ (token endpoint {simulator.token_uri})")
        click.echo(f"  write log:       {simulator.base_url}{CONTROL_PREFIX}/writes")
        click.echo(f"  faults:          {simulator.base_url}{CONTROL_PREFIX}/faults")
        click.echo("")
        if simulator.states.m365 is not None and not os.environ.get(token_env):
            # A random token that only this simulator process accepts.
            click.echo(f"export {token_env}={token}")
        click.echo(f"# tenants.yaml (also written to {inventory_path})")
        click.echo(inventory)
        click.echo(f"collect with: safeguard collect --inventory {inventory_path}")

        _wait(exit_after)
    finally:
        simulator.stop()


def _wait(seconds: float | None) -> None:
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


def _read_faults(path: str) -> list:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        message = f"{path}: cannot read the faults file: {error}"
        raise InputError(message) from None
    if not isinstance(data, list):
        message = f"{path}: the faults file must hold a JSON list of faults"
        raise InputError(message)

    return [fault_from_dict(item, f"{path}: faults[{index}]") for index, item in enumerate(data)]


def collect_snippet(simulator: Simulator, folder: Path, token_env: str) -> str:
    """Return a tenants.yaml for the simulator's tenants, writing the gws key file into ``folder``.

    The YAML names the key file by its absolute path, so it loads wherever it is saved.
    """
    lines = ["tenants:"]
    m365 = simulator.states.m365
    if m365 is not None:
        lines += [
            f"  - name: m365-{m365.domain}",
            "    provider: m365",
            f"    tenant_id: {m365.tenant_id}",
            f"    domain: {m365.domain}",
            f"    endpoint: {simulator.base_url}",
            "    credentials:",
            "      type: static_token",
            f"      token_env: {token_env}",
        ]
    gws = simulator.states.gws
    if gws is not None:
        # The loader resolves a relative key_file against the inventory's folder, not the working folder.
        key_path = (folder / "simulator-service-account.json").resolve()
        _write_private(key_path, simulator.create_service_account_key())
        admins = sorted(gws.admins())
        subject = admins[0] if admins else f"admin@{gws.domain}"
        lines += [
            f"  - name: gws-{gws.domain}",
            "    provider: gws",
            f"    customer_id: {gws.customer_id}",
            f"    domain: {gws.domain}",
            f"    endpoint: {simulator.base_url}",
            "    credentials:",
            "      type: service_account",
            # A JSON string is a valid YAML scalar, so a path with spaces or colons stays intact.
            f"      key_file: {json.dumps(str(key_path), ensure_ascii=False)}",
            f"      subject: {subject}",
        ]

    return "\n".join(lines) + "\n"


def _write_private(path: Path, content: Any) -> None:
    # The key is trusted only by this simulator, but it is still a private key: owner-only mode.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
