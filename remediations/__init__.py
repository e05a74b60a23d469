"""Remediation actions that a policy's `remediate` clause can name.

Importing the package registers the built-in Microsoft 365 and Google
Workspace actions. `registry.load_entry_points()` adds installed plugins.
"""

from __future__ import annotations

from remediations import gws, m365
from remediations.registry import (
    ARGUMENT_TYPES,
    Action,
    ActionRegistry,
    ActionSpec,
    ArgumentSpec,
    declaration_problems,
    registry,
)

__all__ = [
    "ARGUMENT_TYPES",
    "Action",
    "ActionRegistry",
    "ActionSpec",
    "ArgumentSpec",
    "declaration_problems",
    "gws",
    "m365",
    "registry",
]
