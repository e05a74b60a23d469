"""Collection through msgraph-sdk and google-api-python-client against the local simulator."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.collect import CollectOptions, RetryPolicy, collect_tenant, parse_inventory
from engine.errors import ApiError, InputError
from engine.simulator import Fault, Simulator
from engine.snapshot import load_snapshot, write_snapshot

# msgraph-sdk's request builders warn about their own deprecated configuration classes.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "collect"
EXAMPLES = REPO / "examples"

# Zero back-off base: throttling tests wait only where a fault sets Retry-After.
FAST = CollectOptions(retry=RetryPolicy(max_retries=5, base_delay=0), max_concurrency=4, timeout=10)

# Sections that only Exchange Online serves; collect marks them not_collected.
EXCHANGE_SECTIONS = ("m365.remoteDomains", "m365.auditConfig")

# Accepted-domain fields that Graph /domains can supply.
GRAPH_DOMAIN_FIELDS = ("name", "identity", "domainName", "domainType", "default", "initialDomain")


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def seeds(provider: str) -> list[Path]:
    paths = [FIXTURES / f"{provider}-small.json"]
    example = EXAMPLES / f"{provider}-snapshot.json"
    if example.exists():
        paths.append(example)

    return paths


def m365_tenant(sim: Simulator, seed: dict, tmp_path: Path, **extra: str):
    lines = [
        "tenants:",
        "  - name: sim-m365",
        "    provider: m365",
        f"    tenant_id: {extra.get('tenant_id', seed['tenant']['id'])}",
        f"    domain: {seed['tenant']['domain']}",
        f"    endpoint: {sim.base_url}",
        "    credentials: {type: static_token, token_env: SIM_GRAPH_TOKEN}",
    ]
    return parse_inventory("\n".join(lines), tmp_path / "tenants.yaml").tenants[0]


def gws_tenant(sim: Simulator, seed: dict, tmp_path: Path, subject: str | None = None):
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(sim.create_service_account_key()), encoding="utf-8")
    admin = subject or next(user["primaryEmail"] for user in seed["gws"]["users"] if user.get("isAdmin"))
    lines = [
        "tenants:",
        "  - name: sim-gws",
        "    provider: gws",
        f"    customer_id: {seed['tenant']['id']}",
        f"    domain: {seed['tenant']['domain']}",
        f"    endpoint: {sim.base_url}",
        f"    credentials: {{type: service_account, key_file: sa.json, subject: {admin}}}",
    ]
    return parse_inventory("\n".join(lines), tmp_path / "tenants.yaml").tenants[0]


def collect_m365(sim: Simulator, seed: dict, tmp_path: Path, options: CollectOptions = FAST, token: str | None = None, **extra: str) -> dict:
    tenant = m365_tenant(sim, seed, tmp_path, **extra)
    return collect_tenant(tenant, options, environ={"SIM_GRAPH_TOKEN": token or sim.graph_token})


def collect_gws(sim: Simulator, seed: dict, tmp_path: Path, options: CollectOptions = FAST, subject: str | None = None) -> dict:
    return collect_tenant(gws_tenant(sim, seed, tmp_path, subject), options)


def normalise(document: dict) -> dict:
    """Drop collection time and collector, the Exchange-only sections, and list order."""
    result = copy.deepcopy(document)
    result.pop("collectedAt")
    result.pop("collector")
    provider = result["tenant"]["provider"]
    data = result.get(provider, {})
    for section in EXCHANGE_SECTIONS:
        result["sections"].pop(section, None)
        data.pop(section.partition(".")[2], None)
    if "acceptedDomains" in data:
        data["acceptedDomains"] = [{key: domain[key] for key in GRAPH_DOMAIN_FIELDS if key in domain} for domain in data["acceptedDomains"]]
    for key, value in data.items():
        if isinstance(value, list):
            data[key] = sorted(value, key=lambda item: json.dumps(item, sort_keys=True))

    return result


def section_statuses(document: dict) -> dict[str, str]:
    return {name: entry["status"] for name, entry in document["sections"].items()}


@pytest.mark.parametrize("seed_path", seeds("m365"), ids=lambda path: path.name)
def test_m365_round_trip(seed_path, tmp_path):
    """Collecting from a simulator seeded with a snapshot gives the snapshot back."""
    seed = read(seed_path)
    with Simulator([seed], page_size=2) as sim:
        collected = collect_m365(sim, seed, tmp_path)

    assert normalise(seed) == normalise(collected)


@pytest.mark.parametrize("seed_path", seeds("gws"), ids=lambda path: path.name)
def test_gws_round_trip(seed_path, tmp_path):
    """Collecting from a simulator seeded with a Workspace snapshot gives the snapshot back."""
    seed = read(seed_path)
    with Simulator([seed], page_size=2) as sim:
        collected = collect_gws(sim, seed, tmp_path)

    assert normalise(seed) == normalise(collected)


def test_m365_exchange_sections_not_collected(tmp_path):
    """Remote domains and the audit config are not_collected with a reason naming Exchange Online."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed]) as sim:
        collected = collect_m365(sim, seed, tmp_path)

    for section in EXCHANGE_SECTIONS:
        assert "not_collected" == collected["sections"][section]["status"]
        assert "Exchange Online" in collected["sections"][section]["message"]
        assert section.partition(".")[2] not in collected["m365"]


