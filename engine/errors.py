"""Exception hierarchy shared by every step; the CLI maps classes to exit codes.

Library code raises these and never prints or exits. Exit codes: 0 compliant or
nothing to do, 2 violations or pending changes, 1 a failed run (bad input, API
failure). Every class here is a failed run, so all carry exit code 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.diagnostics import Diagnostic

__all__ = [
    "SafeguardError",
    "UserError",
    "InputError",
    "PolicyError",
    "SnapshotError",
    "ParamsError",
    "ImportFormatError",
    "ApiError",
]


class SafeguardError(Exception):
    """Base class of every error safeguard reports to the user without a traceback."""

    exit_code = 1


class UserError(SafeguardError):
    """Invalid input from the user: a file, an option or a value."""


class InputError(UserError):
    """A file that cannot be read or parsed; the message names the file."""


class PolicyError(UserError):
    """One or more diagnostics from parsing or checking policy files."""

    def __init__(self, diagnostics: Sequence[Diagnostic], rendered: str) -> None:
        super().__init__(rendered)
        self.diagnostics = list(diagnostics)


class SnapshotError(UserError):
    """A snapshot that is missing, not JSON, or invalid against the snapshot schema."""


class ParamsError(UserError):
    """A params file that is invalid or sets a param to a value of the wrong type."""


class ImportFormatError(UserError):
    """A peer export (ScubaGear, ScubaGoggles) that does not have the expected shape."""


class ApiError(SafeguardError):
    """A tenant API call that failed after its retries."""
