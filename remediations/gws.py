"""Remediation actions for Google Workspace (Admin SDK Directory API and Gmail API).

Scopes are the ones the Directory v1 and Gmail v1 discovery documents list for
each write method: ``users.signOut`` and ``tokens.delete`` take
``admin.directory.user.security``, ``users.patch`` takes
``admin.directory.user`` and ``users.settings.updateAutoForwarding`` takes
``gmail.settings.sharing`` (through domain-wide delegation, impersonating the
user).

``client`` is an `engine.apply.sessions.GoogleSession`: Directory requests run
as the inventory's admin, Gmail requests as the mailbox owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remediations.registry import ArgumentSpec, StateAction, registry

__all__ = [
    "DisableAutoForwarding",
    "RevokeTokens",
    "SignOutUser",
    "SuspendUser",
]

_USER = ArgumentSpec("string", description="Primary email address or unique id of the Workspace user.")

_USER_SECURITY_SCOPE = "https://www.googleapis.com/auth/admin.directory.user.security"

# Fields of Gmail's AutoForwarding resource; updateAutoForwarding replaces all three.
_FORWARDING_FIELDS = ("enabled", "emailAddress", "disposition")


def _same_user(entry: Mapping[str, Any], user: str, email_key: str, id_key: str) -> bool:
    email = entry.get(email_key)
    if isinstance(email, str) and email.lower() == user.lower():
        return True

    return entry.get(id_key) == user


def _snapshot_email(snapshot: Any, user: str) -> str:
    """Return the primary email of ``user`` (an email or an id) as the snapshot's user list has it."""
    if "@" in user:
        return user.lower()
    for entry in snapshot.data("gws.users") or []:
        if entry.get("id") == user:
            return str(entry.get("primaryEmail", "")).lower()

    return user.lower()


class _GoogleAction(StateAction):
    """Steps shared by the Google actions: resolving a user's id, primary email and aliases."""

    provider = "gws"

    def principals(self, client: Any, arguments: Mapping[str, object]) -> frozenset[str]:
        identity = _identity(client, str(arguments["user"]))
        names = {str(arguments["user"]), identity.get("id"), identity.get("primaryEmail"), *(identity.get("aliases") or [])}

        return frozenset(str(name).lower() for name in names if name)


def _identity(client: Any, user: str) -> dict[str, Any]:
    """Return the id, primary email and aliases of a user, read once per run; {} when there is no such user."""
    from engine.collect.sections import RequestFailed

    key = ("gws.identity", user.lower())
    if key not in client.cache:
        try:
            found = client.execute(client.directory.users().get(userKey=user))
        except RequestFailed as error:
            if error.status != 404:
                raise
            found = {}
        client.cache[key] = {name: found.get(name) for name in ("id", "primaryEmail", "aliases")}

    return client.cache[key]


def _primary_email(client: Any, user: str) -> str:
    """Return the user's primary email, which Gmail delegation needs as its subject."""
    from engine.collect.sections import RequestFailed

    email = _identity(client, user).get("primaryEmail")
    if not email:
        raise RequestFailed(404, "notFound", f"user {user} does not exist", "/admin/directory/v1/users")

    return str(email).lower()


