"""The Google Workspace example tenant "fabrikam-example".

Five org units. 2-Step Verification has been enforced at the root since
2025, but an exempt org unit overrides it with a date far in the future and a
contractors group with a date in 2027. /Sales allows telephone codes and
automatic forwarding, and two users there forward mail outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from snapshot_generator.common import COLLECTED_AT, Ids, google_time, graph_time

__all__ = ["build_gws_snapshot"]

GWS_DOMAIN = "fabrikam.example"
GWS_CUSTOMER_ID = "C04fxq1mw"


@dataclass
class GwsPerson:
    """One Google Workspace user of the example and the facts that shape its records."""

    local: str
    given_name: str
    family_name: str
    org_unit: str
    enrolled: bool = True
    login_days_ago: float | None = 1
    created_days_ago: int = 700
    admin: bool = False
    delegated_admin: bool = False
    suspended: bool = False
    contractor: bool = False
    forward_to: str | None = None
    id: str = ""

    @property
    def email(self) -> str:
        return f"{self.local}@{GWS_DOMAIN}"


def fabrikam_people() -> list[GwsPerson]:
    return [
        GwsPerson("admin", "Workspace", "Admin", "/", admin=True, login_days_ago=0.2, created_days_ago=1500),
        GwsPerson("olivia.chen", "Olivia", "Chen", "/", login_days_ago=0.5),
        GwsPerson("ben.adler", "Ben", "Adler", "/", login_days_ago=2),
        GwsPerson("maria.rossi", "Maria", "Rossi", "/Sales", login_days_ago=0.3,
                  forward_to="maria.rossi.personal@gmail.example"),
        GwsPerson("liam.oconnor", "Liam", "O'Connor", "/Sales", login_days_ago=1,
                  forward_to="liam@leadgen-partner.example"),
        GwsPerson("sofia.ivanova", "Sofia", "Ivanova", "/Sales", enrolled=False, login_days_ago=4),
        GwsPerson("noah.williams", "Noah", "Williams", "/Sales", suspended=True, login_days_ago=160),
        GwsPerson("emma.larsen", "Emma", "Larsen", "/Sales", login_days_ago=0.8),
        GwsPerson("lucas.moreau", "Lucas", "Moreau", "/Sales/East", login_days_ago=1.5),
        GwsPerson("ava.singh", "Ava", "Singh", "/Sales/East", enrolled=False, login_days_ago=None,
                  created_days_ago=3),
        GwsPerson("ethan.brown", "Ethan", "Brown", "/Sales/East", login_days_ago=6),
        GwsPerson("mia.schmidt", "Mia", "Schmidt", "/Engineering", delegated_admin=True, login_days_ago=0.1),
        GwsPerson("leo.tanaka", "Leo", "Tanaka", "/Engineering", login_days_ago=0.4),
        GwsPerson("chloe.dubois", "Chloé", "Dubois", "/Engineering", login_days_ago=2),
        GwsPerson("ryan.murphy", "Ryan", "Murphy", "/Engineering", login_days_ago=0.9, contractor=True,
                  enrolled=False),
        GwsPerson("zara.ahmed", "Zara", "Ahmed", "/Engineering", login_days_ago=3, contractor=True),
        GwsPerson("sam.build", "Build", "Bot", "/Engineering", enrolled=False, login_days_ago=None,
                  created_days_ago=400),
        GwsPerson("frontdesk", "Front", "Desk", "/2SV Exempt", enrolled=False, login_days_ago=0.6,
                  created_days_ago=1200),
        GwsPerson("warehouse.kiosk", "Warehouse", "Kiosk", "/2SV Exempt", enrolled=False, login_days_ago=12,
                  created_days_ago=900),
        GwsPerson("grace.kim", "Grace", "Kim", "/Engineering", login_days_ago=130, created_days_ago=1000),
    ]


@dataclass
class OrgUnit:
    path: str
    name: str
    description: str
    id: str = ""


GWS_ORG_UNITS = [
    OrgUnit("/", "Fabrikam Example", ""),
    OrgUnit("/Sales", "Sales", "Sales and account management"),
    OrgUnit("/Sales/East", "East", "East coast sales office"),
    OrgUnit("/Engineering", "Engineering", "Product engineering"),
    OrgUnit("/2SV Exempt", "2SV Exempt", "Shared and kiosk accounts exempted from 2-Step Verification"),
]

ROOT_2SV_ENFORCED_FROM = "2025-03-01T08:00:00Z"
EXEMPT_2SV_ENFORCED_FROM = "2099-12-31T00:00:00Z"
CONTRACTORS_2SV_ENFORCED_FROM = "2027-06-01T00:00:00Z"
CONTRACTORS_GROUP = f"contractors@{GWS_DOMAIN}"


def gws_org_units(org_units: list[OrgUnit]) -> list[dict[str, object]]:
    by_path = {unit.path: unit for unit in org_units}
    records = []
    for unit in org_units:
        record: dict[str, object] = {
            "kind": "admin#directory#orgUnit",
            "name": unit.name,
            "description": unit.description,
            "orgUnitPath": unit.path,
            "orgUnitId": f"id:{unit.id}",
        }
        if unit.path != "/":
            parent_path = unit.path.rsplit("/", 1)[0] or "/"
            record["parentOrgUnitPath"] = parent_path
            record["parentOrgUnitId"] = f"id:{by_path[parent_path].id}"
        records.append(record)

    return records


def gws_is_enforced(person: GwsPerson) -> bool:
    """Resolve 2SV enforcement the way Google does for this example's explicit settings."""
    enforced_from = ROOT_2SV_ENFORCED_FROM
    if person.org_unit == "/2SV Exempt":
        enforced_from = EXEMPT_2SV_ENFORCED_FROM
    if person.contractor:
        enforced_from = CONTRACTORS_2SV_ENFORCED_FROM

    return datetime.fromisoformat(enforced_from) <= COLLECTED_AT