def test_m365_keeps_null_apart_from_absent(tmp_path):
    """A null field stays null and an absent field stays absent."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed]) as sim:
        collected = collect_m365(sim, seed, tmp_path)

    users = {user["id"]: user for user in collected["m365"]["users"]}
    guest = users["00000000-0000-4000-8000-000000000002"]
    disabled = users["00000000-0000-4000-8000-000000000004"]
    assert guest["signInActivity"] is None
    assert "onPremisesSyncEnabled" not in disabled
    assert collected["m365"]["conditionalAccessPolicies"][0]["conditions"]["platforms"] is None


def test_m365_storm_same_result(tmp_path):
    """Bursts of 429, 500, 502, 503 and 504 on every route still give the seeded snapshot."""
    seed = read(FIXTURES / "m365-small.json")
    # Each fault fires at most 4 times in all, below the 5 retries, so every request gets through.
    faults = [
        Fault(path="/v1.0/users", status=429, times=4, retry_after=0),
        Fault(path="/v1.0/groups*", status=503, times=4),
        Fault(path="/v1.0/users/*/mailFolders/inbox/messageRules", status=500, times=4),
        Fault(path="/v1.0/directoryRoles*", status=502, times=3),
        Fault(path="/v1.0/identity/*", status=429, times=4, retry_after=0),
        Fault(path="/v1.0/reports/*", status=504, times=3),
        Fault(path="/v1.0/roleManagement/*", status=429, times=2),
        Fault(path="/v1.0/organization", status=503, times=2),
    ]
    with Simulator([seed], page_size=2, faults=faults) as sim:
        collected = collect_m365(sim, seed, tmp_path)
        stats = sim.stats()

    assert normalise(seed) == normalise(collected)
    assert 26 == stats["faulted"]


def test_gws_storm_same_result(tmp_path):
    """Throttling (429, 403 rate limits) and 5xx bursts on Google routes still give the seeded snapshot."""
    seed = read(FIXTURES / "gws-small.json")
    faults = [
        Fault(path="/admin/directory/v1/users", status=429, times=4),
        Fault(path="/gmail/v1/users/*", status=403, times=4, reason="rateLimitExceeded"),
        Fault(path="/admin/directory/v1/users/*/tokens", status=500, times=4),
        Fault(path="/v1/policies", status=503, times=3),
        Fault(path="/v1/groups/*", status=403, times=2, reason="userRateLimitExceeded"),
        Fault(path="/admin/directory/v1/customer/*", status=502, times=2),
    ]
    with Simulator([seed], page_size=2, faults=faults) as sim:
        collected = collect_gws(sim, seed, tmp_path)
        stats = sim.stats()

    assert normalise(seed) == normalise(collected)
    assert 19 == stats["faulted"]


def test_m365_failing_section_marked_error(tmp_path):
    """A route that keeps failing marks its section error; every other section stays ok and complete."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed], faults=[Fault(path="/v1.0/identity/conditionalAccess/policies", status=503)]) as sim:
        collected = collect_m365(sim, seed, tmp_path)

    statuses = section_statuses(collected)
    failed = {name for name, status in statuses.items() if status == "error"}
    expected = normalise(seed)
    expected["sections"]["m365.conditionalAccessPolicies"] = collected["sections"]["m365.conditionalAccessPolicies"]
    del expected["m365"]["conditionalAccessPolicies"]
    assert {"m365.conditionalAccessPolicies"} == failed
    assert "HTTP 503 ServiceUnavailable from /v1.0/identity/conditionalAccess/policies" in collected["sections"]["m365.conditionalAccessPolicies"]["message"]
    assert expected == normalise(collected)


