"""The wheel's package list matches the source tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _declared() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_listed():
    """Every folder with an __init__.py under engine/ and remediations/ is in the package list."""
    on_disk = {
        ".".join(path.parent.relative_to(REPO).parts)
        for root in ("engine", "remediations")
        for path in (REPO / root).rglob("__init__.py")
    }

    assert on_disk <= set(_declared()["packages"])


def test_bundled_folders_exist():
    """The schema and policy folders mapped into the wheel exist and hold their files."""
    mapping = _declared()["package-dir"]

    assert any((REPO / mapping["engine.bundled_schemas"]).glob("*.schema.json"))
    assert any((REPO / mapping["engine.bundled_policies"]).rglob("*.sg"))
