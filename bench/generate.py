"""Write deterministic synthetic Microsoft 365 snapshots for the benchmark.

One seeded generator per tenant draws every id, name and time, and every
timestamp is relative to the fixed collection time COLLECTED_AT, so a given
(users, seed, tenant index) always yields byte-identical files.

The shapes follow docs/snapshot.md. Groups nest three levels deep, and one
directory role is assigned to a group. A tenant has 20 to 200 conditional
access policies, more for larger tenants. userRegistrationDetails come in
another order than users. There is about one inbox rule per user, some of
which forward outside the accepted domains, and signInActivity has stale,
never-used and missing entries. Files are written with the snapshot writer's
serialisation (indent 2).

Usage:
    python -m bench.generate --users 1000 10000 100000 [--out bench/out]
    python -m bench.generate --tenants 1000 --users 50 [--out bench/out]
"""

from __future__ import annotations

import argparse
import base64
import math
import random
import struct
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.snapshot import serialize_snapshot

__all__ = [
    "COLLECTED_AT",
    "DEFAULT_OUT",
    "SEED",
    "build_snapshot",
    "ca_policy_count",
    "main",
    "snapshot_path",
    "tenants_folder",
    "write_snapshot_file",
    "write_tenants",
]

SEED = 20261130
COLLECTED_AT = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
DEFAULT_OUT = Path(__file__).resolve().parent / "out"

# Graph reports this timestamp for a sign-in that never happened.
NEVER = "0001-01-01T00:00:00Z"

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"
HELPDESK_ADMINISTRATOR = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"

FIRST_NAMES = (
    "Aisha", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena",
    "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena",
    "Yara", "Zane", "Amelie", "Bruno", "Chloe", "Dmitri", "Esther", "Felix",
)
LAST_NAMES = (
    "Abbott", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Santos", "Tanaka",
    "Urban", "Vargas", "Weber", "Xu", "Yilmaz", "Zimmer", "Almeida", "Brennan", "Chen", "Demir",
)
EXTERNAL_DOMAINS = ("gmail.example", "outlook.example", "partner.example", "ledgerline.example", "yahoo.example")

# Registered methods that make isMfaRegistered true; email alone does not count.
MFA_METHODS = frozenset({
    "microsoftAuthenticatorPush", "softwareOneTimePasscode", "mobilePhone", "fido2", "windowsHelloForBusiness",
})
# (cumulative probability, methods registered).
METHOD_CHOICES = (
    (0.12, ()),
    (0.15, ("email",)),
    (0.55, ("microsoftAuthenticatorPush", "softwareOneTimePasscode")),
    (0.75, ("mobilePhone",)),
    (0.90, ("microsoftAuthenticatorPush",)),
    (1.00, ("fido2", "windowsHelloForBusiness", "microsoftAuthenticatorPush")),
)

PHISHING_RESISTANT_STRENGTH = {
    "id": "00000000-0000-0000-0000-000000000004",
    "displayName": "Phishing-resistant MFA",
    "policyType": "builtIn",
    "requirementsSatisfied": "mfa",
    "allowedCombinations": ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"],
}