@registry.register
class SignOutUser(_GoogleAction):
    name = "gws.sign_out_user"
    description = "Sign a user out of every web and device session and reset their sign-in cookies."
    reversible = False
    arguments = {"user": _USER}
    target = "user"
    target_type = "user"
    permissions = (_USER_SECURITY_SCOPE,)
    # The Directory API shows no session state, so nothing can confirm the sign-out.
    verifiable = False

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        return {}

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        # Reading the user fails with 404 when it no longer exists.
        client.execute(client.directory.users().get(userKey=arguments["user"]))

        return {}

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        return {}

    def is_applied(self, before: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> bool:
        # Never provable; an interrupted sign-out is sent again, which is harmless.
        return False

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        user = arguments["user"]
        client.execute(client.directory.users().signOut(userKey=user))

        return {"requests": [f"POST /admin/directory/v1/users/{user}/signOut"]}


@registry.register
class RevokeTokens(_GoogleAction):
    name = "gws.revoke_tokens"
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

    # The managed field is "clientIds": the applications holding a grant that
    # the action revokes (all of them, or only ``client_id``).

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        user = str(arguments["user"])
        grants = [entry for entry in snapshot.data("gws.tokens") or [] if _same_user(entry, user, "userEmail", "userKey")]

        return {"clientIds": _granted([entry.get("clientId") for entry in grants], arguments)}

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        response = client.execute(client.directory.tokens().list(userKey=arguments["user"]))
        client_ids = [item.get("clientId") for item in response.get("items") or []]

        return {"clientIds": _granted(client_ids, arguments)}

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        return {"clientIds": []}

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        user = arguments["user"]
        keep = set(desired.get("clientIds") or [])
        requests = []
        for client_id in sorted(set(current.get("clientIds") or []) - keep):
            client.execute(client.directory.tokens().delete(userKey=user, clientId=client_id))
            requests.append(f"DELETE /admin/directory/v1/users/{user}/tokens/{client_id}")

        return {"requests": requests}


def _granted(client_ids: list[Any], arguments: Mapping[str, object]) -> list[str]:
    only = arguments.get("client_id")
    granted = {str(client_id) for client_id in client_ids if client_id}
    if only:
        granted &= {str(only)}

    return sorted(granted)


@registry.register
class DisableAutoForwarding(_GoogleAction):
    name = "gws.disable_auto_forwarding"
    description = "Turn off Gmail automatic forwarding for a user's mailbox."
    reversible = True
    arguments = {"user": _USER}
    target = "user"
    target_type = "autoForwarding"
    permissions = ("https://www.googleapis.com/auth/gmail.settings.sharing",)

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        email = _snapshot_email(snapshot, str(arguments["user"]))
        entry = next((item for item in snapshot.data("gws.autoForwarding") or [] if str(item.get("userEmail", "")).lower() == email), {})

        return {field: entry.get(field) for field in _FORWARDING_FIELDS}

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        email = _primary_email(client, str(arguments["user"]))
        settings = client.gmail.users().settings()
        setting = client.execute(settings.getAutoForwarding(userId=email), client.mailbox_credentials(email))

        return {field: setting.get(field) for field in _FORWARDING_FIELDS}

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        return {"enabled": False, "emailAddress": None, "disposition": None}

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        from engine.apply.state import normalize_state

        if normalize_state(current) == normalize_state(desired):
            return {"requests": []}

        email = _primary_email(client, str(arguments["user"]))
        body = {field: desired[field] for field in _FORWARDING_FIELDS if desired.get(field) is not None}
        settings = client.gmail.users().settings()
        client.execute(settings.updateAutoForwarding(userId=email, body=body), client.mailbox_credentials(email))

        return {"requests": [f"PUT /gmail/v1/users/{email}/settings/autoForwarding"]}


@registry.register
class SuspendUser(_GoogleAction):
    name = "gws.suspend_user"
    description = "Suspend a user so they can no longer sign in, keeping their data."
    reversible = True
    arguments = {"user": _USER}
    target = "user"
    target_type = "user"
    permissions = ("https://www.googleapis.com/auth/admin.directory.user",)

    @classmethod
    def observe(cls, snapshot: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        user = str(arguments["user"])
        entry = next((item for item in snapshot.data("gws.users") or [] if _same_user(item, user, "primaryEmail", "id")), {})

        return {"suspended": entry.get("suspended")}

    def read_state(self, client: Any, arguments: Mapping[str, object]) -> dict[str, object]:
        user = client.execute(client.directory.users().get(userKey=arguments["user"]))

        return {"suspended": user.get("suspended")}

    def desired_state(self, client: Any, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        return {"suspended": True}

    def write_state(self, client: Any, arguments: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> dict[str, object]:
        suspended = desired.get("suspended")
        if suspended is None or suspended == current.get("suspended"):
            return {"requests": []}

        user = arguments["user"]
        # users.patch sends only this field; users.update would replace the whole user.
        client.execute(client.directory.users().patch(userKey=user, body={"suspended": suspended}))

        return {"requests": [f"PATCH /admin/directory/v1/users/{user}"]}
