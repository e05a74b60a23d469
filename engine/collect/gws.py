"""Collect the Google Workspace sections of a snapshot from the Directory, Cloud Identity and Gmail APIs.

Directory and Cloud Identity reads run as the delegated admin; Gmail reads run
as each mailbox owner, because Gmail settings are per-user data that only
domain-wide delegation to that user can read. Per-user requests run in a
thread pool of ``max_concurrency`` workers. Directory responses keep ``kind``
but lose ``etag``, which changes on every read and would make snapshots of an
unchanged tenant differ.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import structlog
from google.auth.exceptions import GoogleAuthError

from engine.collect.google_client import GoogleReader
from engine.collect.inventory import Tenant
from engine.collect.retry import CURRENT_SECTION
from engine.collect.sections import DependencyFailed, RequestFailed, SectionResult, failure_message

__all__ = ["collect_gws", "TenantIdentity"]

log = structlog.get_logger()

# Directory API's maximum users.list page.
_USERS_PAGE = 500
_POLICIES_PAGE = 100


@dataclass(frozen=True)
class TenantIdentity:
    """Id and organization name from Directory customers.get."""

    id: str | None
    display_name: str | None


@dataclass(frozen=True)
class _Mailbox:
    """Gmail data of one user: forwarding setting and forwarding filters, or the error that stopped each."""

    email: str
    skipped: bool = False
    forwarding: dict[str, Any] | None = None
    filters: list[dict[str, Any]] | None = None
    forwarding_error: BaseException | None = None
    filters_error: BaseException | None = None


class _Progress:
    """Counts finished per-user requests of one section and logs the count for progress displays."""

    def __init__(self, tenant: Tenant, section: str, total: int) -> None:
        self.tenant = tenant
        self.section = section
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def advance(self) -> None:
        with self._lock:
            self.done += 1
            done = self.done
        log.debug("collect.progress", tenant=self.tenant.name, section=self.section, done=done, total=self.total)


def _without_etag(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "etag"}


class _GwsCollector:
    """The Google reads of one customer, one method per section or per user."""

    def __init__(self, tenant: Tenant, google: GoogleReader) -> None:
        self.tenant = tenant
        self.google = google
        self.directory = google.directory
        self.cloudidentity = google.cloudidentity
        self.gmail = google.gmail

    def submit(self, section: str, work: Callable[..., Any], *args: Any, progress: _Progress | None = None) -> Future:
        """Run ``work`` in the pool, in a fresh context naming ``section`` for retry events."""
        context = contextvars.copy_context()
        context.run(CURRENT_SECTION.set, section)
        future = self.google.pool.submit(context.run, work, *args)
        if progress is not None:
            future.add_done_callback(lambda _: progress.advance())

        return future

    def identity(self) -> TenantIdentity:
        customer = self.google.execute(self.directory.customers().get(customerKey=self.tenant.id))
        organization = (customer.get("postalAddress") or {}).get("organizationName")

        return TenantIdentity(customer.get("id"), organization or None)

    def users(self) -> list[dict[str, Any]]:
        users = self.directory.users()
        request = users.list(customer=self.tenant.id, projection="full", orderBy="email", maxResults=_USERS_PAGE)

        return [_without_etag(user) for user in self.google.pages(request, users.list_next, "users")]

    def super_admins(self) -> list[dict[str, Any]]:
        users = self.directory.users()
        request = users.list(customer=self.tenant.id, query="isAdmin=true", orderBy="email", maxResults=_USERS_PAGE)
        admins = self.google.pages(request, users.list_next, "users")

        return [{"primaryEmail": user.get("primaryEmail"), "orgUnitPath": user.get("orgUnitPath")} for user in admins]

    def org_units(self) -> list[dict[str, Any]]:
        request = self.directory.orgunits().list(customerId=self.tenant.id, type="allIncludingParent")
        units = [_without_etag(unit) for unit in self.google.execute(request).get("organizationUnits") or []]
        roots = [unit for unit in units if unit.get("orgUnitPath") == "/"]
        if not roots:
            raise RequestFailed(200, None, "orgunits.list with type=allIncludingParent returned no root org unit", _ORGUNITS_PATH)

        return roots + [unit for unit in units if unit.get("orgUnitPath") != "/"]

    def raw_policies(self) -> list[dict[str, Any]]:
        policies = self.cloudidentity.policies()
        request = policies.list(pageSize=_POLICIES_PAGE)

        return self.google.pages(request, policies.list_next, "policies")

    def group_email(self, group: str) -> str:
        response = self.google.execute(self.cloudidentity.groups().get(name=group))
        email = (response.get("groupKey") or {}).get("id")
        if not email:
            raise RequestFailed(200, None, f"group {group} has no groupKey.id", f"/v1/{group}")

        return str(email)

    def mailbox(self, user: dict[str, Any]) -> _Mailbox:
        email = str(user["primaryEmail"])
        credentials = self.google.mailbox_credentials(email)
        settings = self.gmail.users().settings()
        try:
            forwarding = self.google.execute(settings.getAutoForwarding(userId=email), credentials)
        except RequestFailed as error:
            if _no_gmail(error):
                log.info("collect.mailbox_skipped", tenant=self.tenant.name, user=email, reason=error.code or f"HTTP {error.status}")
                return _Mailbox(email, skipped=True)
            return _Mailbox(email, forwarding_error=error, filters_error=error)
        except GoogleAuthError as error:
            if user.get("suspended"):
                log.info("collect.mailbox_skipped", tenant=self.tenant.name, user=email, reason="token rejected for a suspended user")
                return _Mailbox(email, skipped=True)
            return _Mailbox(email, forwarding_error=error, filters_error=error)

        try:
            filters = self.google.execute(settings.filters().list(userId=email), credentials).get("filter") or []
        except (RequestFailed, GoogleAuthError) as error:
            return _Mailbox(email, forwarding=forwarding, filters_error=error)

        return _Mailbox(email, forwarding=forwarding, filters=filters)

    def tokens(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        email = str(user["primaryEmail"])
        response = self.google.execute(self.directory.tokens().list(userKey=email))

        return [{**_without_etag(token), "userEmail": email} for token in response.get("items") or []]


_ORGUNITS_PATH = "/admin/directory/v1/customer/orgunits"


def _no_gmail(error: RequestFailed) -> bool:
    """Tell whether Gmail refused because the user has no mailbox (not licensed, not set up)."""
    return error.status == 400 and error.code in ("failedPrecondition", "invalidArgument")


def _section(tenant: Tenant, name: str, body: Callable[[], SectionResult]) -> SectionResult:
    log.info("collect.section_start", tenant=tenant.name, section=name)
    try:
        result = body()
    except (RequestFailed, DependencyFailed) as error:
        result = SectionResult.error(failure_message(error))
    except GoogleAuthError as error:
        result = SectionResult.error(f"authentication failed: {failure_message(error)}")

    if result.status == "error":
        log.warning("collect.section_failed", tenant=tenant.name, section=name, error=result.message)
    log.info("collect.section_finish", tenant=tenant.name, section=name, status=result.status, count=result.count)

    return result


def _wait(future: Future) -> Any:
    """Return a future's result; the section wrapper turns its exception into an error result."""
    return future.result()


