"""Collect one tenant into a native snapshot document.

The provider collectors return one result per section. This module checks
that the tenant is the one the inventory names. It then assembles the
envelope (schema version, tenant, collection time, collector) and the section
data, in the order docs/snapshot.md lists the sections.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import structlog

from engine.collect.inventory import Tenant
from engine.collect.retry import RetryPolicy
from engine.collect.sections import ConnectionRefused, RequestFailed, SectionResult, failure_message
from engine.errors import ApiError
from engine.snapshot import SCHEMA_VERSION, SECTIONS

__all__ = ["CollectOptions", "collect_tenant", "build_document", "COLLECTOR_NAME"]

log = structlog.get_logger()

COLLECTOR_NAME = "safeguard collect"


@dataclass(frozen=True)
class CollectOptions:
    """Settings of one collection run.

    ``max_concurrency`` caps the API requests in flight per tenant;
    ``timeout`` is the per-request timeout in seconds.
    """

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 8
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            message = f"max_concurrency must be 1 or more, not {self.max_concurrency}"
            raise ValueError(message)
        if self.timeout <= 0:
            message = f"timeout must be more than 0 seconds, not {self.timeout}"
            raise ValueError(message)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _version() -> str:
    try:
        return importlib.metadata.version("safeguard")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_document(tenant: Tenant, results: Mapping[str, SectionResult], collected_at: datetime, display_name: str | None = None) -> dict[str, Any]:
    """Assemble a snapshot document from section results; every section of the provider is listed."""
    tenant_entry: dict[str, Any] = {"id": tenant.id, "provider": tenant.provider, "domain": tenant.domain}
    if display_name is not None:
        tenant_entry["displayName"] = display_name

    sections: dict[str, dict[str, str]] = {}
    data: dict[str, Any] = {}
    for name in SECTIONS[tenant.provider]:
        result = results.get(name) or SectionResult.not_collected("safeguard collect does not read this section")
        sections[name] = result.status_entry()
        if result.status == "ok":
            data[name.partition(".")[2]] = result.data

    return {
        "schemaVersion": SCHEMA_VERSION,
        "tenant": tenant_entry,
        "collectedAt": _timestamp(collected_at),
        "collector": {"name": COLLECTOR_NAME, "version": _version()},
        "sections": sections,
        tenant.provider: data,
    }


def _display_name(tenant: Tenant, identity: Any) -> str | None:
    """Check that the API reported the inventory's tenant id; return the tenant's display name, if any."""
    if identity is None:
        return None
    reported_id = identity.id
    if reported_id is not None and reported_id.lower() != tenant.id.lower():
        message = (
            f"tenant {tenant.name!r}: the API answered for tenant {reported_id}, but the inventory names {tenant.id}; "
            "check tenant_id / customer_id and the credentials"
        )
        raise ApiError(message)

    return identity.display_name


@contextmanager
def _tenant_failures(tenant: Tenant, subject: str, auth_error: type[Exception]) -> Iterator[None]:
    """Turn a failure that stops the whole tenant into an ApiError naming the tenant."""
    try:
        yield
    except ConnectionRefused as error:
        message = f"tenant {tenant.name!r}: {error.describe()}"
        raise ApiError(message) from None
    except RequestFailed as error:
        message = f"tenant {tenant.name!r}: cannot read {subject}: {error.describe()}"
        raise ApiError(message) from None
    except auth_error as error:
        message = f"tenant {tenant.name!r}: authentication failed: {failure_message(error)}"
        raise ApiError(message) from None


async def _collect_m365(tenant: Tenant, options: CollectOptions, environ: Mapping[str, str]) -> tuple[dict[str, SectionResult], str | None]:
    from azure.core.exceptions import AzureError

    from engine.collect.graph_client import open_graph
    from engine.collect.m365 import collect_m365

    with _tenant_failures(tenant, "the tenant", AzureError):
        async with open_graph(tenant, options.retry, options.max_concurrency, options.timeout, environ) as graph:
            results, identity = await collect_m365(tenant, graph)

    return results, _display_name(tenant, identity)


def _collect_gws(tenant: Tenant, options: CollectOptions, environ: Mapping[str, str]) -> tuple[dict[str, SectionResult], str | None]:
    from google.auth.exceptions import GoogleAuthError

    from engine.collect.google_client import open_google
    from engine.collect.gws import collect_gws

    with _tenant_failures(tenant, "the customer", GoogleAuthError):
        with open_google(tenant, options.retry, options.max_concurrency, options.timeout) as google:
            results, identity = collect_gws(tenant, google)

    return results, _display_name(tenant, identity)


def collect_tenant(
    tenant: Tenant,
    options: CollectOptions | None = None,
    *,
    clock: Callable[[], datetime] = _utc_now,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Collect every section of ``tenant`` and return the snapshot document (not yet written).

    A section whose requests fail after their retries is ``error`` with the
    reason; the others are still collected. Raises InputError for unusable
    credentials and ApiError when the tenant cannot be reached or is not the
    one the inventory names.
    """
    options = options or CollectOptions()
    environ = os.environ if environ is None else environ
    started = clock()
    start = time.monotonic()
    log.info("collect.start", tenant=tenant.name, provider=tenant.provider, endpoint=tenant.endpoint, sections=len(SECTIONS[tenant.provider]))

    if tenant.provider == "m365":
        results, display_name = asyncio.run(_collect_m365(tenant, options, environ))
    else:
        results, display_name = _collect_gws(tenant, options, environ)

    document = build_document(tenant, results, started, display_name)
    statuses = [entry["status"] for entry in document["sections"].values()]
    log.info(
        "collect.finish",
        tenant=tenant.name,
        ok=statuses.count("ok"),
        error=statuses.count("error"),
        not_collected=statuses.count("not_collected"),
        items={name: result.count for name, result in results.items() if result.status == "ok"},
        seconds=round(time.monotonic() - start, 3),
    )

    return document