def graph_time(moment: datetime) -> str:
    """Format a time as Graph does: RFC 3339 UTC without fractions."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ca_policy_count(users: int) -> int:
    """Return the number of conditional access policies: 20 up to 1,000 users, 200 from 100,000 on."""
    if users <= 1000:
        return 20
    scaled = 20 + 90 * (math.log10(users) - 3)

    return min(200, round(scaled))


def _member(kind: str, object_id: str) -> dict[str, str]:
    return {"@odata.type": f"#microsoft.graph.{kind}", "id": object_id}


def _recipient(address: str | None) -> dict[str, Any]:
    name = address.split("@", 1)[0] if address else None
    return {"emailAddress": {"name": name, "address": address}}


class _TenantBuilder:
    """Draws one tenant's records from one seeded generator."""

    def __init__(self, users: int, seed: int, tenant_index: int) -> None:
        self.count = users
        self.random = random.Random(f"{seed}:{tenant_index}:{users}")
        self.name = f"t{tenant_index:04d}"
        self.domain = f"{self.name}.contoso-bench.example"
        self.initial_domain = f"{self.name}contosobench.onmicrosoft.com"
        self.subsidiary_domain = f"{self.name}-subsidiary.example"
        self.rule_counter = 0

    def guid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def days_ago(self, days: float) -> str:
        return graph_time(COLLECTED_AT - timedelta(days=days))

    # Users ---------------------------------------------------------------

    def sign_in_activity(self) -> dict[str, Any] | None:
        roll = self.random.random()
        uniform = self.random.uniform
        if roll < 0.04:
            return None
        if roll < 0.06:
            interactive: object = "never"
            non_interactive: object = "never"
            success: object = None
        elif roll < 0.16:
            interactive = uniform(91, 720)
            non_interactive = interactive + uniform(0, 30)
            success = interactive
        elif roll < 0.19:
            interactive = None
            non_interactive = uniform(0, 30)
            success = non_interactive
        elif roll < 0.21:
            # Around the 90-day boundary.
            interactive = uniform(85, 95)
            non_interactive = interactive + uniform(0, 3)
            success = interactive
        elif roll < 0.22:
            # Password spray: recent failed sign-ins, the last success long ago.
            interactive = uniform(0, 5)
            non_interactive = uniform(100, 200)
            success = non_interactive
        else:
            interactive = uniform(0, 60)
            non_interactive = uniform(0, interactive)
            success = non_interactive

        def stamp(days: object) -> str | None:
            if days is None:
                return None
            if days == "never":
                return NEVER
            return self.days_ago(days)  # type: ignore[arg-type]

        return {
            "lastSignInDateTime": stamp(interactive),
            "lastSignInRequestId": self.guid() if interactive is not None else None,
            "lastNonInteractiveSignInDateTime": stamp(non_interactive),
            "lastNonInteractiveSignInRequestId": self.guid() if non_interactive is not None else None,
            "lastSuccessfulSignInDateTime": stamp(success),
            "lastSuccessfulSignInRequestId": self.guid() if success is not None else None,
        }

    def user(self, index: int) -> dict[str, Any]:
        rng = self.random
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        guest = index >= 2 and rng.random() < 0.03
        if index < 2:
            upn = f"bg-admin-{index + 1:02d}@{self.initial_domain}"
            mail = None
            display = f"Break Glass {index + 1:02d}"
        elif guest:
            external = rng.choice(EXTERNAL_DOMAINS)
            local = f"{first}.{last}.{index}".lower()
            upn = f"{local}_{external}#EXT#@{self.initial_domain}"
            mail = f"{local}@{external}"
            display = f"{first} {last} (Guest)"
        else:
            upn = f"{first}.{last}.{index}@{self.domain}".lower()
            mail = upn
            display = f"{first} {last}"
        new_hire = rng.random() < 0.03
        created = rng.uniform(1, 60) if new_hire else rng.uniform(100, 2500)

        return {
            "id": self.guid(),
            "displayName": display,
            "userPrincipalName": upn,
            "mail": mail,
            "accountEnabled": index < 2 or rng.random() < 0.94,
            "userType": "Guest" if guest else "Member",
            "createdDateTime": self.days_ago(created),
            "onPremisesSyncEnabled": None if index < 2 or guest else rng.random() < 0.6,
            "signInActivity": None if new_hire else self.sign_in_activity(),
        }

    def registration(self, user: dict[str, Any]) -> dict[str, Any]:
        roll = self.random.random()
        methods = next(choice for bound, choice in METHOD_CHOICES if roll < bound)
        if user["userPrincipalName"].startswith("bg-admin-"):
            methods = ("fido2",)
        registered = any(method in MFA_METHODS for method in methods)

        return {
            "id": user["id"],
            "userPrincipalName": user["userPrincipalName"],
            "userDisplayName": user["displayName"],
            "userType": user["userType"].lower(),
            "isAdmin": False,
            "isSsprRegistered": bool(methods),
            "isSsprEnabled": user["userType"] == "Member",
            "isSsprCapable": bool(methods) and user["userType"] == "Member",
            "isMfaRegistered": registered,
            "isMfaCapable": registered,
            "isPasswordlessCapable": "fido2" in methods,
            "methodsRegistered": list(methods),
            "isSystemPreferredAuthenticationMethodEnabled": True,
            "systemPreferredAuthenticationMethods": [],
            "userPreferredMethodForSecondaryAuthentication": "push" if registered else "none",
            "lastUpdatedDateTime": self.days_ago(self.random.uniform(0, 30)),
        }

    # Inbox rules ---------------------------------------------------------

    def rule_id(self) -> str:
        # Exchange rule ids are base64 of 8 bytes; a counter keeps them unique in the tenant.
        self.rule_counter += 1
        return base64.b64encode(b"\x01\x00\x00\x00" + struct.pack(">I", self.rule_counter)).decode("ascii")

    def colleague_address(self, members: list[dict[str, Any]]) -> str:
        return self.random.choice(members)["userPrincipalName"]

    def external_address(self, user: dict[str, Any]) -> str:
        local = user["userPrincipalName"].split("@", 1)[0]
        return f"{local}.home@{self.random.choice(EXTERNAL_DOMAINS)}"

    def rule_actions(self, user: dict[str, Any], members: list[dict[str, Any]]) -> tuple[str, dict[str, Any], bool]:
        """Return a rule's name, actions and whether it forwards mail anywhere."""
        rng = self.random
        roll = rng.random()

        if roll < 0.80:
            folder = base64.b64encode(rng.randbytes(12)).decode("ascii")
            kind = rng.randrange(4)
            if kind == 0:
                return "Newsletters", {"moveToFolder": folder, "stopProcessingRules": True}, False
            if kind == 1:
                return "Read receipts", {"markAsRead": True, "stopProcessingRules": False}, False
            if kind == 2:
                return "Calendar noise", {"delete": True, "stopProcessingRules": False}, False
            return "Important senders", {"markImportance": "high", "stopProcessingRules": False}, False

        # Forwarding inside the tenant.
        if roll < 0.86:
            return "Share with team lead", {"forwardTo": [_recipient(self.colleague_address(members))]}, True
        if roll < 0.88:
            address = f"archive@{self.subsidiary_domain}"
            return "Archive to subsidiary", {"redirectTo": [_recipient(address)]}, True
        if roll < 0.90:
            # Internal: a subdomain of an accepted domain, and upper case that domain_of lowers.
            local = user["userPrincipalName"].split("@", 1)[0]
            address = f"{local}@mail.{self.domain}" if rng.random() < 0.5 else f"{local}@{self.domain.upper()}"
            return "Copy to mail host", {"forwardTo": [_recipient(address)]}, True

        # Forwarding outside.
        if roll < 0.95:
            return "Forward everything home", {"forwardTo": [_recipient(self.external_address(user))]}, True
        if roll < 0.97:
            return "Invoices to bookkeeper", {"redirectTo": [_recipient(self.external_address(user))]}, True
        if roll < 0.98:
            actions = {"forwardAsAttachmentTo": [_recipient(self.external_address(user))]}
            return "Copy statements", actions, True
        if roll < 0.99:
            recipients = [_recipient(self.colleague_address(members)), _recipient(self.external_address(user))]
            return "Team and personal copy", {"forwardTo": recipients}, True
        if roll < 0.995:
            # A look-alike of the tenant's domain is outside it.
            address = f"billing@not{self.domain}" if rng.random() < 0.5 else f"billing@{self.domain}.evil.example"
            return "Look-alike", {"forwardTo": [_recipient(address)]}, True
        # No usable address: Exchange keeps such recipients, the policies skip them.
        return "Broken forward", {"forwardTo": [_recipient(rng.choice(["", None]))]}, True

    def inbox_rules(self, users: list[dict[str, Any]], members: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rules = []
        rng = self.random
        for user in users:
            if user["mail"] is None or user["userType"] != "Member":
                continue
            # 0, 1, 2 or 3 rules with probabilities 0.25, 0.5, 0.2 and 0.05: one per user on average.
            roll = rng.random()
            count = sum(roll >= bound for bound in (0.25, 0.75, 0.95))
            for sequence in range(1, count + 1):
                name, actions, forwards = self.rule_actions(user, members)
                enabled = rng.random() < (0.9 if forwards else 0.97)
                rules.append({
                    "id": self.rule_id(),
                    "displayName": name,
                    "sequence": sequence,
                    "isEnabled": enabled,
                    "hasError": False,
                    "isReadOnly": False,
                    "conditions": {} if forwards else {"senderContains": ["newsletter@"]},
                    "actions": actions,
                    "userId": user["id"],
                    "userPrincipalName": user["userPrincipalName"],
                })

        return rules

    # Groups and roles ----------------------------------------------------

    def group(self, name: str, members: list[dict[str, str]], *, role_assignable: bool = False,
              unified: bool = False) -> dict[str, Any]:
        return {
            "id": self.guid(),
            "displayName": name,
            "description": None,
            "mail": f"{name.lower()}@{self.domain}" if unified else None,
            "mailEnabled": unified,
            "securityEnabled": not unified,
            "groupTypes": ["Unified"] if unified else [],
            "isAssignableToRole": role_assignable,
            "createdDateTime": self.days_ago(self.random.uniform(30, 2000)),
            "members": members,
        }

    def groups(self, members: list[dict[str, Any]]) -> dict[str, Any]:
        """Return the groups and the ids the CA policies and roles refer to.

        Every member is in one department; departments nest in divisions and
        divisions in "All Departments", three levels deep.
        """
        rng = self.random
        department_count = max(4, self.count // 250)
        division_count = max(2, department_count // 8)
        departments: list[list[dict[str, str]]] = [[] for _ in range(department_count)]
        for user in members:
            departments[rng.randrange(department_count)].append(_member("user", user["id"]))
        department_groups = [self.group(f"SG-Dept-{number:03d}", refs) for number, refs in enumerate(departments)]

        division_members: list[list[dict[str, str]]] = [[] for _ in range(division_count)]
        for number, department in enumerate(department_groups):
            division_members[number % division_count].append(_member("group", department["id"]))
        division_groups = [self.group(f"SG-Division-{number:02d}", refs) for number, refs in enumerate(division_members)]
        all_departments = self.group("SG-All-Departments", [_member("group", group["id"]) for group in division_groups])

        enabled = [user for user in members if user["accountEnabled"]]
        all_users = self.group("All Users", [_member("user", user["id"]) for user in enabled], unified=True)

        team_groups = []
        for number in range(max(3, self.count // 100)):
            size = min(len(members), rng.randrange(5, 40))
            refs = [_member("user", user["id"]) for user in rng.sample(members, size)]
            if rng.random() < 0.2:
                refs.append(_member("group", rng.choice(department_groups)["id"]))
            team_groups.append(self.group(f"Team-{number:04d}", refs, unified=rng.random() < 0.5))

        exclusion_size = min(len(members), 2 + self.count // 2000)
        exclusion_refs = [_member("user", user["id"]) for user in rng.sample(members, exclusion_size)]
        exclusion_refs.append(_member("group", team_groups[0]["id"]))
        mfa_exclusions = self.group("SG-CA-Exclude-MFA", exclusion_refs)

        tier0 = self.group("SG-Tier0-Admins", [_member("user", user["id"]) for user in members[2:5]],
                           role_assignable=True)
        helpdesk_size = min(len(members), 2 + self.count // 5000)
        helpdesk = self.group("SG-Helpdesk-Operators",
                              [_member("user", user["id"]) for user in rng.sample(members, helpdesk_size)],
                              role_assignable=True)

        groups = [all_users, all_departments, *division_groups, *department_groups, *team_groups, mfa_exclusions,
                  tier0, helpdesk]
        return {
            "groups": groups,
            "departments": [group["id"] for group in department_groups],
            "divisions": [group["id"] for group in division_groups],
            "teams": [group["id"] for group in team_groups],
            "mfa_exclusions": mfa_exclusions["id"],
            "tier0": tier0["id"],
            "helpdesk": helpdesk["id"],
        }

    def directory_roles(self, members: list[dict[str, Any]], groups: dict[str, Any]) -> list[dict[str, Any]]:
        rng = self.random

        def role(name: str, template: str, refs: list[dict[str, str]], eligible: list[dict[str, str]]) -> dict:
            return {
                "id": self.guid(),
                "displayName": name,
                "description": None,
                "roleTemplateId": template,
                "members": refs,
                "eligibleMembers": eligible,
            }

        def users(count: int) -> list[dict[str, str]]:
            return [_member("user", user["id"]) for user in rng.sample(members[5:], min(count, len(members) - 5))]

        global_reader = users(1)
        global_reader.append(_member("servicePrincipal", self.guid()))
        break_glass = [_member("user", user["id"]) for user in members[:2]]
        return [
            role("Global Administrator", GLOBAL_ADMINISTRATOR, break_glass + users(2), users(1)),
            role("Privileged Role Administrator", PRIVILEGED_ROLE_ADMINISTRATOR,
                 [_member("group", groups["tier0"])], []),
            role("User Administrator", USER_ADMINISTRATOR, users(2), users(1)),
            role("Exchange Administrator", EXCHANGE_ADMINISTRATOR, users(1), []),
            role("Security Administrator", SECURITY_ADMINISTRATOR, users(1), users(1)),
            role("Helpdesk Administrator", HELPDESK_ADMINISTRATOR, [_member("group", groups["helpdesk"])], []),
            role("Global Reader", GLOBAL_READER, global_reader, []),
        ]

    # Conditional access --------------------------------------------------

    def ca_policy(self, name: str, state: str, users: dict[str, Any], built_in: list[str], *,
                  client_app_types: list[str] | None = None, sign_in_risk: list[str] | None = None,
                  locations: dict | None = None, platforms: dict | None = None, strength: dict | None = None,
                  operator: str = "OR") -> dict[str, Any]:
        full_users = {
            "includeUsers": [],
            "excludeUsers": [],
            "includeGroups": [],
            "excludeGroups": [],
            "includeRoles": [],
            "excludeRoles": [],
            "includeGuestsOrExternalUsers": None,
            "excludeGuestsOrExternalUsers": None,
            **users,
        }
        return {
            "id": self.guid(),
            "templateId": None,
            "displayName": name,
            "description": None,
            "createdDateTime": self.days_ago(self.random.uniform(200, 1500)),
            "modifiedDateTime": self.days_ago(self.random.uniform(1, 200)),
            "state": state,
            "conditions": {
                "userRiskLevels": [],
                "signInRiskLevels": sign_in_risk or [],
                "clientAppTypes": client_app_types or ["all"],
                "servicePrincipalRiskLevels": [],
                "insiderRiskLevels": None,
                "platforms": platforms,
                "locations": locations,
                "devices": None,
                "clientApplications": None,
                "authenticationFlows": None,
                "applications": {
                    "includeApplications": ["All"],
                    "excludeApplications": [],
                    "includeUserActions": [],
                    "includeAuthenticationContextClassReferences": [],
                    "applicationFilter": None,
                },
                "users": full_users,
            },
            "grantControls": {
                "operator": operator,
                "builtInControls": built_in,
                "customAuthenticationFactors": [],
                "termsOfUse": [],
                "authenticationStrength": strength,
            },
            "sessionControls": None,
        }

    def conditional_access(self, members: list[dict[str, Any]], groups: dict[str, Any]) -> list[dict[str, Any]]:
        rng = self.random
        break_glass = [user["id"] for user in members[:2]]
        policies = [
            self.ca_policy("CA000: Require MFA for all users", "enabled",
                           {"includeUsers": ["All"], "excludeUsers": break_glass,
                            "excludeGroups": [groups["mfa_exclusions"]]}, ["mfa"]),
            self.ca_policy("CA001: Block legacy authentication", "enabled",
                           {"includeUsers": ["All"], "excludeUsers": break_glass}, ["block"],
                           client_app_types=["exchangeActiveSync", "other"]),
            self.ca_policy("CA002: Phishing-resistant MFA for admins", "enabled",
                           {"includeRoles": [GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR],
                            "excludeUsers": break_glass}, [], strength=PHISHING_RESISTANT_STRENGTH),
            self.ca_policy("CA003: Require MFA for guests", "enabledForReportingButNotEnforced",
                           {"includeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                                             "externalTenants": None}}, ["mfa"]),
            self.ca_policy("CA004: Require MFA for risky sign-ins", "enabled",
                           {"includeUsers": ["All"], "excludeUsers": break_glass}, ["mfa"],
                           sign_in_risk=["high", "medium"]),
            self.ca_policy("CA005: Require MFA for helpdesk", "enabled",
                           {"includeRoles": [HELPDESK_ADMINISTRATOR]}, ["mfa"]),
        ]
        targets = groups["departments"] + groups["divisions"] + groups["teams"]
        for number in range(len(policies), ca_policy_count(self.count)):
            target = rng.choice(targets)
            kind = number % 6
            name = f"CA{number:03d}"
            if kind == 0:
                policies.append(self.ca_policy(f"{name}: Require MFA for group", "enabled",
                                               {"includeGroups": [target]}, ["mfa"]))
            elif kind == 1:
                locations = {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}
                policies.append(self.ca_policy(f"{name}: Block untrusted locations", "enabled",
                                               {"includeGroups": [target]}, ["block"], locations=locations))
            elif kind == 2:
                platforms = {"includePlatforms": ["android", "iOS"], "excludePlatforms": []}
                policies.append(self.ca_policy(f"{name}: Compliant mobile devices", "enabled",
                                               {"includeGroups": [target]}, ["compliantDevice"],
                                               platforms=platforms))
            elif kind == 3:
                policies.append(self.ca_policy(f"{name}: MFA pilot", "enabledForReportingButNotEnforced",
                                               {"includeGroups": [target]}, ["mfa"]))
            elif kind == 4:
                policies.append(self.ca_policy(f"{name}: Retired rule", "disabled",
                                               {"includeUsers": ["All"]}, ["mfa"]))
            else:
                policies.append(self.ca_policy(f"{name}: MFA or compliant device", "enabled",
                                               {"includeGroups": [target], "excludeGroups": [groups["tier0"]]},
                                               ["mfa", "compliantDevice"]))
        rng.shuffle(policies)

        return policies

    # Tenant-wide objects -------------------------------------------------

    def authentication_methods_policy(self) -> dict[str, Any]:
        def method(kind: str, method_id: str, state: str) -> dict[str, Any]:
            return {
                "@odata.type": f"#microsoft.graph.{kind}AuthenticationMethodConfiguration",
                "id": method_id,
                "state": state,
                "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}],
                "excludeTargets": [],
            }

        return {
            "id": "authenticationMethodsPolicy",
            "displayName": "Authentication Methods Policy",
            "policyVersion": "1.5",
            "policyMigrationState": "migrationComplete",
            "authenticationMethodConfigurations": [
                method("fido2", "Fido2", "enabled"),
                method("microsoftAuthenticator", "MicrosoftAuthenticator", "enabled"),
                method("sms", "Sms", "enabled"),
                method("voice", "Voice", "disabled"),
                method("email", "Email", "enabled"),
                method("softwareOath", "SoftwareOath", "enabled"),
            ],
        }

    def accepted_domains(self) -> list[dict[str, Any]]:
        def domain(name: str, kind: str, default: bool) -> dict[str, Any]:
            return {"name": name, "identity": name, "domainName": name, "domainType": kind, "default": default,
                    "initialDomain": name == self.initial_domain, "matchSubDomains": False}

        return [
            domain(self.domain, "Authoritative", True),
            domain(self.initial_domain, "Authoritative", False),
            domain(self.subsidiary_domain, "InternalRelay", False),
        ]

    def build(self) -> dict[str, Any]:
        users = [self.user(index) for index in range(self.count)]
        members = [user for user in users if user["userType"] == "Member"]
        groups = self.groups(members)
        registrations = [self.registration(user) for user in users if self.random.random() >= 0.01]
        self.random.shuffle(registrations)
        data = {
            "users": users,
            "groups": groups["groups"],
            "directoryRoles": self.directory_roles(members, groups),
            "conditionalAccessPolicies": self.conditional_access(members, groups),
            "securityDefaults": {"id": "00000000-0000-0000-0000-000000000005", "displayName": "Security Defaults",
                                 "isEnabled": False},
            "authenticationMethodsPolicy": self.authentication_methods_policy(),
            "userRegistrationDetails": registrations,
            "inboxRules": self.inbox_rules(users, members),
            "acceptedDomains": self.accepted_domains(),
            "remoteDomains": [{"name": "Default", "identity": "Default", "domainName": "*", "isInternal": False,
                               "autoForwardEnabled": True}],
            "auditConfig": {"unifiedAuditLogIngestionEnabled": True, "adminAuditLogEnabled": True,
                            "adminAuditLogAgeLimit": "90.00:00:00"},
        }
        return {
            "schemaVersion": "1.0",
            "tenant": {"id": self.guid(), "provider": "m365", "domain": self.domain,
                       "displayName": f"bench tenant {self.name}"},
            "collectedAt": graph_time(COLLECTED_AT),
            "collector": {"name": "safeguard bench generator", "version": "1"},
            "sections": {f"m365.{name}": {"status": "ok"} for name in data},
            "m365": data,
        }


def build_snapshot(users: int, seed: int = SEED, tenant_index: int = 0) -> dict[str, Any]:
    """Return a snapshot document of a tenant with ``users`` accounts (at least 10)."""
    if users < 10:
        message = f"--users must be at least 10, got {users}"
        raise ValueError(message)

    return _TenantBuilder(users, seed, tenant_index).build()


def snapshot_path(out: Path, users: int, seed: int = SEED) -> Path:
    """Return where the single-tenant snapshot of ``users`` accounts lives under ``out``."""
    return out / f"m365-{users}-users-seed{seed}.json"


def tenants_folder(out: Path, tenants: int, users: int, seed: int = SEED) -> Path:
    """Return the folder of a multi-tenant set under ``out``."""
    return out / f"tenants-{tenants}x{users}-seed{seed}"


def write_snapshot_file(path: Path, users: int, seed: int = SEED, tenant_index: int = 0) -> int:
    """Write one snapshot to ``path`` and return its size in bytes."""
    payload = serialize_snapshot(build_snapshot(users, seed, tenant_index))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)

    return len(payload)


def write_tenants(folder: Path, tenants: int, users: int, seed: int = SEED) -> Path:
    """Write ``tenants`` snapshots of ``users`` accounts each into ``folder``, and an inventory naming them.

    Return the path of the inventory, tenants.yaml, which `safeguard plan
    --inventory FOLDER/tenants.yaml --all` plans offline from the snapshots.
    """
    lines = [
        "# Synthetic tenants written by python -m bench.generate; each entry names its snapshot file.",
        "tenants:",
    ]
    for index in range(tenants):
        name = f"tenant-{index:04d}"
        document = build_snapshot(users, seed, index)
        path = folder / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(serialize_snapshot(document))
        lines += [
            f"  - name: {name}",
            "    provider: m365",
            f"    tenant_id: {document['tenant']['id']}",
            f"    domain: {document['tenant']['domain']}",
            f"    snapshot: {path.name}",
            "    credentials:",
            "      type: client_secret",
            "      client_id: 00000000-0000-4000-8000-000000000000",
            "      client_secret_env: SAFEGUARD_BENCH_CLIENT_SECRET",
        ]
    inventory = folder / "tenants.yaml"
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return inventory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write synthetic Microsoft 365 snapshots for the benchmark.")
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 10000, 100000],
                        help="accounts per tenant; several values write one snapshot each (default: 1000 10000 100000)")
    parser.add_argument("--tenants", type=int, default=None,
                        help="write this many tenants of --users accounts each into one folder (one --users value)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default: {SEED})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: bench/out)")
    arguments = parser.parse_args(argv)

    if arguments.tenants is not None:
        if len(arguments.users) != 1:
            parser.error("--tenants takes exactly one --users value")
        folder = tenants_folder(arguments.out, arguments.tenants, arguments.users[0], arguments.seed)
        inventory = write_tenants(folder, arguments.tenants, arguments.users[0], arguments.seed)
        print(f"wrote {arguments.tenants} snapshots and the inventory {inventory}")
        return 0

    for users in arguments.users:
        path = snapshot_path(arguments.out, users, arguments.seed)
        size = write_snapshot_file(path, users, arguments.seed)
        print(f"wrote {path} ({size / 1e6:.1f} MB)")

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
