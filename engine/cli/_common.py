"""Option parsing and output writing shared by several subcommands."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from engine.errors import UserError
from engine.files import require_folder, write_atomic

__all__ = ["default_policy_paths", "parse_now", "write_output"]


def default_policy_paths() -> list[Path]:
    """``./policies`` when it exists, otherwise the FTC pack shipped with safeguard."""
    local = Path("policies")
    if local.is_dir():
        return [local]

    checkout = Path(__file__).resolve().parents[2] / "policies"
    if checkout.is_dir():
        return [checkout]

    # An installed wheel carries the pack as engine/bundled_policies (see pyproject.toml).
    return [Path(__file__).resolve().parents[1] / "bundled_policies"]


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


def write_output(path: str | Path, data: bytes) -> None:
    """Write an output file atomically; raise InputError naming a missing folder or a failed write."""
    require_folder(path)
    write_atomic(path, data)


def echo_colour() -> bool:
    """Return whether stdout is a terminal, so output may carry ANSI colours."""
    return sys.stdout.isatty()
