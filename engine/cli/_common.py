"""Option parsing shared by several subcommands."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import click

from engine.errors import InputError, UserError

__all__ = ["default_policy_paths", "parse_now", "write_atomic"]


def default_policy_paths() -> list[Path]:
    """``./policies`` when it exists, otherwise the FTC pack shipped with safeguard."""
    local = Path("policies")
    if local.is_dir():
        return [local]

    return [Path(__file__).resolve().parents[2] / "policies"]


def parse_now(value: str | None) -> datetime | None:
    """Parse the --now option: an RFC 3339 time with a UTC offset."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        message = f"--now: invalid time {value!r}; want RFC 3339 such as 2026-12-01T00:00:00Z"
        raise UserError(message) from None
    if parsed.tzinfo is None:
        message = f"--now: time {value!r} has no UTC offset; add Z or +HH:MM"
        raise UserError(message)

    return parsed


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file and a rename: never a half-written file."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        message = f"{target}: folder {directory} does not exist"
        raise InputError(message)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def echo_colour() -> bool:
    """Whether stdout is a terminal, so output may carry ANSI colours."""
    return sys.stdout.isatty()
