"""A rich progress display for `safeguard collect`, driven by the collector's log events.

The collector only logs (``collect.section_start``, ``collect.progress``,
``collect.section_finish``, ...). On a terminal the CLI installs
`ProgressDisplay` as the first structlog processor. It turns those events
into one progress row per tenant and section and drops them. Every other
event at or above the CLI's log level goes on to the renderer, which prints
it above the bars.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["ProgressDisplay"]

_EVENTS = frozenset({"collect.start", "collect.section_start", "collect.progress", "collect.section_finish", "collect.finish"})

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL, "exception": logging.ERROR}


class ProgressDisplay:
    """Progress rows per tenant and section, and a structlog processor feeding them.

    ``level`` is the lowest level of other events that still reach the log
    output, so the display does not make the CLI chattier than asked.
    """

    def __init__(self, console: Console | None = None, level: int = logging.WARNING) -> None:
        self.level = level
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._rows: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> ProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def _row(self, tenant: str, section: str) -> Any:
        with self._lock:
            row = self._rows.get((tenant, section))
            if row is None:
                row = self.progress.add_task(f"{tenant} {section}", total=None, status="")
                self._rows[(tenant, section)] = row

        return row

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event = event_dict.get("event")
        if event not in _EVENTS:
            if _LEVELS.get(method_name, logging.INFO) < self.level:
                raise structlog.DropEvent
            return event_dict

        tenant = str(event_dict.get("tenant", ""))
        section = event_dict.get("section")
        if event == "collect.section_start" and section:
            self.progress.update(self._row(tenant, section), status="collecting")
        elif event == "collect.progress" and section:
            self.progress.update(self._row(tenant, section), completed=event_dict.get("done", 0), total=event_dict.get("total"))
        elif event == "collect.section_finish" and section:
            count = event_dict.get("count", 0)
            row = self._row(tenant, section)
            self.progress.update(row, completed=count, total=max(count, 1), status=str(event_dict.get("status")))
        elif event == "collect.finish":
            summary = f"ok {event_dict.get('ok')}, error {event_dict.get('error')}, not collected {event_dict.get('not_collected')}"
            self.progress.console.print(f"{tenant}: {summary}")

        raise structlog.DropEvent
