"""Google routes of the simulator: OAuth token exchange, Admin SDK Directory, Gmail settings and Cloud Identity.

The token endpoint implements the JWT-bearer grant that service accounts use
for domain-wide delegation: it checks the assertion's RS256 signature against
keys the simulator issued, then hands out a token bound to the subject and
scopes. Directory and Cloud Identity routes need a token whose subject is a
super admin of the seed (any seeded user when the seed has no admin); Gmail
routes need a token whose subject is the mailbox owner. Every route checks the
token carries one of the OAuth scopes Google documents for the method.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from engine.simulator.context import Grant, SimulatorContext
from engine.simulator.routing import HttpError, Request, Response, Router, decode_cursor, encode_cursor
from engine.simulator.state import GwsState

__all__ = ["TOKEN_PATH", "register", "error_body", "create_service_account_key"]

TOKEN_PATH = "/token"

_GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_AUTH = "https://www.googleapis.com/auth/"
USER_READ = (f"{_AUTH}admin.directory.user", f"{_AUTH}admin.directory.user.readonly", f"{_AUTH}cloud-platform")
USER_WRITE = (f"{_AUTH}admin.directory.user",)
USER_SECURITY = (f"{_AUTH}admin.directory.user.security",)
CUSTOMER_READ = (f"{_AUTH}admin.directory.customer", f"{_AUTH}admin.directory.customer.readonly")
ORGUNIT_READ = (f"{_AUTH}admin.directory.orgunit", f"{_AUTH}admin.directory.orgunit.readonly")
POLICY_READ = (f"{_AUTH}cloud-identity.policies", f"{_AUTH}cloud-identity.policies.readonly")
GROUP_READ = (f"{_AUTH}cloud-identity.groups", f"{_AUTH}cloud-identity.groups.readonly", f"{_AUTH}cloud-platform")
GMAIL_READ = ("https://mail.google.com/", f"{_AUTH}gmail.modify", f"{_AUTH}gmail.readonly", f"{_AUTH}gmail.settings.basic")
GMAIL_BASIC = (f"{_AUTH}gmail.settings.basic",)
GMAIL_SHARING = (f"{_AUTH}gmail.settings.sharing",)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(status: int, message: str, reason: str) -> dict:
    domain = "usageLimits" if reason in ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded") else "global"
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


def create_service_account_key(client_email: str, token_uri: str) -> tuple[dict, bytes]:
    """Create a service-account key file body and the PEM public key the simulator verifies it with.

    The key file's ``private_key_id`` is the ``kid`` google-auth puts in each assertion's header.
    """
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = hashlib.sha1(public_pem).hexdigest()
    info = {
        "type": "service_account",
        "project_id": "safeguard-simulator",
        "private_key_id": key_id,
        "private_key": private_pem.decode(),
        "client_email": client_email,
        "client_id": str(int(key_id[:15], 16)),
        "auth_uri": token_uri,
        "token_uri": token_uri,
    }

    return info, public_pem


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _token_error(error: str, description: str) -> Response:
    return Response(400, {"error": error, "error_description": description})


def _exchange(request: Request, ctx: SimulatorContext) -> Response:
    """Handle the OAuth 2.0 JWT-bearer grant (RFC 7523) as Google's token endpoint does."""
    form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != _JWT_BEARER:
        return _token_error("unsupported_grant_type", "Invalid grant_type.")
    try:
        header_part, claims_part, signature_part = form.get("assertion", "").split(".")
        header = json.loads(_b64decode(header_part))
        claims = json.loads(_b64decode(claims_part))
        signature = _b64decode(signature_part)
    except ValueError:
        return _token_error("invalid_grant", "Invalid JWT: the assertion is malformed.")

    issuer = claims.get("iss")
    registered = ctx.service_account_keys.get(str(header.get("kid")))
    public_pem = registered[1] if registered is not None and registered[0] == issuer else None
    if header.get("alg") != "RS256" or public_pem is None:
        return _token_error("invalid_grant", "Invalid JWT Signature.")
    public_key = serialization.load_pem_public_key(public_pem)
    try:
        public_key.verify(signature, f"{header_part}.{claims_part}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return _token_error("invalid_grant", "Invalid JWT Signature.")

    now = ctx.clock().timestamp()
    # google-auth 2.x signs for Google's token endpoint whatever token_uri the key names.
    if claims.get("aud") not in (request.base_url + TOKEN_PATH, _GOOGLE_TOKEN_AUDIENCE):
        return _token_error("invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now - 300 or claims["exp"] - claims.get("iat", 0) > 3600:
        return _token_error("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
    scopes = frozenset(str(claims.get("scope", "")).split())
    if not scopes:
        return _token_error("invalid_scope", "Empty or missing scope not allowed.")

    subject = claims.get("sub")
    state = ctx.states.gws
    if subject is not None and (state is None or state.find_user(subject) is None):
        return _token_error("invalid_grant", "Invalid email or User ID")

    token = secrets.token_urlsafe(24)
    with ctx.lock:
        ctx.grants[token] = Grant(client_email=issuer, subject=subject.lower() if subject else None, scopes=scopes)

    return Response(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})


def _tenant(ctx: SimulatorContext) -> GwsState:
    if ctx.states.gws is None:
        raise HttpError(404, "notFound", "The simulator serves no Google Workspace customer.", reason="notFound")

    return ctx.states.gws


def _seeded(state: GwsState, section: str) -> None:
    if section not in state.seeded:
        message = f"The simulator's seed snapshot has no data for {section} (its status is not ok)."
        raise HttpError(501, "notImplemented", message, reason="notImplemented")


def _directory_item(item: Mapping[str, Any]) -> dict:
    """Serve a seeded Directory resource as seeded, plus an etag like the real API's."""
    body = copy.deepcopy(dict(item))
    body.setdefault("etag", '"' + hashlib.sha1(json.dumps(item, sort_keys=True).encode()).hexdigest() + '"')

    return body


def _page_bounds(request: Request, ctx: SimulatorContext, size_param: str, maximum: int) -> tuple[int, int]:
    text = request.query.get(size_param)
    try:
        size = int(text) if text is not None else ctx.page_size
    except ValueError:
        raise HttpError(400, "invalid", f"Invalid value for {size_param}: {text}", reason="invalid") from None
    if not 1 <= size <= maximum:
        raise HttpError(400, "invalid", f"Invalid value for {size_param}: {size}", reason="invalid")
    offset = int(decode_cursor(request.query["pageToken"]).get("offset", 0)) if request.query.get("pageToken") else 0

    return offset, min(size, ctx.page_size)


def _user(state: GwsState, key: str) -> dict:
    user = state.find_user(key)
    if user is None:
        raise HttpError(404, "notFound", "Resource Not Found: userKey", reason="notFound")

    return user


def _mailbox_email(state: GwsState, request: Request, grant: Grant) -> str:
    key = request.params["user"]
    email = grant.subject if key == "me" else key.lower()
    user = state.find_user(email or "")
    if user is None or not email:
        raise HttpError(404, "notFound", "Requested entity was not found.", reason="notFound")
    email = str(user["primaryEmail"]).lower()
    if email not in state.auto_forwarding:
        raise HttpError(400, "failedPrecondition", "Mail service not enabled", reason="failedPrecondition")

    return email


def _body_object(request: Request) -> dict:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "invalid", "The request body must be a JSON object.", reason="invalid")

    return {key: value for key, value in body.items() if key not in ("kind", "etag")}


def register(router: Router, ctx: SimulatorContext) -> None:
    """Add the token endpoint and every Google API route to ``router``."""
    router.add("POST", TOKEN_PATH, "google.token", lambda request: _exchange(request, ctx))

    def route(method: str, template: str, name: str, scopes: tuple[str, ...], subject: str):
        """Register a handler behind the token, scope and subject checks; ``subject`` is admin or mailbox."""

        def decorate(handler: Callable[[Request, GwsState, Grant], Response]):
            def guarded(request: Request) -> Response:
                grant = _authorize(request, scopes)
                state = _tenant(ctx)
                if subject == "admin":
                    admins = state.admins()
                    allowed = admins or {str(user.get("primaryEmail", "")).lower() for user in state.users}
                    if grant.subject not in allowed:
                        raise HttpError(403, "forbidden", "Not Authorized to access this resource/api", reason="forbidden")
                elif request.params.get("user") not in ("me", None) and state.find_user(request.params["user"]) is not state.find_user(grant.subject or ""):
                    raise HttpError(403, "forbidden", "Delegation denied for " + str(grant.subject), reason="forbidden")
                with ctx.states.lock:
                    return handler(request, state, grant)

            router.add(method, template, f"google.{name}", guarded)
            return handler

        return decorate

    def _authorize(request: Request, scopes: tuple[str, ...]) -> Grant:
        token = request.bearer_token()
        with ctx.lock:
            grant = ctx.grants.get(token or "")
        if grant is None:
            message = "Request had invalid authentication credentials. Expected OAuth 2 access token."
            raise HttpError(401, "unauthenticated", message, reason="authError")
        if not grant.scopes.intersection(scopes):
            raise HttpError(403, "insufficientPermissions", "Request had insufficient authentication scopes.", reason="insufficientPermissions")

        return grant

    directory = "/admin/directory/v1"

    @route("GET", f"{directory}/users", "directory.users.list", USER_READ, "admin")
    def users_list(request: Request, state: GwsState, grant: Grant) -> Response:
        _seeded(state, "gws.users")
        customer = request.query.get("customer")
        domain = request.query.get("domain")
        if customer not in (None, "my_customer", state.customer_id) or (customer is None and domain is None):
            raise HttpError(400, "badRequest", "Bad Request", reason="badRequest")
        users = list(state.users)
        query = (request.query.get("query") or "").strip()
        if query:
            field, _, value = query.partition("=")
            if field not in ("isAdmin", "isDelegatedAdmin", "isSuspended") or value not in ("true", "false"):
                raise HttpError(400, "invalidInput", f"Invalid Input: the simulator supports only isAdmin, isDelegatedAdmin and isSuspended queries, not {query!r}", reason="invalidInput")
            key = "suspended" if field == "isSuspended" else field
            users = [user for user in users if bool(user.get(key)) == (value == "true")]
        if domain is not None:
            users = [user for user in users if str(user.get("primaryEmail", "")).lower().endswith("@" + domain.lower())]
        if request.query.get("orderBy") == "email":
            users.sort(key=lambda user: str(user.get("primaryEmail", "")).lower())
        offset, size = _page_bounds(request, ctx, "maxResults", 500)
        body: dict[str, Any] = {"kind": "admin#directory#users", "etag": '"users"', "users": [_directory_item(user) for user in users[offset : offset + size]]}
        if offset + size < len(users):
            body["nextPageToken"] = encode_cursor({"offset": offset + size})

        return Response(200, body)

    @route("GET", f"{directory}/customers/{{customer}}", "directory.customers.get", CUSTOMER_READ, "admin")
    def customers_get(request: Request, state: GwsState, grant: Grant) -> Response:
        if request.params["customer"] not in ("my_customer", state.customer_id):
            raise HttpError(403, "forbidden", "Not Authorized to access this resource/api", reason="forbidden")
        body: dict[str, Any] = {"kind": "admin#directory#customer", "id": state.customer_id, "customerDomain": state.domain}
        if state.display_name is not None:
            body["postalAddress"] = {"organizationName": state.display_name}

        return Response(200, body)

    @route("GET", f"{directory}/users/{{user}}", "directory.users.get", USER_READ, "admin")
    def users_get(request: Request, state: GwsState, grant: Grant) -> Response:
        return Response(200, _directory_item(_user(state, request.params["user"])))

    def users_write(request: Request, state: GwsState, grant: Grant) -> Response:
        user = _user(state, request.params["user"])
        user.update(_body_object(request))

        return Response(200, _directory_item(user))

    route("PUT", f"{directory}/users/{{user}}", "directory.users.update", USER_WRITE, "admin")(users_write)
    route("PATCH", f"{directory}/users/{{user}}", "directory.users.patch", USER_WRITE, "admin")(users_write)

    @route("POST", f"{directory}/users/{{user}}/signOut", "directory.users.signOut", USER_SECURITY, "admin")
    def users_sign_out(request: Request, state: GwsState, grant: Grant) -> Response:
        _user(state, request.params["user"])

        return Response(204)

    def _tokens(state: GwsState, request: Request) -> list[dict]:
        email = str(_user(state, request.params["user"])["primaryEmail"]).lower()

        return state.tokens.setdefault(email, [])

    @route("GET", f"{directory}/users/{{user}}/tokens", "directory.tokens.list", USER_SECURITY, "admin")
    def tokens_list(request: Request, state: GwsState, grant: Grant) -> Response:
        _seeded(state, "gws.tokens")
        body: dict[str, Any] = {"kind": "admin#directory#tokenList", "etag": '"tokens"'}
        items = [_directory_item(token) for token in _tokens(state, request)]
        if items:
            body["items"] = items

        return Response(200, body)

    @route("DELETE", f"{directory}/users/{{user}}/tokens/{{client}}", "directory.tokens.delete", USER_SECURITY, "admin")
    def tokens_delete(request: Request, state: GwsState, grant: Grant) -> Response:
        tokens = _tokens(state, request)
        kept = [token for token in tokens if token.get("clientId") != request.params["client"]]
        if len(kept) == len(tokens):
            raise HttpError(404, "notFound", "Resource Not Found: clientId", reason="notFound")
        tokens[:] = kept

        return Response(204)

    def _check_customer(state: GwsState, request: Request) -> None:
        if request.params["customer"] not in ("my_customer", state.customer_id):
            raise HttpError(404, "notFound", "Resource Not Found: customer", reason="notFound")

    def _unit(state: GwsState, key: str) -> dict:
        for unit in state.org_units:
            if key.startswith("id:") and unit.get("orgUnitId") == key:
                return unit
            if not key.startswith("id:") and unit.get("orgUnitPath") == "/" + key.strip("/"):
                return unit
        raise HttpError(404, "notFound", "Org unit not found", reason="notFound")

    @route("GET", f"{directory}/customer/{{customer}}/orgunits", "directory.orgunits.list", ORGUNIT_READ, "admin")
    def orgunits_list(request: Request, state: GwsState, grant: Grant) -> Response:
        _seeded(state, "gws.orgUnits")
        _check_customer(state, request)
        parent = request.query.get("orgUnitPath") or "/"
        parent = _unit(state, parent.lstrip("/"))["orgUnitPath"] if parent != "/" else "/"
        kind = request.query.get("type") or "children"
        prefix = parent.rstrip("/") + "/"
        below = [unit for unit in state.org_units if str(unit.get("orgUnitPath", "")).startswith(prefix) and unit.get("orgUnitPath") != parent]
        if kind == "children":
            below = [unit for unit in below if unit.get("parentOrgUnitPath") == parent]
        elif kind == "allIncludingParent":
            below = [unit for unit in state.org_units if unit.get("orgUnitPath") == parent] + below
        elif kind != "all":
            raise HttpError(400, "invalid", f"Invalid value for type: {kind}", reason="invalid")
        body = {"kind": "admin#directory#orgUnits", "etag": '"orgunits"', "organizationUnits": [_directory_item(unit) for unit in below]}

        return Response(200, body)

    @route("GET", f"{directory}/customer/{{customer}}/orgunits/{{path+}}", "directory.orgunits.get", ORGUNIT_READ, "admin")
    def orgunits_get(request: Request, state: GwsState, grant: Grant) -> Response:
        _check_customer(state, request)

        return Response(200, _directory_item(_unit(state, request.params["path"])))

    @route("GET", "/v1/policies", "cloudidentity.policies.list", POLICY_READ, "admin")
    def policies_list(request: Request, state: GwsState, grant: Grant) -> Response:
        _seeded(state, "gws.policies")
        offset, size = _page_bounds(request, ctx, "pageSize", 100)
        body: dict[str, Any] = {"policies": copy.deepcopy(state.policies[offset : offset + size])}
        if offset + size < len(state.policies):
            body["nextPageToken"] = encode_cursor({"offset": offset + size})

        return Response(200, body)

    @route("GET", "/v1/groups/{group}", "cloudidentity.groups.get", GROUP_READ, "admin")
    def groups_get(request: Request, state: GwsState, grant: Grant) -> Response:
        name = f"groups/{request.params['group']}"
        email = state.groups.get(name)
        if email is None:
            raise HttpError(404, "notFound", "Requested entity was not found.", reason="notFound")
        body = {"name": name, "groupKey": {"id": email}, "displayName": email.split("@")[0], "parent": f"customers/{state.customer_id}", "labels": {"cloudidentity.googleapis.com/groups.discussion_forum": ""}}

        return Response(200, body)

    gmail = "/gmail/v1/users/{user}/settings"

    @route("GET", f"{gmail}/autoForwarding", "gmail.autoForwarding.get", GMAIL_READ, "mailbox")
    def forwarding_get(request: Request, state: GwsState, grant: Grant) -> Response:
        _seeded(state, "gws.autoForwarding")
        email = _mailbox_email(state, request, grant)

        return Response(200, copy.deepcopy(state.auto_forwarding[email]))

    @route("PUT", f"{gmail}/autoForwarding", "gmail.autoForwarding.update", GMAIL_SHARING, "mailbox")
    def forwarding_update(request: Request, state: GwsState, grant: Grant) -> Response:
        email = _mailbox_email(state, request, grant)
        setting = _body_object(request)
        if setting.get("enabled") and not setting.get("emailAddress"):
            raise HttpError(400, "invalidArgument", "Forwarding address is required when forwarding is enabled.", reason="invalidArgument")
        if not setting.get("enabled"):
            setting = {"enabled": False}
        state.auto_forwarding[email] = setting

        return Response(200, copy.deepcopy(setting))

    @route("GET", f"{gmail}/filters", "gmail.filters.list", GMAIL_READ, "mailbox")
    def filters_list(request: Request, state: GwsState, grant: Grant) -> Response:
        _seeded(state, "gws.forwardingFilters")
        email = _mailbox_email(state, request, grant)
        filters = copy.deepcopy(state.filters.get(email, []))

        return Response(200, {"filter": filters} if filters else {})

    @route("DELETE", f"{gmail}/filters/{{filter}}", "gmail.filters.delete", GMAIL_BASIC, "mailbox")
    def filters_delete(request: Request, state: GwsState, grant: Grant) -> Response:
        email = _mailbox_email(state, request, grant)
        filters = state.filters.setdefault(email, [])
        kept = [item for item in filters if item.get("id") != request.params["filter"]]
        if len(kept) == len(filters):
            raise HttpError(404, "notFound", "Requested entity was not found.", reason="notFound")
        filters[:] = kept

        return Response(204)
