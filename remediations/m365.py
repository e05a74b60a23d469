"""Remediation actions for Microsoft 365 (Microsoft Graph v1.0).

Permissions are the least-privileged Graph application permissions that
Microsoft's v1.0 API reference lists for each write: add or remove a group
member, PATCH a user's ``accountEnabled``, POST ``revokeSignInSessions``, PATCH
an inbox message rule, PATCH the authentication methods policy. Reading a
target before and after the write needs the matching read permissions as well,
which the collector already holds.

Requests are built with msgraph-sdk's request builders and models, so a PATCH
body holds only the field the action manages (the SDK serialises only fields
that are set). ``client`` is an `engine.apply.sessions.GraphSession`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration

from engine.errors import UserError
from remediations.registry import ArgumentSpec, StateAction, registry

__all__ = [
    "DisableInboxRule",
    "DisableUser",
    "DisableWeakAuthMethods",
    "RequireMfa",
    "RevokeSessions",
]

_USER = ArgumentSpec("string", description="Object id of the Entra ID user.")

# Graph caps a members page at 999 objects.
_MEMBERS_PAGE = 999

_WEAK_METHODS = ("Sms", "Voice", "Email")


def _find(items: Any, **desired: Any) -> dict[str, Any] | None:
    for item in items or []:
        if isinstance(item, Mapping) and all(item.get(key) == value for key, value in desired.items()):
            return dict(item)

    return None


def _user_request(client: Any, user: str, fields: tuple[str, ...]) -> Any:
    from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

    parameters = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=list(fields))

    return client.sdk.users.by_user_id(user).to_get_request_information(RequestConfiguration(query_parameters=parameters))


def _request_line(method: str, path: str) -> str:
    return f"{method} {path}"


class _GraphAction(StateAction):
    """Steps shared by the Graph actions: resolving the accounts an action touches."""

    provider = "m365"

    def principals(self, client: Any, arguments: Mapping[str, object]) -> frozenset[str]:
        """Return the user's object id, user principal name and mail address, in lower case."""
        from engine.collect.sections import RequestFailed

        user = arguments.get("user")
        if not isinstance(user, str) or not user:
            return frozenset()

        key = ("m365.principal", user)
        if key not in client.cache:
            try:
                found = client.entity(_user_request(client, user, ("id", "userPrincipalName", "mail")))
            except RequestFailed as error:
                if error.status != 404:
                    raise
                found = {}
            names = {user, found.get("id"), found.get("userPrincipalName"), found.get("mail")}
            client.cache[key] = frozenset(str(name).lower() for name in names if name)

        return client.cache[key]


