"""Params: declarations, defaults, YAML overrides and how one name applies to every package."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from engine.errors import ParamsError
from engine.params import load_params_file, resolve_params

DECLARATIONS = """\
package t.params

param window: duration = 7d
param cutoff: timestamp = time("2026-01-01T00:00:00Z")
param ids: set<string> = ["b", "a"]
param names: list<string> = ["x"]
param limit: int = 3
param enabled: bool = true
param region: string
"""


@pytest.fixture
def users_free_snapshot(make_snapshot):
    """An m365 snapshot with no data sections."""
    return make_snapshot("m365", {})


@pytest.fixture
def declared(compile_policies):
    """A policy set that declares one param of each type."""
    return compile_policies(DECLARATIONS)


def test_defaults_typed(declared):
    """Defaults resolve to typed values: durations, timestamps, sets, lists."""
    values = resolve_params(declared, {"region": "us"})

    assert timedelta(days=7) == values["window"]
    assert datetime(2026, 1, 1, tzinfo=timezone.utc) == values["cutoff"]
    assert frozenset({"a", "b"}) == values["ids"]
    assert ["x"] == values["names"]
    assert 3 == values["limit"]
    assert values["enabled"] is True


def test_overrides_typed(declared):
    """YAML values are converted to the declared types."""
    overrides = {"window": "1.5h", "cutoff": "2026-06-30T00:00:00Z", "ids": ["a", "a", "c"], "region": "eu", "limit": 2.0}
    values = resolve_params(declared, overrides)

    assert timedelta(minutes=90) == values["window"]
    assert datetime(2026, 6, 30, tzinfo=timezone.utc) == values["cutoff"]
    assert frozenset({"a", "c"}) == values["ids"]
    assert "eu" == values["region"]
    assert 2 == values["limit"]


PARAM_ERRORS = [
    ({"region": "us", "windw": "1d"}, "params.yaml: unknown param 'windw'; did you mean 'window'?"),
    ({"region": "us", "zzz": 1}, "params.yaml: unknown param 'zzz'; declared params: cutoff, enabled, ids, limit, names, region, window"),
    ({}, "params.yaml: param 'region' has no default and must be set"),
    ({"region": "us", "window": 90}, "params.yaml: param 'window': expected duration (for example 90d), got 90"),
    ({"region": "us", "window": "90 days"}, 'params.yaml: param \'window\': expected duration (for example 90d), got "90 days"'),
    ({"region": "us", "limit": True}, "params.yaml: param 'limit': expected int, got true"),
    ({"region": "us", "limit": 2.5}, "params.yaml: param 'limit': expected a whole number (int), got 2.5"),
    ({"region": "us", "enabled": "yes"}, 'params.yaml: param \'enabled\': expected bool, got "yes"'),
    ({"region": "us", "ids": "a"}, 'params.yaml: param \'ids\': expected set<string>, got "a"'),
    ({"region": "us", "names": ["x", 1]}, "params.yaml: param 'names'[1]: expected string, got 1"),
    ({"region": "us", "cutoff": "June"}, 'params.yaml: param \'cutoff\': expected timestamp, got "June"'),
]


@pytest.mark.parametrize(("overrides", "message"), PARAM_ERRORS)
def test_param_errors(declared, overrides, message):
    """A bad override names the file, the param and what was expected."""
    with pytest.raises(ParamsError) as caught:
        resolve_params(declared, overrides, source="params.yaml")

    assert message == str(caught.value)


def test_one_name_every_package(run_policies, users_free_snapshot):
    """An override applies to every package that declares the name."""
    first = ("a.sg", 'package a\nparam level: int = 1\npolicy "m365.t.a" {\n  title "A"\n  severity low\n  assert level == 5\n}\n')
    second = ("b.sg", 'package b\nparam level: int = 1\npolicy "m365.t.b" {\n  title "B"\n  severity low\n  assert level == 5\n}\n')
    results = run_policies([first, second], users_free_snapshot, params={"level": 5})

    assert ["pass", "pass"] == [results["m365.t.a"].status, results["m365.t.b"].status]


def test_default_from_other_package(run_policies, users_free_snapshot):
    """A package that declares a param without default gets the default another package gives."""
    first = ("a.sg", "package a\nparam level: int = 4\n")
    second = ("b.sg", 'package b\nparam level: int\npolicy "m365.t.b" {\n  title "B"\n  severity low\n  assert level == 4\n}\n')
    results = run_policies([first, second], users_free_snapshot)

    assert "pass" == results["m365.t.b"].status


def test_set_defaults_any_order(compile_policies):
    """Two set<T> defaults with the same items in another order do not conflict."""
    first = ("a.sg", 'package a\nparam ids: set<string> = ["x", "y"]\n')
    second = ("b.sg", 'package b\nparam ids: set<string> = ["y", "x", "x"]\n')
    policy_set = compile_policies(first, second)

    assert frozenset({"x", "y"}) == resolve_params(policy_set, {})["ids"]


def test_conflicting_defaults(diagnostics_of):
    """Two different defaults for one name are a diagnostic at the second."""
    first = ("a.sg", "package a\nparam level: int = 4\n")
    second = ("b.sg", "package b\nparam level: int = 5\n")
    rendered, _ = diagnostics_of(first, second)

    expected = (
        "b.sg:2:20: param_default_conflict: param 'level' has another default at a.sg:2:1\n"
        "    param level: int = 5\n"
        "                       ^\n"
        "    have: 5\n"
        "    want: 4, the same default in every package (or none here)\n"
        "1 error"
    )
    assert expected == rendered


def test_default_evaluation_error(diagnostics_of):
    """A default that fails to evaluate is a diagnostic at the failing expression."""
    rendered, _ = diagnostics_of("package a\nparam level: int = len([1]) / 0\n")

    expected = (
        "t.sg:2:20: invalid_default: default of param 'level' cannot be evaluated: division by zero\n"
        "    param level: int = len([1]) / 0\n"
        "                       ^\n"
        "1 error"
    )
    assert expected == rendered


def test_params_file_empty(tmp_path):
    """An empty params file sets nothing."""
    path = tmp_path / "params.yaml"
    path.write_text("# nothing set\n", encoding="utf-8")

    assert {} == load_params_file(path)


def test_params_file_values(tmp_path, declared):
    """A YAML file's lists, durations and quoted timestamps resolve to typed values."""
    path = tmp_path / "params.yaml"
    path.write_text('region: us\nwindow: 90d\nids:\n  - c\n  - d\ncutoff: "2026-03-01T00:00:00Z"\n', encoding="utf-8")
    values = resolve_params(declared, load_params_file(path), source=str(path))

    assert timedelta(days=90) == values["window"]
    assert frozenset({"c", "d"}) == values["ids"]
    assert datetime(2026, 3, 1, tzinfo=timezone.utc) == values["cutoff"]


def test_params_file_not_mapping(tmp_path):
    """A params file must be a mapping."""
    path = tmp_path / "params.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")

    with pytest.raises(ParamsError) as caught:
        load_params_file(path)

    assert f"{path}: a params file must be a mapping of param names to values, got list" == str(caught.value)


def test_yaml_timestamp_unquoted(declared):
    """An unquoted YAML date or date-time becomes a UTC timestamp."""
    loaded = yaml.safe_load("cutoff: 2026-06-30\n")
    values = resolve_params(declared, {"region": "eu", **loaded})

    assert datetime(2026, 6, 30, tzinfo=timezone.utc) == values["cutoff"]