def gws_users(ids: Ids, people: list[GwsPerson]) -> list[dict[str, object]]:
    # The Directory API reports a user who never signed in with the Unix epoch.
    never = datetime(1970, 1, 1, tzinfo=UTC)
    users = []
    for person in people:
        last_login = never if person.login_days_ago is None else ids.days_ago(person.login_days_ago)
        user: dict[str, object] = {
            "kind": "admin#directory#user",
            "id": person.id,
            "primaryEmail": person.email,
            "name": {
                "givenName": person.given_name,
                "familyName": person.family_name,
                "fullName": f"{person.given_name} {person.family_name}",
            },
            "isAdmin": person.admin,
            "isDelegatedAdmin": person.delegated_admin,
            "lastLoginTime": google_time(last_login),
            "creationTime": google_time(ids.days_ago(person.created_days_ago)),
            "agreedToTerms": person.login_days_ago is not None,
            "suspended": person.suspended,
            "archived": False,
            "changePasswordAtNextLogin": person.login_days_ago is None,
            "ipWhitelisted": False,
            "customerId": GWS_CUSTOMER_ID,
            "orgUnitPath": person.org_unit,
            "isMailboxSetup": True,
            "isEnrolledIn2Sv": person.enrolled,
            "isEnforcedIn2Sv": gws_is_enforced(person),
            "includeInGlobalAddressList": True,
        }
        if person.suspended:
            user["suspensionReason"] = "ADMIN"
        users.append(user)

    return users


def gws_policies(ids: Ids, org_units: list[OrgUnit], contractors_group_id: str) -> list[dict[str, object]]:
    """Return the explicit settings. An org unit without its own setting inherits its parent's."""
    by_path = {unit.path: unit for unit in org_units}

    def policy(path: str, setting: str, value: dict[str, object], group_email: str | None = None) -> dict:
        unit_id = by_path[path].id
        if group_email is None:
            query = f"entity.org_units.exists(org_unit, org_unit.org_unit_id == orgUnitId('{unit_id}'))"
            group, sort_order = None, None
        else:
            query = f"entity.groups.exists(group, group.group_id == groupId('{contractors_group_id}'))"
            group, sort_order = f"groups/{contractors_group_id}", 1
        return {
            "name": f"policies/{ids.letters(17)}",
            "customer": f"customers/{GWS_CUSTOMER_ID}",
            "type": "ADMIN",
            "policyQuery": {
                "query": query,
                "orgUnit": f"orgUnits/{unit_id}",
                "orgUnitPath": path,
                "group": group,
                "groupEmail": group_email,
                "sortOrder": sort_order,
            },
            "setting": {"type": f"settings/{setting}", "value": value},
        }

    return [
        policy("/", "security.two_step_verification_enrollment", {"allowEnrollment": True}),
        policy("/", "security.two_step_verification_enforcement", {"enforcedFrom": ROOT_2SV_ENFORCED_FROM}),
        policy("/", "security.two_step_verification_grace_period", {"enrollmentGracePeriod": "604800s"}),
        policy("/", "security.two_step_verification_device_trust", {"allowTrustingDevice": True}),
        policy("/", "security.two_step_verification_enforcement_factor", {"allowedSignInFactorSet": "NO_TELEPHONY"}),
        policy("/", "gmail.auto_forwarding", {"enableAutoForwarding": False}),
        policy("/Sales", "security.two_step_verification_enforcement_factor", {"allowedSignInFactorSet": "ALL"}),
        policy("/Sales", "gmail.auto_forwarding",
               {"enableAutoForwarding": True, "allowedForwardingDestination": "ANY_ADDRESS"}),
        policy("/2SV Exempt", "security.two_step_verification_enforcement",
               {"enforcedFrom": EXEMPT_2SV_ENFORCED_FROM}),
        policy("/", "security.two_step_verification_enforcement", {"enforcedFrom": CONTRACTORS_2SV_ENFORCED_FROM},
               group_email=CONTRACTORS_GROUP),
    ]