def test_m365_users_failure_fails_inbox_rules(tmp_path):
    """Inbox rules need the user list, so a failed user list fails both sections and no other."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed], faults=[Fault(path="/v1.0/users", status=500)]) as sim:
        collected = collect_m365(sim, seed, tmp_path)

    failed = {name for name, status in section_statuses(collected).items() if status == "error"}
    assert {"m365.users", "m365.inboxRules"} == failed
    assert "m365.inboxRules needs the data of m365.users, which was not collected" == collected["sections"]["m365.inboxRules"]["message"]


def test_gws_failing_section_marked_error(tmp_path):
    """A Google route that keeps failing marks only its section error."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed], faults=[Fault(path="/admin/directory/v1/users/*/tokens", status=500)]) as sim:
        collected = collect_gws(sim, seed, tmp_path)

    failed = {name for name, status in section_statuses(collected).items() if status == "error"}
    expected = normalise(seed)
    expected["sections"]["gws.tokens"] = collected["sections"]["gws.tokens"]
    del expected["gws"]["tokens"]
    assert {"gws.tokens"} == failed
    assert collected["sections"]["gws.tokens"]["message"].startswith("HTTP 500 backendError from /admin/directory/v1/users/")
    assert expected == normalise(collected)


def test_gws_org_units_failure_fails_policies(tmp_path):
    """Policies need the org unit tree to resolve paths, so they fail with it."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed], faults=[Fault(path="/admin/directory/v1/customer/*/orgunits", status=503)]) as sim:
        collected = collect_gws(sim, seed, tmp_path)

    failed = {name for name, status in section_statuses(collected).items() if status == "error"}
    assert {"gws.orgUnits", "gws.policies"} == failed


def test_graph_retry_after_honoured(tmp_path):
    """A Graph 429 with Retry-After: 1 waits a second before the retry."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed], faults=[Fault(path="/v1.0/identity/conditionalAccess/policies", status=429, times=1, retry_after=1)]) as sim:
        with capture_logs() as events:
            start = time.monotonic()
            collected = collect_m365(sim, seed, tmp_path)
            elapsed = time.monotonic() - start

    retries = [event for event in events if event["event"] == "collect.retry"]
    assert "ok" == collected["sections"]["m365.conditionalAccessPolicies"]["status"]
    assert elapsed >= 1.0
    assert 1 == len(retries)
    assert 1.0 == retries[0]["delay"]
    assert "HTTP 429" == retries[0]["reason"]
    assert "m365.conditionalAccessPolicies" == retries[0]["section"]


def test_google_retry_after_honoured(tmp_path):
    """A Google 429 with Retry-After: 1 waits a second before the retry."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed], faults=[Fault(path="/v1/policies", status=429, times=1, retry_after=1)]) as sim:
        with capture_logs() as events:
            start = time.monotonic()
            collected = collect_gws(sim, seed, tmp_path)
            elapsed = time.monotonic() - start

    retries = [event for event in events if event["event"] == "collect.retry"]
    assert "ok" == collected["sections"]["gws.policies"]["status"]
    assert elapsed >= 1.0
    assert 1 == len(retries)
    assert 1.0 == retries[0]["delay"]
    assert "rateLimitExceeded" == retries[0]["reason"]


