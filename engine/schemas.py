"""Find and read the JSON Schemas of safeguard's file formats, such as ``plan.schema.json``.

A source checkout or an editable install has them in schema/ at the top of the
repository. An installed wheel carries the same files as engine/bundled_schemas/.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from engine.errors import InputError

__all__ = ["SCHEMA_DIR", "schema_path", "load_schema"]

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schema"


def schema_path(name: str) -> Path | Traversable:
    """Return the path of the schema file ``name`` in schema/ when it exists there, else in the package data.

    The package-data path may not exist, so callers check ``is_file()`` where the schema is optional.
    """
    path = SCHEMA_DIR / name
    if path.exists():
        return path

    # A wheel carries schema/ as engine/bundled_schemas (see pyproject.toml).
    return resources.files("engine").joinpath(f"bundled_schemas/{name}")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Read and parse the schema file ``name``, once per process. Callers must not change the result.

    Raises InputError naming the file when it is missing or not JSON.
    """
    source = schema_path(name)
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        message = f"{source}: cannot read the schema: {error}; reinstall safeguard"
        raise InputError(message) from None
