"""Collect tenant configuration into native snapshots through the official SDKs.

`load_inventory` reads tenants.yaml; `collect_tenant` reads one tenant
(Microsoft Graph through msgraph-sdk, Google Workspace through
google-api-python-client) and returns a snapshot document that
`engine.snapshot.write_snapshot` writes atomically.
"""

from engine.collect.inventory import (
    CertificateCredentials,
    ClientSecretCredentials,
    Inventory,
    ManagedIdentityCredentials,
    ServiceAccountCredentials,
    StaticTokenCredentials,
    Tenant,
    load_inventory,
    parse_inventory,
)
from engine.collect.retry import RetryPolicy
from engine.collect.runner import COLLECTOR_NAME, CollectOptions, build_document, collect_tenant
from engine.collect.sections import SectionResult

__all__ = [
    "COLLECTOR_NAME",
    "CertificateCredentials",
    "ClientSecretCredentials",
    "CollectOptions",
    "Inventory",
    "ManagedIdentityCredentials",
    "RetryPolicy",
    "SectionResult",
    "ServiceAccountCredentials",
    "StaticTokenCredentials",
    "Tenant",
    "build_document",
    "collect_tenant",
    "load_inventory",
    "parse_inventory",
]
