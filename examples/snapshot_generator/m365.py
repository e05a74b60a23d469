"""The Microsoft 365 example tenant "contoso-example" and its tenant params.

A small company of about three dozen accounts, with mistakes such tenants
commonly have. A conditional access policy excludes a user that the params do
not declare as break-glass, one MFA policy is report-only and another covers
only risky sign-ins. SMS and email codes are enabled. Some accounts are stale
or were never used, a disabled account still has an admin role, inbox rules
forward mail outside, and every remote domain accepts automatic forwarding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from snapshot_generator.common import COLLECTED_AT, Ids, graph_time

__all__ = ["Person", "build_m365_snapshot", "render_params"]

M365_DOMAIN = "contoso.example"
M365_INITIAL_DOMAIN = "contoso.onmicrosoft.com"

# Directory role template ids are the same in every Entra tenant.
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
HELPDESK_ADMINISTRATOR = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"

# Built-in authentication strength "Phishing-resistant MFA" has this fixed id.
PHISHING_RESISTANT_STRENGTH = "00000000-0000-0000-0000-000000000004"

# Graph returns this timestamp for a sign-in that never happened.
NEVER = "0001-01-01T00:00:00Z"

# Registered methods that count towards isMfaRegistered. Email alone does not count.
MFA_METHODS = {
    "microsoftAuthenticatorPush",
    "microsoftAuthenticatorPasswordless",
    "softwareOneTimePasscode",
    "hardwareOneTimePasscode",
    "mobilePhone",
    "alternateMobilePhone",
    "officePhone",
    "fido2",
    "passKeyDeviceBound",
    "windowsHelloForBusiness",
}
PASSWORDLESS_METHODS = {
    "fido2",
    "passKeyDeviceBound",
    "windowsHelloForBusiness",
    "microsoftAuthenticatorPasswordless",
}
# The example's authentication methods policy disables Voice, so phone-call methods cannot satisfy MFA.
DISABLED_METHODS = {"officePhone", "alternateMobilePhone"}


@dataclass
class Person:
    """One Entra user of the example tenant and the facts that shape its records."""

    key: str
    display_name: str
    upn: str
    mail: str | None
    user_type: str = "Member"
    enabled: bool = True
    created_days_ago: int = 900
    synced: bool | None = True
    # Days since the last interactive and non-interactive sign-in. None stands for null
    # and "never" for the 0001-01-01 placeholder. None in place of the pair means no signInActivity.
    sign_in: tuple[object, object] | None = (2, 0.2)
    # Days since the last successful sign-in, or "latest" for the more recent of the two above.
    last_success: object = "latest"
    methods: list[str] = field(default_factory=lambda: ["microsoftAuthenticatorPush", "softwareOneTimePasscode"])
    preferred: str = "push"
    sspr: bool = True
    id: str = ""


def contoso_people() -> list[Person]:
    """Return the example tenant's users, break-glass accounts first."""
    domain = M365_DOMAIN
    return [
        # Cloud-only emergency-access accounts: FIDO2 keys in a safe, signed in for a quarterly test.
        Person("breakglass1", "Break Glass 01", f"bg-admin-01@{M365_INITIAL_DOMAIN}", None,
               created_days_ago=1400, synced=None, sign_in=(62, None), methods=["fido2"], preferred="none",
               sspr=False),
        Person("breakglass2", "Break Glass 02", f"bg-admin-02@{M365_INITIAL_DOMAIN}", None,
               created_days_ago=1400, synced=None, sign_in=(153, None), methods=["fido2"], preferred="none",
               sspr=False),
        Person("priya", "Priya Raman", f"priya.raman@{domain}", f"priya.raman@{domain}",
               created_days_ago=1380, synced=None, sign_in=(0.3, 0.1),
               methods=["fido2", "windowsHelloForBusiness", "microsoftAuthenticatorPush"]),
        Person("marcus", "Marcus Webb", f"marcus.webb@{domain}", f"marcus.webb@{domain}",
               created_days_ago=1100, synced=None, sign_in=(1, 0.1)),
        Person("elena", "Elena Sørensen", f"elena.sorensen@{domain}", f"elena.sorensen@{domain}",
               created_days_ago=640, synced=None, sign_in=(0.5, 0.2),
               methods=["fido2", "microsoftAuthenticatorPasswordless", "microsoftAuthenticatorPush"]),
        Person("jamal", "Jamal Carter", f"jamal.carter@{domain}", f"jamal.carter@{domain}",
               created_days_ago=480, sign_in=(0.8, 0.1)),
        # Left the company. The account is disabled but still has the User Administrator role.
        Person("greg", "Greg Holloway", f"greg.holloway@{domain}", f"greg.holloway@{domain}",
               enabled=False, created_days_ago=1300, sign_in=(210, 205)),
        # Chief executive, excluded from the MFA policy "for now", with only a phone number registered.
        Person("tom", "Tom Fletcher", f"tom.fletcher@{domain}", f"tom.fletcher@{domain}",
               created_days_ago=1390, sign_in=(0.2, 0.05), methods=["mobilePhone"], preferred="sms"),
        Person("aisha", "Aisha Bello", f"aisha.bello@{domain}", f"aisha.bello@{domain}", sign_in=(1.5, 0.3)),
        Person("daniel", "Daniel Kim", f"daniel.kim@{domain}", f"daniel.kim@{domain}", sign_in=(3, 0.5)),
        Person("fatima", "Fatima Haddad", f"fatima.haddad@{domain}", f"fatima.haddad@{domain}",
               sign_in=(0.7, 0.1), methods=["windowsHelloForBusiness", "microsoftAuthenticatorPush"]),
        Person("george", "George Okafor", f"george.okafor@{domain}", f"george.okafor@{domain}",
               sign_in=(5, 1), methods=["mobilePhone"], preferred="sms"),
        Person("hannah", "Hannah Lindqvist", f"hannah.lindqvist@{domain}", f"hannah.lindqvist@{domain}",
               sign_in=(2, 0.4)),
        Person("ivan", "Ivan Petrov", f"ivan.petrov@{domain}", f"ivan.petrov@{domain}", sign_in=(0.9, 0.2)),
        Person("julia", "Julia Santos", f"julia.santos@{domain}", f"julia.santos@{domain}",
               sign_in=(4, 0.6), methods=["mobilePhone", "email"], preferred="sms"),
        Person("kenji", "Kenji Watanabe", f"kenji.watanabe@{domain}", f"kenji.watanabe@{domain}",
               sign_in=(1, 0.2)),
        Person("laura", "Laura Méndez", f"laura.mendez@{domain}", f"laura.mendez@{domain}",
               sign_in=(2.5, 0.3)),
        Person("mohammed", "Mohammed Al-Sayed", f"mohammed.alsayed@{domain}", f"mohammed.alsayed@{domain}",
               sign_in=(6, 1), methods=["officePhone"], preferred="voiceOffice"),
        Person("nina", "Nina Kowalski", f"nina.kowalski@{domain}", f"nina.kowalski@{domain}",
               sign_in=(0.4, 0.1), methods=["windowsHelloForBusiness", "microsoftAuthenticatorPush"]),
        Person("oscar", "Oscar Brennan", f"oscar.brennan@{domain}", f"oscar.brennan@{domain}",
               sign_in=(8, 2), methods=["email"], preferred="none"),
        Person("paula", "Paula Ferreira", f"paula.ferreira@{domain}", f"paula.ferreira@{domain}",
               sign_in=(1.2, 0.2)),
        Person("quinn", "Quinn Harper", f"quinn.harper@{domain}", f"quinn.harper@{domain}",
               sign_in=(3.5, 0.8)),
        Person("rosa", "Rosa Delgado", f"rosa.delgado@{domain}", f"rosa.delgado@{domain}",
               sign_in=(2, 0.5), methods=["mobilePhone"], preferred="sms"),
        # Stale enabled members: on leave, a forgotten project account, a contractor just past 90 days.
        Person("samuel", "Samuel Osei", f"samuel.osei@{domain}", f"samuel.osei@{domain}",
               sign_in=(141, 139)),
        Person("project", "Project Atlas", f"project.atlas@{domain}", f"project.atlas@{domain}",
               created_days_ago=1150, synced=None, sign_in=(402, 398), methods=[], preferred="none",
               sspr=False),
        Person("victor", "Victor Lang", f"victor.lang@{domain}", f"victor.lang@{domain}",
               created_days_ago=300, sign_in=(95, 93)),
        # Just inside the 90-day window.
        Person("wendy", "Wendy Brooks", f"wendy.brooks@{domain}", f"wendy.brooks@{domain}",
               sign_in=(88, 87)),
        # Password spray target: recent failed sign-ins, last success long ago.
        Person("xavier", "Xavier Dupont", f"xavier.dupont@{domain}", f"xavier.dupont@{domain}",
               sign_in=(0.6, 120), last_success=120, methods=["mobilePhone"], preferred="sms"),
        # Created months ago and never used.
        Person("yusuf", "Yusuf Demir", f"yusuf.demir@{domain}", f"yusuf.demir@{domain}",
               created_days_ago=200, sign_in=("never", "never"), last_success=None, methods=[], preferred="none",
               sspr=False),
        # New hire from last week: Graph has no sign-in activity at all yet.
        Person("zoe", "Zoe Martin", f"zoe.martin@{domain}", f"zoe.martin@{domain}",
               created_days_ago=6, sign_in=None, methods=[], preferred="none", sspr=False),
        # Scan-to-email account of the office printer: SMTP basic auth, so only non-interactive sign-ins.
        Person("scanner", "Scanner (2nd floor)", f"scanner@{domain}", f"scanner@{domain}",
               created_days_ago=1200, synced=None, sign_in=(None, 0.1), methods=[], preferred="none",
               sspr=False),
        Person("bella", "Bella Thompson", f"bella.thompson@{domain}", f"bella.thompson@{domain}",
               enabled=False, sign_in=(4, 3)),
        Person("carl", "Carl Jensen", f"carl.jensen@{domain}", f"carl.jensen@{domain}",
               enabled=False, sign_in=(330, 328), methods=["mobilePhone"], preferred="sms"),
        Person("jordan", "Jordan Blake (Partner)", f"jordan.blake_partner.example#EXT#@{M365_INITIAL_DOMAIN}",
               "jordan.blake@partner.example", user_type="Guest", created_days_ago=420, synced=None,
               sign_in=(9, 8), methods=[], preferred="none", sspr=False),
        Person("kim", "Kim Nguyen (Audit)", f"kim.nguyen_auditfirm.example#EXT#@{M365_INITIAL_DOMAIN}",
               "kim.nguyen@auditfirm.example", user_type="Guest", created_days_ago=700, synced=None,
               sign_in=(230, 229), methods=[], preferred="none", sspr=False),
        Person("lee", "Lee Morgan", f"lee.morgan_gmail.example#EXT#@{M365_INITIAL_DOMAIN}",
               "lee.morgan@gmail.example",
               user_type="Guest", created_days_ago=35, synced=None, sign_in=None, methods=[], preferred="none",
               sspr=False),
        Person("sam", "Sam Patel (Former Vendor)", f"sam.patel_vendor.example#EXT#@{M365_INITIAL_DOMAIN}",
               "sam.patel@vendor.example", user_type="Guest", enabled=False, created_days_ago=900, synced=None,
               sign_in=(500, 499), methods=[], preferred="none", sspr=False),
    ]