@registry.register
class RequireMfa(_GraphAction):
    name = "m365.require_mfa"
    description = (
        "Bring a user under a conditional access policy that requires MFA, by adding the user "
        "to the group the policy includes or by removing the user from a group the policy excludes."
    )
    reversible = True
    arguments = {
        "user": _USER,
        "group": ArgumentSpec(
            "string",
            required=False,
            description=(
                "Object id of the MFA-enforcement group to add the user to. Without it, the tenant's "
                "mfa_group param names that group, or else its mfa_exclusion_group param names the "
                "group to remove the user from."
            ),
        ),
    }
    target = "user"
    target_type = "user"
    # Role-assignable groups would also need RoleManagement.ReadWrite.Directory;
    # an MFA-enforcement group is an ordinary security group.
    permissions = ("GroupMember.ReadWrite.All",)

    # The managed field is "memberOf": the groups that some conditional access
    # policy includes or excludes and that the user is a direct member of.

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        policies = snapshot.data("m365.conditionalAccessPolicies")
        groups = snapshot.data("m365.groups")
        include, exclude = _policy_groups(policies, enabled_only=False)
        referenced = include | exclude
        user = arguments["user"]
        member_of = []
        for group in groups or []:
            members = group.get("members") or []
            if group.get("id") in referenced and any(member.get("id") == user for member in members):
                member_of.append(group["id"])

        return {"memberOf": sorted(member_of)}

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        from msgraph.generated.groups.item.members.members_request_builder import MembersRequestBuilder

        from engine.collect.sections import RequestFailed

        include, exclude, _, _ = self._live_policy_groups(client)
        parameters = MembersRequestBuilder.MembersRequestBuilderGetQueryParameters(select=["id"], top=_MEMBERS_PAGE)
        config = RequestConfiguration(query_parameters=parameters)
        user = arguments["user"]
        member_of = []
        # NOTE: one members listing per referenced group and action. GET
        # /users/{id}/memberOf would take one request per user, but the
        # simulator does not serve it yet.
        for group in sorted(include | exclude):
            try:
                members = client.collection(client.sdk.groups.by_group_id(group).members.to_get_request_information(config))
            except RequestFailed as error:
                # A policy can still name a deleted group, which has no members.
                if error.status != 404:
                    raise
                continue
            if any(member.get("id") == user for member in members):
                member_of.append(group)

        return {"memberOf": member_of}

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        _, _, enabled_include, enabled_exclude = self._live_policy_groups(client)
        member_of = set(state.get("memberOf") or [])
        settings = client.settings
        group = arguments.get("group") or settings.mfa_group
        if group:
            if group not in enabled_include:
                message = (
                    f"m365.require_mfa: group {group} (from {'the action' if arguments.get('group') else 'param mfa_group'}) "
                    f"is not included by any enabled conditional access policy of tenant {settings.tenant!r}, so adding "
                    "a user to it requires nothing; name the group that your MFA policy includes"
                )
                raise UserError(message)
            return {"memberOf": sorted(member_of | {group})}

        if settings.mfa_exclusion_group:
            group = settings.mfa_exclusion_group
            if group not in enabled_exclude:
                message = (
                    f"m365.require_mfa: group {group} (from param mfa_exclusion_group) is not excluded by any "
                    f"enabled conditional access policy of tenant {settings.tenant!r}; name the group your MFA policy excludes"
                )
                raise UserError(message)
            return {"memberOf": sorted(member_of - {group})}

        message = (
            f"m365.require_mfa needs to know how tenant {settings.tenant!r} enforces MFA: set param mfa_group "
            "(the group an MFA conditional access policy includes) or mfa_exclusion_group (the group it "
            "excludes) for this tenant in the inventory"
        )
        raise UserError(message)

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        from msgraph.generated.models.reference_create import ReferenceCreate

        user = arguments["user"]
        have = set(current.get("memberOf") or [])
        want = set(desired.get("memberOf") or [])
        requests = []
        for group in sorted(want - have):
            body = ReferenceCreate(odata_id=f"{client.base_url}/directoryObjects/{user}")
            client.send(client.sdk.groups.by_group_id(group).members.ref.to_post_request_information(body))
            requests.append(_request_line("POST", f"/groups/{group}/members/$ref"))
        for group in sorted(have - want):
            client.send(client.sdk.groups.by_group_id(group).members.by_directory_object_id(user).ref.to_delete_request_information())
            requests.append(_request_line("DELETE", f"/groups/{group}/members/{user}/$ref"))

        return {"requests": requests}

    def _live_policy_groups(self, client: Any) -> tuple[set[str], set[str], set[str], set[str]]:
        """Return the groups all policies include and exclude, then those of enabled policies; read once per run."""
        key = "m365.policy_groups"
        if key not in client.cache:
            policies = client.collection(client.sdk.identity.conditional_access.policies.to_get_request_information())
            client.cache[key] = (*_policy_groups(policies, enabled_only=False), *_policy_groups(policies, enabled_only=True))

        return client.cache[key]


def _policy_groups(policies: Any, enabled_only: bool) -> tuple[set[str], set[str]]:
    include: set[str] = set()
    exclude: set[str] = set()
    for policy in policies or []:
        if enabled_only and policy.get("state") != "enabled":
            continue
        users = (policy.get("conditions") or {}).get("users") or {}
        include.update(users.get("includeGroups") or [])
        exclude.update(users.get("excludeGroups") or [])

    return include, exclude


