"""Importers that convert peer tools' exports into native snapshot documents.

Each importer's ``convert`` returns a validated snapshot document; the caller
writes it with engine.snapshot.write_snapshot.
"""

from collections.abc import Callable
from typing import Any

from engine.importers import scubagear, scubagoggles

__all__ = ["IMPORTERS", "scubagear", "scubagoggles"]

# Tool name, as `safeguard import` spells it, to the tool's convert function.
IMPORTERS: dict[str, Callable[..., dict[str, Any]]] = {
    "scubagear": scubagear.convert,
    "scubagoggles": scubagoggles.convert,
}
