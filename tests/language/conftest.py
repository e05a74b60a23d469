"""Fixtures for the policy language tests: compile sources, build snapshots, evaluate.

Snapshots here are built in memory from dicts with `Snapshot(path, document)`,
without schema validation, so a test can hold exactly the fields it needs.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.errors import PolicyError
from engine.evaluate import evaluate
from engine.language.policyset import compile_sources
from engine.params import resolve_params
from engine.snapshot.model import Snapshot

# The evaluation clock of every test that does not pass its own.
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _policy_source(body: str, declarations: str = "", package: str = "t") -> str:
    lines = "\n".join(f"  {line}" if line else "" for line in body.strip("\n").splitlines())

    return f"package {package}\n{declarations}\npolicy \"m365.t.p\" {{\n  title \"T\"\n  severity low\n{lines}\n}}\n"


@pytest.fixture
def policy_source():
    """Wrap clause lines in a policy "m365.t.p" of package t, after optional declarations."""
    return _policy_source


@pytest.fixture
def compile_policies():
    """Compile (file, text) pairs, or one text as t.sg, into a PolicySet."""

    def build(*sources):
        pairs = [("t.sg", sources[0])] if len(sources) == 1 and isinstance(sources[0], str) else list(sources)
        return compile_sources(pairs)

    return build


@pytest.fixture
def diagnostics_of():
    """Compile sources that must fail; return the rendered diagnostics and the PolicyError."""

    def build(*sources):
        pairs = [("t.sg", sources[0])] if len(sources) == 1 and isinstance(sources[0], str) else list(sources)
        with pytest.raises(PolicyError) as caught:
            compile_sources(pairs)
        return str(caught.value), caught.value

    return build


@pytest.fixture
def make_snapshot():
    """Build a Snapshot of one provider: ``data`` sections are ok, ``statuses`` sets others."""

    def build(provider: str = "m365", data: dict | None = None, statuses: dict | None = None) -> Snapshot:
        document = {
            "schemaVersion": "1.0",
            "tenant": {"id": "tenant-1", "provider": provider, "domain": "contoso.example"},
            "collectedAt": "2026-12-01T00:00:00Z",
            "collector": {"name": "tests", "version": "0"},
            "sections": {},
            provider: {},
        }
        for key, value in (data or {}).items():
            document["sections"][f"{provider}.{key}"] = {"status": "ok"}
            document[provider][key] = value
        for name, (status, message) in (statuses or {}).items():
            document["sections"][name] = {"status": status, "message": message}
        return Snapshot("snapshot.json", document)

    return build


@pytest.fixture
def run_policies(compile_policies, make_snapshot):
    """Compile sources and evaluate them; return the results keyed by policy id."""

    def run(sources, snapshot=None, params=None, now=NOW):
        if isinstance(sources, str):
            sources = [("t.sg", sources)]
        policy_set = compile_policies(*sources)
        values = resolve_params(policy_set, params or {})
        evaluation = evaluate(policy_set, snapshot or make_snapshot(), values, now)
        return {result.id: result for result in evaluation.results}

    return run


@pytest.fixture
def run_policy(run_policies, policy_source):
    """Evaluate the clause lines of one policy "m365.t.p"; return its result."""

    def run(body, snapshot=None, declarations="", params=None, now=NOW):
        return run_policies(policy_source(body, declarations), snapshot, params, now)["m365.t.p"]

    return run