def test_retry_after_beyond_limit_fails_fast(tmp_path):
    """A Retry-After longer than the policy allows fails the section instead of waiting."""
    seed = read(FIXTURES / "m365-small.json")
    options = CollectOptions(retry=RetryPolicy(base_delay=0, max_retry_after=30))
    with Simulator([seed], faults=[Fault(path="/v1.0/reports/*", status=429, retry_after=600)]) as sim:
        start = time.monotonic()
        collected = collect_m365(sim, seed, tmp_path, options)
        elapsed = time.monotonic() - start

    assert "error" == collected["sections"]["m365.userRegistrationDetails"]["status"]
    assert elapsed < 10


def test_pim_unavailable_leaves_eligible_empty(tmp_path):
    """Without a PIM licence the roles are still collected, with empty eligibleMembers and a note."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed], pim_available=False) as sim:
        collected = collect_m365(sim, seed, tmp_path)

    section = collected["sections"]["m365.directoryRoles"]
    roles = collected["m365"]["directoryRoles"]
    assert "ok" == section["status"]
    assert "AadPremiumLicenseRequired" in section["message"]
    assert [[], []] == [role["eligibleMembers"] for role in roles]
    assert 2 == len(roles[0]["members"])


def test_inbox_rules_bounded_concurrency(tmp_path):
    """Mailbox requests never exceed the overall cap, and one mailbox never has two in flight."""
    seed = read(FIXTURES / "m365-small.json")
    for index in range(12):
        user_id = f"10000000-0000-4000-8000-0000000000{index:02d}"
        seed["m365"]["users"].append({"id": user_id, "userPrincipalName": f"u{index}@small.example", "mail": f"u{index}@small.example", "userType": "Member"})
    options = CollectOptions(retry=RetryPolicy(base_delay=0), max_concurrency=3)
    with Simulator([seed], latency=0.02) as sim:
        collected = collect_m365(sim, seed, tmp_path, options)
        stats = sim.stats()

    assert "ok" == collected["sections"]["m365.inboxRules"]["status"]
    assert 3 == stats["maxInFlight"]
    assert 1 == stats["maxInFlightPerMailbox"]


def test_gws_mailbox_without_gmail_skipped(tmp_path):
    """Users whose Gmail is not enabled have no auto-forwarding entry; the section stays ok."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed]) as sim:
        with capture_logs() as events:
            collected = collect_gws(sim, seed, tmp_path)

    emails = sorted(entry["userEmail"] for entry in collected["gws"]["autoForwarding"])
    skipped = [event["user"] for event in events if event["event"] == "collect.mailbox_skipped"]
    assert ["admin@small.example", "sal@small.example"] == emails
    assert ["kiosk@small.example"] == skipped


def test_policies_resolve_paths_and_groups(tmp_path):
    """Cloud Identity policies get org unit paths and group emails resolved from ids."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed]) as sim:
        collected = collect_gws(sim, seed, tmp_path)

    queries = {policy["name"]: policy["policyQuery"] for policy in collected["gws"]["policies"]}
    assert "/Sales/East" == queries["policies/fwd"]["orgUnitPath"]
    assert "contractors@small.example" == queries["policies/contractors"]["groupEmail"]
    assert queries["policies/sales2sv"]["groupEmail"] is None


def test_collect_events(tmp_path):
    """Collection logs start, section failures and a finish event with counts."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed], faults=[Fault(path="/v1.0/domains", status=500), Fault(path="/v1.0/groups", status=429, times=1, retry_after=0)]) as sim:
        with capture_logs() as events:
            collect_m365(sim, seed, tmp_path)

    names = [event["event"] for event in events]
    failed = [event for event in events if event["event"] == "collect.section_failed"]
    finish = next(event for event in events if event["event"] == "collect.finish")
    retry = next(event for event in events if event["event"] == "collect.retry" and event["path"] == "/v1.0/groups")
    assert "collect.start" == names[0]
    assert ["m365.acceptedDomains"] == [event["section"] for event in failed]
    assert (8, 1, 2) == (finish["ok"], finish["error"], finish["not_collected"])
    assert 5 == finish["items"]["m365.users"]
    assert 0.0 == retry["delay"]
    assert "HTTP 429" == retry["reason"]