def sign_in_activity(ids: Ids, person: Person) -> dict[str, object] | None:
    if person.sign_in is None:
        return None

    activity: dict[str, object] = {}
    seen: dict[object, tuple[object, object]] = {}
    for prefix, days in zip(("lastSignIn", "lastNonInteractiveSignIn"), person.sign_in):
        activity[f"{prefix}DateTime"], activity[f"{prefix}RequestId"] = sign_in_time(ids, days, seen)

    success = person.last_success
    if success == "latest":
        success = min(days for days in person.sign_in if isinstance(days, (int, float)))
    # A successful sign-in on the same day as one above is that same sign-in.
    activity["lastSuccessfulSignInDateTime"], activity["lastSuccessfulSignInRequestId"] = sign_in_time(
        ids, success, seen
    )

    return activity


def sign_in_time(ids: Ids, days: object, seen: dict[object, tuple[object, object]]) -> tuple[object, object]:
    if days is None:
        return None, None
    if days == "never":
        return NEVER, None
    if days not in seen:
        seen[days] = (graph_time(ids.days_ago(days)), ids.guid())

    return seen[days]


def m365_users(ids: Ids, people: list[Person]) -> list[dict[str, object]]:
    users = []
    for person in people:
        users.append({
            "id": person.id,
            "displayName": person.display_name,
            "userPrincipalName": person.upn,
            "mail": person.mail,
            "accountEnabled": person.enabled,
            "userType": person.user_type,
            "createdDateTime": graph_time(ids.days_ago(person.created_days_ago)),
            "onPremisesSyncEnabled": person.synced,
            "signInActivity": sign_in_activity(ids, person),
        })

    return users


