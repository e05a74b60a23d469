"""The tenant simulator over HTTP: reads, paging, writes, faults, tokens and the control API."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from google.oauth2 import service_account
from googleapiclient.discovery import build

from engine.errors import InputError, SnapshotError
from engine.simulator import Simulator, fault_from_dict

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "collect"

ADA = "00000000-0000-4000-8000-000000000001"
DORA = "00000000-0000-4000-8000-000000000004"
SAM = "00000000-0000-4000-8000-000000000005"
MFA_GROUP = "00000000-0000-4000-9000-000000000001"


def read(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def m365():
    """A simulator serving the small Microsoft 365 fixture with pages of two."""
    with Simulator([read("m365-small.json")], page_size=2) as sim:
        yield sim


@pytest.fixture
def graph(m365):
    """An httpx client that sends the simulator's Graph token."""
    with httpx.Client(base_url=m365.graph_url, headers={"Authorization": f"Bearer {m365.graph_token}"}) as client:
        yield client


@pytest.fixture
def gws():
    """A simulator serving the small Google Workspace fixture."""
    with Simulator([read("gws-small.json")], page_size=2) as sim:
        yield sim


def all_items(client: httpx.Client, path: str) -> list[dict]:
    """Follow next links from ``path`` and return every item."""
    page = client.get(path).json()
    items = list(page["value"])
    while "@odata.nextLink" in page:
        page = client.get(page["@odata.nextLink"]).json()
        items.extend(page["value"])

    return items


def google_service(sim: Simulator, api: str, version: str, subject: str, scopes: list[str]):
    info = sim.create_service_account_key()
    credentials = service_account.Credentials.from_service_account_info(info, scopes=scopes, subject=subject)

    return build(api, version, credentials=credentials, client_options={"api_endpoint": sim.base_url + "/"}, cache_discovery=False)


def test_graph_needs_token(m365):
    """Graph routes return 401 without the simulator's bearer token."""
    response = httpx.get(f"{m365.graph_url}/users")

    assert 401 == response.status_code
    assert "InvalidAuthenticationToken" == response.json()["error"]["code"]


def test_graph_paging_uses_own_address(m365, graph):
    """Next links point at the simulator's host and port and keep $select."""
    first = graph.get("/users", params={"$select": "id,mail"}).json()
    second = httpx.get(first["@odata.nextLink"], headers=graph.headers).json()

    assert first["@odata.nextLink"].startswith(m365.graph_url + "/users?")
    assert [{"id": ADA, "mail": "ada@small.example"}, {"id": "00000000-0000-4000-8000-000000000002", "mail": "gus@partner.example"}] == first["value"]
    assert 2 == len(second["value"])
    assert {"id", "mail"} == set(second["value"][0])


def test_graph_select_omits_absent_fields(graph):
    """A selected field the seed lacks is left out rather than served as null."""
    users = graph.get("/users", params={"$select": "id,onPremisesSyncEnabled", "$top": "2"}).json()
    dora = graph.get(f"/users/{DORA}", params={"$select": "id,onPremisesSyncEnabled"}).json()

    assert users["value"][0]["onPremisesSyncEnabled"] is None
    assert "onPremisesSyncEnabled" not in dora


def test_graph_unseeded_section_answers_501():
    """A route whose section is not ok in the seed fails instead of serving an empty list."""
    seed = read("m365-small.json")
    seed["sections"]["m365.groups"] = {"status": "not_collected", "message": "left out"}
    del seed["m365"]["groups"]
    with Simulator([seed]) as sim:
        response = httpx.get(f"{sim.graph_url}/groups", headers={"Authorization": f"Bearer {sim.graph_token}"})

    assert 501 == response.status_code
    assert "NotSeeded" == response.json()["error"]["code"]


def test_disable_user_changes_state(m365, graph):
    """PATCH accountEnabled false returns 204 and the user reads back disabled."""
    response = graph.patch(f"/users/{ADA}", json={"@odata.type": "#microsoft.graph.user", "accountEnabled": False})
    user = graph.get(f"/users/{ADA}", params={"$select": "id,accountEnabled"}).json()
    writes = m365.writes()

    assert 204 == response.status_code
    assert user["accountEnabled"] is False
    assert [("PATCH", f"/v1.0/users/{ADA}", 204)] == [(write["method"], write["path"], write["status"]) for write in writes]
    assert {"@odata.type": "#microsoft.graph.user", "accountEnabled": False} == writes[0]["body"]


