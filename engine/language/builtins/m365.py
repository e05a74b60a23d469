"""Microsoft 365 built-ins: transitive group membership, role membership, joins.

Indexes are built once per evaluation (cached on the context), so a policy over
100,000 users costs one pass over groups and roles, not one per user.
"""

from __future__ import annotations

from collections import defaultdict, deque

from engine.language.builtins._registry import builtin
from engine.language.types import ANY, STRING, set_of
from engine.language.values import Unknown

_GROUP_TYPE = "#microsoft.graph.group"


def _sections(context, *names):
    """Return the data of each section, or an Unknown naming those not collected."""
    values = [context.section(name) for name in names]
    missing = [value for value in values if type(value) is Unknown]
    if missing:
        sections: set[str] = set()
        for value in missing:
            sections |= value.sections
        return None, Unknown(frozenset(sections))

    return values, None


def _parent_groups(context) -> dict[str, list[str]]:
    """Map a member object id to the ids of the groups it is a direct member of."""
    cached = context.cache.get("m365.parent_groups")
    if cached is None:
        cached = defaultdict(list)
        for group in context.section("m365.groups"):
            for member in group.get("members") or ():
                cached[member.get("id")].append(group.get("id"))
        context.cache["m365.parent_groups"] = cached

    return cached


def _transitive_groups(context, object_id: str) -> frozenset[str]:
    memo = context.cache.setdefault("m365.transitive_groups", {})
    found = memo.get(object_id)
    if found is not None:
        return found
    parents = _parent_groups(context)
    seen: set[str] = set()
    queue = deque(parents.get(object_id, ()))
    while queue:
        group_id = queue.popleft()
        if group_id in seen:
            continue
        seen.add(group_id)
        known = memo.get(group_id)
        if known is not None:
            seen |= known
            continue
        queue.extend(parents.get(group_id, ()))
    found = frozenset(seen)
    memo[object_id] = found

    return found


def _role_index(context, field: str) -> dict[str, set[str]]:
    """Map a principal id to the role template ids it is assigned through ``field``."""
    key = f"m365.roles.{field}"
    cached = context.cache.get(key)
    if cached is None:
        cached = defaultdict(set)
        for role in context.section("m365.directoryRoles"):
            template = role.get("roleTemplateId") or role.get("id")
            for member in role.get(field) or ():
                cached[member.get("id")].add(template)
        context.cache[key] = cached

    return cached


def _roles_of(context, user_id: str, field: str):
    # A policy calls member_roles for a user once per conditional access policy it checks.
    memo = context.cache.setdefault(f"m365.roles_of.{field}", {})
    found = memo.get(user_id)
    if found is not None:
        return found

    _, unknown = _sections(context, "m365.groups", "m365.directoryRoles")
    if unknown is not None:
        return unknown
    index = _role_index(context, field)
    roles = set(index.get(user_id, ()))
    for group_id in _transitive_groups(context, user_id):
        roles |= index.get(group_id, set())
    found = frozenset(roles)
    memo[user_id] = found

    return found


@builtin(
    "member_groups",
    (STRING,),
    set_of(STRING),
    summary="Ids of every group the object is a member of, directly or through nested groups.",
    sections=("m365.groups",),
    param_names=("object_id",),
)
def member_groups(context, object_id):
    groups = context.section("m365.groups")
    if type(groups) is Unknown:
        return groups

    return _transitive_groups(context, object_id)


@builtin(
    "member_roles",
    (STRING,),
    set_of(STRING),
    summary="Role template ids the user holds actively, directly or through a role-assignable group.",
    sections=("m365.groups", "m365.directoryRoles"),
    param_names=("user_id",),
)
def member_roles(context, user_id):
    return _roles_of(context, user_id, "members")


@builtin(
    "eligible_roles",
    (STRING,),
    set_of(STRING),
    summary="Role template ids the user is eligible to activate (PIM), directly or through a group.",
    sections=("m365.groups", "m365.directoryRoles"),
    param_names=("user_id",),
)
def eligible_roles(context, user_id):
    return _roles_of(context, user_id, "eligibleMembers")


_SERVICE_PRINCIPAL_TYPE = "#microsoft.graph.servicePrincipal"
_USER_TYPE = "#microsoft.graph.user"


@builtin(
    "role_members",
    (STRING,),
    set_of(STRING),
    summary=(
        "Ids of the users holding a role actively, with members of assigned groups expanded; "
        "service principals are left out."
    ),
    sections=("m365.directoryRoles", "m365.groups"),
    param_names=("role_template_id",),
)
def role_members(context, role_template_id):
    roles = context.section("m365.directoryRoles")
    if type(roles) is Unknown:
        return roles
    assigned = []
    for role in roles:
        if (role.get("roleTemplateId") or role.get("id")) == role_template_id:
            assigned.extend(role.get("members") or ())
    found: set[str] = set()
    pending = deque()
    for member in assigned:
        kind = member.get("@odata.type")
        if kind == _USER_TYPE:
            found.add(member.get("id"))
        elif kind != _SERVICE_PRINCIPAL_TYPE:
            pending.append(member)
    if not pending:
        return frozenset(found)
    # Only a group (or a principal of unrecorded type) needs the groups section.
    groups_data = context.section("m365.groups")
    if type(groups_data) is Unknown:
        return groups_data
    groups = {group.get("id"): group for group in groups_data}
    seen_groups: set[str] = set()
    while pending:
        member = pending.popleft()
        member_id = member.get("id")
        kind = member.get("@odata.type")
        if kind == _GROUP_TYPE or member_id in groups:
            if member_id in seen_groups:
                continue
            seen_groups.add(member_id)
            pending.extend((groups.get(member_id) or {}).get("members") or ())
        elif kind != _SERVICE_PRINCIPAL_TYPE:
            found.add(member_id)

    return frozenset(found)


@builtin(
    "registration",
    (STRING,),
    ANY,
    summary="The user registration details record of a user id, or null if there is none.",
    sections=("m365.userRegistrationDetails",),
    param_names=("user_id",),
)
def registration(context, user_id):
    details = context.section("m365.userRegistrationDetails")
    if type(details) is Unknown:
        return details
    index = context.cache.get("m365.registration")
    if index is None:
        index = {record.get("id"): record for record in details}
        context.cache["m365.registration"] = index

    return index.get(user_id)


# Display names of Microsoft Entra built-in roles by role template id, from
# Microsoft's "Microsoft Entra built-in roles" reference. Template ids are the
# same in every tenant.
_ROLE_NAMES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": "Hybrid Identity Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
}


@builtin(
    "role_name",
    (STRING,),
    STRING,
    summary="The display name of a built-in Entra role template id, or the id itself when it is not a known built-in role.",
    param_names=("role_template_id",),
)
def role_name(context, role_template_id):
    return _ROLE_NAMES.get(role_template_id, role_template_id)
