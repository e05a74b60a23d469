"""Microsoft Graph access for collection: msgraph-sdk client, credentials, raw JSON pages.

Requests are built with msgraph-sdk's request builders and sent through its
request adapter and middleware (authentication, redirects, retries), but the
response body is read as raw JSON rather than deserialized into SDK models.
The snapshot keeps Graph's field names and values exactly as the API sends
them, null apart from absent, which a round trip through the models would lose
(their serializers drop None and reformat timestamps).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import structlog
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator, BaseBearerTokenAuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware import RetryHandler
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler

from engine.collect.inventory import (
    CertificateCredentials,
    ClientSecretCredentials,
    ManagedIdentityCredentials,
    StaticTokenCredentials,
    Tenant,
)
from engine.collect.retry import CURRENT_SECTION, GraphRetryHandler, RetryPolicy, is_connection_refused, url_address
from engine.collect.sections import ConnectionRefused, RequestFailed
from engine.errors import InputError

__all__ = ["GraphReader", "open_graph", "graph_host"]

log = structlog.get_logger()

_ERROR_MAPPING: dict[str, Any] = {"XXX": ODataError}

# Authority host of each national Graph cloud; the global cloud uses azure-identity's default.
_AUTHORITIES = {
    "graph.microsoft.us": "login.microsoftonline.us",
    "dod-graph.microsoft.us": "login.microsoftonline.us",
    "microsoftgraph.chinacloudapi.cn": "login.chinacloudapi.cn",
}


def graph_host(tenant: Tenant) -> str:
    """Return the Graph base URL (scheme, host, port) the tenant is collected from."""
    return tenant.endpoint or "https://graph.microsoft.com"


class _StaticTokenProvider(AccessTokenProvider):
    """Hands out one fixed token, and only to the loopback host it was configured for."""

    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._validator = AllowedHostsValidator([host])

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict[str, Any] = {}) -> str:
        if not self._validator.is_url_host_valid(uri):
            return ""

        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


def _environment_value(tenant: Tenant, field: str, name: str, what: str, environ: Mapping[str, str]) -> str:
    value = environ.get(name)
    if not value:
        message = f"tenant {tenant.name!r}: credentials.{field} names {name}, which is not set in the environment; export it with {what}"
        raise InputError(message)

    return value


def _credential(tenant: Tenant, environ: Mapping[str, str]) -> Any:
    """Build the azure-identity (async) credential of the tenant, or a static token provider."""
    from azure.identity.aio import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential

    credentials = tenant.credentials
    host = urlsplit(graph_host(tenant)).hostname or ""
    authority = {"authority": _AUTHORITIES[host]} if host in _AUTHORITIES else {}
    if isinstance(credentials, ClientSecretCredentials):
        secret = _environment_value(tenant, "client_secret_env", credentials.client_secret_env, "the app registration's client secret", environ)
        return ClientSecretCredential(tenant.id, credentials.client_id, secret, **authority)
    if isinstance(credentials, CertificateCredentials):
        if not credentials.certificate_path.is_file():
            message = f"tenant {tenant.name!r}: credentials.certificate_path {credentials.certificate_path} does not exist or is not a file"
            raise InputError(message)
        password = None
        if credentials.certificate_password_env is not None:
            password = _environment_value(tenant, "certificate_password_env", credentials.certificate_password_env, "the certificate's password", environ)
        return CertificateCredential(tenant.id, credentials.client_id, certificate_path=str(credentials.certificate_path), password=password, **authority)
    if isinstance(credentials, ManagedIdentityCredentials):
        return ManagedIdentityCredential(client_id=credentials.client_id)
    if isinstance(credentials, StaticTokenCredentials):
        token = _environment_value(tenant, "token_env", credentials.token_env, "the simulator's token", environ)
        return _StaticTokenProvider(token, host)

    message = f"tenant {tenant.name!r}: credentials of type {type(credentials).__name__} do not apply to Microsoft 365"
    raise InputError(message)


def _http_client(tenant: Tenant, policy: RetryPolicy, timeout: float) -> httpx.AsyncClient:
    """Build an httpx client with msgraph's default middleware, its retry handler swapped for ours."""
    client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), http2=not tenant.endpoint)
    middleware = KiotaClientFactory.get_default_middleware(None)
    middleware = [GraphRetryHandler(policy, tenant.name) if isinstance(handler, RetryHandler) else handler for handler in middleware]
    middleware.append(GraphTelemetryHandler())

    return GraphClientFactory.create_with_custom_middleware(middleware, client=client)


