"""Provider sessions that remediation actions read and write a tenant through.

Both wrap the collector's clients, so apply uses the same SDKs, credentials,
endpoint override, throttling and retries as `safeguard collect`:
`GraphSession` wraps `engine.collect.graph_client.GraphReader` (msgraph-sdk,
with msgraph's retry middleware replaced by safeguard's) and `GoogleSession`
wraps `engine.collect.google_client.GoogleReader` (google-api-python-client
with `execute_google`). Write requests go through the same paths as reads.

A session also carries the tenant's `TenantSettings` and a cache that lives
for one run, for reads that no action of the run changes (conditional access
policies, account aliases).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Mapping
from typing import Any

from engine.apply.settings import TenantSettings
from engine.collect.inventory import Tenant
from engine.collect.retry import RetryPolicy

__all__ = ["GraphSession", "GoogleSession", "open_session", "ADMIN_WRITE_SCOPES", "MAILBOX_WRITE_SCOPES"]

_AUTH = "https://www.googleapis.com/auth/"

# Directory users.get / users.patch, users.signOut and tokens.list / tokens.delete.
ADMIN_WRITE_SCOPES = (f"{_AUTH}admin.directory.user", f"{_AUTH}admin.directory.user.security")

# Gmail getAutoForwarding takes gmail.settings.basic; updateAutoForwarding takes gmail.settings.sharing.
MAILBOX_WRITE_SCOPES = (f"{_AUTH}gmail.settings.basic", f"{_AUTH}gmail.settings.sharing")


class GraphSession:
    """Synchronous Graph access for actions: msgraph-sdk request builders sent on a private event loop."""

    provider = "m365"

    def __init__(self, tenant: Tenant, settings: TenantSettings, retry: RetryPolicy, timeout: float, environ: Mapping[str, str]) -> None:
        from engine.collect.graph_client import open_graph

        self.tenant = tenant
        self.settings = settings
        self.cache: dict[Any, Any] = {}
        self._loop = asyncio.new_event_loop()
        # One request at a time: apply writes in plan order and reads each target just before writing it.
        self._graph = open_graph(tenant, retry, 1, timeout, environ)
        self.sdk = self._graph.client

    @property
    def base_url(self) -> str:
        """Return the Graph base URL with its version, such as https://graph.microsoft.com/v1.0."""
        return self._graph.adapter.base_url

    def send(self, info: Any) -> dict[str, Any]:
        """Send a request and return its JSON body ({} for 204); raise RequestFailed after the retries."""
        return self._run(self._graph.send(info))

    def entity(self, info: Any) -> dict[str, Any]:
        return self._run(self._graph.entity(info))

    def collection(self, info: Any) -> list[dict[str, Any]]:
        return self._run(self._graph.collection(info))

    def close(self) -> None:
        try:
            self._run(self._graph.close())
        finally:
            self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self._loop.run_until_complete(coroutine)


def _google_writer_class() -> type:
    from engine.collect.google_client import GoogleReader

    class GoogleWriter(GoogleReader):
        """A GoogleReader that can also build delegated credentials with write scopes."""

        def delegated(self, subject: str, scopes: tuple[str, ...]) -> Any:
            # NOTE: GoogleReader keeps its unscoped service-account credentials in
            # the private `_base`; a public hook for other scopes would replace this.
            return self._base.with_scopes(list(scopes)).with_subject(subject)

    return GoogleWriter


class GoogleSession:
    """Google Directory and Gmail access for actions, as the inventory's admin or as a mailbox owner."""

    provider = "gws"

    def __init__(self, tenant: Tenant, settings: TenantSettings, retry: RetryPolicy, timeout: float) -> None:
        self.tenant = tenant
        self.settings = settings
        self.cache: dict[Any, Any] = {}
        self._reader = _google_writer_class()(tenant, retry, 1, timeout)
        self.directory = self._reader.directory
        self.gmail = self._reader.gmail
        self._admin = self._reader.delegated(tenant.credentials.subject, ADMIN_WRITE_SCOPES)
        self._mailboxes: dict[str, Any] = {}

    def execute(self, request: Any, credentials: Any = None) -> dict[str, Any]:
        """Execute a request as the admin (or ``credentials``); raise RequestFailed after the retries."""
        return self._reader.execute(request, credentials or self._admin)

    def mailbox_credentials(self, email: str) -> Any:
        """Return credentials that impersonate the mailbox owner ``email`` for Gmail settings."""
        key = email.lower()
        if key not in self._mailboxes:
            self._mailboxes[key] = self._reader.delegated(key, MAILBOX_WRITE_SCOPES)

        return self._mailboxes[key]

    def close(self) -> None:
        self._reader.close()


def open_session(
    tenant: Tenant,
    settings: TenantSettings,
    retry: RetryPolicy | None = None,
    timeout: float = 60.0,
    environ: Mapping[str, str] | None = None,
) -> GraphSession | GoogleSession:
    """Open the session of the tenant's provider; close it with ``close()``."""
    retry = retry or RetryPolicy()
    if tenant.provider == "m365":
        return GraphSession(tenant, settings, retry, timeout, os.environ if environ is None else environ)

    return GoogleSession(tenant, settings, retry, timeout)
