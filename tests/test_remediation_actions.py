"""Each remediation action's steps against the simulator, through msgraph-sdk and google-api-python-client."""

from __future__ import annotations

from pathlib import Path

import pytest

from apply_scenario import (
    BEA,
    CARL,
    DANA,
    EVE,
    EXCLUSION_GROUP,
    FAST_RETRY,
    GWS_TENANT,
    M365_TENANT,
    PILOT_GROUP,
    TOKEN_ENV,
    make_plan,
    seed,
    tenant,
    write_inventory,
    writes,
)
from engine.apply.planfile import load_plan
from engine.apply.runner import Runner, apply_items
from engine.apply.sessions import open_session
from engine.apply.settings import TenantSettings
from engine.apply.state import normalize_state, state_fingerprint
from engine.collect.sections import RequestFailed
from engine.snapshot import Snapshot
from remediations import ActionRegistry, ArgumentSpec, registry
from remediations.registry import StateAction

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.usefixtures("quiet_logs")]

MIA = "mia@apply-gws.example"
LIAM = "liam@apply-gws.example"
MAIL_APP = "200000000001-mail.apps.googleusercontent.com"
CRM_APP = "200000000002-crm.apps.googleusercontent.com"

# Every built-in action with arguments naming a target of the seeds.
CASES = [
    ("m365.disable_user", {"user": CARL}),
    ("m365.revoke_sessions", {"user": EVE}),
    ("m365.disable_inbox_rule", {"user": EVE, "rule": "AQAAAAEVZ2U="}),
    ("m365.require_mfa", {"user": DANA}),
    ("m365.disable_weak_auth_methods", {"methods": ["Sms", "Voice", "Email"]}),
    ("gws.sign_out_user", {"user": MIA}),
    ("gws.revoke_tokens", {"user": MIA}),
    ("gws.revoke_tokens", {"user": MIA, "client_id": CRM_APP}),
    ("gws.disable_auto_forwarding", {"user": LIAM}),
    ("gws.suspend_user", {"user": MIA}),
]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """One simulator serving both seeds, shared by the read-only tests of this module."""
    from engine.simulator import Simulator

    with Simulator([seed("m365"), seed("gws")]) as simulator:
        yield simulator


def open_sessions(sim, folder: Path, settings: dict | None = None):
    """Open an m365 and a gws session on the simulator, with the given m365 settings."""
    inventory = write_inventory(sim, folder)
    m365 = open_session(tenant(inventory, M365_TENANT), TenantSettings(M365_TENANT, **(settings or {})), FAST_RETRY, 10.0, {TOKEN_ENV: sim.graph_token})
    gws = open_session(tenant(inventory, GWS_TENANT), TenantSettings(GWS_TENANT), FAST_RETRY, 10.0)

    return {"m365": m365, "gws": gws}


@pytest.fixture
def fresh(tmp_path):
    """A simulator of its own (for tests that write) with open sessions."""
    from engine.simulator import Simulator

    with Simulator([seed("m365"), seed("gws")]) as simulator:
        sessions = open_sessions(simulator, tmp_path, {"mfa_exclusion_group": EXCLUSION_GROUP})
        try:
            yield simulator, sessions
        finally:
            for session in sessions.values():
                session.close()


@pytest.mark.parametrize(("name", "arguments"), CASES)
def test_observe_matches_live_state(sim, tmp_path, name, arguments):
    """What an action observes in the seed equals what it reads from the unchanged tenant."""
    action = registry.get(name)()
    document = seed(name.split(".")[0])
    sessions = open_sessions(sim, tmp_path)
    try:
        live = action.read_state(sessions[action.provider], arguments)
    finally:
        for session in sessions.values():
            session.close()

    observed = action.observe(Snapshot("seed.json", document), arguments)

    assert normalize_state(observed) == normalize_state(action.comparable_state(live))


def test_disable_user_steps(fresh):
    """disable_user PATCHes accountEnabled only, verifies it and undo re-enables the account."""
    sim, sessions = fresh
    action = registry.get("m365.disable_user")()
    session = sessions["m365"]
    before = action.read_state(session, {"user": CARL})

    response = action.execute(session, {"user": CARL}, state=before)
    verified = action.verify(session, {"user": CARL}, before)
    action.undo(session, {"user": CARL}, before)
    bodies = [entry["body"] for entry in sim.writes()]

    assert {"requests": [f"PATCH /users/{CARL}"]} == response
    assert verified
    assert [{"@odata.type": "#microsoft.graph.user", "accountEnabled": False}, {"@odata.type": "#microsoft.graph.user", "accountEnabled": True}] == bodies
    assert {"accountEnabled": True} == action.read_state(session, {"user": CARL})


