"""Google Workspace API access for collection: service-account credentials, API clients, paging.

Uses google-api-python-client with the discovery documents shipped in the
package (nothing is fetched) and google-auth service-account credentials with
domain-wide delegation: Directory and Cloud Identity calls impersonate the
admin named in the inventory, Gmail calls impersonate each mailbox owner.
httplib2 connections are not thread-safe, so every worker thread gets its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import google_auth_httplib2
import httplib2
from google.auth.exceptions import GoogleAuthError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from engine.collect.inventory import ServiceAccountCredentials, Tenant
from engine.collect.retry import TRANSPORT_ERRORS, RetryPolicy, execute_google, google_error_reason, is_connection_refused, url_address
from engine.collect.sections import ConnectionRefused, RequestFailed
from engine.errors import InputError

__all__ = ["GoogleReader", "open_google", "ADMIN_SCOPES", "MAILBOX_SCOPES"]

_AUTH = "https://www.googleapis.com/auth/"

# Scopes of the admin's token (Directory and Cloud Identity reads). tokens.list has no read-only scope.
ADMIN_SCOPES = (
    f"{_AUTH}admin.directory.user.readonly",
    f"{_AUTH}admin.directory.user.security",
    f"{_AUTH}admin.directory.orgunit.readonly",
    f"{_AUTH}admin.directory.customer.readonly",
    f"{_AUTH}cloud-identity.policies.readonly",
    f"{_AUTH}cloud-identity.groups.readonly",
)

# Scope of each mailbox owner's token: the narrowest that reads forwarding settings and filters without reading mail.
MAILBOX_SCOPES = (f"{_AUTH}gmail.settings.basic",)


def _load_key(tenant: Tenant, credentials: ServiceAccountCredentials) -> dict[str, Any]:
    path = credentials.key_file
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        message = f"tenant {tenant.name!r}: credentials.key_file {path} does not exist"
        raise InputError(message) from None
    except (OSError, UnicodeDecodeError) as error:
        message = f"tenant {tenant.name!r}: cannot read credentials.key_file {path}: {error}"
        raise InputError(message) from None
    except ValueError:
        message = f"tenant {tenant.name!r}: credentials.key_file {path} is not JSON; download the service account key as JSON"
        raise InputError(message) from None

    if not isinstance(info, dict) or info.get("type") != "service_account":
        message = f"tenant {tenant.name!r}: credentials.key_file {path} is not a service account key (its type is not service_account)"
        raise InputError(message)
    missing = [name for name in ("client_email", "private_key", "token_uri") if not info.get(name)]
    if missing:
        message = f"tenant {tenant.name!r}: credentials.key_file {path} lacks {', '.join(missing)}"
        raise InputError(message)

    return info


class GoogleReader:
    """Google API clients of one customer, a thread pool, and retried, paged execution."""

    def __init__(self, tenant: Tenant, policy: RetryPolicy, max_concurrency: int, timeout: float) -> None:
        credentials = tenant.credentials
        if not isinstance(credentials, ServiceAccountCredentials):
            message = f"tenant {tenant.name!r}: a gws tenant needs credentials of type service_account"
            raise InputError(message)

        self.tenant = tenant
        self.policy = policy
        self.timeout = timeout
        info = _load_key(tenant, credentials)
        try:
            base = service_account.Credentials.from_service_account_info(info)
        except (ValueError, GoogleAuthError) as error:
            message = f"tenant {tenant.name!r}: credentials.key_file {credentials.key_file} contains an invalid key: {type(error).__name__}"
            raise InputError(message) from None
        self._base = base
        self._token_uri = str(info["token_uri"])
        self.admin_credentials = base.with_scopes(list(ADMIN_SCOPES)).with_subject(credentials.subject)
        self._mailbox_credentials: dict[str, service_account.Credentials] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

        options = {"api_endpoint": tenant.endpoint + "/"} if tenant.endpoint else None
        # Requests are always executed with a per-thread http (see `execute`), never the client's own.
        unused_http = httplib2.Http()
        self.directory = build("admin", "directory_v1", http=unused_http, client_options=options, cache_discovery=False, static_discovery=True)
        self.gmail = build("gmail", "v1", http=unused_http, client_options=options, cache_discovery=False, static_discovery=True)
        self.cloudidentity = build("cloudidentity", "v1", http=unused_http, client_options=options, cache_discovery=False, static_discovery=True)
        self.pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix=f"collect-{tenant.name}")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for service in (self.directory, self.gmail, self.cloudidentity):
            service.close()

    def mailbox_credentials(self, email: str) -> service_account.Credentials:
        """Return the delegated credentials of one mailbox owner, cached so each token is fetched once."""
        with self._lock:
            credentials = self._mailbox_credentials.get(email)
            if credentials is None:
                credentials = self._base.with_scopes(list(MAILBOX_SCOPES)).with_subject(email)
                self._mailbox_credentials[email] = credentials

        return credentials

    def _http(self, credentials: Any) -> google_auth_httplib2.AuthorizedHttp:
        connection = getattr(self._local, "http", None)
        if connection is None:
            connection = httplib2.Http(timeout=self.timeout)
            self._local.http = connection

        return google_auth_httplib2.AuthorizedHttp(credentials, http=connection)

    def execute(self, request: Any, credentials: Any = None) -> dict[str, Any]:
        """Execute one request as ``credentials`` (the admin by default); raise RequestFailed after the retries."""
        credentials = credentials or self.admin_credentials
        http = self._http(credentials)
        try:
            response = execute_google(request, self.policy, http, self.tenant.name)
        except HttpError as error:
            raise RequestFailed(error.resp.status, google_error_reason(error), _error_detail(error), _path(request)) from None
        except TRANSPORT_ERRORS as error:
            if is_connection_refused(error):
                # The token is fetched before the API request, so without a valid token the token endpoint refused.
                url = getattr(request, "uri", "") if credentials.valid else self._token_uri
                raise ConnectionRefused(url_address(url), urlsplit(url).path, self.tenant.endpoint) from None
            raise RequestFailed(None, type(error).__name__, str(error) or "network error", _path(request)) from None

        return response if isinstance(response, dict) else {}

    def pages(self, request: Any, next_page: Callable[[Any, Any], Any], items_key: str, credentials: Any = None) -> list[dict[str, Any]]:
        """Return the items of every page, following ``nextPageToken`` through ``next_page`` (a list_next method)."""
        items: list[dict[str, Any]] = []
        tokens: set[str] = set()
        while request is not None:
            response = self.execute(request, credentials)
            items.extend(response.get(items_key) or [])
            token = response.get("nextPageToken")
            if token in tokens:
                raise RequestFailed(200, None, "the server returned the same page token twice", _path(request))
            if token:
                tokens.add(token)
            request = next_page(request, response)

        return items


def _error_detail(error: HttpError) -> str:
    try:
        body = json.loads(error.content.decode("utf-8", "replace"))
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError, AttributeError):
        message = None

    return str(message or error.reason or "no details")


def _path(request: Any) -> str:
    return urlsplit(getattr(request, "uri", "")).path


@contextmanager
def open_google(tenant: Tenant, policy: RetryPolicy, max_concurrency: int, timeout: float) -> Iterator[GoogleReader]:
    """Create a GoogleReader for a Google Workspace tenant and close it afterwards."""
    reader = GoogleReader(tenant, policy, max_concurrency, timeout)
    try:
        yield reader
    finally:
        reader.close()