def _resolve_policies(collector: _GwsCollector, policies: list[dict[str, Any]], units: list[dict[str, Any]]) -> SectionResult:
    """Add ``orgUnitPath`` and ``groupEmail`` to each policy's query."""
    paths = {str(unit.get("orgUnitId", "")).removeprefix("id:"): unit["orgUnitPath"] for unit in units if unit.get("orgUnitId")}
    groups = sorted({policy["policyQuery"]["group"] for policy in policies if (policy.get("policyQuery") or {}).get("group")})
    lookups = {group: collector.submit("gws.policies", collector.group_email, group) for group in groups}
    emails = {group: _wait(future) for group, future in lookups.items()}

    resolved = []
    for policy in policies:
        query = dict(policy.get("policyQuery") or {})
        org_unit = str(query.get("orgUnit") or "")
        path = paths.get(org_unit.removeprefix("orgUnits/"))
        if path is None:
            detail = f"policy {policy.get('name')} applies to {org_unit or 'no org unit'}, which orgunits.list did not return"
            raise RequestFailed(200, None, detail, "/v1/policies")
        query["orgUnitPath"] = path
        query["groupEmail"] = emails.get(query.get("group") or "")
        resolved.append({**policy, "policyQuery": query})

    return SectionResult.ok(resolved)