class GraphReader:
    """Reads Graph JSON through msgraph-sdk, at most ``max_concurrency`` requests at a time."""

    def __init__(self, tenant: Tenant, policy: RetryPolicy, max_concurrency: int, timeout: float, environ: Mapping[str, str]) -> None:
        self.tenant = tenant
        self.policy = policy
        self._semaphore = asyncio.Semaphore(max_concurrency)
        credential = _credential(tenant, environ)
        self._credential = credential
        host = urlsplit(graph_host(tenant)).hostname or ""
        if isinstance(credential, _StaticTokenProvider):
            auth_provider = BaseBearerTokenAuthenticationProvider(credential)
        else:
            from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider

            scopes = [f"https://{host}/.default"]
            auth_provider = AzureIdentityAuthenticationProvider(credential, scopes=scopes, allowed_hosts=[host])
        self._http = _http_client(tenant, policy, timeout)
        self.adapter = GraphRequestAdapter(auth_provider, client=self._http)
        # No trailing slash: the SDK's URL templates start with "/".
        self.adapter.base_url = graph_host(tenant).rstrip("/") + "/v1.0"
        self.client = GraphServiceClient(request_adapter=self.adapter)

    async def close(self) -> None:
        await self._http.aclose()
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> GraphReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def url_request(self, url: str) -> RequestInformation:
        """Build a GET for an absolute URL, such as an ``@odata.nextLink``."""
        info = RequestInformation(Method.GET)
        info.url = url
        info.headers.try_add("Accept", "application/json")

        return info

    async def send(self, info: RequestInformation) -> dict[str, Any]:
        """Send one request and return its JSON body; raise RequestFailed after the retries."""
        path = _path_of(info)
        attempt = 0
        while True:
            try:
                async with self._semaphore:
                    raw = await self.adapter.send_primitive_async(info, "bytes", _ERROR_MAPPING)
                break
            except ODataError as error:
                main = error.error
                code = getattr(main, "code", None)
                detail = getattr(main, "message", None) or str(error)
                raise RequestFailed(error.response_status_code, code, detail, path) from None
            except APIError as error:
                raise RequestFailed(error.response_status_code, None, error.message or str(error), path) from None
            except httpx.TransportError as error:
                # A POST whose connection broke after sending may have taken effect; repeat only unsent ones.
                refused = is_connection_refused(error)
                unsent = refused or isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
                delay = self.policy.network_wait(attempt, refused)
                if delay is None or (info.http_method == Method.POST and not unsent):
                    if refused:
                        raise ConnectionRefused(self._address(error), path, self.tenant.endpoint) from None
                    raise RequestFailed(None, type(error).__name__, str(error) or "network error", path) from None
                attempt += 1
                reason = "ConnectionRefusedError" if refused else type(error).__name__
                log.info("collect.retry", tenant=self.tenant.name, section=CURRENT_SECTION.get(), api="graph", path=path, status=None, reason=reason, attempt=attempt, delay=round(delay, 3))
                await asyncio.sleep(delay)

        if not raw:
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise RequestFailed(200, None, "the response is not JSON", path) from None
        if not isinstance(body, dict):
            raise RequestFailed(200, None, "the response is not a JSON object", path)

        return body

    def _address(self, error: httpx.TransportError) -> str:
        """Return the host:port of the failed request, or of the tenant's Graph host when httpx kept no request."""
        try:
            return url_address(str(error.request.url))
        except RuntimeError:
            return url_address(graph_host(self.tenant))

    async def entity(self, info: RequestInformation) -> dict[str, Any]:
        """Return one Graph object without its OData annotations (``@odata.type`` kept)."""
        return strip_annotations(await self.send(info))

    async def collection(self, info: RequestInformation) -> list[dict[str, Any]]:
        """Return every item of a collection, following ``@odata.nextLink`` to the last page."""
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            page = await self.send(info)
            value = page.get("value")
            if not isinstance(value, list):
                raise RequestFailed(200, None, "the response has no `value` list", _path_of(info))
            items.extend(value)
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return items
            if next_link in seen:
                raise RequestFailed(200, None, "the server returned the same next link twice", _path_of(info))
            seen.add(next_link)
            info = self.url_request(next_link)


def strip_annotations(body: Mapping[str, Any]) -> dict[str, Any]:
    """Drop response-level OData annotations such as ``@odata.context``; keep ``@odata.type``."""
    return {key: value for key, value in body.items() if "@" not in key or key == "@odata.type"}


def _path_of(info: RequestInformation) -> str:
    """Return the request path for messages, with the /v1.0 prefix the adapter adds when sending."""
    parts = urlsplit(info.url)
    if parts.scheme:
        return parts.path

    return "/v1.0" + parts.path


def open_graph(tenant: Tenant, policy: RetryPolicy, max_concurrency: int, timeout: float, environ: Mapping[str, str] | None = None) -> GraphReader:
    """Create a GraphReader for a Microsoft 365 tenant; use it as an async context manager."""
    return GraphReader(tenant, policy, max_concurrency, timeout, os.environ if environ is None else environ)