def test_revoke_sessions(m365, graph):
    """revokeSignInSessions returns true and stamps the user."""
    response = graph.post(f"/users/{ADA}/revokeSignInSessions")
    user = graph.get(f"/users/{ADA}", params={"$select": "signInSessionsValidFromDateTime"}).json()

    assert {"value": True} == {"value": response.json()["value"]}
    assert "signInSessionsValidFromDateTime" in user


def test_message_rule_patch_with_encoded_id(m365, graph):
    """A rule id with / + = travels percent-encoded and the PATCH changes the served rule."""
    rule_id = "AQAAAJ+/byg="
    encoded = "AQAAAJ%2B%2Fbyg%3D"
    response = graph.patch(f"/users/{ADA}/mailFolders/inbox/messageRules/{encoded}", json={"isEnabled": False})
    rules = all_items(graph, f"/users/{ADA}/mailFolders/inbox/messageRules")

    assert 200 == response.status_code
    assert False is {rule["id"]: rule for rule in rules}[rule_id]["isEnabled"]
    assert f"/v1.0/users/{ADA}/mailFolders/inbox/messageRules/{rule_id}" == m365.writes()[0]["path"]


def test_mailbox_without_mail_is_404(graph):
    """A user without a mailbox answers like Exchange Online does."""
    response = graph.get("/users/00000000-0000-4000-8000-000000000003/mailFolders/inbox/messageRules")

    assert 404 == response.status_code
    assert "MailboxNotEnabledForRESTAPI" == response.json()["error"]["code"]


def test_group_member_add_and_remove(graph):
    """Adding and removing a member changes the member list; adding twice fails."""
    reference = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{DORA}"}
    added = graph.post(f"/groups/{MFA_GROUP}/members/$ref", json=reference)
    again = graph.post(f"/groups/{MFA_GROUP}/members/$ref", json=reference)
    after_add = [member["id"] for member in all_items(graph, f"/groups/{MFA_GROUP}/members")]
    removed = graph.delete(f"/groups/{MFA_GROUP}/members/{SAM}/$ref")
    after_remove = [member["id"] for member in all_items(graph, f"/groups/{MFA_GROUP}/members")]

    assert 204 == added.status_code
    assert 400 == again.status_code
    assert DORA in after_add
    assert 204 == removed.status_code
    assert SAM not in after_remove
    assert DORA in after_remove