def test_execute_without_difference_writes_nothing(fresh):
    """An action whose target already has the desired state sends no request."""
    sim, sessions = fresh
    action = registry.get("m365.disable_user")()
    sim.states.m365.find_user(CARL)["accountEnabled"] = False

    response = action.execute(sessions["m365"], {"user": CARL})

    assert {"requests": []} == response
    assert [] == sim.writes()


def test_revoke_sessions_steps(fresh):
    """revoke_sessions POSTs revokeSignInSessions and is verified by signInSessionsValidFromDateTime moving."""
    sim, sessions = fresh
    action = registry.get("m365.revoke_sessions")()
    session = sessions["m365"]
    before = action.read_state(session, {"user": EVE})

    action.execute(session, {"user": EVE}, state=before)
    after = action.read_state(session, {"user": EVE})

    assert {"signInSessionsValidFromDateTime": None} == before
    assert after["signInSessionsValidFromDateTime"] is not None
    assert action.is_applied(before, after, action.desired_state(session, {"user": EVE}, before))
    assert not action.is_applied(after, after, {})
    assert [("POST", f"/v1.0/users/{EVE}/revokeSignInSessions")] == writes(sim)


def test_revoke_sessions_not_reversible(fresh):
    """undo of an irreversible action raises NotImplementedError saying so."""
    sim, sessions = fresh
    action = registry.get("m365.revoke_sessions")()

    with pytest.raises(NotImplementedError) as caught:
        action.undo(sessions["m365"], {"user": EVE}, {})

    assert "remediation action m365.revoke_sessions is not reversible, so it cannot be undone" == str(caught.value)


def test_inbox_rule_disabled_not_deleted(fresh):
    """disable_inbox_rule sets isEnabled false and keeps the rule; undo enables it again."""
    sim, sessions = fresh
    action = registry.get("m365.disable_inbox_rule")()
    arguments = {"user": EVE, "rule": "AQAAAAEVZ2U="}
    session = sessions["m365"]

    action.execute(session, arguments)
    disabled = dict(sim.states.m365.inbox_rules[EVE][0])
    action.undo(session, arguments, {"isEnabled": True})

    assert False is disabled["isEnabled"]
    assert "Forward everything home" == disabled["displayName"]
    assert "forwardTo" in disabled["actions"]
    assert ["PATCH", "PATCH"] == [method for method, _ in writes(sim)]
    assert True is sim.states.m365.inbox_rules[EVE][0]["isEnabled"]


def test_require_mfa_removes_from_exclusion(fresh):
    """With mfa_exclusion_group, require_mfa deletes the user's membership reference; undo adds it back."""
    sim, sessions = fresh
    action = registry.get("m365.require_mfa")()
    session = sessions["m365"]
    before = action.read_state(session, {"user": DANA})

    desired = action.desired_state(session, {"user": DANA}, before)
    action.execute(session, {"user": DANA}, state=before)
    action.undo(session, {"user": DANA}, before)

    assert {"memberOf": [EXCLUSION_GROUP]} == before
    assert {"memberOf": []} == desired
    assert [("DELETE", f"/v1.0/groups/{EXCLUSION_GROUP}/members/{DANA}/$ref"), ("POST", f"/v1.0/groups/{EXCLUSION_GROUP}/members/$ref")] == writes(sim)
    assert {"memberOf": [EXCLUSION_GROUP]} == action.read_state(session, {"user": DANA})


def test_require_mfa_explicit_group_argument(fresh):
    """A group argument wins over the tenant's settings."""
    sim, sessions = fresh
    action = registry.get("m365.require_mfa")()

    desired = action.desired_state(sessions["m365"], {"user": DANA, "group": PILOT_GROUP}, {"memberOf": [EXCLUSION_GROUP]})

    assert {"memberOf": [EXCLUSION_GROUP, PILOT_GROUP]} == desired


