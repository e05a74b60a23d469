"""The simulator's HTTP server: one loopback port serving Graph, Google and a control API.

Paths under ``/v1.0/`` are Microsoft Graph, ``/token`` is Google's OAuth token
endpoint, ``/_simulator/`` is the control API (write log, request log, faults,
statistics) and everything else is Google. Each request is matched against the
fault plan first, so throttling and server errors can be injected per route.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

from engine.errors import InputError
from engine.simulator import google, graph
from engine.simulator.context import SimulatorContext, utc_now
from engine.simulator.faults import Fault, FaultPlan, fault_from_dict
from engine.simulator.routing import HttpError, Request, Response, Router
from engine.simulator.state import TenantStates, build_states

__all__ = ["Simulator", "CONTROL_PREFIX"]

log = structlog.get_logger()

CONTROL_PREFIX = "/_simulator"

# Requests kept in the request log; older entries are dropped first.
_REQUEST_LOG_LIMIT = 100_000


class Simulator:
    """A local Microsoft 365 and Google Workspace tenant seeded from native snapshots.

    Use it as a context manager, or call `start` and `stop`. It binds
    127.0.0.1 (port 0 picks a free port) and serves one tenant per provider.
    ``latency`` (seconds) delays every API response, which makes concurrency
    measurable in tests.
    """

    def __init__(
        self,
        snapshots: Iterable[Mapping[str, Any]],
        *,
        port: int = 0,
        page_size: int = 100,
        graph_token: str | None = None,
        pim_available: bool = True,
        latency: float = 0.0,
        faults: Iterable[Fault] = (),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if page_size < 1:
            message = f"page_size must be 1 or more, not {page_size}"
            raise InputError(message)

        self.states: TenantStates = build_states(list(snapshots))
        self.context = SimulatorContext(
            states=self.states,
            graph_token=graph_token or secrets.token_urlsafe(24),
            page_size=page_size,
            pim_available=pim_available,
            clock=clock,
        )
        self.faults = FaultPlan(faults)
        self.latency = latency
        self._port = port
        self._router = Router()
        graph.register(self._router, self.context)
        google.register(self._router, self.context)
        self._writes: list[dict] = []
        self._requests: list[dict] = []
        self._log_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], **options: Any) -> Simulator:
        """Seed a simulator from snapshot files, validated by the snapshot loader."""
        from engine.snapshot import load_snapshot

        documents = [load_snapshot(path).document for path in paths]

        return cls(documents, **options)

    # Lifecycle.

    def start(self) -> Simulator:
        if self._server is not None:
            return self
        try:
            server = _Server(("127.0.0.1", self._port), _handler_class(self))
        except OSError as error:
            message = f"cannot listen on 127.0.0.1:{self._port}: {error.strerror or error}; choose another port, or 0 for a free one"
            raise InputError(message) from None
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="safeguard-simulator", daemon=True)
        self._thread.start()
        log.info("simulator.start", base_url=self.base_url)

        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        log.info("simulator.stop")

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI's foreground mode)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    # Addresses.

    @property
    def port(self) -> int:
        if self._server is None:
            message = "the simulator is not running; call start() first"
            raise RuntimeError(message)

        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return self.base_url + graph.PREFIX

    @property
    def token_uri(self) -> str:
        return self.base_url + google.TOKEN_PATH

    @property
    def graph_token(self) -> str:
        return self.context.graph_token

    # Test and control API.

    def create_service_account_key(self, client_email: str = "safeguard@simulator.iam.gserviceaccount.com") -> dict:
        """Create a service-account key the token endpoint trusts; returns the key file as a dict."""
        info, public_pem = google.create_service_account_key(client_email, self.token_uri)
        with self.context.lock:
            self.context.service_account_keys[info["private_key_id"]] = (client_email, public_pem)

        return info

    def add_fault(self, fault: Fault | None = None, **fields: Any) -> Fault:
        """Add a fault, given as a Fault or as its fields (``path``, ``status``, ``times``, ...)."""
        return self.faults.add(fault if fault is not None else fault_from_dict(fields))

    def clear_faults(self) -> None:
        self.faults.clear()

    def writes(self) -> list[dict]:
        """Return every write received so far, oldest first, including writes that got an error status."""
        with self._log_lock:
            return json.loads(json.dumps(self._writes))

    def clear_writes(self) -> None:
        with self._log_lock:
            self._writes.clear()

    def requests(self) -> list[dict]:
        """Return method, path, status and time of every request received, oldest first."""
        with self._log_lock:
            return [dict(entry) for entry in self._requests]

    def stats(self) -> dict[str, int]:
        """Return request counts and the highest number of requests seen in flight."""
        with self._log_lock:
            total = len(self._requests)
            faulted = sum(1 for entry in self._requests if entry.get("fault"))
        concurrency = self.context.concurrency

        return {
            "requests": total,
            "faulted": faulted,
            "maxInFlight": concurrency.peak("all"),
            "maxInFlightPerMailbox": concurrency.peak("mailbox:"),
        }

    # Request handling.

    def _record(self, request: Request, response: Response, fault: Fault | None, write: bool) -> None:
        entry = {"time": self.context.timestamp(), "method": request.method, "path": request.path, "status": response.status, "fault": fault is not None}
        with self._log_lock:
            self._requests.append(entry)
            if len(self._requests) > _REQUEST_LOG_LIMIT:
                del self._requests[: len(self._requests) - _REQUEST_LOG_LIMIT]
            if write:
                body: Any
                try:
                    body = json.loads(request.body) if request.body else None
                except ValueError:
                    body = request.body.decode("utf-8", "replace")
                self._writes.append(
                    {
                        "time": entry["time"],
                        "method": request.method,
                        "path": request.path,
                        "query": dict(request.query),
                        "body": body,
                        "status": response.status,
                    }
                )

    def handle(self, request: Request, raw_path: str) -> Response:
        """Handle one request: control API, injected fault, or the matching route."""
        if request.path.startswith(CONTROL_PREFIX + "/") or request.path == CONTROL_PREFIX:
            return self._control(request)

        is_graph = request.path.startswith(graph.PREFIX + "/")
        request_id = str(uuid.uuid4())
        matched = self._router.match(request.method, raw_path)
        write = request.method in ("POST", "PUT", "PATCH", "DELETE") and (matched is None or matched[0].name != "google.token")

        with self.context.concurrency.track("all"):
            if self.latency:
                time.sleep(self.latency)
            fault = self.faults.take(request.method, request.path)
            if fault is not None:
                response = self._fault_response(fault, is_graph, request_id)
            else:
                response = self._dispatch(request, raw_path, matched, is_graph, request_id)

        if is_graph:
            response.headers.setdefault("request-id", request_id)
            response.headers.setdefault("client-request-id", request_id)
        self._record(request, response, fault, write)
        log.debug("simulator.request", method=request.method, path=request.path, status=response.status, fault=fault is not None)

        return response

    def _dispatch(self, request: Request, raw_path: str, matched: Any, is_graph: bool, request_id: str) -> Response:
        try:
            if is_graph:
                graph.authenticate(request, self.context)
            if matched is None:
                if self._router.allows(raw_path):
                    raise HttpError(405, "Request_BadRequest" if is_graph else "badRequest", f"Method {request.method} is not allowed on {request.path}.", reason="badRequest")
                raise HttpError(404, "UnknownError" if is_graph else "notFound", f"No route for {request.method} {request.path} in the simulator.", reason="notFound")
            route, params = matched
            request.params = params
            return route.handler(request)
        except HttpError as error:
            if is_graph:
                return Response(error.status, graph.error_body(error.code, error.message, request_id))
            return Response(error.status, google.error_body(error.status, error.message, error.reason or error.code))

    def _fault_response(self, fault: Fault, is_graph: bool, request_id: str) -> Response:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if is_graph:
            codes = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout", 403: "Forbidden"}
            code = codes.get(fault.status, "Fault")
            message = f"Injected fault: HTTP {fault.status}."
            return Response(fault.status, graph.error_body(code, message, request_id), headers)

        reason = fault.reason
        if reason is None:
            reason = {429: "rateLimitExceeded", 403: "rateLimitExceeded", 500: "backendError", 503: "backendError"}.get(fault.status, "backendError")
        message = "Quota exceeded for quota metric 'Queries'." if reason.endswith("Exceeded") else f"Injected fault: HTTP {fault.status}."

        return Response(fault.status, google.error_body(fault.status, message, reason), headers)

    def _control(self, request: Request) -> Response:
        name = request.path[len(CONTROL_PREFIX) :].strip("/")
        if (request.method, name) == ("GET", "writes"):
            return Response(200, {"writes": self.writes()})
        if (request.method, name) == ("DELETE", "writes"):
            self.clear_writes()
            return Response(204)
        if (request.method, name) == ("GET", "requests"):
            return Response(200, {"requests": self.requests()})
        if (request.method, name) == ("GET", "stats"):
            return Response(200, self.stats())
        if (request.method, name) == ("GET", "faults"):
            return Response(200, {"faults": [fault.to_dict() for fault in self.faults.list()]})
        if (request.method, name) == ("DELETE", "faults"):
            self.clear_faults()
            return Response(204)
        if (request.method, name) == ("POST", "faults"):
            try:
                data = json.loads(request.body or b"{}")
                items = data if isinstance(data, list) else [data]
                added = [self.add_fault(fault_from_dict(item, f"faults[{index}]")).to_dict() for index, item in enumerate(items)]
            except (ValueError, TypeError, InputError) as error:
                return Response(400, {"error": {"code": "BadRequest", "message": str(error)}})
            return Response(201, {"faults": added})

        return Response(404, {"error": {"code": "NotFound", "message": f"unknown control endpoint {request.method} {request.path}"}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The base class prints a traceback; clients closing kept-alive connections is routine.
        error = sys.exc_info()[1]
        log.debug("simulator.connection_error", client=str(client_address), error=type(error).__name__)


def _handler_class(simulator: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "safeguard-simulator"
        # Headers and body go out in separate writes; with Nagle's algorithm on,
        # the body waits for the client's delayed ACK (about 40 ms a response).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            # Clients that join a base URL ending in "/" with "/users" send "//users".
            raw_path = "/" + "/".join(segment for segment in parts.path.split("/") if segment)
            query = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
            decoded = "/".join(unquote(segment) for segment in raw_path.split("/"))
            request = Request(
                method=self.command,
                path=decoded,
                query=query,
                headers={key.lower(): value for key, value in self.headers.items()},
                body=body,
                base_url=simulator.base_url,
            )
            response = simulator.handle(request, raw_path)
            self._send(response)

        def _send(self, response: Response) -> None:
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            if response.body is not None:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            # The base class prints every request to stderr; `Simulator.handle` logs instead.
            return

    return Handler

