"""Google Workspace built-ins: settings resolved along the org-unit tree.

Cloud Identity returns a setting only where an org unit or group sets it
explicitly. An org unit without its own value inherits from its parent, and
these built-ins do that resolution once per evaluation.
"""

from __future__ import annotations

from engine.language.builtins._registry import builtin
from engine.language.types import ANY, BOOL, STRING, Type, list_of
from engine.language.values import Unknown

SETTING_SCOPE = Type(
    "object",
    fields={"id": STRING, "orgUnitPath": STRING, "groupEmail": STRING.with_null(), "explicit": BOOL, "value": ANY},
    name="SettingScope",
    resource={"type": "settingScope", "id": "id", "name": "id"},
)


def _setting_type(name: str) -> str:
    return name if name.startswith("settings/") else f"settings/{name}"


def _explicit_settings(context, setting: str):
    """Return {(orgUnitPath, groupEmail): value} for one setting type, or an Unknown."""
    policies = context.section("gws.policies")
    if type(policies) is Unknown:
        return policies
    wanted = _setting_type(setting)
    key = ("gws.explicit", wanted)
    cached = context.cache.get(key)
    if cached is not None:
        return cached
    ranked = []
    for policy in policies:
        body = policy.get("setting") or {}
        if body.get("type") != wanted:
            continue
        query = policy.get("policyQuery") or {}
        scope = (query.get("orgUnitPath") or "/", query.get("groupEmail"))
        ranked.append((query.get("sortOrder") or 0, scope, body.get("value") or {}))
    cached = {}
    # Higher sortOrder wins when two policies target the same scope.
    for _, scope, value in sorted(ranked, key=lambda entry: entry[0], reverse=True):
        cached.setdefault(scope, value)
    context.cache[key] = cached

    return cached


def _scope_id(org_unit_path: str, group_email: str | None) -> str:
    if group_email:
        return f"group:{group_email}"

    return org_unit_path


@builtin(
    "setting_scopes",
    (STRING,),
    list_of(SETTING_SCOPE),
    summary=(
        "Every org unit or group that sets a Cloud Identity setting explicitly, plus the root org unit "
        "(with an empty value when the root does not set it); inheriting org units are left out."
    ),
    sections=("gws.policies",),
    param_names=("setting",),
)
def setting_scopes(context, setting):
    explicit = _explicit_settings(context, setting)
    if type(explicit) is Unknown:
        return explicit
    scopes = []
    if ("/", None) not in explicit:
        scopes.append({"id": "/", "orgUnitPath": "/", "groupEmail": None, "explicit": False, "value": {}})
    for (org_unit_path, group_email), value in sorted(explicit.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        scopes.append(
            {
                "id": _scope_id(org_unit_path, group_email),
                "orgUnitPath": org_unit_path,
                "groupEmail": group_email,
                "explicit": True,
                "value": value,
            }
        )

    return scopes


@builtin(
    "effective_setting",
    (STRING, STRING),
    ANY,
    summary="The value of a setting for an org unit, inherited from the nearest ancestor that sets it, or null.",
    sections=("gws.policies",),
    param_names=("org_unit_path", "setting"),
)
def effective_setting(context, org_unit_path, setting):
    explicit = _explicit_settings(context, setting)
    if type(explicit) is Unknown:
        return explicit
    path = org_unit_path or "/"
    while True:
        if (path, None) in explicit:
            return explicit[(path, None)]
        if path == "/":
            return None
        path = path.rsplit("/", 1)[0] or "/"