@registry.register
class RevokeSessions(_GraphAction):
    name = "m365.revoke_sessions"
    description = "Invalidate a user's refresh tokens and browser session cookies so every client must sign in again."
    reversible = False
    arguments = {"user": _USER}
    target = "user"
    target_type = "user"
    permissions = ("User.RevokeSessions.All",)
    # Graph moves signInSessionsValidFromDateTime to the time of the revocation;
    # snapshots do not collect it, so it is read for verification only.
    volatile_fields = ("signInSessionsValidFromDateTime",)

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        return {}

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        user = client.entity(_user_request(client, arguments["user"], ("id", "signInSessionsValidFromDateTime")))

        return {"signInSessionsValidFromDateTime": user.get("signInSessionsValidFromDateTime")}

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        return {"signInSessionsValidFromDateTime": "(time of the revocation)"}

    def is_applied(self, before: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> bool:
        moved = current.get("signInSessionsValidFromDateTime")

        return moved is not None and moved != before.get("signInSessionsValidFromDateTime")

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        user = arguments["user"]
        client.send(client.sdk.users.by_user_id(user).revoke_sign_in_sessions.to_post_request_information())

        return {"requests": [_request_line("POST", f"/users/{user}/revokeSignInSessions")]}


@registry.register
class DisableInboxRule(_GraphAction):
    name = "m365.disable_inbox_rule"
    description = "Turn off an inbox message rule by setting isEnabled to false, keeping the rule for a later undo."
    reversible = True
    arguments = {
        "user": ArgumentSpec("string", description="Object id of the user who owns the mailbox."),
        "rule": ArgumentSpec("string", description="Id of the message rule in the user's inbox."),
    }
    target = "rule"
    target_type = "inboxRule"
    permissions = ("MailboxSettings.ReadWrite",)

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        rule = _find(snapshot.data("m365.inboxRules"), userId=arguments["user"], id=arguments["rule"]) or {}

        return {"isEnabled": rule.get("isEnabled")}

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        rule = client.entity(self._rule(client, arguments).to_get_request_information())

        return {"isEnabled": rule.get("isEnabled")}

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        return {"isEnabled": False}

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        from msgraph.generated.models.message_rule import MessageRule

        enabled = desired.get("isEnabled")
        if enabled is None or enabled == current.get("isEnabled"):
            return {"requests": []}

        client.send(self._rule(client, arguments).to_patch_request_information(MessageRule(is_enabled=enabled)))
        path = f"/users/{arguments['user']}/mailFolders/inbox/messageRules/{arguments['rule']}"

        return {"requests": [_request_line("PATCH", path)]}

    @staticmethod
    def _rule(client: Any, arguments: Mapping[str, object]) -> Any:
        mailbox = client.sdk.users.by_user_id(arguments["user"]).mail_folders.by_mail_folder_id("inbox")

        return mailbox.message_rules.by_message_rule_id(arguments["rule"])


@registry.register
class DisableUser(_GraphAction):
    name = "m365.disable_user"
    description = "Block a user from signing in by setting accountEnabled to false."
    reversible = True
    arguments = {"user": _USER}
    target = "user"
    target_type = "user"
    # Graph documents this pair as the least-privileged way to change accountEnabled.
    permissions = ("User.EnableDisableAccount.All", "User.Read.All")

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        user = _find(snapshot.data("m365.users"), id=arguments["user"]) or {}

        return {"accountEnabled": user.get("accountEnabled")}

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        user = client.entity(_user_request(client, arguments["user"], ("id", "accountEnabled")))

        return {"accountEnabled": user.get("accountEnabled")}

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        return {"accountEnabled": False}

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        from msgraph.generated.models.user import User

        enabled = desired.get("accountEnabled")
        if enabled is None or enabled == current.get("accountEnabled"):
            return {"requests": []}

        user = arguments["user"]
        client.send(client.sdk.users.by_user_id(user).to_patch_request_information(User(account_enabled=enabled)))

        return {"requests": [_request_line("PATCH", f"/users/{user}")]}


@registry.register
class DisableWeakAuthMethods(_GraphAction):
    name = "m365.disable_weak_auth_methods"
    description = (
        "Disable phishable authentication methods (SMS, voice call, email one-time passcode) "
        "in the tenant's authentication methods policy."
    )
    reversible = True
    arguments = {
        "methods": ArgumentSpec(
            "list<string>",
            required=False,
            description="Ids of the authentication method configurations to disable.",
            default=_WEAK_METHODS,
            choices=_WEAK_METHODS,
        ),
    }
    # The policy is a tenant-wide singleton whose Graph id is "authenticationMethodsPolicy".
    target = None
    target_type = "authenticationMethodsPolicy"
    permissions = ("Policy.ReadWrite.AuthenticationMethod",)

    # The managed fields are {method id: {"state": ...}} for the named methods only.

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        policy = snapshot.data("m365.authenticationMethodsPolicy") or {}

        return _method_states(policy, _methods(arguments))

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        policy = client.entity(client.sdk.policies.authentication_methods_policy.to_get_request_information())

        return _method_states(policy, _methods(arguments))

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        # A method the policy does not list stays unlisted: there is nothing to disable.
        return {method: {"state": "disabled"} if (state.get(method) or {}).get("state") is not None else {"state": None} for method in _methods(arguments)}

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        from msgraph.generated.models.authentication_method_state import AuthenticationMethodState

        configurations = client.sdk.policies.authentication_methods_policy.authentication_method_configurations
        requests = []
        for method in _methods(arguments):
            state = (desired.get(method) or {}).get("state")
            if state is None or state == (current.get(method) or {}).get("state"):
                continue
            body = _configuration_model(method)(state=AuthenticationMethodState(state))
            client.send(configurations.by_authentication_method_configuration_id(method).to_patch_request_information(body))
            requests.append(_request_line("PATCH", f"/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{method}"))

        return {"requests": requests}


def _methods(arguments: Mapping[str, object]) -> list[str]:
    methods = arguments.get("methods") or _WEAK_METHODS

    return sorted(set(methods))


def _method_states(policy: Mapping[str, Any], methods: list[str]) -> dict[str, object]:
    configurations = policy.get("authenticationMethodConfigurations") or []
    states = {}
    for method in methods:
        configuration = _find(configurations, id=method) or {}
        states[method] = {"state": configuration.get("state")}

    return states


def _configuration_model(method: str) -> type:
    """Return the SDK model whose serialisation carries the configuration's @odata.type, which Graph requires."""
    from msgraph.generated.models.email_authentication_method_configuration import EmailAuthenticationMethodConfiguration
    from msgraph.generated.models.sms_authentication_method_configuration import SmsAuthenticationMethodConfiguration
    from msgraph.generated.models.voice_authentication_method_configuration import VoiceAuthenticationMethodConfiguration

    models = {
        "Sms": SmsAuthenticationMethodConfiguration,
        "Voice": VoiceAuthenticationMethodConfiguration,
        "Email": EmailAuthenticationMethodConfiguration,
    }

    return models[method]
