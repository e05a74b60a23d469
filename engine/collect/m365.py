"""Collect the Microsoft 365 sections of a snapshot from Microsoft Graph v1.0.

Sections run concurrently; the requests of all of them share one concurrency
limit. Inbox rules wait for the user list and read each mailbox's rules with
one request at a time per mailbox, below Outlook's limit of 4 concurrent
requests per mailbox. Remote domains and the audit log configuration are
Exchange Online settings that Graph does not expose, so they are
``not_collected``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.directory_roles.directory_roles_request_builder import DirectoryRolesRequestBuilder
from msgraph.generated.directory_roles.item.members.members_request_builder import MembersRequestBuilder as RoleMembersRequestBuilder
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.groups.item.members.members_request_builder import MembersRequestBuilder as GroupMembersRequestBuilder
from msgraph.generated.role_management.directory.role_eligibility_schedules.role_eligibility_schedules_request_builder import (
    RoleEligibilitySchedulesRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from engine.collect.graph_client import GraphReader
from engine.collect.inventory import Tenant
from engine.collect.retry import CURRENT_SECTION
from engine.collect.sections import DependencyFailed, RequestFailed, SectionResult, failure_message

__all__ = ["collect_m365", "USER_FIELDS", "GROUP_FIELDS", "ROLE_FIELDS", "EXCHANGE_ONLY_MESSAGE"]

log = structlog.get_logger()

USER_FIELDS = (
    "id",
    "displayName",
    "userPrincipalName",
    "mail",
    "accountEnabled",
    "userType",
    "createdDateTime",
    "onPremisesSyncEnabled",
    "signInActivity",
)
GROUP_FIELDS = (
    "id",
    "displayName",
    "description",
    "mail",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "isAssignableToRole",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesSyncEnabled",
    "visibility",
    "createdDateTime",
)
ROLE_FIELDS = ("id", "displayName", "description", "roleTemplateId")

# Graph's maximum page size for users when signInActivity is selected.
_USERS_PAGE = 120

EXCHANGE_ONLY_MESSAGE = (
    "{what} is an Exchange Online setting that Microsoft Graph v1.0 does not expose; "
    "export it with ScubaGear and use `safeguard import scubagear`"
)

# Error codes with which Graph rejects signInActivity for a tenant without Entra ID P1.
_NO_PREMIUM_CODES = ("Authentication_RequestFromNonPremiumTenantOrB2CTenant",)

# Error codes of a mailbox that does not exist or cannot be read through Graph.
_NO_MAILBOX_CODES = ("MailboxNotEnabledForRESTAPI", "MailboxNotSupportedForRESTAPI", "ResourceNotFound", "ErrorItemNotFound", "Request_ResourceNotFound")


@dataclass(frozen=True)
class TenantIdentity:
    """Id and display name from the tenant's /organization object."""

    id: str | None
    display_name: str | None


def _query(builder: type, **parameters: Any) -> RequestConfiguration:
    return RequestConfiguration(query_parameters=builder(**parameters))


async def _section(tenant: Tenant, name: str, body: Callable[[], Awaitable[SectionResult]]) -> SectionResult:
    """Run one section's collection, turning a failure into an ``error`` result and logging both ends."""
    token = CURRENT_SECTION.set(name)
    log.info("collect.section_start", tenant=tenant.name, section=name)
    try:
        result = await body()
    except (RequestFailed, DependencyFailed) as error:
        result = SectionResult.error(failure_message(error))
    except _credential_errors() as error:
        result = SectionResult.error(f"authentication failed: {failure_message(error)}")
    finally:
        CURRENT_SECTION.reset(token)

    if result.status == "error":
        log.warning("collect.section_failed", tenant=tenant.name, section=name, error=result.message)
    log.info("collect.section_finish", tenant=tenant.name, section=name, status=result.status, count=result.count)

    return result


def _credential_errors() -> tuple[type[BaseException], ...]:
    # azure-identity raises AzureError subclasses for refused credentials and unreachable token endpoints.
    from azure.core.exceptions import AzureError

    return (AzureError,)


def _progress(tenant: Tenant, section: str, done: int, total: int | None) -> None:
    log.debug("collect.progress", tenant=tenant.name, section=section, done=done, total=total)


