"""Microsoft Graph v1.0 routes of the simulator: the reads `safeguard collect` makes and the writes remediation makes.

Collections page with ``@odata.nextLink`` built from the simulator's own host
and port, honour ``$top`` and ``$select``, and leave out a field the seed does
not have rather than serving it as null. Errors have Graph's
``{"error": {"code", "message"}}`` shape. Every route needs the bearer token
the simulator was started with.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from engine.simulator.context import SimulatorContext
from engine.simulator.routing import HttpError, Request, Response, Router, decode_cursor, encode_cursor
from engine.simulator.state import M365State

__all__ = ["PREFIX", "register", "error_body", "authenticate"]

PREFIX = "/v1.0"

# Graph's documented maximum $top for directory objects.
_MAX_TOP = 999


def error_body(code: str, message: str, request_id: str) -> dict:
    return {"error": {"code": code, "message": message, "innerError": {"request-id": request_id, "client-request-id": request_id}}}


def authenticate(request: Request, ctx: SimulatorContext) -> None:
    token = request.bearer_token()
    if token is None:
        raise HttpError(401, "InvalidAuthenticationToken", "Access token is empty.")
    if token != ctx.graph_token:
        raise HttpError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")


def _tenant(ctx: SimulatorContext) -> M365State:
    if ctx.states.m365 is None:
        raise HttpError(404, "Request_ResourceNotFound", "The simulator serves no Microsoft 365 tenant.")

    return ctx.states.m365


def _seeded(state: M365State, section: str) -> None:
    if section not in state.seeded:
        message = f"The simulator's seed snapshot has no data for {section} (its status is not ok)."
        raise HttpError(501, "NotSeeded", message)


def _select(item: Mapping[str, Any], request: Request) -> dict:
    fields = request.query.get("$select")
    if not fields:
        return copy.deepcopy(dict(item))
    wanted = {name.strip() for name in fields.split(",") if name.strip()}

    return {key: copy.deepcopy(value) for key, value in item.items() if key in wanted or key == "@odata.type"}


def _page(request: Request, ctx: SimulatorContext, items: list[dict], context: str) -> Response:
    """Return one page of a collection, with a next link while more items remain."""
    top_text = request.query.get("$top")
    try:
        top = int(top_text) if top_text is not None else ctx.page_size
    except ValueError:
        raise HttpError(400, "BadRequest", f"Invalid value '{top_text}' for query parameter $top.") from None
    if not 1 <= top <= _MAX_TOP:
        raise HttpError(400, "BadRequest", f"Invalid page size specified: '{top}'. Must be between 1 and {_MAX_TOP} inclusive.")
    # Like Graph's server-driven paging, a page never exceeds the server's own size.
    top = min(top, ctx.page_size)

    offset = 0
    if "$skiptoken" in request.query:
        offset = int(decode_cursor(request.query["$skiptoken"]).get("offset", 0))
    chunk = items[offset : offset + top]
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}{PREFIX}/$metadata#{context}", "value": [_select(item, request) for item in chunk]}
    if offset + top < len(items):
        query = {key: value for key, value in request.query.items() if key != "$skiptoken"}
        query["$skiptoken"] = encode_cursor({"offset": offset + top})
        body["@odata.nextLink"] = f"{request.base_url}{request.path}?{urlencode(query, safe='$,')}"

    return Response(200, body)


def _entity(request: Request, item: Mapping[str, Any], context: str) -> Response:
    body = {"@odata.context": f"{request.base_url}{PREFIX}/$metadata#{context}", **_select(item, request)}

    return Response(200, body)


def _patch_fields(request: Request) -> dict:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "BadRequest", "The request body must be a JSON object.")

    return {key: value for key, value in body.items() if not key.startswith("@odata.")}


def _find(items: list[dict], key: str, kind: str) -> dict:
    for item in items:
        if item.get("id") == key:
            return item

    raise HttpError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its queried reference-property objects are not present. ({kind})")


def _user(state: M365State, key: str) -> dict:
    user = state.find_user(key)
    if user is None:
        raise HttpError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.")

    return user


def _members(state: M365State, members: list[dict]) -> list[dict]:
    """Expand member references to directory objects: the full user or group where known."""
    expanded = []
    for member in members:
        known = state.find_user(member["id"]) if member["@odata.type"] == "#microsoft.graph.user" else None
        if known is None:
            known = next((group for group in state.groups if group.get("id") == member["id"]), None)
        expanded.append({"@odata.type": member["@odata.type"], **(known or {}), "id": member["id"]})

    return expanded


def register(router: Router, ctx: SimulatorContext) -> None:
    """Add every Graph route to ``router``."""

    def route(method: str, template: str, name: str):
        def decorate(handler):
            router.add(method, PREFIX + template, f"graph.{name}", handler)
            return handler

        return decorate

    @route("GET", "/organization", "organization.list")
    def organization(request: Request) -> Response:
        state = _tenant(ctx)
        verified = [{"name": domain["id"], "isDefault": domain["isDefault"], "isInitial": domain["isInitial"], "type": "Managed", "capabilities": "Email, OfficeCommunicationsOnline"} for domain in state.domains]
        organization = {"id": state.tenant_id, "displayName": state.display_name, "verifiedDomains": verified}

        return _page(request, ctx, [organization], "organization")

    @route("GET", "/users", "users.list")
    def users_list(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.users")
        with ctx.states.lock:
            return _page(request, ctx, state.users, "users")

    @route("GET", "/users/{user}", "users.get")
    def users_get(request: Request) -> Response:
        state = _tenant(ctx)
        with ctx.states.lock:
            return _entity(request, _user(state, request.params["user"]), "users/$entity")

    @route("PATCH", "/users/{user}", "users.update")
    def users_update(request: Request) -> Response:
        state = _tenant(ctx)
        fields = _patch_fields(request)
        with ctx.states.lock:
            _user(state, request.params["user"]).update(fields)

        return Response(204)

    @route("GET", "/users/{user}/memberOf", "users.memberOf.list")
    def user_member_of(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.groups")
        with ctx.states.lock:
            user_id = _user(state, request.params["user"])["id"]
            groups = [{"@odata.type": "#microsoft.graph.group", **group} for group in state.groups if any(member["id"] == user_id for member in state.group_members.get(group["id"], []))]
            return _page(request, ctx, groups, "directoryObjects")

    @route("POST", "/users/{user}/revokeSignInSessions", "users.revokeSignInSessions")
    def users_revoke(request: Request) -> Response:
        state = _tenant(ctx)
        with ctx.states.lock:
            _user(state, request.params["user"])["signInSessionsValidFromDateTime"] = ctx.timestamp()
        body = {"@odata.context": f"{request.base_url}{PREFIX}/$metadata#Edm.Boolean", "value": True}

        return Response(200, body)

    @route("GET", "/groups", "groups.list")
    def groups_list(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.groups")
        with ctx.states.lock:
            return _page(request, ctx, state.groups, "groups")

    @route("GET", "/groups/{group}", "groups.get")
    def groups_get(request: Request) -> Response:
        state = _tenant(ctx)
        with ctx.states.lock:
            return _entity(request, _find(state.groups, request.params["group"], "group"), "groups/$entity")

    @route("GET", "/groups/{group}/members", "groups.members.list")
    def group_members(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.groups")
        with ctx.states.lock:
            _find(state.groups, request.params["group"], "group")
            members = _members(state, state.group_members.get(request.params["group"], []))
            return _page(request, ctx, members, "directoryObjects")

    @route("POST", "/groups/{group}/members/$ref", "groups.members.add")
    def group_member_add(request: Request) -> Response:
        state = _tenant(ctx)
        body = request.json()
        reference = body.get("@odata.id") if isinstance(body, dict) else None
        if not isinstance(reference, str) or "/" not in reference:
            raise HttpError(400, "BadRequest", "Invalid object identifier in @odata.id.")
        member_id = reference.rstrip("/").rsplit("/", 1)[1]
        with ctx.states.lock:
            _find(state.groups, request.params["group"], "group")
            object_type = state.object_type(member_id)
            if object_type is None:
                raise HttpError(404, "Request_ResourceNotFound", f"Resource '{member_id}' does not exist or one of its queried reference-property objects are not present.")
            members = state.group_members.setdefault(request.params["group"], [])
            if any(member["id"] == member_id for member in members):
                raise HttpError(400, "Request_BadRequest", "One or more added object references already exist for the following modified properties: 'members'.")
            members.append({"@odata.type": object_type, "id": member_id})

        return Response(204)

    @route("DELETE", "/groups/{group}/members/{member}/$ref", "groups.members.remove")
    def group_member_remove(request: Request) -> Response:
        state = _tenant(ctx)
        with ctx.states.lock:
            _find(state.groups, request.params["group"], "group")
            members = state.group_members.setdefault(request.params["group"], [])
            kept = [member for member in members if member["id"] != request.params["member"]]
            if len(kept) == len(members):
                raise HttpError(404, "Request_ResourceNotFound", f"Resource '{request.params['member']}' does not exist or one of its queried reference-property objects are not present.")
            members[:] = kept

        return Response(204)

    @route("GET", "/directoryRoles", "directoryRoles.list")
    def roles_list(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.directoryRoles")
        with ctx.states.lock:
            return _page(request, ctx, state.roles, "directoryRoles")

    @route("GET", "/directoryRoles/{role}/members", "directoryRoles.members.list")
    def role_members(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.directoryRoles")
        with ctx.states.lock:
            _find(state.roles, request.params["role"], "directoryRole")
            members = _members(state, state.role_members.get(request.params["role"], []))
            return _page(request, ctx, members, "directoryObjects")

    @route("GET", "/roleManagement/directory/roleEligibilitySchedules", "roleEligibilitySchedules.list")
    def eligibility(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.directoryRoles")
        if not ctx.pim_available:
            message = "The tenant needs an AAD Premium 2 license."
            raise HttpError(403, "AadPremiumLicenseRequired", message)
        expand = "principal" in (request.query.get("$expand") or "")
        schedules = []
        with ctx.states.lock:
            for role in state.roles:
                for member in state.role_eligible.get(role["id"], []):
                    schedule = {
                        "id": f"{role['id']}_{member['id']}",
                        "principalId": member["id"],
                        "roleDefinitionId": role.get("roleTemplateId"),
                        "directoryScopeId": "/",
                        "memberType": "Direct",
                        "status": "Provisioned",
                    }
                    if expand:
                        schedule["principal"] = dict(member)
                    schedules.append(schedule)

        return _page(request, ctx, schedules, "roleManagement/directory/roleEligibilitySchedules")

    @route("GET", "/identity/conditionalAccess/policies", "conditionalAccess.policies.list")
    def ca_list(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.conditionalAccessPolicies")
        with ctx.states.lock:
            return _page(request, ctx, state.ca_policies, "identity/conditionalAccess/policies")

    @route("GET", "/identity/conditionalAccess/policies/{policy}", "conditionalAccess.policies.get")
    def ca_get(request: Request) -> Response:
        state = _tenant(ctx)
        with ctx.states.lock:
            policy = _find(state.ca_policies, request.params["policy"], "conditionalAccessPolicy")
            return _entity(request, policy, "identity/conditionalAccess/policies/$entity")

    @route("POST", "/identity/conditionalAccess/policies", "conditionalAccess.policies.create")
    def ca_create(request: Request) -> Response:
        state = _tenant(ctx)
        policy = {"id": str(uuid.uuid4()), **_patch_fields(request), "createdDateTime": ctx.timestamp(), "modifiedDateTime": None}
        with ctx.states.lock:
            state.ca_policies.append(policy)

        return Response(201, {"@odata.context": f"{request.base_url}{PREFIX}/$metadata#identity/conditionalAccess/policies/$entity", **policy})

    @route("PATCH", "/identity/conditionalAccess/policies/{policy}", "conditionalAccess.policies.update")
    def ca_update(request: Request) -> Response:
        state = _tenant(ctx)
        fields = _patch_fields(request)
        with ctx.states.lock:
            policy = _find(state.ca_policies, request.params["policy"], "conditionalAccessPolicy")
            policy.update(fields)
            policy["modifiedDateTime"] = ctx.timestamp()

        return Response(204)

    @route("GET", "/policies/identitySecurityDefaultsEnforcementPolicy", "securityDefaults.get")
    def security_defaults(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.securityDefaults")
        with ctx.states.lock:
            return _entity(request, state.security_defaults, "policies/identitySecurityDefaultsEnforcementPolicy/$entity")

    @route("PATCH", "/policies/identitySecurityDefaultsEnforcementPolicy", "securityDefaults.update")
    def security_defaults_update(request: Request) -> Response:
        state = _tenant(ctx)
        fields = _patch_fields(request)
        with ctx.states.lock:
            state.security_defaults.update(fields)

        return Response(204)

    @route("GET", "/policies/authenticationMethodsPolicy", "authenticationMethodsPolicy.get")
    def auth_methods(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.authenticationMethodsPolicy")
        with ctx.states.lock:
            return _entity(request, state.auth_methods_policy, "policies/authenticationMethodsPolicy/$entity")

    @route("GET", "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{method}", "authenticationMethodConfigurations.get")
    def auth_method_get(request: Request) -> Response:
        state = _tenant(ctx)
        with ctx.states.lock:
            configurations = state.auth_methods_policy.get("authenticationMethodConfigurations") or []
            configuration = _find(configurations, request.params["method"], "authenticationMethodConfiguration")
            return _entity(request, configuration, "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity")

    @route("PATCH", "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{method}", "authenticationMethodConfigurations.update")
    def auth_method_update(request: Request) -> Response:
        state = _tenant(ctx)
        fields = _patch_fields(request)
        with ctx.states.lock:
            configurations = state.auth_methods_policy.get("authenticationMethodConfigurations") or []
            _find(configurations, request.params["method"], "authenticationMethodConfiguration").update(fields)

        return Response(204)

    @route("GET", "/reports/authenticationMethods/userRegistrationDetails", "userRegistrationDetails.list")
    def registration(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.userRegistrationDetails")
        with ctx.states.lock:
            return _page(request, ctx, state.registration_details, "reports/authenticationMethods/userRegistrationDetails")

    def _rules(state: M365State, request: Request) -> list[dict]:
        if request.params["folder"].lower() != "inbox":
            raise HttpError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        user = _user(state, request.params["user"])
        if not state.has_mailbox(user):
            raise HttpError(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")

        return state.inbox_rules.setdefault(user["id"], [])

    @route("GET", "/users/{user}/mailFolders/{folder}/messageRules", "messageRules.list")
    def rules_list(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.inboxRules")
        with ctx_mailbox(request):
            with ctx.states.lock:
                rules = list(_rules(state, request))
                return _page(request, ctx, rules, f"users('{request.params['user']}')/mailFolders('inbox')/messageRules")

    @route("GET", "/users/{user}/mailFolders/{folder}/messageRules/{rule}", "messageRules.get")
    def rules_get(request: Request) -> Response:
        state = _tenant(ctx)
        with ctx_mailbox(request):
            with ctx.states.lock:
                rule = _find(_rules(state, request), request.params["rule"], "messageRule")
                return _entity(request, rule, "messageRules/$entity")

    @route("PATCH", "/users/{user}/mailFolders/{folder}/messageRules/{rule}", "messageRules.update")
    def rules_update(request: Request) -> Response:
        state = _tenant(ctx)
        fields = _patch_fields(request)
        with ctx_mailbox(request):
            with ctx.states.lock:
                rule = _find(_rules(state, request), request.params["rule"], "messageRule")
                rule.update(fields)
                return _entity(request, rule, "messageRules/$entity")

    @route("DELETE", "/users/{user}/mailFolders/{folder}/messageRules/{rule}", "messageRules.delete")
    def rules_delete(request: Request) -> Response:
        state = _tenant(ctx)
        with ctx_mailbox(request):
            with ctx.states.lock:
                rules = _rules(state, request)
                rules.remove(_find(rules, request.params["rule"], "messageRule"))

        return Response(204)

    @route("GET", "/domains", "domains.list")
    def domains_list(request: Request) -> Response:
        state = _tenant(ctx)
        _seeded(state, "m365.acceptedDomains")
        with ctx.states.lock:
            return _page(request, ctx, state.domains, "domains")

    def ctx_mailbox(request: Request):
        return ctx.concurrency.track(f"mailbox:{request.params['user'].lower()}")