def member(kind: str, object_id: str) -> dict[str, str]:
    return {"@odata.type": f"#microsoft.graph.{kind}", "id": object_id}


def m365_groups(ids: Ids, by_key: dict[str, Person], group_ids: dict[str, str]) -> list[dict[str, object]]:
    """Return the groups with their direct members. SG-Finance nests groups three levels deep."""
    staff = [person for person in by_key.values() if person.user_type == "Member" and person.enabled
             and not person.key.startswith("breakglass") and person.key not in ("scanner", "project")]

    def group(key: str, name: str, description: str, members: list[dict[str, str]], *, unified: bool = False,
              role_assignable: bool = False, created_days_ago: int = 800) -> dict[str, object]:
        return {
            "id": group_ids[key],
            "displayName": name,
            "description": description,
            "mail": f"{key}@{M365_DOMAIN}" if unified else None,
            "mailEnabled": unified,
            "securityEnabled": not unified,
            "groupTypes": ["Unified"] if unified else [],
            "isAssignableToRole": role_assignable,
            "createdDateTime": graph_time(ids.days_ago(created_days_ago)),
            "members": members,
        }

    users = {key: member("user", person.id) for key, person in by_key.items()}
    return [
        group("allstaff", "All Staff", "Everyone at Contoso", [users[person.key] for person in staff], unified=True,
              created_days_ago=1390),
        group("finance", "SG-Finance", "Finance department",
              [users["aisha"], users["hannah"], member("group", group_ids["payables"])]),
        group("payables", "SG-Finance-Payables", "Accounts payable team",
              [users["julia"], users["laura"], member("group", group_ids["payables-contractors"])]),
        group("payables-contractors", "SG-Finance-Payables-Contractors", "Temporary staff in accounts payable",
              [users["victor"], users["xavier"]], created_days_ago=300),
        # The accounting add-in of the payables team still uses basic authentication.
        group("legacy-auth-exclusions", "SG-CA-Exclude-LegacyAuth",
              "Excluded from the legacy authentication block: printer scan-to-email and the payables add-in",
              [users["scanner"], member("group", group_ids["payables"])], created_days_ago=700),
        group("tier0", "SG-Tier0-Admins", "Administrators of identity and security",
              [users["priya"], users["marcus"], users["elena"]], role_assignable=True, created_days_ago=600),
        group("compliant-pilot", "SG-Pilot-CompliantDevice", "Pilot of the compliant-device requirement",
              [users["ivan"], users["kenji"]], created_days_ago=90),
    ]