def test_wrong_tenant_id_rejected(tmp_path):
    """A tenant whose API reports another id than the inventory's stops the collection."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed]) as sim:
        with pytest.raises(ApiError) as caught:
            collect_m365(sim, seed, tmp_path, tenant_id="11111111-1111-4111-8111-111111111111")

    assert "the API answered for tenant 5b2f6a0e-1c3d-4e5f-8a9b-0c1d2e3f4a5b" in str(caught.value)


def test_rejected_token_fails_tenant(tmp_path):
    """A token the API rejects fails the whole tenant with the API's message."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed]) as sim:
        with pytest.raises(ApiError) as caught:
            collect_m365(sim, seed, tmp_path, token="not-the-simulator-token")

    assert "HTTP 401 InvalidAuthenticationToken" in str(caught.value)
    assert "not-the-simulator-token" not in str(caught.value)


def test_missing_token_variable(tmp_path):
    """An unset environment variable is named in the error."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed]) as sim:
        tenant = m365_tenant(sim, seed, tmp_path)
        with pytest.raises(InputError) as caught:
            collect_tenant(tenant, FAST, environ={})

    assert "credentials.token_env names SIM_GRAPH_TOKEN, which is not set in the environment" in str(caught.value)


def test_gws_subject_without_admin_rights(tmp_path):
    """A delegated subject that is no admin gets every section marked error with Google's reason."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed]) as sim:
        collected = collect_gws(sim, seed, tmp_path, subject="kiosk@small.example")

    statuses = section_statuses(collected)
    assert {"error"} == set(statuses.values())
    assert "HTTP 403 forbidden from /admin/directory/v1/users: Not Authorized to access this resource/api" == collected["sections"]["gws.users"]["message"]
    assert "gws" not in collected or {} == collected["gws"]


def test_gws_unknown_subject(tmp_path):
    """A subject the customer does not have fails the token exchange."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed]) as sim:
        with pytest.raises(ApiError) as caught:
            collect_gws(sim, seed, tmp_path, subject="ghost@small.example")

    assert "authentication failed" in str(caught.value)
    assert "Invalid email or User ID" in str(caught.value)


def test_written_snapshot_loads(tmp_path):
    """A collected document passes the snapshot schema and reloads from disk."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed]) as sim:
        collected = collect_gws(sim, seed, tmp_path)
    target = tmp_path / "snapshot.json"
    write_snapshot(collected, target)
    snapshot = load_snapshot(target)

    assert "gws" == snapshot.provider
    assert "Small Example Ltd" == snapshot.tenant["displayName"]
    assert "safeguard collect" == snapshot.document["collector"]["name"]


def test_unreachable_endpoint(tmp_path):
    """A refused connection is retried twice, not max_retries times, and the error names the address."""
    seed = read(FIXTURES / "m365-small.json")
    with Simulator([seed]) as sim:
        tenant = m365_tenant(sim, seed, tmp_path)
        token = sim.graph_token
        port = sim.port
    # The simulator has stopped, so nothing listens on its port any more.
    with capture_logs() as logs, pytest.raises(ApiError) as caught:
        collect_tenant(tenant, FAST, environ={"SIM_GRAPH_TOKEN": token})
    retries = [entry["reason"] for entry in logs if entry["event"] == "collect.retry"]

    assert f"tenant 'sim-m365': cannot connect to 127.0.0.1:{port} for /v1.0/organization: connection refused;" in str(caught.value)
    assert f"check that the tenant's endpoint http://127.0.0.1:{port} in the inventory is right" in str(caught.value)
    assert ["ConnectionRefusedError", "ConnectionRefusedError"] == retries


def test_gws_unreachable_endpoint(tmp_path):
    """A refused token request names the token endpoint's address after two quick retries."""
    seed = read(FIXTURES / "gws-small.json")
    with Simulator([seed]) as sim:
        tenant = gws_tenant(sim, seed, tmp_path)
        port = sim.port
    with capture_logs() as logs, pytest.raises(ApiError) as caught:
        collect_tenant(tenant, FAST)
    retries = [entry["reason"] for entry in logs if entry["event"] == "collect.retry"]

    assert f"tenant 'sim-gws': cannot connect to 127.0.0.1:{port} for /token: connection refused;" in str(caught.value)
    assert ["ConnectionRefusedError", "ConnectionRefusedError"] == retries
