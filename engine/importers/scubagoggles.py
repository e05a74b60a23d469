"""Convert a ScubaGoggles provider export into a native gws snapshot.

ScubaGoggles (CISA) keys its ``policies`` map by org unit name rather than
path: the top-level unit by the organisation's name, a first-level unit by
its name, a deeper one as "Name (in Parent/Child)", and settings for a group's
members inside a unit as "Unit (group email)". Each setting section, named as
Google's setting type with the dot turned into an underscore, becomes one
gws.policies entry with the org unit path resolved and the setting type
restored.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from typing import Any

import structlog

from engine.errors import ImportFormatError
from engine.importers.common import (
    build_document,
    check_converted,
    expect,
    format_timestamp,
    parse_timestamp,
    read_export,
    require,
    section_error,
    section_not_collected,
    section_ok,
)
from engine.snapshot.validation import format_json_path

__all__ = ["convert", "setting_type", "TOOL"]

log = structlog.get_logger()

TOOL = "ScubaGoggles"
IMPORTED_BY = "safeguard import scubagoggles"

_ROOT = "/"

_ABSENT_SECTIONS = {
    "gws.users": "ScubaGoggles exports no user list",
    "gws.autoForwarding": "ScubaGoggles exports no per-mailbox auto-forwarding settings",
    "gws.forwardingFilters": "ScubaGoggles exports no Gmail filters",
    "gws.tokens": "ScubaGoggles exports no OAuth tokens",
}

# Directory API calls as ScubaGoggles names them in unsuccessful_calls.
_LIST_ORG_UNITS = "directory/v1/orgunits/list"
_LIST_USERS = "directory/v1/users/list"

# Setting categories whose names contain underscores. Google's setting types
# are "<category>.<setting>"; ScubaGoggles replaced the dot with an underscore,
# so the split point has to be known. Longest names first.
_MULTI_WORD_CATEGORIES = (
    "multi_party_approval",
    "workspace_marketplace",
    "cloud_sharing_options",
    "groups_for_business",
    "gemini_for_workspace",
    "access_management",
    "access_approval",
    "drive_and_docs",
    "data_regions",
    "api_controls",
    "gemini_app",
)
_SPLIT_SUFFIXES = ("_service_status", "_user_takeout")

# Sections ScubaGoggles computes itself instead of reading them from Google:
# dlp_pii summarises the DLP rules, which are imported as rule_dlp.
_DERIVED_SECTIONS = frozenset({"dlp_pii"})

_OUTPUT_PATH_TIME = re.compile(r"_(\d{4})_(\d{2})_(\d{2})_(\d{2})_(\d{2})_(\d{2})$")
_GROUP_SUFFIX = " (group "
_PARENT_SUFFIX = " (in "


def setting_type(section: str) -> str:
    """Restore Google's setting type from a ScubaGoggles section name.

    security_two_step_verification_enforcement becomes
    settings/security.two_step_verification_enforcement.
    """
    category = None
    for suffix in _SPLIT_SUFFIXES:
        if section.endswith(suffix) and len(section) > len(suffix):
            category = section[: -len(suffix)]
            break
    if category is None:
        category = next((name for name in _MULTI_WORD_CATEGORIES if section.startswith(name + "_")), None)
    if category is None:
        category, separator, _ = section.partition("_")
        if not separator:
            message = f"setting section {section!r} has no category prefix"
            raise ValueError(message)

    return f"settings/{category}.{section[len(category) + 1:]}"


def _resolve_collected_at(export: dict[str, Any], collected_at: datetime | str | None, source: str) -> datetime:
    if isinstance(collected_at, datetime):
        # A naive value, as click.DateTime returns, is read as UTC.
        if collected_at.tzinfo is None:
            return collected_at.replace(tzinfo=timezone.utc)
        return collected_at
    if isinstance(collected_at, str):
        try:
            return parse_timestamp(collected_at, "--collected-at")
        except ValueError as error:
            raise ImportFormatError(str(error)) from error

    config = export.get("scuba_config")
    output_path = config.get("outputpath") if isinstance(config, dict) else None
    match = _OUTPUT_PATH_TIME.search(output_path.rstrip("/\\")) if isinstance(output_path, str) else None
    if match is None:
        message = (
            f"{source}: cannot tell when the export was collected: scuba_config.outputpath has no "
            f"_YYYY_MM_DD_HH_MM_SS suffix; pass --collected-at 2026-12-01T09:30:00Z"
        )
        raise ImportFormatError(message)

    # NOTE: ScubaGoggles names the output folder in the local time of the
    # machine that ran it. The export does not record that zone, so the time
    # is read as UTC.
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError as error:
        message = f"{source}: $.scuba_config.outputpath: invalid time in {output_path!r}: {error}"
        raise ImportFormatError(message) from error


def _tenant(export: dict[str, Any], source: str) -> tuple[dict[str, Any], str]:
    info = require(export, "tenant_info", dict, source, [], TOOL)
    tenant_id = require(info, "ID", str, source, ["tenant_info"], TOOL)
    domain = require(info, "domain", str, source, ["tenant_info"], TOOL)
    top_name = require(info, "topLevelOU", str, source, ["tenant_info"], TOOL)

    if not tenant_id:
        message = f"{source}: $.tenant_info.ID: empty; ScubaGoggles could not read the customer id, run it again"
        raise ImportFormatError(message)
    if not domain or " " in domain:
        message = (
            f"{source}: $.tenant_info.domain: {domain!r} is not a domain; "
            f"ScubaGoggles could not read it, run it again"
        )
        raise ImportFormatError(message)

    return {"id": tenant_id, "provider": "gws", "domain": domain}, top_name


class _OrgUnitTree:
    """Org units by path, in export order, with the units the export only names added."""

    def __init__(self, top_name: str) -> None:
        self.top_name = top_name
        self.units: dict[str, dict[str, Any]] = {}
        self.added: dict[str, dict[str, Any]] = {}
        # Ids learnt from children's parentOrgUnitId, for units the export does not list.
        self.parent_ids: dict[str, str] = {}

    def add_listed(self, unit: dict[str, Any], source: str, path: list[Any]) -> None:
        unit_path = require(unit, "orgUnitPath", str, source, path, TOOL)
        require(unit, "name", str, source, path, TOOL)
        if not unit_path.startswith(_ROOT):
            message = f"{source}: {format_json_path([*path, 'orgUnitPath'])}: {unit_path!r} does not start with /"
            raise ImportFormatError(message)

        self.units.setdefault(unit_path, dict(unit))
        parent_path = unit.get("parentOrgUnitPath")
        parent_id = unit.get("parentOrgUnitId")
        if isinstance(parent_path, str) and isinstance(parent_id, str):
            self.parent_ids.setdefault(parent_path, parent_id)

    def ensure(self, unit_path: str) -> None:
        """Add unit_path and its ancestors when the export does not list them."""
        if unit_path in self.units or unit_path in self.added:
            return

        if unit_path == _ROOT:
            self.added[_ROOT] = {"orgUnitPath": _ROOT, "orgUnitId": self.parent_ids.get(_ROOT), "name": self.top_name}
            return

        parent_path, _, name = unit_path.rpartition("/")
        parent_path = parent_path or _ROOT
        self.ensure(parent_path)
        self.added[unit_path] = {
            "orgUnitPath": unit_path,
            "orgUnitId": self.parent_ids.get(unit_path),
            "name": name,
            "parentOrgUnitPath": parent_path,
        }

    def known(self, unit_path: str) -> bool:
        return unit_path in self.units

    def policy_org_unit(self, unit_path: str) -> str | None:
        """Return the Cloud Identity name orgUnits/<id> of a unit, or None when its id is unknown."""
        unit = self.units.get(unit_path) or self.added.get(unit_path) or {}
        unit_id = unit.get("orgUnitId")
        if not isinstance(unit_id, str) or not unit_id:
            return None

        return "orgUnits/" + unit_id.removeprefix("id:")

    def as_list(self) -> list[dict[str, Any]]:
        return [*self.units.values(), *(self.added[path] for path in sorted(self.added))]


def _read_org_units(export: dict[str, Any], tree: _OrgUnitTree, source: str) -> None:
    listing = require(export, "organizational_units", dict, source, [], TOOL)
    units = listing.get("organizationUnits", [])
    expect(units, list, source, ["organizational_units", "organizationUnits"], TOOL)
    for index, unit in enumerate(units):
        path = ["organizational_units", "organizationUnits", index]
        tree.add_listed(expect(unit, dict, source, path, TOOL), source, path)

    tree.ensure(_ROOT)


def _org_unit_path(name: str, tree: _OrgUnitTree) -> str:
    """Resolve a policies key without its group suffix to an org unit path."""
    if name == tree.top_name:
        return _ROOT

    # "X (in A/B)" is /A/B/X. An org unit name may itself contain " (in ",
    # so each split is tried: one naming a listed unit wins, else the first.
    candidates = []
    if name.endswith(")"):
        start = name.find(_PARENT_SUFFIX)
        while start != -1:
            unit, parent = name[:start], name[start + len(_PARENT_SUFFIX): -1]
            candidates.append(f"/{parent}/{unit}")
            start = name.find(_PARENT_SUFFIX, start + 1)
    candidates.append(f"/{name}")

    for candidate in candidates:
        if tree.known(candidate):
            return candidate

    return candidates[0]


def _split_policy_key(key: str, tree: _OrgUnitTree) -> tuple[str, str | None]:
    """Split a policies key into an org unit path and a group email (None for an org unit policy)."""
    group = None
    unit_name = key
    start = key.rfind(_GROUP_SUFFIX)
    if start != -1 and key.endswith(")"):
        unit_name, group = key[:start], key[start + len(_GROUP_SUFFIX): -1]

    return _org_unit_path(unit_name, tree), group


def _policies(export: dict[str, Any], tree: _OrgUnitTree, source: str) -> list[dict[str, Any]]:
    policies_map = require(export, "policies", dict, source, [], TOOL)
    entries = []
    skipped = []
    for key, settings in policies_map.items():
        expect(settings, dict, source, ["policies", key], TOOL)
        unit_path, group = _split_policy_key(key, tree)
        tree.ensure(unit_path)

        for section, value in settings.items():
            path = ["policies", key, section]
            if section in _DERIVED_SECTIONS:
                skipped.append(section)
                continue
            try:
                kind = setting_type(section)
            except ValueError as error:
                message = f"{source}: {format_json_path(path)}: {error}"
                raise ImportFormatError(message) from error

            # List-valued sections (rule_dlp, rule_system_defined_alerts)
            # merge several Cloud Identity policies; each becomes its own entry.
            values = value if isinstance(value, list) else [value]
            for index, setting_value in enumerate(values):
                where = [*path, index] if isinstance(value, list) else path
                expect(setting_value, dict, source, where, TOOL)
                entries.append({
                    "name": None,
                    "type": None,
                    "policyQuery": {
                        "orgUnit": tree.policy_org_unit(unit_path),
                        "orgUnitPath": unit_path,
                        "group": None,
                        "groupEmail": group,
                        "sortOrder": None,
                    },
                    "setting": {"type": kind, "value": setting_value},
                })

    if skipped:
        log.debug("import.policy_sections_skipped", sections=sorted(set(skipped)), reason="computed by ScubaGoggles")
    return entries


def _super_admins(admins: Any, tree: _OrgUnitTree, source: str) -> list[dict[str, str]]:
    expect(admins, list, source, ["super_admins"], TOOL)
    result = []
    seen = set()
    for index, admin in enumerate(admins):
        path = ["super_admins", index]
        expect(admin, dict, source, path, TOOL)
        email = require(admin, "primaryEmail", str, source, path, TOOL)
        unit = require(admin, "orgUnitPath", str, source, path, TOOL)

        # ScubaGoggles strips the leading slash: "" is the root, "A/B" is /A/B.
        unit_path = unit if unit.startswith(_ROOT) else _ROOT + unit
        if email.lower() in seen:
            continue
        seen.add(email.lower())
        tree.ensure(unit_path)
        result.append({"primaryEmail": email, "orgUnitPath": unit_path})

    return result


def _unsuccessful_calls(export: dict[str, Any], source: str) -> set[str]:
    calls = export.get("unsuccessful_calls") or []
    expect(calls, list, source, ["unsuccessful_calls"], TOOL)
    return {call for call in calls if isinstance(call, str)}


def convert(path: str | os.PathLike[str], collected_at: datetime | str | None = None) -> dict[str, Any]:
    """Convert a ScubaGoggles provider export (plain or gzip) into a snapshot document.

    ``collected_at`` overrides the collection time, which is otherwise read
    from the timestamp suffix of scuba_config.outputpath.
    """
    source = os.fspath(path)
    export = expect(read_export(source), dict, source, [], TOOL)

    tenant, top_name = _tenant(export, source)
    moment = _resolve_collected_at(export, collected_at, source)
    failed = _unsuccessful_calls(export, source)

    tree = _OrgUnitTree(top_name)
    _read_org_units(export, tree, source)

    statuses = {section: section_not_collected(reason) for section, reason in _ABSENT_SECTIONS.items()}
    data: dict[str, Any] = {}

    statuses["gws.policies"] = section_ok()
    data["gws.policies"] = _policies(export, tree, source)

    if _LIST_USERS in failed:
        statuses["gws.superAdmins"] = section_error(f"ScubaGoggles lists {_LIST_USERS} in unsuccessful_calls")
    elif "super_admins" not in export:
        statuses["gws.superAdmins"] = section_not_collected(
            "the ScubaGoggles export has no super_admins key; "
            "ScubaGoggles writes it when it runs the commoncontrols baseline"
        )
    else:
        statuses["gws.superAdmins"] = section_ok()
        data["gws.superAdmins"] = _super_admins(export["super_admins"], tree, source)

    if _LIST_ORG_UNITS in failed:
        statuses["gws.orgUnits"] = section_error(f"ScubaGoggles lists {_LIST_ORG_UNITS} in unsuccessful_calls")
    else:
        statuses["gws.orgUnits"] = section_ok()
        data["gws.orgUnits"] = tree.as_list()

    collector = {"name": TOOL, "version": None, "importedBy": IMPORTED_BY}
    if isinstance(export.get("report_uuid"), str):
        collector["reportUuid"] = export["report_uuid"]

    document = build_document("gws", tenant, moment, collector, statuses, data)
    check_converted(document, source)

    log.info(
        "import.converted",
        tool=TOOL,
        source=source,
        collected_at=format_timestamp(moment),
        policies=len(data["gws.policies"]),
        org_units_added=len(tree.added),
        missing_policies=len(export.get("missing_policies") or []),
    )
    return document