def m365_directory_roles(ids: Ids, by_key: dict[str, Person], collector_app_id: str) -> list[dict[str, object]]:
    def role(name: str, template: str, description: str, members: list[str], eligible: Sequence[str] = ()) -> dict:
        return {
            "id": ids.guid(),
            "displayName": name,
            "description": description,
            "roleTemplateId": template,
            "members": [member("user", by_key[key].id) for key in members],
            "eligibleMembers": [member("user", by_key[key].id) for key in eligible],
        }

    global_reader = role("Global Reader", GLOBAL_READER,
                         "Can read everything that a Global Administrator can, but not update anything.", ["elena"])
    # The safeguard collector's service principal reads the tenant through Global Reader.
    global_reader["members"].append(member("servicePrincipal", collector_app_id))

    return [
        role("Global Administrator", GLOBAL_ADMINISTRATOR,
             "Can manage every aspect of Microsoft Entra ID and the services that use it.",
             ["breakglass1", "breakglass2", "priya"], eligible=["marcus"]),
        role("Privileged Role Administrator", PRIVILEGED_ROLE_ADMINISTRATOR,
             "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.",
             [], eligible=["priya"]),
        role("Security Administrator", SECURITY_ADMINISTRATOR,
             "Can read security reports and manage security configuration.",
             ["elena"]),
        role("Exchange Administrator", EXCHANGE_ADMINISTRATOR,
             "Can manage all aspects of the Exchange product.", ["marcus"]),
        role("User Administrator", USER_ADMINISTRATOR,
             "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
             ["greg"]),
        role("Helpdesk Administrator", HELPDESK_ADMINISTRATOR,
             "Can reset passwords for non-administrators and Helpdesk Administrators.", ["jamal"]),
        global_reader,
    ]


def ca_users(include_users: Sequence[str] = (), exclude_users: Sequence[str] = (),
             include_groups: Sequence[str] = (), exclude_groups: Sequence[str] = (),
             include_roles: Sequence[str] = (), include_guests: object = None) -> dict:
    return {
        "includeUsers": list(include_users),
        "excludeUsers": list(exclude_users),
        "includeGroups": list(include_groups),
        "excludeGroups": list(exclude_groups),
        "includeRoles": list(include_roles),
        "excludeRoles": [],
        "includeGuestsOrExternalUsers": include_guests,
        "excludeGuestsOrExternalUsers": None,
    }