def test_weak_methods_patch_only_enabled(fresh):
    """disable_weak_auth_methods PATCHes only the methods still enabled, with their @odata.type."""
    sim, sessions = fresh
    action = registry.get("m365.disable_weak_auth_methods")()
    arguments = {"methods": ["Sms", "Voice", "Email"]}
    before = action.read_state(sessions["m365"], arguments)

    action.execute(sessions["m365"], arguments, state=before)
    bodies = {entry["path"].rsplit("/", 1)[1]: entry["body"] for entry in sim.writes()}

    assert {"Email": {"state": "enabled"}, "Sms": {"state": "enabled"}, "Voice": {"state": "disabled"}} == before
    assert {
        "Email": {"@odata.type": "#microsoft.graph.emailAuthenticationMethodConfiguration", "state": "disabled"},
        "Sms": {"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "state": "disabled"},
    } == bodies
    assert action.verify(sessions["m365"], arguments, before)


def test_m365_principals_resolve_sign_in_name(fresh):
    """principals adds the user's sign-in name and mail to the object id."""
    sim, sessions = fresh
    action = registry.get("m365.disable_user")()

    names = action.principals(sessions["m365"], {"user": BEA})

    assert frozenset({BEA, "bea@apply.example"}) == names


def test_sign_out_user_steps(fresh):
    """sign_out_user POSTs signOut; no API shows the effect, so it is not verifiable."""
    sim, sessions = fresh
    action = registry.get("gws.sign_out_user")()

    response = action.execute(sessions["gws"], {"user": MIA})

    assert {"requests": [f"POST /admin/directory/v1/users/{MIA}/signOut"]} == response
    assert [("POST", f"/admin/directory/v1/users/{MIA}/signOut")] == writes(sim)
    assert False is action.verifiable


def test_revoke_tokens_all(fresh):
    """revoke_tokens deletes every grant of the user and verifies none is left."""
    sim, sessions = fresh
    action = registry.get("gws.revoke_tokens")()
    before = action.read_state(sessions["gws"], {"user": MIA})

    action.execute(sessions["gws"], {"user": MIA}, state=before)

    assert {"clientIds": [MAIL_APP, CRM_APP]} == before
    assert [("DELETE", f"/admin/directory/v1/users/{MIA}/tokens/{MAIL_APP}"), ("DELETE", f"/admin/directory/v1/users/{MIA}/tokens/{CRM_APP}")] == writes(sim)
    assert action.verify(sessions["gws"], {"user": MIA}, before)


def test_revoke_tokens_one_client(fresh):
    """With client_id only that application's grant is revoked; the other stays."""
    sim, sessions = fresh
    action = registry.get("gws.revoke_tokens")()

    action.execute(sessions["gws"], {"user": MIA, "client_id": CRM_APP})
    remaining = [token["clientId"] for token in sim.states.gws.tokens[MIA]]

    assert [("DELETE", f"/admin/directory/v1/users/{MIA}/tokens/{CRM_APP}")] == writes(sim)
    assert [MAIL_APP] == remaining


def test_auto_forwarding_steps(fresh):
    """disable_auto_forwarding PUTs enabled false as the mailbox owner; undo restores address and disposition."""
    sim, sessions = fresh
    action = registry.get("gws.disable_auto_forwarding")()
    before = action.read_state(sessions["gws"], {"user": LIAM})

    action.execute(sessions["gws"], {"user": LIAM}, state=before)
    disabled = action.read_state(sessions["gws"], {"user": LIAM})
    action.undo(sessions["gws"], {"user": LIAM}, before)
    bodies = [entry["body"] for entry in sim.writes()]

    assert {"enabled": True, "emailAddress": "liam@partner-leads.example", "disposition": "leaveInInbox"} == before
    assert {"enabled": False, "emailAddress": None, "disposition": None} == disabled
    assert [{"enabled": False}, before] == bodies
    assert before == action.read_state(sessions["gws"], {"user": LIAM})


def test_auto_forwarding_by_user_id(fresh):
    """A user given by id is resolved to the primary email that Gmail delegation needs."""
    sim, sessions = fresh
    action = registry.get("gws.disable_auto_forwarding")()

    state = action.read_state(sessions["gws"], {"user": "110000000000000000003"})

    assert True is state["enabled"]


def test_suspend_user_steps(fresh):
    """suspend_user PATCHes suspended only; undo unsuspends."""
    sim, sessions = fresh
    action = registry.get("gws.suspend_user")()
    before = action.read_state(sessions["gws"], {"user": MIA})

    action.execute(sessions["gws"], {"user": MIA}, state=before)
    suspended = action.read_state(sessions["gws"], {"user": MIA})
    action.undo(sessions["gws"], {"user": MIA}, before)

    assert {"suspended": True} == suspended
    assert [{"suspended": True}, {"suspended": False}] == [entry["body"] for entry in sim.writes()]
    assert {"suspended": False} == action.read_state(sessions["gws"], {"user": MIA})


def test_gws_principals_include_id(fresh):
    """principals adds the Workspace user's id and primary email."""
    sim, sessions = fresh
    action = registry.get("gws.suspend_user")()

    names = action.principals(sessions["gws"], {"user": MIA})

    assert frozenset({MIA, "110000000000000000004"}) == names


def test_missing_user_reads_not_found(fresh):
    """Reading a user that does not exist raises RequestFailed with status 404."""
    sim, sessions = fresh
    action = registry.get("gws.suspend_user")()

    with pytest.raises(RequestFailed) as caught:
        action.read_state(sessions["gws"], {"user": "ghost@apply-gws.example"})

    assert 404 == caught.value.status


def test_precondition_null_without_section():
    """An action whose section was not collected gets no precondition."""
    document = seed("gws")
    document["sections"]["gws.tokens"] = {"status": "not_collected", "message": "no scope"}
    del document["gws"]["tokens"]

    precondition = registry.get("gws.revoke_tokens").precondition(Snapshot("seed.json", document), {"user": MIA})

    assert precondition is None


class _IgnoredWrite(StateAction):
    """A plugin action whose write the tenant silently ignores."""

    name = "m365.ignored_write"
    provider = "m365"
    description = "Pretend to disable a user without changing anything."
    reversible = False
    arguments = {"user": ArgumentSpec("string", description="Object id of the user.")}
    target = "user"
    target_type = "user"
    permissions = ("User.Read.All",)

    @classmethod
    def observe(cls, snapshot, arguments):
        return registry.get("m365.disable_user").observe(snapshot, arguments)

    def read_state(self, client, arguments):
        return registry.get("m365.disable_user")().read_state(client, arguments)

    def desired_state(self, client, arguments, state):
        return {"accountEnabled": False}

    def write_state(self, client, arguments, current, desired):
        return {"requests": []}


def test_write_without_change_fails(fresh, tmp_path, pack):
    """A write whose read-back shows no change is failed, not done."""
    sim, sessions = fresh
    plugins = ActionRegistry()
    plugins.register(_IgnoredWrite)
    plan_path = make_plan(pack, seed("m365"), tmp_path / "plan.json", {"break_glass": [BEA]})
    plan = load_plan(plan_path)
    item = next(item for item in apply_items(plan, None) if item.planned.name == "m365.disable_user")
    item.planned = type(item.planned)(**{**item.planned.__dict__, "name": "m365.ignored_write"})
    runner = Runner("apply", [item], session=sessions["m365"], settings=sessions["m365"].settings, tenant={"id": "t", "provider": "m365"}, plan_digest=plan.digest, registry=plugins)

    changes = runner.preview()
    runner.journal = _MemoryJournal()
    result = runner.execute(changes)

    assert "failed" == result.outcomes[0].status
    assert "the read-back shows no change: accountEnabled is true, want false" == result.outcomes[0].error


class _MemoryJournal:
    """A journal that keeps records in memory, for runs whose journal a test does not read."""

    path = Path("memory.jsonl")

    def __init__(self) -> None:
        self.records: list[dict] = []

    def append(self, record: dict) -> None:
        self.records.append(record)


def test_state_ignores_list_order():
    """Two states that differ only in list order normalise and fingerprint the same."""
    first = {"memberOf": ["group-b", "group-a"], "isEnabled": True}
    second = {"isEnabled": True, "memberOf": ["group-a", "group-b"]}

    assert normalize_state(first) == normalize_state(second)
    assert state_fingerprint(first) == state_fingerprint(second)


def test_state_empty_values_equal():
    """Absent, null, an empty list and an empty object count as the same state."""
    states = [{}, {"forwardTo": None}, {"forwardTo": []}, {"forwardTo": {}}]

    assert 1 == len({state_fingerprint(state) for state in states})
