"""Built-in functions of the policy language, one module per family.

Each built-in declares its arity, argument types, return type and the snapshot
sections it reads, so the checker can validate calls and attribute sections to
policies before anything runs.
"""

from __future__ import annotations

from engine.language.builtins._registry import BUILTINS, Builtin, builtin
from engine.language.builtins import collections, gws, m365, strings, tenant, time  # noqa: F401  (registers)

__all__ = ["BUILTINS", "Builtin", "builtin"]