def ca_policy(ids: Ids, name: str, state: str, users: dict, *, built_in: Sequence[str], operator: str = "OR",
              client_app_types: Sequence[str] = ("all",), sign_in_risk: Sequence[str] = (), strength: object = None,
              session: object = None, created_days_ago: int = 700, modified_days_ago: int = 200) -> dict:
    return {
        "id": ids.guid(),
        "templateId": None,
        "displayName": name,
        "description": None,
        "createdDateTime": graph_time(ids.days_ago(created_days_ago)),
        "modifiedDateTime": graph_time(ids.days_ago(modified_days_ago)),
        "state": state,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": list(sign_in_risk),
            "clientAppTypes": list(client_app_types),
            "servicePrincipalRiskLevels": [],
            "insiderRiskLevels": None,
            "platforms": None,
            "locations": None,
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
            "users": users,
        },
        "grantControls": {
            "operator": operator,
            "builtInControls": list(built_in),
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength": strength,
        },
        "sessionControls": session,
    }


def m365_conditional_access(ids: Ids, by_key: dict[str, Person], group_ids: dict[str, str]) -> list[dict]:
    """Return CA policies with the mistakes the example is meant to show."""
    break_glass = [by_key["breakglass1"].id, by_key["breakglass2"].id]
    all_guests = {
        "guestOrExternalUserTypes": (
            "internalGuest,b2bCollaborationGuest,b2bCollaborationMember,b2bDirectConnectUser,"
            "otherExternalUser,serviceProvider"
        ),
        "externalTenants": {
            "@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
            "membershipKind": "all",
        },
    }
    phishing_resistant = {
        "id": PHISHING_RESISTANT_STRENGTH,
        "createdDateTime": "2021-12-01T08:00:00Z",
        "modifiedDateTime": "2021-12-01T08:00:00Z",
        "displayName": "Phishing-resistant MFA",
        "description": "Phishing-resistant, passwordless methods such as FIDO2 security keys",
        "policyType": "builtIn",
        "requirementsSatisfied": "mfa",
        "allowedCombinations": ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"],
    }
    admin_session = {
        "disableResilienceDefaults": None,
        "applicationEnforcedRestrictions": None,
        "cloudAppSecurity": None,
        "persistentBrowser": None,
        "continuousAccessEvaluation": None,
        "secureSignInSession": None,
        "signInFrequency": {
            "value": 4,
            "type": "hours",
            "authenticationType": "primaryAndSecondaryAuthentication",
            "frequencyInterval": "timeBased",
            "isEnabled": True,
        },
    }

    return [
        # Excludes the break-glass accounts and, undeclared, the chief executive.
        ca_policy(ids, "CA001: Require MFA for all users", "enabled",
                  ca_users(include_users=["All"], exclude_users=[*break_glass, by_key["tom"].id]),
                  built_in=["mfa"], created_days_ago=1200, modified_days_ago=410),
        # Switched to report-only during a vendor onboarding and never switched back.
        ca_policy(ids, "CA002: Require MFA for guests", "enabledForReportingButNotEnforced",
                  ca_users(include_guests=all_guests), built_in=["mfa"], created_days_ago=800, modified_days_ago=230),
        # Only risky sign-ins get MFA here, so it does not cover everyone.
        ca_policy(ids, "CA003: Require MFA for risky sign-ins", "enabled",
                  ca_users(include_users=["All"], exclude_users=break_glass),
                  built_in=["mfa"], sign_in_risk=["high", "medium"], created_days_ago=650, modified_days_ago=650),
        ca_policy(ids, "CA004: Block legacy authentication", "enabled",
                  ca_users(include_users=["All"], exclude_users=break_glass,
                           exclude_groups=[group_ids["legacy-auth-exclusions"]]),
                  built_in=["block"], client_app_types=["exchangeActiveSync", "other"],
                  created_days_ago=1190, modified_days_ago=300),
        ca_policy(ids, "CA005: Require phishing-resistant MFA for admins", "enabled",
                  ca_users(include_roles=[GLOBAL_ADMINISTRATOR], exclude_users=break_glass),
                  built_in=[], strength=phishing_resistant, session=admin_session,
                  created_days_ago=400, modified_days_ago=120),
        ca_policy(ids, "CA006: Require compliant device (pilot)", "disabled",
                  ca_users(include_groups=[group_ids["compliant-pilot"]], exclude_users=break_glass),
                  built_in=["compliantDevice"], created_days_ago=90, modified_days_ago=60),
    ]


