"""Retry policy, Retry-After parsing, and which requests are repeated after which errors."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.collect import RetryPolicy, parse_inventory
from engine.collect.google_client import GoogleReader, open_google
from engine.collect.graph_client import open_graph
from engine.collect.retry import REFUSED_MAX_DELAY, is_connection_refused, parse_retry_after, url_address
from engine.collect.sections import ConnectionRefused, RequestFailed
from engine.simulator import Fault, Simulator

# msgraph-sdk's request builders warn about their own deprecated configuration classes.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "collect"
ADA = "00000000-0000-4000-8000-000000000001"
FAST = RetryPolicy(max_retries=3, base_delay=0)


def read(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_parse_retry_after_seconds():
    """Delay seconds, fractions included, parse as floats; junk parses as None."""
    assert 3.0 == parse_retry_after("3")
    assert 0.5 == parse_retry_after(" 0.5 ")
    assert 0.0 == parse_retry_after("0")
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_parse_retry_after_http_date():
    """An HTTP date parses to the seconds from now until then."""
    now = datetime(2026, 12, 1, 9, 0, 0, tzinfo=timezone.utc)

    assert 90.0 == parse_retry_after("Tue, 01 Dec 2026 09:01:30 GMT", now)
    assert 0.0 == parse_retry_after("Tue, 01 Dec 2026 08:00:00 GMT", now)


def test_policy_wait():
    """Retry-After wins up to the limit; beyond it the request is given up; without it back-off applies."""
    policy = RetryPolicy(base_delay=2, max_delay=5, max_retry_after=30)

    assert 10.0 == policy.wait(0, 10.0)
    assert policy.wait(0, 31.0) is None
    assert 2 <= policy.wait(0, None) <= 4
    assert 5 == policy.wait(6, None)


def test_network_wait_refused_capped():
    """A refused connection gets two retries at most REFUSED_MAX_DELAY apart; other network errors the full back-off."""
    policy = RetryPolicy(max_retries=5, base_delay=4)

    assert REFUSED_MAX_DELAY == policy.network_wait(0, refused=True)
    assert REFUSED_MAX_DELAY == policy.network_wait(1, refused=True)
    assert policy.network_wait(2, refused=True) is None
    assert 4 <= policy.network_wait(0) <= 8
    assert policy.network_wait(4) is not None
    assert policy.network_wait(5) is None


def test_network_wait_respects_max_retries():
    """With max_retries below two, a refused connection is retried only that often."""
    policy = RetryPolicy(max_retries=1, base_delay=0)

    assert 0 == policy.network_wait(0, refused=True)
    assert policy.network_wait(1, refused=True) is None


def test_connection_refused_in_cause_chain():
    """A ConnectionRefusedError is found as the error itself or in its causes, and nowhere else."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as inner:
            raise OSError("All connection attempts failed") from inner
    except OSError as outer:
        wrapped = outer

    assert is_connection_refused(ConnectionRefusedError(111, "Connection refused"))
    assert is_connection_refused(wrapped)
    assert not is_connection_refused(TimeoutError("timed out"))


def test_url_address_default_ports():
    """url_address gives host:port, filling in the scheme's default port."""
    assert "127.0.0.1:8080" == url_address("http://127.0.0.1:8080/v1.0/users")
    assert "graph.microsoft.com:443" == url_address("https://graph.microsoft.com")
    assert "example.test:80" == url_address("http://example.test/token")
    assert "[::1]:9000" == url_address("http://[::1]:9000/")


def test_policy_limits_checked():
    """More retries than msgraph allows are rejected."""
    with pytest.raises(ValueError) as caught:
        RetryPolicy(max_retries=11)

    assert "max_retries must be between 0 and 10, not 11" == str(caught.value)


def graph_tenant(sim: Simulator, tmp_path: Path):
    seed = read("m365-small.json")
    text = f"""\
tenants:
  - name: sim
    provider: m365
    tenant_id: {seed['tenant']['id']}
    domain: {seed['tenant']['domain']}
    endpoint: {sim.base_url}
    credentials: {{type: static_token, token_env: TOKEN}}
"""
    return parse_inventory(text, tmp_path / "tenants.yaml").tenants[0]


async def revoke(sim: Simulator, tmp_path: Path) -> dict:
    async with open_graph(graph_tenant(sim, tmp_path), FAST, 1, 10, {"TOKEN": sim.graph_token}) as graph:
        info = graph.client.users.by_user_id(ADA).revoke_sign_in_sessions.to_post_request_information()
        return await graph.send(info)