async def _gather(coroutines: list[Awaitable[Any]]) -> list[Any]:
    """Await all coroutines concurrently; on the first failure cancel the rest and re-raise it."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _member_refs(members: list[dict[str, Any]]) -> list[dict[str, str]]:
    refs = []
    for member in members:
        if "id" not in member:
            continue
        refs.append({"@odata.type": member.get("@odata.type") or "#microsoft.graph.directoryObject", "id": member["id"]})

    return refs


class _M365Collector:
    """The Graph reads of one tenant, one method per section."""

    def __init__(self, tenant: Tenant, graph: GraphReader) -> None:
        self.tenant = tenant
        self.graph = graph
        self.client = graph.client

    async def identity(self) -> TenantIdentity:
        info = self.client.organization.to_get_request_information()
        organizations = await self.graph.collection(info)
        if not organizations:
            return TenantIdentity(None, None)

        return TenantIdentity(organizations[0].get("id"), organizations[0].get("displayName"))

    async def users(self) -> SectionResult:
        parameters = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters
        config = _query(parameters, select=list(USER_FIELDS), top=_USERS_PAGE)
        try:
            users = await self.graph.collection(self.client.users.to_get_request_information(config))
        except RequestFailed as error:
            if error.code not in _NO_PREMIUM_CODES:
                raise
            # Without Entra ID P1 Graph refuses signInActivity; the rest of the user list is still useful.
            fields = [name for name in USER_FIELDS if name != "signInActivity"]
            config = _query(parameters, select=fields, top=_USERS_PAGE)
            users = await self.graph.collection(self.client.users.to_get_request_information(config))
            message = f"signInActivity is absent: {error.describe()}"
            return SectionResult.ok(users, message)

        return SectionResult.ok(users)

    async def groups(self) -> SectionResult:
        config = _query(GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters, select=list(GROUP_FIELDS))
        groups = await self.graph.collection(self.client.groups.to_get_request_information(config))
        member_config = _query(GroupMembersRequestBuilder.MembersRequestBuilderGetQueryParameters, select=["id"])

        async def members(group: dict[str, Any]) -> list[dict[str, str]]:
            info = self.client.groups.by_group_id(group["id"]).members.to_get_request_information(member_config)
            return _member_refs(await self.graph.collection(info))

        _require_ids(groups, "/v1.0/groups")
        all_members = await _gather([members(group) for group in groups])

        return SectionResult.ok([{**group, "members": group_members} for group, group_members in zip(groups, all_members)])

    async def directory_roles(self) -> SectionResult:
        config = _query(DirectoryRolesRequestBuilder.DirectoryRolesRequestBuilderGetQueryParameters, select=list(ROLE_FIELDS))
        roles = await self.graph.collection(self.client.directory_roles.to_get_request_information(config))
        _require_ids(roles, "/v1.0/directoryRoles")
        member_config = _query(RoleMembersRequestBuilder.MembersRequestBuilderGetQueryParameters, select=["id"])

        async def members(role: dict[str, Any]) -> list[dict[str, str]]:
            info = self.client.directory_roles.by_directory_role_id(role["id"]).members.to_get_request_information(member_config)
            return _member_refs(await self.graph.collection(info))

        all_members = await _gather([members(role) for role in roles])
        eligible, message = await self._eligibility()
        result = []
        for role, role_members in zip(roles, all_members):
            refs = eligible.get(role.get("roleTemplateId") or "", [])
            result.append({**role, "members": role_members, "eligibleMembers": refs})

        return SectionResult.ok(result, message)

    async def _eligibility(self) -> tuple[dict[str, list[dict[str, str]]], str | None]:
        """Map role template id to its PIM-eligible principals; empty, with a note, where PIM is unavailable."""
        config = _query(RoleEligibilitySchedulesRequestBuilder.RoleEligibilitySchedulesRequestBuilderGetQueryParameters, expand=["principal"])
        info = self.client.role_management.directory.role_eligibility_schedules.to_get_request_information(config)
        try:
            schedules = await self.graph.collection(info)
        except RequestFailed as error:
            if error.status not in (400, 403) and "license" not in (error.code or "").lower():
                raise
            return {}, f"PIM eligibility is not available, so eligibleMembers are empty: {error.describe()}"

        eligible: dict[str, list[dict[str, str]]] = {}
        for schedule in schedules:
            # Only tenant-wide eligibility; a scope such as an administrative unit is narrower than the role.
            if schedule.get("directoryScopeId", "/") != "/":
                continue
            principal = schedule.get("principal") or {}
            principal_id = schedule.get("principalId") or principal.get("id")
            role = schedule.get("roleDefinitionId")
            if not principal_id or not role:
                continue
            refs = eligible.setdefault(role, [])
            if all(ref["id"] != principal_id for ref in refs):
                refs.append({"@odata.type": principal.get("@odata.type") or "#microsoft.graph.directoryObject", "id": principal_id})

        return eligible, None

    async def conditional_access(self) -> SectionResult:
        info = self.client.identity.conditional_access.policies.to_get_request_information()
        return SectionResult.ok(await self.graph.collection(info))

    async def security_defaults(self) -> SectionResult:
        info = self.client.policies.identity_security_defaults_enforcement_policy.to_get_request_information()
        return SectionResult.ok(await self.graph.entity(info))

    async def authentication_methods_policy(self) -> SectionResult:
        info = self.client.policies.authentication_methods_policy.to_get_request_information()
        return SectionResult.ok(await self.graph.entity(info))

    async def registration_details(self) -> SectionResult:
        info = self.client.reports.authentication_methods.user_registration_details.to_get_request_information()
        return SectionResult.ok(await self.graph.collection(info))

    async def inbox_rules(self, users_task: asyncio.Task[SectionResult]) -> SectionResult:
        users = await users_task
        if users.status != "ok":
            raise DependencyFailed("m365.inboxRules", "m365.users")

        # Guests' mail addresses are outside the tenant; users without mail have no mailbox.
        owners = [user for user in users.data if user.get("mail") and user.get("userType") != "Guest"]
        done = 0

        async def mailbox(user: dict[str, Any]) -> list[dict[str, Any]]:
            nonlocal done
            info = self.client.users.by_user_id(user["id"]).mail_folders.by_mail_folder_id("inbox").message_rules.to_get_request_information()
            try:
                rules = await self.graph.collection(info)
            except RequestFailed as error:
                if error.status != 404 or error.code not in _NO_MAILBOX_CODES:
                    raise
                log.info("collect.mailbox_skipped", tenant=self.tenant.name, section="m365.inboxRules", user=user["id"], reason=error.code)
                rules = []
            done += 1
            _progress(self.tenant, "m365.inboxRules", done, len(owners))
            return [{**rule, "userId": user["id"], "userPrincipalName": user.get("userPrincipalName")} for rule in rules]

        per_mailbox = await _gather([mailbox(user) for user in owners])

        return SectionResult.ok([rule for rules in per_mailbox for rule in rules])

    async def accepted_domains(self) -> SectionResult:
        domains = await self.graph.collection(self.client.domains.to_get_request_information())
        accepted = []
        for domain in domains:
            # Exchange accepts mail for verified domains that have the Email service.
            if not domain.get("isVerified") or "Email" not in (domain.get("supportedServices") or []):
                continue
            accepted.append(
                {
                    "name": domain.get("id"),
                    "identity": domain.get("id"),
                    "domainName": domain.get("id"),
                    # Graph has no relay types; Exchange makes every added domain Authoritative unless changed there.
                    "domainType": "Authoritative",
                    "default": bool(domain.get("isDefault")),
                    "initialDomain": bool(domain.get("isInitial")),
                }
            )

        return SectionResult.ok(accepted)


def _require_ids(items: list[dict[str, Any]], path: str) -> None:
    for item in items:
        if not isinstance(item, dict) or not item.get("id"):
            raise RequestFailed(200, None, "an item of the response has no id", path)


async def collect_m365(tenant: Tenant, graph: GraphReader) -> tuple[dict[str, SectionResult], TenantIdentity | None]:
    """Collect every Microsoft 365 section; returns results by section name and the tenant's identity."""
    collector = _M365Collector(tenant, graph)
    identity: TenantIdentity | None
    try:
        identity = await collector.identity()
    except RequestFailed as error:
        if error.status == 401 or error.status is None:
            raise
        # Reading /organization needs Organization.Read.All; without it the tenant id cannot be checked.
        log.warning("collect.tenant_unverified", tenant=tenant.name, error=error.describe())
        identity = None

    def run(name: str, body: Callable[[], Awaitable[SectionResult]]) -> asyncio.Task[SectionResult]:
        return asyncio.ensure_future(_section(tenant, name, body))

    users = run("m365.users", collector.users)
    tasks: Mapping[str, asyncio.Future[SectionResult]] = {
        "m365.users": users,
        "m365.groups": run("m365.groups", collector.groups),
        "m365.directoryRoles": run("m365.directoryRoles", collector.directory_roles),
        "m365.conditionalAccessPolicies": run("m365.conditionalAccessPolicies", collector.conditional_access),
        "m365.securityDefaults": run("m365.securityDefaults", collector.security_defaults),
        "m365.authenticationMethodsPolicy": run("m365.authenticationMethodsPolicy", collector.authentication_methods_policy),
        "m365.userRegistrationDetails": run("m365.userRegistrationDetails", collector.registration_details),
        "m365.inboxRules": run("m365.inboxRules", lambda: collector.inbox_rules(users)),
        "m365.acceptedDomains": run("m365.acceptedDomains", collector.accepted_domains),
    }
    await asyncio.gather(*tasks.values())

    results = {name: task.result() for name, task in tasks.items()}
    results["m365.remoteDomains"] = SectionResult.not_collected(EXCHANGE_ONLY_MESSAGE.format(what="The remote domain list (Get-RemoteDomain)"))
    results["m365.auditConfig"] = SectionResult.not_collected(EXCHANGE_ONLY_MESSAGE.format(what="The audit log configuration (Get-AdminAuditLogConfig)"))

    return results, identity