def test_auth_method_configuration_patch(graph):
    """PATCH of an authentication method configuration changes the policy."""
    response = graph.patch("/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Sms", json={"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "state": "disabled"})
    policy = graph.get("/policies/authenticationMethodsPolicy").json()
    sms = next(item for item in policy["authenticationMethodConfigurations"] if item["id"] == "Sms")

    assert 204 == response.status_code
    assert "disabled" == sms["state"]
    assert "#microsoft.graph.smsAuthenticationMethodConfiguration" == sms["@odata.type"]


def test_graph_fault_with_retry_after(m365, graph):
    """An injected 429 carries Retry-After and a Graph error body, then the route recovers."""
    m365.add_fault(path="/v1.0/users", status=429, times=1, retry_after=3)
    throttled = graph.get("/users")
    recovered = graph.get("/users")

    assert 429 == throttled.status_code
    assert "3" == throttled.headers["Retry-After"]
    assert "TooManyRequests" == throttled.json()["error"]["code"]
    assert 200 == recovered.status_code


def test_fault_after_and_method(m365, graph):
    """A fault lets ``after`` matches through and matches only its method."""
    m365.add_fault(path="/v1.0/users/*", method="PATCH", status=503, after=1, times=1)
    first = graph.patch(f"/users/{ADA}", json={"displayName": "A"})
    read_back = graph.get(f"/users/{ADA}")
    second = graph.patch(f"/users/{ADA}", json={"displayName": "B"})
    third = graph.patch(f"/users/{ADA}", json={"displayName": "C"})

    assert [204, 200, 503, 204] == [first.status_code, read_back.status_code, second.status_code, third.status_code]
    assert [204, 503, 204] == [write["status"] for write in m365.writes()]


def test_control_api(m365, graph):
    """Faults can be added over HTTP, and the write log and statistics are served as JSON."""
    control = f"{m365.base_url}/_simulator"
    added = httpx.post(f"{control}/faults", json=[{"path": "/v1.0/domains", "status": 500, "times": 1}])
    failed = graph.get("/domains")
    graph.patch(f"/users/{ADA}", json={"accountEnabled": False})
    writes = httpx.get(f"{control}/writes").json()["writes"]
    stats = httpx.get(f"{control}/stats").json()
    cleared = httpx.delete(f"{control}/writes")

    assert 201 == added.status_code
    assert 500 == failed.status_code
    assert ["PATCH"] == [write["method"] for write in writes]
    assert 1 == stats["faulted"]
    assert 204 == cleared.status_code
    assert [] == m365.writes()


def test_control_api_rejects_bad_fault(m365):
    """A fault with an unknown status is rejected with a message."""
    response = httpx.post(f"{m365.base_url}/_simulator/faults", json={"path": "/v1.0/users", "status": 418})

    assert 400 == response.status_code
    assert "status 418 is not one of" in response.json()["error"]["message"]


def test_fault_from_dict_unknown_field():
    """Fault data with a misspelt field names it."""
    with pytest.raises(InputError) as caught:
        fault_from_dict({"path": "*", "retryAfter": 3}, "faults[0]")

    assert "faults[0]: unknown field retryAfter" in str(caught.value)


def test_token_exchange_rejects_unknown_key(gws):
    """A JWT signed by a key the simulator did not issue is refused."""
    from engine.simulator.google import create_service_account_key

    info, _ = create_service_account_key("stranger@example.iam.gserviceaccount.com", gws.token_uri)
    credentials = service_account.Credentials.from_service_account_info(info, scopes=["https://www.googleapis.com/auth/admin.directory.user.readonly"], subject="admin@small.example")
    directory = build("admin", "directory_v1", credentials=credentials, client_options={"api_endpoint": gws.base_url + "/"}, cache_discovery=False)

    from google.auth.exceptions import RefreshError

    with pytest.raises(RefreshError) as caught:
        directory.users().list(customer="my_customer").execute()

    assert "Invalid JWT Signature" in str(caught.value)


def test_directory_scope_checked(gws):
    """A token without a Directory scope gets 403 insufficientPermissions."""
    directory = google_service(gws, "admin", "directory_v1", "admin@small.example", ["https://www.googleapis.com/auth/gmail.settings.basic"])
    from googleapiclient.errors import HttpError

    with pytest.raises(HttpError) as caught:
        directory.users().list(customer="my_customer").execute()

    assert 403 == caught.value.resp.status
    assert "insufficient authentication scopes" in str(caught.value)


def test_gmail_needs_mailbox_owner(gws):
    """Gmail settings of one user cannot be read with a token delegated to another."""
    gmail = google_service(gws, "gmail", "v1", "admin@small.example", ["https://www.googleapis.com/auth/gmail.settings.basic"])
    from googleapiclient.errors import HttpError

    own = gmail.users().settings().getAutoForwarding(userId="me").execute()
    with pytest.raises(HttpError) as caught:
        gmail.users().settings().getAutoForwarding(userId="sal@small.example").execute()

    assert {"enabled": False} == own
    assert 403 == caught.value.resp.status


def test_google_writes_change_state(gws):
    """Suspend, sign-out, token revocation and forwarding changes apply and are logged."""
    scopes = ["https://www.googleapis.com/auth/admin.directory.user", "https://www.googleapis.com/auth/admin.directory.user.security"]
    directory = google_service(gws, "admin", "directory_v1", "admin@small.example", scopes)
    gmail = google_service(gws, "gmail", "v1", "sal@small.example", ["https://www.googleapis.com/auth/gmail.settings.sharing"])

    updated = directory.users().update(userKey="kiosk@small.example", body={"suspended": True}).execute()
    directory.users().signOut(userKey="kiosk@small.example").execute()
    directory.tokens().delete(userKey="sal@small.example", clientId="1234-abc.apps.googleusercontent.com").execute()
    remaining = directory.tokens().list(userKey="sal@small.example").execute()
    forwarding = gmail.users().settings().updateAutoForwarding(userId="sal@small.example", body={"enabled": False}).execute()
    writes = [(write["method"], write["path"], write["status"]) for write in gws.writes()]

    assert updated["suspended"] is True
    assert ["5678-def.apps.googleusercontent.com"] == [token["clientId"] for token in remaining["items"]]
    assert {"enabled": False} == forwarding
    assert [
        ("PUT", "/admin/directory/v1/users/kiosk@small.example", 200),
        ("POST", "/admin/directory/v1/users/kiosk@small.example/signOut", 204),
        ("DELETE", "/admin/directory/v1/users/sal@small.example/tokens/1234-abc.apps.googleusercontent.com", 204),
        ("PUT", "/gmail/v1/users/sal@small.example/settings/autoForwarding", 200),
    ] == writes


def test_google_rate_limit_fault_body(gws):
    """An injected Google 403 names the rate-limit reason that clients retry on."""
    gws.add_fault(path="/v1/policies", status=403, times=1)
    policies = google_service(gws, "cloudidentity", "v1", "admin@small.example", ["https://www.googleapis.com/auth/cloud-identity.policies.readonly"])
    from googleapiclient.errors import HttpError

    with pytest.raises(HttpError) as caught:
        policies.policies().list().execute()
    recovered = policies.policies().list().execute()

    assert 403 == caught.value.resp.status
    assert "rateLimitExceeded" == json.loads(caught.value.content)["error"]["errors"][0]["reason"]
    assert 2 == len(recovered["policies"])
    assert "nextPageToken" in recovered


def test_orgunits_types(gws):
    """orgunits.list returns children, all, or all with the root."""
    directory = google_service(gws, "admin", "directory_v1", "admin@small.example", ["https://www.googleapis.com/auth/admin.directory.orgunit.readonly"])
    units = directory.orgunits()

    children = [unit["orgUnitPath"] for unit in units.list(customerId="my_customer").execute()["organizationUnits"]]
    every = [unit["orgUnitPath"] for unit in units.list(customerId="my_customer", type="all").execute()["organizationUnits"]]
    with_root = [unit["orgUnitPath"] for unit in units.list(customerId="C01sma11x", type="allIncludingParent").execute()["organizationUnits"]]

    assert ["/Sales"] == children
    assert ["/Sales", "/Sales/East"] == every
    assert ["/", "/Sales", "/Sales/East"] == with_root


def test_two_snapshots_one_provider_rejected():
    """Serving two tenants of the same provider is refused."""
    seed = read("gws-small.json")
    with pytest.raises(SnapshotError) as caught:
        Simulator([seed, seed])

    assert "one tenant per provider" in str(caught.value)


def test_both_providers_on_one_port():
    """One simulator serves an m365 and a gws snapshot side by side."""
    with Simulator([read("m365-small.json"), read("gws-small.json")]) as sim:
        graph_status = httpx.get(f"{sim.graph_url}/domains", headers={"Authorization": f"Bearer {sim.graph_token}"}).status_code
        directory = google_service(sim, "admin", "directory_v1", "admin@small.example", ["https://www.googleapis.com/auth/admin.directory.user.readonly"])
        users = directory.users().list(customer="my_customer", maxResults=10).execute()

    assert 200 == graph_status
    assert 4 == len(users["users"])


def test_user_member_of(graph):
    """memberOf lists the groups that have the user as a direct member."""
    groups = all_items(graph, f"/users/{SAM}/memberOf")

    assert [MFA_GROUP] == [group["id"] for group in groups]
    assert "#microsoft.graph.group" == groups[0]["@odata.type"]


def test_port_in_use_reported():
    """Starting on a port that is taken raises an error naming the port."""
    with Simulator([read("gws-small.json")]) as first:
        port = first.port
        second = Simulator([read("gws-small.json")], port=port)
        with pytest.raises(InputError) as caught:
            second.start()

    assert f"cannot listen on 127.0.0.1:{port}" in str(caught.value)
