"""Loading and validating tenants.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.collect import (
    CertificateCredentials,
    ClientSecretCredentials,
    ManagedIdentityCredentials,
    ServiceAccountCredentials,
    StaticTokenCredentials,
    load_inventory,
    parse_inventory,
)
from engine.errors import InputError

REPO = Path(__file__).resolve().parents[1]

M365 = """\
tenants:
  - name: contoso
    provider: m365
    tenant_id: 3c19c757-0000-4000-8000-000000000001
    domain: Contoso.example
    credentials:
      type: client_secret
      client_id: 11111111-2222-3333-4444-555555555555
      client_secret_env: CONTOSO_SECRET
"""


def errors_of(text: str, name: str = "tenants.yaml") -> str:
    with pytest.raises(InputError) as caught:
        parse_inventory(text, Path("/inv") / name)

    return str(caught.value)


def test_m365_client_secret():
    """A client-secret tenant loads with its id, lower-cased domain and no endpoint."""
    tenant = parse_inventory(M365, "/inv/tenants.yaml").tenants[0]

    assert "contoso" == tenant.name
    assert "3c19c757-0000-4000-8000-000000000001" == tenant.id
    assert "contoso.example" == tenant.domain
    assert ClientSecretCredentials("11111111-2222-3333-4444-555555555555", "CONTOSO_SECRET") == tenant.credentials
    assert tenant.endpoint is None


def test_example_inventory_loads():
    """The shipped example inventory is valid and covers every credential type."""
    inventory = load_inventory(REPO / "examples" / "tenants.yaml")
    kinds = [type(tenant.credentials) for tenant in inventory.tenants]

    assert ["contoso", "northwind", "tailspin", "fabrikam"] == inventory.names()
    assert [ClientSecretCredentials, CertificateCredentials, ManagedIdentityCredentials, ServiceAccountCredentials] == kinds
    assert REPO / "examples" / "keys" / "fabrikam-collector.json" == inventory.get("fabrikam").credentials.key_file
    assert 90 == inventory.get("contoso").params["stale_days"]


def test_static_token_with_loopback():
    """A static token is accepted with a loopback endpoint, whose trailing slash is dropped."""
    text = M365.replace("    credentials:\n      type: client_secret\n      client_id: 11111111-2222-3333-4444-555555555555\n      client_secret_env: CONTOSO_SECRET\n", "    endpoint: http://127.0.0.1:8080/\n    credentials: {type: static_token, token_env: SIM_TOKEN}\n")
    tenant = parse_inventory(text, "/inv/tenants.yaml").tenants[0]

    assert StaticTokenCredentials("SIM_TOKEN") == tenant.credentials
    assert "http://127.0.0.1:8080" == tenant.endpoint


def test_static_token_needs_loopback():
    """A static token against the real Graph host is rejected."""
    text = M365.replace("    credentials:\n      type: client_secret\n      client_id: 11111111-2222-3333-4444-555555555555\n      client_secret_env: CONTOSO_SECRET\n", "    credentials: {type: static_token, token_env: SIM_TOKEN}\n")
    message = errors_of(text)

    assert "/inv/tenants.yaml:6:25: invalid_credentials: tenant 'contoso': credentials.type: a static token is accepted only with a loopback `endpoint` (the simulator)" == message


def test_inline_secret_field_rejected():
    """A pasted client secret is rejected with its position and the field to use, without echoing it."""
    secret = "abc8Q~abcdefghijklmnopqrstuvwxyz0123456"
    text = M365.replace("client_secret_env: CONTOSO_SECRET", f"client_secret: {secret}")
    message = errors_of(text)

    assert "/inv/tenants.yaml:9:7: inline_secret: tenant 'contoso': credentials.client_secret: inline secrets are not accepted; keep the secret outside the file and reference it with `client_secret_env`" == message
    assert secret not in message


def test_secret_shaped_value_rejected():
    """A private key pasted into any field is rejected without being echoed."""
    text = M365.replace("domain: Contoso.example", 'domain: "-----BEGIN PRIVATE KEY-----MIIE"')
    message = errors_of(text)

    assert "tenant 'contoso': domain: the value looks like a PEM key or certificate" in message
    assert "MIIE" not in message


def test_secret_in_env_field_rejected():
    """A secret given where an environment-variable name belongs is rejected without being echoed."""
    text = M365.replace("client_secret_env: CONTOSO_SECRET", "client_secret_env: abc8Q~abcdefghijklmnopqrstuvwxyz0123456")
    message = errors_of(text)

    assert "credentials.client_secret_env: must name an environment variable" in message
    assert "abcdefghijklmnop" not in message


def test_endpoint_must_be_loopback_or_official():
    """An endpoint on another host, or plain http elsewhere, is rejected."""
    text = M365.replace("    credentials:", "    endpoint: http://graph.evil.example\n    credentials:")
    message = errors_of(text)

    assert "invalid_endpoint: tenant 'contoso': endpoint: must be http on a loopback address or https on an official Graph host" in message


def test_national_cloud_endpoint_accepted():
    """An official national-cloud Graph host is accepted."""
    text = M365.replace("    credentials:", "    endpoint: https://graph.microsoft.us\n    credentials:")
    tenant = parse_inventory(text, "/inv/tenants.yaml").tenants[0]

    assert "https://graph.microsoft.us" == tenant.endpoint


def test_gws_endpoint_loopback_only():
    """A gws endpoint off this machine is rejected with the reason."""
    text = """\
