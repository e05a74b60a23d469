"""Remediation actions for Microsoft 365 (Microsoft Graph v1.0).

Permissions are the least-privileged Graph application permissions that
Microsoft's v1.0 API reference lists for each write: add or remove a group
member, PATCH a user's ``accountEnabled``, POST ``revokeSignInSessions``, PATCH
an inbox message rule, PATCH the authentication methods policy. Reading a
target before and after the write needs the matching read permissions as well,
which the collector already holds.
"""

from __future__ import annotations

from remediations.registry import Action, ArgumentSpec, registry

__all__ = [
    "DisableInboxRule",
    "DisableUser",
    "DisableWeakAuthMethods",
    "RequireMfa",
    "RevokeSessions",
]

_USER = ArgumentSpec("string", description="Object id of the Entra ID user.")


@registry.register
class RequireMfa(Action):
    name = "m365.require_mfa"
    provider = "m365"
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
                "Object id of the MFA-enforcement group to add the user to. Without it, the user is removed "
                "from the groups that enabled conditional access policies requiring MFA exclude."
            ),
        ),
    }
    target = "user"
    target_type = "user"
    # Role-assignable groups would also need RoleManagement.ReadWrite.Directory;
    # an MFA-enforcement group is an ordinary security group.
    permissions = ("GroupMember.ReadWrite.All",)


@registry.register
class RevokeSessions(Action):
    name = "m365.revoke_sessions"
    provider = "m365"
    description = "Invalidate a user's refresh tokens and browser session cookies so every client must sign in again."
    reversible = False
    arguments = {"user": _USER}
    target = "user"
    target_type = "user"
    permissions = ("User.RevokeSessions.All",)


@registry.register
class DisableInboxRule(Action):
    name = "m365.disable_inbox_rule"
    provider = "m365"
    description = "Turn off an inbox message rule by setting isEnabled to false, keeping the rule for a later undo."
    reversible = True
    arguments = {
        "user": ArgumentSpec("string", description="Object id of the user who owns the mailbox."),
        "rule": ArgumentSpec("string", description="Id of the message rule in the user's inbox."),
    }
    target = "rule"
    target_type = "inboxRule"
    permissions = ("MailboxSettings.ReadWrite",)


@registry.register
class DisableUser(Action):
    name = "m365.disable_user"
    provider = "m365"
    description = "Block a user from signing in by setting accountEnabled to false."
    reversible = True
    arguments = {"user": _USER}
    target = "user"
    target_type = "user"
    # Graph documents this pair as the least-privileged way to change accountEnabled.
    permissions = ("User.EnableDisableAccount.All", "User.Read.All")


@registry.register
class DisableWeakAuthMethods(Action):
    name = "m365.disable_weak_auth_methods"
    provider = "m365"
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
            default=("Sms", "Voice", "Email"),
            choices=("Sms", "Voice", "Email"),
        ),
    }
    # The policy is a tenant-wide singleton whose Graph id is "authenticationMethodsPolicy".
    target = None
    target_type = "authenticationMethodsPolicy"
    permissions = ("Policy.ReadWrite.AuthenticationMethod",)
