"""Shared fixtures: the shipped policy pack, in-memory snapshots to run it on, the report fixture plan and quiet logs."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner
from structlog.testing import capture_logs

from engine.cli import main
from engine.evaluate import Evaluation, evaluate
from engine.language.policyset import PolicySet, load_policies
from engine.params import resolve_params
from engine.snapshot import SECTIONS, Snapshot, validate_document

REPO = Path(__file__).resolve().parents[1]
REPORT_PLAN = REPO / "tests" / "fixtures" / "reports" / "plan.json"

_TENANTS = {
    "m365": {"id": "f0e1d2c3-0000-4000-8000-00000000c0de", "provider": "m365", "domain": "contoso.example"},
    "gws": {"id": "C03abcdef", "provider": "gws", "domain": "example.org"},
}


@pytest.fixture(scope="session")
def pack() -> PolicySet:
    """The shipped FTC policy pack, compiled once per session."""
    return load_policies([REPO / "policies"])


@pytest.fixture(scope="session")
def make_snapshot():
    """Build a valid snapshot document from section data.

    ``data`` maps section keys (``users``, ``policies``) to their data, and
    those sections are ok. ``statuses`` maps full section names to ``(status,
    message)`` for sections that are not ok. Every other section of the
    provider is not_collected, as an import that lacks it would record.
    """

    def build(
        provider: str,
        data: dict,
        statuses: dict[str, tuple[str, str]] | None = None,
        collected_at: str = "2026-12-01T09:30:00Z",
    ) -> dict:
        statuses = statuses or {}
        sections = {}
        for name in SECTIONS[provider]:
            key = name.split(".", 1)[1]
            if name in statuses:
                status, message = statuses[name]
                sections[name] = {"status": status, "message": message}
            elif key in data:
                sections[name] = {"status": "ok"}
            else:
                sections[name] = {"status": "not_collected", "message": "not needed by this test"}
        collected = {key: value for key, value in data.items() if sections[f"{provider}.{key}"]["status"] == "ok"}
        document = {
            "schemaVersion": "1.0",
            "tenant": dict(_TENANTS[provider]),
            "collectedAt": collected_at,
            "collector": {"name": "safeguard tests", "version": "0"},
            "sections": sections,
            provider: collected,
        }
        validate_document(document, "test snapshot")

        return document

    return build


@pytest.fixture(scope="session")
def run_pack(pack):
    """Evaluate the shipped pack on a snapshot document with param overrides and a clock."""

    def run(document: dict, overrides: dict | None = None, now: datetime | None = None) -> Evaluation:
        snapshot = Snapshot("test-snapshot.json", document)
        params = resolve_params(pack, overrides or {}, source="test params")

        return evaluate(pack, snapshot, params, now or snapshot.collected_at)

    return run


@pytest.fixture(scope="session")
def safeguard():
    """Run the safeguard console entry point in process and return exit code, stdout and stderr.

    It runs ``engine.cli.main`` under CliRunner isolation, so the output is
    what a user reads in a terminal, including the one-line messages for bad input.
    """

    def run(*args) -> tuple[int, str, str]:
        code = 0
        with CliRunner().isolation() as (stdout, stderr, _):
            try:
                main([str(arg) for arg in args])
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else 1
            out = stdout.getvalue().decode("utf-8")
            err = stderr.getvalue().decode("utf-8")
        # The CLI pointed structlog at the isolated stderr, which is closed now.
        structlog.reset_defaults()

        return code, out, err

    return run


@pytest.fixture
def quiet_logs():
    """Keep log events out of the test output: the code under test runs without the CLI's logging set-up."""
    with capture_logs():
        yield


@pytest.fixture
def plan():
    """The hand-written plan with every status, a waiver and hostile tenant strings."""
    return json.loads(REPORT_PLAN.read_text(encoding="utf-8"))