tenants:
  - name: fabrikam
    provider: gws
    customer_id: C04fxq1mw
    domain: fabrikam.example
    endpoint: https://www.googleapis.com
    credentials: {type: service_account, key_file: sa.json, subject: admin@fabrikam.example}
"""
    message = errors_of(text)

    assert "a gws endpoint is only for the simulator" in message


def test_unknown_field_did_you_mean():
    """A misspelt field gets a suggestion and its position."""
    text = M365.replace("    domain:", "    nmae: x\n    domain:")
    message = errors_of(text)

    assert "/inv/tenants.yaml:2:5: invalid_inventory: tenant 'contoso': unknown field `nmae`; did you mean `name`?" == message


def test_missing_field_named():
    """A missing required credential field is named with the tenant."""
    text = M365.replace("      client_secret_env: CONTOSO_SECRET\n", "")
    message = errors_of(text)

    assert "/inv/tenants.yaml:7:7: invalid_inventory: tenant 'contoso': credentials: missing required field `client_secret_env`" == message


def test_provider_specific_ids():
    """A customer_id on an m365 tenant is rejected."""
    text = M365.replace("    domain:", "    customer_id: C0123456\n    domain:")
    message = errors_of(text)

    assert "tenant 'contoso': field `customer_id` does not apply to provider m365" in message


def test_every_problem_reported():
    """Problems in several tenants are all reported, sorted by line."""
    second = M365.replace("tenants:\n", "").replace("name: contoso", "name: contoso").replace("client_secret_env: CONTOSO_SECRET", "client_secret_env: OTHER")
    third = "  - name: broken\n    provider: gws\n    domain: x.example\n    credentials: {type: service_account}\n"
    message = errors_of(M365 + second + third)
    lines = message.splitlines()

    assert 3 == len(lines)
    assert "duplicate_tenant: tenants[1]: name 'contoso' is already used by tenants[0]" in lines[0]
    assert "tenant 'broken': missing required field `customer_id`" in lines[1]
    assert "tenant 'broken': credentials: missing required field `key_file`" in lines[2]


def test_duplicate_yaml_key():
    """A key given twice in one mapping is reported, not silently overwritten."""
    text = M365.replace("    domain: Contoso.example\n", "    domain: Contoso.example\n    domain: other.example\n")
    message = errors_of(text)

    assert "/inv/tenants.yaml:6:5: duplicate_key: key 'domain' appears twice in the same mapping" == message


def test_invalid_yaml_position():
    """A YAML syntax error names its line and column."""
    message = errors_of("tenants:\n  - name: [unclosed\n")

    assert message.startswith("/inv/tenants.yaml:3:1: invalid_yaml:")


def test_missing_file(tmp_path):
    """A missing inventory file is reported with the option to fix."""
    with pytest.raises(InputError) as caught:
        load_inventory(tmp_path / "absent.yaml")

    assert f"{tmp_path / 'absent.yaml'}: inventory file not found; pass --inventory with the path of your tenants.yaml" == str(caught.value)


def test_get_unknown_tenant():
    """Asking for an unknown tenant suggests the closest name."""
    inventory = parse_inventory(M365, "/inv/tenants.yaml")
    with pytest.raises(InputError) as caught:
        inventory.get("contosso")

    assert "/inv/tenants.yaml: no tenant named 'contosso'; the inventory has contoso; did you mean 'contoso'?" == str(caught.value)


def test_params_types_checked():
    """A known param with the wrong type is rejected."""
    text = M365 + "    params:\n      stale_days: soon\n"
    message = errors_of(text)

    assert "tenant 'contoso': params.stale_days: 'soon' must be of type integer" in message


def test_certificate_path_resolved():
    """A relative certificate path is resolved against the inventory's folder."""
    text = M365.replace(
        "      type: client_secret\n      client_id: 11111111-2222-3333-4444-555555555555\n      client_secret_env: CONTOSO_SECRET\n",
        "      type: certificate\n      client_id: 11111111-2222-3333-4444-555555555555\n      certificate_path: certs/app.pem\n",
    )
    tenant = parse_inventory(text, "/inv/tenants.yaml").tenants[0]

    assert CertificateCredentials("11111111-2222-3333-4444-555555555555", Path("/inv/certs/app.pem")) == tenant.credentials
