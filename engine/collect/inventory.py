"""Load and validate tenants.yaml, the inventory of tenants `safeguard collect` reads.

The file is checked against schema/tenants.schema.json, then against rules a
schema cannot state well. Credentials are references (environment-variable
names, file paths) and never inline secrets. An endpoint is a loopback URL or
an official API host, and a static token works only against a loopback
endpoint.
Every problem is reported as ``FILE:LINE:COL: code: message`` naming the tenant
and the field. Secret values are never echoed back.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

from engine._yaml_source import YamlDocument, compose_yaml, raise_diagnostics
from engine.diagnostics import DiagnosticSink, suggest
from engine.errors import InputError
from engine.schemas import load_schema

__all__ = [
    "Inventory",
    "Tenant",
    "ClientSecretCredentials",
    "CertificateCredentials",
    "ManagedIdentityCredentials",
    "StaticTokenCredentials",
    "ServiceAccountCredentials",
    "Credentials",
    "M365_HOSTS",
    "is_loopback_url",
    "load_inventory",
    "parse_inventory",
]

# Microsoft Graph hosts of the global and national clouds.
M365_HOSTS = ("graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn")

# Field names under which people paste a secret instead of naming where it lives,
# mapped to the field that should be used instead.
_SECRET_FIELDS = {
    "client_secret": "client_secret_env",
    "secret": "client_secret_env",
    "password": "certificate_password_env",
    "certificate_password": "certificate_password_env",
    "token": "token_env",
    "access_token": "token_env",
    "refresh_token": None,
    "private_key": "key_file",
    "private_key_id": "key_file",
    "key": "key_file",
    "api_key": None,
}

# Shapes of secrets that must never sit in the inventory, whatever the field.
_SECRET_PATTERNS = (
    ("a PEM key or certificate", re.compile(r"-----BEGIN [A-Z ]+-----")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")),
    ("an Entra ID client secret", re.compile(r"^[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{30,40}$")),
    ("a Google OAuth access token", re.compile(r"\bya29\.[A-Za-z0-9_-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a service account key", re.compile(r'"private_key"\s*:')),
)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass(frozen=True)
class ClientSecretCredentials:
    """An Entra ID app registration authenticating with a client secret held in an environment variable."""

    client_id: str
    client_secret_env: str


@dataclass(frozen=True)
class CertificateCredentials:
    """An Entra ID app registration authenticating with a certificate file (PEM or PKCS#12)."""

    client_id: str
    certificate_path: Path
    certificate_password_env: str | None = None


@dataclass(frozen=True)
class ManagedIdentityCredentials:
    """An Azure managed identity: system-assigned, or user-assigned when ``client_id`` is set."""

    client_id: str | None = None


@dataclass(frozen=True)
class StaticTokenCredentials:
    """A fixed bearer token read from an environment variable; for a loopback endpoint only."""

    token_env: str


@dataclass(frozen=True)
class ServiceAccountCredentials:
    """A Google service account key file used with domain-wide delegation as ``subject``."""

    key_file: Path
    subject: str


Credentials = (
    ClientSecretCredentials
    | CertificateCredentials
    | ManagedIdentityCredentials
    | StaticTokenCredentials
    | ServiceAccountCredentials
)


@dataclass(frozen=True)
class Tenant:
    """One tenant of the inventory."""

    name: str
    provider: str
    id: str
    domain: str
    credentials: Credentials
    endpoint: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    # Read by `safeguard plan --inventory` instead of collecting live.
    snapshot: Path | None = None


@dataclass(frozen=True)
class Inventory:
    """All tenants of one tenants.yaml, in file order."""

    path: Path
    tenants: tuple[Tenant, ...]

    def names(self) -> list[str]:
        return [tenant.name for tenant in self.tenants]

    def get(self, name: str) -> Tenant:
        """Return the tenant called ``name``; raise InputError naming the closest match otherwise."""
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant

        message = f"{self.path}: no tenant named {name!r}; the inventory has {', '.join(self.names())}"
        closest = suggest(name, self.names())
        if closest is not None:
            message = f"{message}; did you mean {closest!r}?"
        raise InputError(message)


def is_loopback_url(url: str) -> bool:
    """Return whether ``url`` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate a tenants.yaml file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"{path}: inventory file not found; pass --inventory with the path of your tenants.yaml"
        raise InputError(message) from None
    except (OSError, UnicodeDecodeError) as error:
        message = f"{path}: cannot read the inventory file: {error}"
        raise InputError(message) from None

    return parse_inventory(text, path)


def parse_inventory(text: str, path: str | Path) -> Inventory:
    """Validate inventory text; ``path`` names the file in messages and anchors relative paths."""
    path = Path(path)
    # PyYAML's SafeLoader turns timestamps into datetime objects here, as it does in params files.
    source = compose_yaml(text, str(path), loader=yaml.SafeLoader)
    document = source.document

    sink = DiagnosticSink()
    for diagnostic in source.duplicate_keys():
        sink.add(diagnostic)
    if not isinstance(document, dict):
        sink.error(source.position(()), "invalid_inventory", "the inventory must be a mapping with a `tenants` list")
        _raise(sink)

    for index, raw in enumerate(document.get("tenants") or []):
        if isinstance(raw, dict):
            _check_inline_secrets(raw, ("tenants", index), source, sink)
    if sink:
        _raise(sink)

    invalid = _check_schema(document, source, sink)
    if "tenants" in invalid or not isinstance(document.get("tenants"), list):
        _raise(sink)

    # Tenants the schema accepted get the remaining checks too, so one run reports every problem.
    tenants = []
    for index, raw in enumerate(document["tenants"]):
        if ("tenants", index) in invalid:
            continue
        tenant = _build_tenant(raw, index, path, source, sink)
        if tenant is not None:
            tenants.append(tenant)
    _check_unique_names(document["tenants"], source, sink)
    if sink:
        _raise(sink)

    return Inventory(path=path, tenants=tuple(tenants))


def _raise(sink: DiagnosticSink) -> None:
    # No source excerpt: the offending line may hold a secret.
    raise_diagnostics(sink)


def _label(document: Any, path: tuple[Any, ...]) -> str:
    """Describe a JSON path for a message: ``tenant 'contoso': credentials.client_id``."""
    if len(path) < 2 or path[0] != "tenants" or not isinstance(path[1], int):
        return ".".join(str(part) for part in path) or "inventory"

    raw = None
    tenants = document.get("tenants") if isinstance(document, dict) else None
    if isinstance(tenants, list) and path[1] < len(tenants) and isinstance(tenants[path[1]], dict):
        raw = tenants[path[1]]

    return _label_for(raw, path)


def _label_for(raw: dict | None, path: tuple[Any, ...]) -> str:
    name = raw.get("name") if raw is not None else None
    subject = f"tenant {name!r}" if isinstance(name, str) else f"tenants[{path[1]}]"
    rest = ".".join(str(part) for part in path[2:])
    if not rest:
        return subject

    return f"{subject}: {rest}"


def _check_inline_secrets(raw: dict, base: tuple, source: YamlDocument, sink: DiagnosticSink) -> None:
    reported = set()
    credentials = raw.get("credentials")
    if isinstance(credentials, dict):
        for key, value in credentials.items():
            if value is None or key not in _SECRET_FIELDS:
                continue
            where = (*base, "credentials", key)
            replacement = _SECRET_FIELDS[key]
            message = f"{_label_for(raw, where)}: inline secrets are not accepted"
            if replacement is not None:
                message = f"{message}; keep the secret outside the file and reference it with `{replacement}`"
            else:
                message = f"{message}; remove it from the file"
            sink.error(source.key_position(where), "inline_secret", message)
            reported.add(where)

        for key, value in credentials.items():
            if key.endswith("_env") and isinstance(value, str) and not _ENV_NAME.match(value):
                where = (*base, "credentials", key)
                message = (
                    f"{_label_for(raw, where)}: must name an environment variable (letters, digits and "
                    "underscores); the value is not a variable name, and if it is the secret itself, "
                    "remove it from the file and export it instead"
                )
                sink.error(source.position(where), "inline_secret", message)
                reported.add(where)

    for where, value in _strings(raw, base):
        if where in reported:
            continue
        for description, pattern in _SECRET_PATTERNS:
            if pattern.search(value):
                message = (
                    f"{_label_for(raw, where)}: the value looks like {description}; the inventory holds "
                    "references only (environment-variable names, file paths), never secrets"
                )
                sink.error(source.position(where), "inline_secret", message)
                break


def _strings(value: Any, path: tuple) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _check_schema(document: dict, source: YamlDocument, sink: DiagnosticSink) -> set[tuple]:
    """Report schema errors; return the paths (``("tenants", i)`` or ``"tenants"``) that have any."""
    invalid: set = set()
    validator = jsonschema.Draft202012Validator(load_schema("tenants.schema.json"))
    for error in _leaf_errors(validator.iter_errors(document)):
        where = tuple(error.absolute_path)
        invalid.add(where[:2] if len(where) >= 2 else "tenants")
        secret_field = where and isinstance(where[-1], str) and where[-1] in _SECRET_FIELDS
        sink.error(source.position(where), "invalid_inventory", f"{_label(document, where)}: {_describe(error, secret_field)}")

    return invalid


def _leaf_errors(errors: Iterator[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    # `if`/`then` and `allOf` wrap the error that matters; report the innermost ones.
    for error in errors:
        if error.context:
            yield from _leaf_errors(iter(error.context))
        else:
            yield error


def _describe(error: jsonschema.ValidationError, hide_value: bool) -> str:
    validator = error.validator
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required field `{missing}`"
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in allowed]
        message = f"unknown field {', '.join(f'`{key}`' for key in unknown)}"
        if len(unknown) == 1:
            closest = suggest(unknown[0], allowed)
            if closest is not None:
                return f"{message}; did you mean `{closest}`?"
        return f"{message}; allowed: {', '.join(allowed)}"
    if validator == "not":
        fields = ", ".join(f"`{name}`" for name in error.validator_value.get("required", []))
        provider = error.instance.get("provider") if isinstance(error.instance, dict) else None
        return f"field {fields} does not apply to provider {provider}"
    shown = "the value" if hide_value else repr(error.instance)
    if validator == "pattern":
        hint = error.schema.get("description")
        if hint:
            return f"{shown} has the wrong format: {hint[0].lower()}{hint[1:].rstrip('.')}"
        return f"{shown} has the wrong format"
    if validator == "enum":
        return f"{shown} must be one of {', '.join(map(str, error.validator_value))}"
    if validator == "type":
        return f"{shown} must be of type {error.validator_value}"
    if validator in ("minLength", "minItems"):
        return f"{shown} must not be empty"
    if validator == "minimum":
        return f"{shown} must be at least {error.validator_value}"
    if validator == "uniqueItems":
        return f"{shown} has duplicate items"

    return error.message


def _check_endpoint(raw: dict, where: tuple, source: YamlDocument, sink: DiagnosticSink) -> str | None:
    endpoint = raw.get("endpoint")
    if endpoint is None:
        return None

    parts = urlsplit(endpoint)
    label = _label_for(raw, where)
    provider = raw["provider"]
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        sink.error(source.position(where), "invalid_endpoint", f"{label}: give only scheme, host and port, such as http://127.0.0.1:8080")
        return None
    if is_loopback_url(endpoint):
        return endpoint.rstrip("/")
    if provider == "gws":
        message = (
            f"{label}: {parts.hostname!r} is not a loopback address; a gws endpoint is only for the simulator, "
            "because the Google client libraries already use each API's official host"
        )
        sink.error(source.position(where), "invalid_endpoint", message)
        return None
    if parts.scheme != "https" or parts.hostname not in M365_HOSTS or parts.port not in (None, 443):
        message = f"{label}: must be http on a loopback address or https on an official Graph host ({', '.join(M365_HOSTS)})"
        sink.error(source.position(where), "invalid_endpoint", message)
        return None

    return endpoint.rstrip("/")


def _resolve_file(value: str, inventory_path: Path) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = inventory_path.parent / path

    return path


def _build_credentials(raw: dict, where: tuple, endpoint: str | None, inventory_path: Path, source: YamlDocument, sink: DiagnosticSink) -> Credentials | None:
    spec = raw["credentials"]
    kind = spec["type"]
    if kind == "client_secret":
        return ClientSecretCredentials(spec["client_id"], spec["client_secret_env"])
    if kind == "certificate":
        path = _resolve_file(spec["certificate_path"], inventory_path)
        return CertificateCredentials(spec["client_id"], path, spec.get("certificate_password_env"))
    if kind == "managed_identity":
        return ManagedIdentityCredentials(spec.get("client_id"))
    if kind == "static_token":
        if endpoint is None or not is_loopback_url(endpoint):
            message = f"{_label_for(raw, (*where, 'type'))}: a static token is accepted only with a loopback `endpoint` (the simulator)"
            sink.error(source.position((*where, "type")), "invalid_credentials", message)
            return None
        return StaticTokenCredentials(spec["token_env"])

    path = _resolve_file(spec["key_file"], inventory_path)
    return ServiceAccountCredentials(path, spec["subject"])


def _build_tenant(raw: dict, index: int, inventory_path: Path, source: YamlDocument, sink: DiagnosticSink) -> Tenant | None:
    base = ("tenants", index)
    endpoint = _check_endpoint(raw, (*base, "endpoint"), source, sink)
    if raw.get("endpoint") is not None and endpoint is None:
        return None
    credentials = _build_credentials(raw, (*base, "credentials"), endpoint, inventory_path, source, sink)
    if credentials is None:
        return None

    tenant_id = raw["tenant_id"] if raw["provider"] == "m365" else raw["customer_id"]
    return Tenant(
        name=raw["name"],
        provider=raw["provider"],
        id=tenant_id,
        domain=raw["domain"].lower(),
        credentials=credentials,
        endpoint=endpoint,
        params=dict(raw.get("params") or {}),
        snapshot=_resolve_file(raw["snapshot"], inventory_path) if raw.get("snapshot") else None,
    )


def _check_unique_names(tenants: list, source: YamlDocument, sink: DiagnosticSink) -> None:
    seen: dict[str, int] = {}
    for index, raw in enumerate(tenants):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            message = f"tenants[{index}]: name {name!r} is already used by tenants[{seen[name]}]; tenant names must be unique"
            sink.error(source.position(("tenants", index, "name")), "duplicate_tenant", message)
        else:
            seen[name] = index
