"""Tests for the renderer registries and the text renderer."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.diff import diff_documents
from engine.plan import plan_bytes
from engine.report import DIFF_RENDERERS, FORMATS, RENDERERS, render_json, render_text

PLAN_SCHEMA = Path(__file__).resolve().parents[1] / "schema" / "plan.schema.json"


@pytest.fixture
def combined(plan):
    """A combined result: the fixture plan and a tenant whose run failed."""
    return {"tenants": [{"name": "northwind", "plan": plan}, {"name": "fabrikam", "error": "token expired"}]}


def test_fixture_is_valid_plan(plan):
    """The hand-written fixture is a plan that schema/plan.schema.json accepts."""
    validator = Draft202012Validator(json.loads(PLAN_SCHEMA.read_text(encoding="utf-8")))
    assert [] == [error.message for error in validator.iter_errors(plan)]


def test_registry_formats():
    """Both registries offer the same six formats."""
    assert ("text", "json", "sarif", "junit", "markdown", "html") == FORMATS
    assert FORMATS == tuple(DIFF_RENDERERS)


@pytest.mark.parametrize("name", FORMATS)
def test_renders_plan_and_combined(name, plan, combined):
    """Every format renders a plan and a combined result, naming the failed tenant."""
    render = RENDERERS[name]
    single = render(plan, colour=False)
    many = render(combined, colour=False)
    assert "m365.mfa.all-users" in single
    assert "token expired" in many
    assert many.endswith("\n")


@pytest.mark.parametrize("name", FORMATS)
def test_renderers_pure(name, plan):
    """Rendering neither changes the document nor depends on anything but it."""
    before = copy.deepcopy(plan)
    first = RENDERERS[name](plan)
    assert before == plan
    assert first == RENDERERS[name](copy.deepcopy(plan))


@pytest.mark.parametrize("name", FORMATS)
def test_diff_renderers(name, plan):
    """Every format renders a diff document."""
    new = copy.deepcopy(plan)
    new["results"][5]["violations"].pop()
    text = DIFF_RENDERERS[name](diff_documents(plan, new, "old.json", "new.json"))
    assert "m365.mfa.all-users" in text


def test_json_matches_plan_file(plan):
    """The JSON format is byte for byte what `plan --out` writes."""
    assert plan_bytes(plan).decode("utf-8") == render_json(plan)


def test_text_shows_exception(plan):
    """The text report prints a waived policy's exception."""
    text = render_text(plan)
    assert "      exception: owner Dana Lee, reason Bookkeeper contract until March, ticket SEC-142, expires 2027-03-31" in text


def test_text_combined(combined):
    """The text report renders each tenant and the error of a failed run."""
    text = render_text(combined)
    assert "safeguard plan for northwind.example (m365, tenant 0b7e2c1a-5d4f-4c3b-9a8e-7f6d5c4b3a21)" in text
    assert "safeguard plan for fabrikam: the run failed\n  error: token expired\n" in text


def test_text_colour(plan):
    """Colour adds ANSI escapes only when asked for."""
    assert "\x1b[" in render_text(plan, colour=True)
    assert "\x1b[" not in render_text(plan, colour=False)