def m365_authentication_methods_policy(ids: Ids) -> dict[str, object]:
    everyone = [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}]
    nobody = {"targetType": "group", "id": "00000000-0000-0000-0000-000000000000"}

    def feature(state: str) -> dict[str, object]:
        return {"state": state, "includeTarget": {"targetType": "group", "id": "all_users"}, "excludeTarget": nobody}

    return {
        "id": "authenticationMethodsPolicy",
        "displayName": "Authentication Methods Policy",
        "description": "Which authentication methods users of the tenant may register and use",
        "lastModifiedDateTime": graph_time(ids.days_ago(180)),
        "policyVersion": "1.5",
        "policyMigrationState": "migrationComplete",
        "registrationEnforcement": {
            "authenticationMethodsRegistrationCampaign": {
                "snoozeDurationInDays": 1,
                "enforceRegistrationAfterAllowedSnoozes": True,
                "state": "default",
                "excludeTargets": [],
                "includeTargets": [
                    {
                        "id": "all_users",
                        "targetType": "group",
                        "targetedAuthenticationMethod": "microsoftAuthenticator",
                    },
                ],
            },
        },
        "authenticationMethodConfigurations": [
            {
                "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
                "id": "Fido2",
                "state": "enabled",
                "isSelfServiceRegistrationAllowed": True,
                "isAttestationEnforced": False,
                "keyRestrictions": {"isEnforced": False, "enforcementType": "block", "aaGuids": []},
                "includeTargets": everyone,
                "excludeTargets": [],
            },
            {
                "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration",
                "id": "MicrosoftAuthenticator",
                "state": "enabled",
                "isSoftwareOathEnabled": False,
                "featureSettings": {
                    "numberMatchingRequiredState": feature("enabled"),
                    "displayAppInformationRequiredState": feature("enabled"),
                    "displayLocationInformationRequiredState": feature("default"),
                    "companionAppAllowedState": feature("default"),
                },
                "includeTargets": [{**everyone[0], "authenticationMode": "any"}],
                "excludeTargets": [],
            },
            {
                "@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration",
                "id": "Sms",
                "state": "enabled",
                "includeTargets": [{**everyone[0], "isUsableForSignIn": True}],
                "excludeTargets": [],
            },
            {
                "@odata.type": "#microsoft.graph.voiceAuthenticationMethodConfiguration",
                "id": "Voice",
                "state": "disabled",
                "isOfficePhoneAllowed": False,
                "includeTargets": everyone,
                "excludeTargets": [],
            },
            {
                "@odata.type": "#microsoft.graph.emailAuthenticationMethodConfiguration",
                "id": "Email",
                "state": "enabled",
                "allowExternalIdToUseEmailOtp": "default",
                "includeTargets": everyone,
                "excludeTargets": [],
            },
            {
                "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
                "id": "TemporaryAccessPass",
                "state": "enabled",
                "defaultLifetimeInMinutes": 60,
                "defaultLength": 8,
                "minimumLifetimeInMinutes": 60,
                "maximumLifetimeInMinutes": 480,
                "isUsableOnce": True,
                "includeTargets": everyone,
                "excludeTargets": [],
            },
            {
                "@odata.type": "#microsoft.graph.softwareOathAuthenticationMethodConfiguration",
                "id": "SoftwareOath",
                "state": "disabled",
                "includeTargets": everyone,
                "excludeTargets": [],
            },
            {
                "@odata.type": "#microsoft.graph.x509CertificateAuthenticationMethodConfiguration",
                "id": "X509Certificate",
                "state": "disabled",
                "includeTargets": everyone,
                "excludeTargets": [],
            },
        ],
    }


SYSTEM_PREFERRED = [
    ("fido2", "Fido2"),
    ("windowsHelloForBusiness", "Fido2"),
    ("microsoftAuthenticatorPush", "Push"),
    ("softwareOneTimePasscode", "Oath"),
    ("mobilePhone", "Sms"),
]


def m365_registration_details(ids: Ids, people: list[Person], admins: set[str]) -> list[dict[str, object]]:
    details = []
    for person in people:
        methods = list(person.methods)
        mfa_registered = any(method in MFA_METHODS for method in methods)
        mfa_capable = any(method in MFA_METHODS and method not in DISABLED_METHODS for method in methods)
        system_preferred = [label for method, label in SYSTEM_PREFERRED if method in methods][:1]
        details.append({
            "id": person.id,
            "userPrincipalName": person.upn,
            "userDisplayName": person.display_name,
            "userType": person.user_type.lower(),
            "isAdmin": person.key in admins,
            "isSsprRegistered": person.sspr and bool(methods),
            "isSsprEnabled": person.user_type == "Member",
            "isSsprCapable": person.sspr and bool(methods) and person.user_type == "Member",
            "isMfaRegistered": mfa_registered,
            "isMfaCapable": mfa_capable,
            "isPasswordlessCapable": any(method in PASSWORDLESS_METHODS for method in methods),
            "methodsRegistered": methods,
            "isSystemPreferredAuthenticationMethodEnabled": True,
            "systemPreferredAuthenticationMethods": system_preferred,
            "userPreferredMethodForSecondaryAuthentication": person.preferred,
            "lastUpdatedDateTime": graph_time(ids.days_ago(1)),
        })

    return details


