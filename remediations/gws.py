"""Remediation actions for Google Workspace (Admin SDK Directory API and Gmail API).

Scopes are the ones the Directory v1 and Gmail v1 discovery documents list for
each write method: ``users.signOut`` and ``tokens.delete`` take
``admin.directory.user.security``, ``users.update`` takes
``admin.directory.user`` and ``users.settings.updateAutoForwarding`` takes
``gmail.settings.sharing`` (through domain-wide delegation, impersonating the
user).
"""

from __future__ import annotations

from remediations.registry import Action, ArgumentSpec, registry

__all__ = [
    "DisableAutoForwarding",
    "RevokeTokens",
    "SignOutUser",
    "SuspendUser",
]

_USER = ArgumentSpec("string", description="Primary email address or unique id of the Workspace user.")

_USER_SECURITY_SCOPE = "https://www.googleapis.com/auth/admin.directory.user.security"


@registry.register
class SignOutUser(Action):
    name = "gws.sign_out_user"
    provider = "gws"
    description = "Sign a user out of every web and device session and reset their sign-in cookies."
    reversible = False
    arguments = {"user": _USER}
    target = "user"
    target_type = "user"
    permissions = (_USER_SECURITY_SCOPE,)


@registry.register
class RevokeTokens(Action):
    name = "gws.revoke_tokens"
    provider = "gws"
    description = "Revoke the OAuth tokens a user has granted to third-party applications."
    # A revoked grant comes back only when the user consents again.
    reversible = False
    arguments = {
        "user": _USER,
        "client_id": ArgumentSpec(
            "string",
            required=False,
            description=(
                "OAuth client id of the one application to revoke. Without it, every token of the user is revoked."
            ),
        ),
    }
    target = "user"
    target_type = "user"
    permissions = (_USER_SECURITY_SCOPE,)


@registry.register
class DisableAutoForwarding(Action):
    name = "gws.disable_auto_forwarding"
    provider = "gws"
    description = "Turn off Gmail automatic forwarding for a user's mailbox."
    reversible = True
    arguments = {"user": _USER}
    target = "user"
    target_type = "autoForwarding"
    permissions = ("https://www.googleapis.com/auth/gmail.settings.sharing",)


@registry.register
class SuspendUser(Action):
    name = "gws.suspend_user"
    provider = "gws"
    description = "Suspend a user so they can no longer sign in, keeping their data."
    reversible = True
    arguments = {"user": _USER}
    target = "user"
    target_type = "user"
    permissions = ("https://www.googleapis.com/auth/admin.directory.user",)