def test_graph_post_not_repeated_after_500(tmp_path):
    """A POST that got a 500 may have taken effect, so it is not sent again."""
    with Simulator([read("m365-small.json")], faults=[Fault(path="/v1.0/users/*/revokeSignInSessions", status=500, times=1)]) as sim:
        with pytest.raises(RequestFailed) as caught:
            asyncio.run(revoke(sim, tmp_path))
        writes = sim.writes()

    assert 500 == caught.value.status
    assert [500] == [write["status"] for write in writes]


def test_graph_post_repeated_after_503(tmp_path):
    """A POST throttled with 503 was not processed, so it is sent again."""
    with Simulator([read("m365-small.json")], faults=[Fault(path="/v1.0/users/*/revokeSignInSessions", status=503, times=1)]) as sim:
        body = asyncio.run(revoke(sim, tmp_path))
        writes = sim.writes()

    assert body["value"] is True
    assert [503, 200] == [write["status"] for write in writes]


def test_graph_get_repeated_after_500(tmp_path):
    """A GET that got a 500 is repeated and the retry is logged with its reason."""
    async def read_user(sim: Simulator) -> dict:
        async with open_graph(graph_tenant(sim, tmp_path), FAST, 1, 10, {"TOKEN": sim.graph_token}) as graph:
            return await graph.entity(graph.client.users.by_user_id(ADA).to_get_request_information())

    with Simulator([read("m365-small.json")], faults=[Fault(path=f"/v1.0/users/{ADA}", status=500, times=2)]) as sim:
        with capture_logs() as events:
            user = asyncio.run(read_user(sim))

    retries = [event for event in events if event["event"] == "collect.retry"]
    assert ADA == user["id"]
    assert "@odata.context" not in user
    assert [1, 2] == [event["attempt"] for event in retries]
    assert ["HTTP 500", "HTTP 500"] == [event["reason"] for event in retries]


def test_google_post_not_repeated_after_500(tmp_path):
    """A Google POST that got a 500 is not sent again; a GET is."""
    seed = read("gws-small.json")
    faults = [Fault(path="/admin/directory/v1/users/*/signOut", status=500, times=1), Fault(path="/admin/directory/v1/users/*/tokens", status=500, times=1)]
    with Simulator([seed], faults=faults) as sim:
        (tmp_path / "sa.json").write_text(json.dumps(sim.create_service_account_key()), encoding="utf-8")
        text = f"""\
tenants:
  - name: sim
    provider: gws
    customer_id: {seed['tenant']['id']}
    domain: {seed['tenant']['domain']}
    endpoint: {sim.base_url}
    credentials: {{type: service_account, key_file: sa.json, subject: admin@small.example}}
"""
        tenant = parse_inventory(text, tmp_path / "tenants.yaml").tenants[0]
        with open_google(tenant, FAST, 1, 10) as google:
            # The reader's admin scopes are read-only; give this session the write scope it needs.
            credentials = google.admin_credentials.with_scopes(["https://www.googleapis.com/auth/admin.directory.user.security"])
            tokens = google.execute(google.directory.tokens().list(userKey="sal@small.example"), credentials)
            with pytest.raises(RequestFailed) as caught:
                google.execute(google.directory.users().signOut(userKey="kiosk@small.example"), credentials)
        requests = [(entry["method"], entry["status"]) for entry in sim.requests() if entry["path"] != "/token"]

    assert 2 == len(tokens["items"])
    assert 500 == caught.value.status
    assert [("GET", 500), ("GET", 200), ("POST", 500)] == requests


def test_google_refused_after_token_names_api(tmp_path):
    """With a valid token, a refused API request is reported with the API path, not the token endpoint."""
    seed = read("gws-small.json")
    with Simulator([seed]) as sim:
        (tmp_path / "sa.json").write_text(json.dumps(sim.create_service_account_key()), encoding="utf-8")
        port = sim.port
        text = f"""\
tenants:
  - name: sim
    provider: gws
    customer_id: {seed['tenant']['id']}
    domain: {seed['tenant']['domain']}
    endpoint: {sim.base_url}
    credentials: {{type: service_account, key_file: sa.json, subject: admin@small.example}}
"""
        tenant = parse_inventory(text, tmp_path / "tenants.yaml").tenants[0]
        google = GoogleReader(tenant, FAST, 1, 10)
        google.execute(google.directory.customers().get(customerKey=seed["tenant"]["id"]))
    try:
        with pytest.raises(ConnectionRefused) as caught:
            google.execute(google.directory.customers().get(customerKey=seed["tenant"]["id"]))
    finally:
        google.close()

    assert f"127.0.0.1:{port}" == caught.value.address
    assert f"/admin/directory/v1/customers/{seed['tenant']['id']}" == caught.value.path