def recipient(name: str, address: str) -> dict[str, dict[str, str]]:
    return {"emailAddress": {"name": name, "address": address}}


def m365_inbox_rules(ids: Ids, by_key: dict[str, Person]) -> list[dict[str, object]]:
    """Return inbox rules: external forwards, an internal one, a disabled one, and ordinary filing rules."""
    def rule(owner: str, name: str, sequence: int, conditions: dict, actions: dict, enabled: bool = True) -> dict:
        person = by_key[owner]
        return {
            "id": ids.message_rule_id(),
            "displayName": name,
            "sequence": sequence,
            "isEnabled": enabled,
            "hasError": False,
            "isReadOnly": False,
            "conditions": conditions,
            "actions": actions,
            "userId": person.id,
            "userPrincipalName": person.upn,
        }

    return [
        rule("aisha", "Newsletters", 1, {"senderContains": ["newsletter@", "news@"]},
             {"moveToFolder": "AAMkAGI2TG93AAA=", "stopProcessingRules": True}),
        rule("daniel", "Forward everything home", 1, {},
             {"forwardTo": [recipient("Daniel Kim", "daniel.kim.home@gmail.example")], "stopProcessingRules": False}),
        rule("hannah", "Invoices to bookkeeper", 1, {"subjectContains": ["invoice", "remittance"]},
             {"redirectTo": [recipient("Ledgerline Bookkeeping", "inbox@ledgerline.example")],
              "stopProcessingRules": True}),
        rule("julia", "Copy statements", 1, {"senderContains": ["statements@bank.example"]},
             {"forwardAsAttachmentTo": [recipient("J. Santos", "jsantos1987@outlook.example")],
              "stopProcessingRules": False}),
        rule("kenji", "Share support tickets with team lead", 1, {"subjectContains": ["[Ticket#"]},
             {"forwardTo": [recipient("Paula Ferreira", f"paula.ferreira@{M365_DOMAIN}")],
              "stopProcessingRules": False}),
        rule("laura", "Old forward to personal", 2, {},
             {"forwardTo": [recipient("Laura", "laura.mendez.home@gmail.example")], "stopProcessingRules": False},
             enabled=False),
        rule("laura", "Flag CEO mail", 1,
             {"fromAddresses": [recipient("Tom Fletcher", f"tom.fletcher@{M365_DOMAIN}")]},
             {"markImportance": "high", "stopProcessingRules": False}),
        # A rule of the kind attackers create after a mailbox takeover: hide replies about payments.
        rule("xavier", ".", 1, {"bodyOrSubjectContains": ["invoice", "payment", "wire transfer"]},
             {"moveToFolder": "AAMkAGRzc0ZlZWRzAAA=", "markAsRead": True, "stopProcessingRules": True}),
        rule("nina", "Delete calendar noise", 1, {"subjectContains": ["Accepted:", "Tentative:"]},
             {"delete": True, "stopProcessingRules": False}),
        rule("george", "Sales leads to CRM", 1, {"sentToAddresses": [recipient("Sales", f"sales@{M365_DOMAIN}")]},
             {"forwardTo": [recipient("CRM intake", "leads@crm.partner.example")], "stopProcessingRules": False}),
    ]


def m365_accepted_domains(ids: Ids) -> list[dict[str, object]]:
    return [
        {
            "name": M365_DOMAIN,
            "identity": M365_DOMAIN,
            "domainName": M365_DOMAIN,
            "domainType": "Authoritative",
            "default": True,
            "initialDomain": False,
            "matchSubDomains": False,
            "whenCreated": graph_time(ids.days_ago(1395)),
        },
        {
            "name": M365_INITIAL_DOMAIN,
            "identity": M365_INITIAL_DOMAIN,
            "domainName": M365_INITIAL_DOMAIN,
            "domainType": "Authoritative",
            "default": False,
            "initialDomain": True,
            "matchSubDomains": False,
            "whenCreated": graph_time(ids.days_ago(1400)),
        },
    ]