def gws_auto_forwarding(people: list[GwsPerson]) -> list[dict[str, object]]:
    records = []
    for person in people:
        # NOTE: assumes Gmail leaves out emailAddress and disposition when forwarding is off;
        # the API marks all three fields optional.
        record: dict[str, object] = {"userEmail": person.email, "enabled": person.forward_to is not None}
        if person.forward_to is not None:
            record["emailAddress"] = person.forward_to
            record["disposition"] = "leaveInInbox"
        records.append(record)

    return records


def gws_forwarding_filters(ids: Ids, by_local: dict[str, GwsPerson]) -> list[dict[str, object]]:
    def gmail_filter(local: str, criteria: dict[str, object], forward: str) -> dict[str, object]:
        return {
            "userEmail": by_local[local].email,
            "id": "ANe1Bm" + ids.letters(28, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            "criteria": criteria,
            "action": {"forward": forward},
        }

    return [
        gmail_filter("emma.larsen", {"from": "orders@shop.example", "hasAttachment": True}, "ap@partner.example"),
        gmail_filter("leo.tanaka", {"from": f"alerts@{GWS_DOMAIN}", "subject": "on-call"}, f"oncall@{GWS_DOMAIN}"),
    ]


def gws_tokens(ids: Ids, by_local: dict[str, GwsPerson]) -> list[dict[str, object]]:
    def token(local: str, display: str, scopes: list[str], native: bool = False) -> dict[str, object]:
        person = by_local[local]
        return {
            "kind": "admin#directory#token",
            "clientId": f"{ids.digits(12)}-{ids.letters(32)}.apps.googleusercontent.com",
            "displayText": display,
            "anonymous": False,
            "nativeApp": native,
            "scopes": scopes,
            "userKey": person.id,
            "userEmail": person.email,
        }

    return [
        token("maria.rossi", "Quick Mail Merge",
              ["https://mail.google.com/", "https://www.googleapis.com/auth/spreadsheets"]),
        token("liam.oconnor", "LeadSync CRM", ["https://www.googleapis.com/auth/gmail.readonly",
                                               "https://www.googleapis.com/auth/contacts"]),
        token("mia.schmidt", "Drive desktop sync", ["https://www.googleapis.com/auth/drive"], native=True),
        token("leo.tanaka", "Meeting Scheduler", ["https://www.googleapis.com/auth/calendar.events", "openid",
                                                  "https://www.googleapis.com/auth/userinfo.email"]),
        token("admin", "Fabrikam Directory Sync", ["https://www.googleapis.com/auth/admin.directory.user",
                                                  "https://www.googleapis.com/auth/admin.directory.group"]),
    ]


GWS_SECTIONS = ["users", "superAdmins", "orgUnits", "policies", "autoForwarding", "forwardingFilters", "tokens"]


def build_gws_snapshot(ids: Ids) -> dict[str, object]:
    people = fabrikam_people()
    for person in people:
        person.id = "1" + ids.digits(20)
    org_units = [OrgUnit(unit.path, unit.name, unit.description) for unit in GWS_ORG_UNITS]
    for unit in org_units:
        unit.id = "03ph8a2z" + ids.letters(7)
    contractors_group_id = "01" + ids.letters(13)
    by_local = {person.local: person for person in people}

    data = {
        "users": gws_users(ids, people),
        "superAdmins": [
            {"primaryEmail": person.email, "orgUnitPath": person.org_unit} for person in people if person.admin
        ],
        "orgUnits": gws_org_units(org_units),
        "policies": gws_policies(ids, org_units, contractors_group_id),
        "autoForwarding": gws_auto_forwarding(people),
        "forwardingFilters": gws_forwarding_filters(ids, by_local),
        "tokens": gws_tokens(ids, by_local),
    }

    return {
        "schemaVersion": "1.0",
        "tenant": {"id": GWS_CUSTOMER_ID, "provider": "gws", "domain": GWS_DOMAIN, "displayName": "fabrikam-example"},
        "collectedAt": graph_time(COLLECTED_AT),
        "collector": {"name": "safeguard example generator", "version": "1"},
        "sections": {f"gws.{name}": {"status": "ok"} for name in GWS_SECTIONS},
        "gws": data,
    }