def collect_gws(tenant: Tenant, google: GoogleReader) -> tuple[dict[str, SectionResult], TenantIdentity | None]:
    """Collect every Google Workspace section; returns results by section name and the customer's identity."""
    collector = _GwsCollector(tenant, google)
    identity: TenantIdentity | None
    try:
        identity = collector.identity()
    except RequestFailed as error:
        if error.status == 401 or error.status is None:
            raise
        # customers.get needs admin.directory.customer.readonly; without it the customer id cannot be checked.
        log.warning("collect.tenant_unverified", tenant=tenant.name, error=error.describe())
        identity = None

    users_future = collector.submit("gws.users", collector.users)
    admins_future = collector.submit("gws.superAdmins", collector.super_admins)
    units_future = collector.submit("gws.orgUnits", collector.org_units)
    policies_future = collector.submit("gws.policies", collector.raw_policies)

    results: dict[str, SectionResult] = {}
    results["gws.users"] = _section(tenant, "gws.users", lambda: SectionResult.ok(_wait(users_future)))
    users = results["gws.users"].data if results["gws.users"].status == "ok" else None
    mailboxes: list[Future] = []
    tokens: list[Future] = []
    if users is not None:
        with_mail = [user for user in users if user.get("isMailboxSetup", True)]
        mailbox_progress = _Progress(tenant, "gws.autoForwarding", len(with_mail))
        token_progress = _Progress(tenant, "gws.tokens", len(users))
        mailboxes = [collector.submit("gws.autoForwarding", collector.mailbox, user, progress=mailbox_progress) for user in with_mail]
        tokens = [collector.submit("gws.tokens", collector.tokens, user, progress=token_progress) for user in users]

    results["gws.superAdmins"] = _section(tenant, "gws.superAdmins", lambda: SectionResult.ok(_wait(admins_future)))
    results["gws.orgUnits"] = _section(tenant, "gws.orgUnits", lambda: SectionResult.ok(_wait(units_future)))

    def policies() -> SectionResult:
        raw = _wait(policies_future)
        if results["gws.orgUnits"].status != "ok":
            raise DependencyFailed("gws.policies", "gws.orgUnits")
        return _resolve_policies(collector, raw, results["gws.orgUnits"].data)

    results["gws.policies"] = _section(tenant, "gws.policies", policies)

    def per_user(name: str, combine: Callable[[list[_Mailbox]], list[dict[str, Any]]]) -> Callable[[], SectionResult]:
        def body() -> SectionResult:
            if users is None:
                raise DependencyFailed(name, "gws.users")
            done = [_wait(future) for future in mailboxes]
            return SectionResult.ok(combine(done))

        return body

    def forwarding(done: list[_Mailbox]) -> list[dict[str, Any]]:
        entries = []
        for mailbox in done:
            if mailbox.forwarding_error is not None:
                raise mailbox.forwarding_error
            if not mailbox.skipped:
                entries.append({"userEmail": mailbox.email, **(mailbox.forwarding or {})})
        return entries

    def forwarding_filters(done: list[_Mailbox]) -> list[dict[str, Any]]:
        entries = []
        for mailbox in done:
            if mailbox.filters_error is not None:
                raise mailbox.filters_error
            for item in mailbox.filters or []:
                if (item.get("action") or {}).get("forward"):
                    entries.append({"userEmail": mailbox.email, **item})
        return entries

    results["gws.autoForwarding"] = _section(tenant, "gws.autoForwarding", per_user("gws.autoForwarding", forwarding))
    results["gws.forwardingFilters"] = _section(tenant, "gws.forwardingFilters", per_user("gws.forwardingFilters", forwarding_filters))

    def token_section() -> SectionResult:
        if users is None:
            raise DependencyFailed("gws.tokens", "gws.users")
        return SectionResult.ok([token for future in tokens for token in _wait(future)])

    results["gws.tokens"] = _section(tenant, "gws.tokens", token_section)

    return results, identity
