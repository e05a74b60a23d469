"""Convert a ScubaGear ProviderSettingsExport.json into a native m365 snapshot.

ScubaGear (CISA, PowerShell) writes Graph and Exchange objects with PascalCase
keys and .NET /Date(ms)/ dates. Sections it exports are camelCased and dated
in RFC 3339. Sections it has no data for become not_collected, and sections
fed by a command ScubaGear lists as unsuccessful become error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import structlog

from engine.errors import ImportFormatError
from engine.importers.common import (
    as_list,
    build_document,
    camelize,
    check_converted,
    expect,
    format_timestamp,
    list_items,
    parse_timestamp,
    read_export,
    require,
    section_error,
    section_not_collected,
    section_ok,
)
from engine.snapshot.validation import format_json_path

__all__ = ["convert", "TOOL"]

log = structlog.get_logger()

TOOL = "ScubaGear"
IMPORTED_BY = "safeguard import scubagear"

# Sections the export never carries, and why.
_ABSENT_SECTIONS = {
    "m365.users": "ScubaGear exports no per-user list, only total_user_count",
    "m365.groups": "ScubaGear exports no groups or group members",
    "m365.securityDefaults": "ScubaGear exports no security defaults policy",
    "m365.userRegistrationDetails": "ScubaGear exports no user registration details report",
    "m365.inboxRules": "ScubaGear exports no mailbox inbox rules",
}

# Export key and the ScubaGear commands that fill each section it carries.
_SECTION_SOURCES = {
    "m365.directoryRoles": ("privileged_roles", ("Get-PrivilegedRole", "Get-PrivilegedUser")),
    "m365.conditionalAccessPolicies": (
        "conditional_access_policies",
        ("Get-MgBetaIdentityConditionalAccessPolicy",),
    ),
    "m365.authenticationMethodsPolicy": (
        "authentication_method",
        ("Get-MgBetaPolicyAuthenticationMethodPolicy",),
    ),
    "m365.acceptedDomains": ("accepted_domains", ("Get-AcceptedDomain",)),
    "m365.remoteDomains": ("remote_domains", ("Get-RemoteDomain",)),
    "m365.auditConfig": ("admin_audit_log_config", ("Get-AdminAuditLogConfig",)),
}

_USER = "#microsoft.graph.user"
_SERVICE_PRINCIPAL = "#microsoft.graph.servicePrincipal"
_UNKNOWN_OBJECT = "#microsoft.graph.directoryObject"

# Role assignment schedule instances: Assigned is an active assignment,
# Activated is an eligible (PIM) assignment its principal has activated.
# Eligible is accepted too, for a list that includes eligibility instances.
_ACTIVE_ASSIGNMENT = "Assigned"
_ELIGIBLE_ASSIGNMENTS = ("Activated", "Eligible")


class _Skip(Exception):
    """A section the export names but cannot fill; the message gives the reason."""


def _unsuccessful_commands(export: dict[str, Any], source: str) -> dict[str, str]:
    """Map each command ScubaGear reports as failed to the export key that lists it."""
    failed: dict[str, str] = {}
    for key, value in export.items():
        if not key.endswith("_unsuccessful_commands"):
            continue
        for command in as_list(value):
            expect(command, str, source, [key], TOOL)
            failed.setdefault(command, key)

    return failed


def _collection(value: Any, source: str, path: list[Any]) -> list[Any]:
    converted = []
    for where, item in list_items(value, path):
        expect(item, dict, source, where, TOOL)
        converted.append(camelize(item, source, where))

    return converted


def _conditional_access_policies(export: dict[str, Any], source: str) -> list[Any]:
    return _collection(export["conditional_access_policies"], source, ["conditional_access_policies"])


def _accepted_domains(export: dict[str, Any], source: str) -> list[Any]:
    return _collection(export["accepted_domains"], source, ["accepted_domains"])


def _remote_domains(export: dict[str, Any], source: str) -> list[Any]:
    return _collection(export["remote_domains"], source, ["remote_domains"])


def _audit_config(export: dict[str, Any], source: str) -> dict[str, Any]:
    configs = _collection(export["admin_audit_log_config"], source, ["admin_audit_log_config"])
    if not configs:
        raise _Skip("the export's admin_audit_log_config list is empty")

    return configs[0]


def _authentication_methods_policy(export: dict[str, Any], source: str) -> dict[str, Any]:
    # ScubaGear splits the policy: authentication_method_policy is the policy
    # without its method configurations, which are in
    # authentication_method_feature_settings.
    entries = list_items(export["authentication_method"], ["authentication_method"])
    if not entries:
        raise _Skip("the export's authentication_method list is empty")

    path, entry = entries[0]
    expect(entry, dict, source, path, TOOL)
    policy = require(entry, "authentication_method_policy", dict, source, path, TOOL)
    settings = require(entry, "authentication_method_feature_settings", (list, dict), source, path, TOOL)
    configurations = _collection(settings, source, [*path, "authentication_method_feature_settings"])

    converted = camelize(policy, source, [*path, "authentication_method_policy"])
    converted["authenticationMethodConfigurations"] = configurations
    return converted


def _principal_reference(principal: str, users: dict[str, Any], service_principals: dict[str, Any]) -> dict[str, Any]:
    if principal in users:
        kind = _USER
        known = users[principal]
    elif principal in service_principals:
        kind = _SERVICE_PRINCIPAL
        known = service_principals[principal]
    else:
        kind = _UNKNOWN_OBJECT
        known = None

    reference: dict[str, Any] = {"@odata.type": kind, "id": principal}
    if isinstance(known, dict) and isinstance(known.get("DisplayName"), str):
        reference["displayName"] = known["DisplayName"]

    return reference


def _principal_map(export: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    # An empty map is written as [] when ScubaGear skipped the command.
    value = export.get(key)
    if value is None or value == []:
        return {}

    return expect(value, dict, source, [key], TOOL)


def _append_unique(references: list[dict[str, Any]], reference: dict[str, Any]) -> None:
    if all(existing["id"] != reference["id"] for existing in references):
        references.append(reference)


def _directory_role(
    role: dict[str, Any], path: list[Any], users: dict[str, Any], service_principals: dict[str, Any], source: str
) -> dict[str, Any]:
    template_id = require(role, "RoleTemplateId", str, source, path, TOOL)
    display_name = require(role, "DisplayName", str, source, path, TOOL)
    if "Assignments" not in role:
        raise _Skip(
            "the export lists privileged roles without their assignments; ScubaGear reads "
            "assignments only for tenants with an Entra ID P2 licence (AAD_PREMIUM_P2)"
        )

    members: list[dict[str, Any]] = []
    eligible: list[dict[str, Any]] = []
    skipped = 0
    for where, assignment in list_items(role["Assignments"], [*path, "Assignments"]):
        expect(assignment, dict, source, where, TOOL)
        principal = require(assignment, "PrincipalId", str, source, where, TOOL)
        assignment_type = require(assignment, "AssignmentType", str, source, where, TOOL)

        # The role document lists direct members only. A principal that has
        # the role through a group is covered by the group's own entry.
        if assignment.get("MemberType", "Direct") != "Direct":
            skipped += 1
            continue

        reference = _principal_reference(principal, users, service_principals)
        if assignment_type == _ACTIVE_ASSIGNMENT:
            _append_unique(members, reference)
        elif assignment_type in _ELIGIBLE_ASSIGNMENTS:
            _append_unique(eligible, reference)
        else:
            message = (
                f"{source}: {format_json_path([*where, 'AssignmentType'])}: unknown assignment type "
                f"{assignment_type!r}; expected Assigned, Activated or Eligible"
            )
            raise ImportFormatError(message)

    if skipped:
        log.debug("import.role_assignments_skipped", role=display_name, count=skipped, reason="not direct")

    return {
        "id": template_id,
        "displayName": display_name,
        "roleTemplateId": template_id,
        "members": members,
        "eligibleMembers": eligible,
        "rules": camelize(as_list(role.get("Rules")), source, [*path, "Rules"]),
    }


def _directory_roles(export: dict[str, Any], source: str) -> list[dict[str, Any]]:
    users = _principal_map(export, "privileged_users", source)
    service_principals = _principal_map(export, "privileged_service_principals", source)

    roles = []
    for path, role in list_items(export["privileged_roles"], ["privileged_roles"]):
        expect(role, dict, source, path, TOOL)
        roles.append(_directory_role(role, path, users, service_principals, source))

    return roles


_CONVERTERS: dict[str, Callable[[dict[str, Any], str], Any]] = {
    "m365.directoryRoles": _directory_roles,
    "m365.conditionalAccessPolicies": _conditional_access_policies,
    "m365.authenticationMethodsPolicy": _authentication_methods_policy,
    "m365.acceptedDomains": _accepted_domains,
    "m365.remoteDomains": _remote_domains,
    "m365.auditConfig": _audit_config,
}


def _primary_domain(export: dict[str, Any], source: str) -> str:
    """Return the default accepted domain, else the default Entra domain, else the initial domain."""
    for domain in as_list(export.get("accepted_domains")):
        if isinstance(domain, dict) and domain.get("Default") is True and isinstance(domain.get("DomainName"), str):
            return domain["DomainName"]

    for domain in as_list(export.get("domain_settings")):
        if isinstance(domain, dict) and domain.get("IsDefault") is True and isinstance(domain.get("Id"), str):
            return domain["Id"]

    for details in as_list(export.get("tenant_details")):
        if isinstance(details, dict) and isinstance(details.get("DomainName"), str) and "." in details["DomainName"]:
            return details["DomainName"]

    message = (
        f"{source}: cannot find the tenant's primary domain: no accepted_domains entry with Default true, "
        f"no domain_settings entry with IsDefault true and no tenant_details DomainName"
    )
    raise ImportFormatError(message)


def _tenant(export: dict[str, Any], source: str) -> dict[str, Any]:
    tenant_id = require(export, "tenant_id", str, source, [], TOOL)
    if not tenant_id:
        message = f"{source}: $.tenant_id: empty; ScubaGear did not record the tenant id, run it again"
        raise ImportFormatError(message)

    tenant = {"id": tenant_id, "provider": "m365", "domain": _primary_domain(export, source)}
    for details in as_list(export.get("tenant_details"))[:1]:
        if isinstance(details, dict) and isinstance(details.get("DisplayName"), str):
            tenant["displayName"] = details["DisplayName"]

    return tenant


def _collector(export: dict[str, Any]) -> dict[str, Any]:
    version = export.get("module_version")
    collector: dict[str, Any] = {
        "name": TOOL,
        "version": version if isinstance(version, str) else None,
        "importedBy": IMPORTED_BY,
    }
    if isinstance(export.get("report_uuid"), str):
        collector["reportUuid"] = export["report_uuid"]

    return collector


def _section_status(
    section: str, export: dict[str, Any], failed: dict[str, str], source: str
) -> tuple[dict[str, str], Any]:
    key, commands = _SECTION_SOURCES[section]
    for command in commands:
        if command in failed:
            return section_error(f"ScubaGear lists {command} in {failed[command]}"), None

    if key not in export:
        return section_not_collected(f"the ScubaGear export has no {key} key"), None

    try:
        data = _CONVERTERS[section](export, source)
    except _Skip as skip:
        return section_not_collected(str(skip)), None

    return section_ok(), data


def convert(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Convert a ScubaGear ProviderSettingsExport.json (plain or gzip) into a snapshot document."""
    source = os.fspath(path)
    export = expect(read_export(source), dict, source, [], TOOL)

    timestamp = require(export, "timestamp_zulu", str, source, [], TOOL)
    try:
        collected_at = parse_timestamp(timestamp, "timestamp_zulu")
    except ValueError as error:
        message = f"{source}: $.{error}"
        raise ImportFormatError(message) from error

    tenant = _tenant(export, source)
    failed = _unsuccessful_commands(export, source)

    statuses = {section: section_not_collected(reason) for section, reason in _ABSENT_SECTIONS.items()}
    data: dict[str, Any] = {}
    for section in _SECTION_SOURCES:
        statuses[section], data[section] = _section_status(section, export, failed, source)

    document = build_document("m365", tenant, collected_at, _collector(export), statuses, data)
    check_converted(document, source)

    log.info(
        "import.converted",
        tool=TOOL,
        source=source,
        collected_at=format_timestamp(collected_at),
        ok=sorted(name for name, entry in statuses.items() if entry["status"] == "ok"),
        error=sorted(name for name, entry in statuses.items() if entry["status"] == "error"),
    )
    return document