def m365_remote_domains(ids: Ids) -> list[dict[str, object]]:
    # The Default remote domain matches every outside domain ("*"), and it allows automatic forwarding.
    return [
        {
            "name": "Default",
            "identity": "Default",
            "domainName": "*",
            "isInternal": False,
            "autoForwardEnabled": True,
            "autoReplyEnabled": True,
            "allowedOOFType": "External",
            "deliveryReportEnabled": True,
            "ndrEnabled": True,
            "ndrDiagnosticInfoEnabled": True,
            "meetingForwardNotificationEnabled": False,
            "targetDeliveryDomain": False,
            "trustedMailInboundEnabled": False,
            "trustedMailOutboundEnabled": False,
            "whenChanged": graph_time(ids.days_ago(512)),
            "whenCreated": graph_time(ids.days_ago(1400)),
        },
    ]


def m365_audit_config(ids: Ids) -> dict[str, object]:
    return {
        "name": "Admin Audit Log Settings",
        "identity": "Admin Audit Log Settings",
        "unifiedAuditLogIngestionEnabled": True,
        "unifiedAuditLogFirstOptInDate": graph_time(ids.days_ago(1390)),
        "adminAuditLogEnabled": True,
        "adminAuditLogAgeLimit": "90.00:00:00",
        "adminAuditLogCmdlets": ["*"],
        "adminAuditLogParameters": ["*"],
        "adminAuditLogExcludedCmdlets": [],
        "logLevel": "None",
        "testCmdletLoggingEnabled": False,
    }


M365_SECTIONS = [
    "users",
    "groups",
    "directoryRoles",
    "conditionalAccessPolicies",
    "securityDefaults",
    "authenticationMethodsPolicy",
    "userRegistrationDetails",
    "inboxRules",
    "acceptedDomains",
    "remoteDomains",
    "auditConfig",
]


def build_m365_snapshot(ids: Ids) -> tuple[dict[str, object], list[Person]]:
    """Return the Microsoft 365 snapshot and its people, whose ids params.yaml needs."""
    tenant_id = ids.guid()
    people = contoso_people()
    for person in people:
        person.id = ids.guid()
    by_key = {person.key: person for person in people}
    group_keys = ["allstaff", "finance", "payables", "payables-contractors", "legacy-auth-exclusions", "tier0",
                  "compliant-pilot"]
    group_ids = {key: ids.guid() for key in group_keys}
    collector_app_id = ids.guid()

    roles = m365_directory_roles(ids, by_key, collector_app_id)
    role_holders = {reference["id"] for role in roles for reference in role["members"]}
    admins = {person.key for person in people if person.id in role_holders}

    data = {
        "users": m365_users(ids, people),
        "groups": m365_groups(ids, by_key, group_ids),
        "directoryRoles": roles,
        "conditionalAccessPolicies": m365_conditional_access(ids, by_key, group_ids),
        "securityDefaults": {
            "id": "00000000-0000-0000-0000-000000000005",
            "displayName": "Security Defaults",
            "description": "Basic identity protections that Microsoft enforces when enabled",
            "isEnabled": False,
        },
        "authenticationMethodsPolicy": m365_authentication_methods_policy(ids),
        "userRegistrationDetails": m365_registration_details(ids, people, admins),
        "inboxRules": m365_inbox_rules(ids, by_key),
        "acceptedDomains": m365_accepted_domains(ids),
        "remoteDomains": m365_remote_domains(ids),
        "auditConfig": m365_audit_config(ids),
    }
    snapshot = {
        "schemaVersion": "1.0",
        "tenant": {"id": tenant_id, "provider": "m365", "domain": M365_DOMAIN, "displayName": "contoso-example"},
        "collectedAt": graph_time(COLLECTED_AT),
        "collector": {"name": "safeguard example generator", "version": "1"},
        "sections": {f"m365.{name}": {"status": "ok"} for name in M365_SECTIONS},
        "m365": data,
    }

    return snapshot, people


def render_params(people: list[Person]) -> str:
    """Return examples/params.yaml: the tenant params for the Microsoft 365 example."""
    break_glass = [person for person in people if person.key.startswith("breakglass")]
    lines = [
        "# Tenant parameters for examples/m365-snapshot.json. Policies declare each one with `param`,",
        "# and this file overrides the declared defaults for this tenant. Written by examples/generate_example.py.",
        "#",
        "# break_glass: object ids of the emergency-access accounts. They may be excluded from MFA",
        "#   conditional access policies, and remediations never target them.",
        "# stale_days: days without a sign-in after which an enabled account counts as stale.",
        "# allowed_forwarding_domains: external domains that mail may be forwarded to. Empty allows none.",
        "break_glass:",
    ]
    lines.extend(f"  - {person.id}  # {person.upn}" for person in break_glass)
    lines.append("stale_days: 90")
    lines.append("allowed_forwarding_domains: []")

    return "\n".join(lines) + "\n"
