"""structlog set-up; only the CLI calls this, libraries just emit events."""

from __future__ import annotations

import logging
import sys

import structlog

from engine.logging_redact import redact_secrets

__all__ = ["configure_logging"]


def configure_logging(verbosity: int = 0, json_logs: bool | None = None) -> None:
    """Send structured events to stderr: console format on a terminal, JSON lines otherwise."""
    if verbosity <= 0:
        level = logging.WARNING
    elif verbosity == 1:
        level = logging.INFO
    else:
        level = logging.DEBUG
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    renderer = structlog.processors.JSONRenderer(sort_keys=True) if json_logs else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
