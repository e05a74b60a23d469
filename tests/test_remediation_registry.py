"""Tests for the remediation action registry, its declarations and its plugins."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import UserError
from remediations import Action, ActionRegistry, ActionSpec, ArgumentSpec, registry
from remediations.registry import ARGUMENT_TYPES, PROVIDERS, declaration_problems

BUILT_IN_ACTIONS = [
    "gws.disable_auto_forwarding",
    "gws.revoke_tokens",
    "gws.sign_out_user",
    "gws.suspend_user",
    "m365.disable_inbox_rule",
    "m365.disable_user",
    "m365.disable_weak_auth_methods",
    "m365.require_mfa",
    "m365.revoke_sessions",
]

USER_SECURITY_SCOPE = "https://www.googleapis.com/auth/admin.directory.user.security"

PYTHON_TYPES = {"string": str, "int": int, "bool": bool, "list<string>": (list, tuple)}


def _plain_action(**overrides: object) -> type[Action]:
    """Build a valid m365 action class, with some declarations replaced."""
    attributes: dict[str, object] = {
        "name": "m365.example_action",
        "provider": "m365",
        "description": "Do one example thing to a user.",
        "reversible": True,
        "arguments": {"user": ArgumentSpec("string", description="Object id of the user.")},
        "target": "user",
        "target_type": "user",
        "permissions": ("User.Read.All",),
    }
    attributes.update(overrides)

    return type("ExampleAction", (Action,), attributes)


# The meta-test: every registered action, built-in or not, is declared completely.


def test_registry_names_sorted_builtins():
    """names() lists the built-in actions in sorted order."""
    assert BUILT_IN_ACTIONS == registry.names()


@pytest.mark.parametrize("name", registry.names())
def test_declaration_complete(name):
    """Every registered action declares name, provider, target, arguments and permissions consistently."""
    action = registry.get(name)

    assert action is not None
    assert issubclass(action, Action)
    assert name == action.name
    assert action.provider in PROVIDERS
    assert name.startswith(action.provider + ".")
    assert isinstance(action.description, str)
    assert action.description.strip() != ""
    assert action.description.endswith(".")
    assert isinstance(action.reversible, bool)
    assert isinstance(action.target_type, str)
    assert re.fullmatch(r"[a-z][A-Za-z0-9]*", action.target_type) is not None
    assert isinstance(action.permissions, tuple)
    assert len(action.permissions) > 0
    assert [] == declaration_problems(action)


@pytest.mark.parametrize("name", registry.names())
def test_declaration_target_is_argument(name):
    """An action's target is a required string argument, or None for a tenant-wide singleton."""
    action = registry.get(name)

    if action.target is None:
        assert action.target_type[0].islower()
        return
    assert action.target in action.arguments
    assert True is action.arguments[action.target].required
    assert "string" == action.arguments[action.target].type


@pytest.mark.parametrize("name", registry.names())
def test_declaration_argument_types(name):
    """Every argument has a valid type, a description, and a default only when optional and well-typed."""
    action = registry.get(name)

    for argument_name, spec in action.arguments.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", argument_name) is not None
        assert isinstance(spec, ArgumentSpec)
        assert spec.type in ARGUMENT_TYPES
        assert spec.description.strip() != ""
        if spec.required:
            assert spec.default is None
        if spec.default is not None:
            assert isinstance(spec.default, PYTHON_TYPES[spec.type])
            assert [] == registry.validate_arguments(name, _required_values(action) | {argument_name: spec.default})


@pytest.mark.parametrize("name", registry.names())
def test_declaration_permission_names(name):
    """m365 actions name Graph permissions and gws actions name Google OAuth scope URLs."""
    action = registry.get(name)

    for permission in action.permissions:
        if action.provider == "m365":
            assert re.fullmatch(r"[A-Z][A-Za-z]*(\.[A-Za-z]+)+", permission) is not None
            assert not permission.startswith("https://")
        else:
            assert permission.startswith("https://www.googleapis.com/auth/")


@pytest.mark.parametrize("name", registry.names())
def test_describe_json_roundtrip(name):
    """describe() output survives a JSON round trip unchanged and names every argument."""
    described = registry.describe(name)
    action = registry.get(name)

    assert described == json.loads(json.dumps(described))
    assert name == described["name"]
    assert list(action.arguments) == list(described["arguments"])
    assert list(action.permissions) == described["permissions"]
    assert action.target_type == described["targetType"]


@pytest.mark.parametrize("name", registry.names())
def test_valid_required_arguments_accepted(name):
    """An action's required arguments with well-typed values pass validation."""
    action = registry.get(name)

    assert [] == registry.validate_arguments(name, _required_values(action))


def _required_values(action: type[Action]) -> dict[str, object]:
    samples = {"string": "00000000-0000-0000-0000-000000000001", "int": 3, "bool": True, "list<string>": ["a"]}
    values = {}
    for argument_name, spec in action.arguments.items():
        if spec.required:
            values[argument_name] = samples[spec.type]

    return values


# Built-in declarations that other steps rely on.


@pytest.mark.parametrize(
    ("name", "reversible", "target", "target_type", "permissions"),
    [
        ("m365.require_mfa", True, "user", "user", ("GroupMember.ReadWrite.All",)),
        ("m365.revoke_sessions", False, "user", "user", ("User.RevokeSessions.All",)),
        ("m365.disable_inbox_rule", True, "rule", "inboxRule", ("MailboxSettings.ReadWrite",)),
        ("m365.disable_user", True, "user", "user", ("User.EnableDisableAccount.All", "User.Read.All")),
        (
            "m365.disable_weak_auth_methods",
            True,
            None,
            "authenticationMethodsPolicy",
            ("Policy.ReadWrite.AuthenticationMethod",),
        ),
        ("gws.sign_out_user", False, "user", "user", (USER_SECURITY_SCOPE,)),
        ("gws.revoke_tokens", False, "user", "user", (USER_SECURITY_SCOPE,)),
        (
            "gws.disable_auto_forwarding",
            True,
            "user",
            "autoForwarding",
            ("https://www.googleapis.com/auth/gmail.settings.sharing",),
        ),
        ("gws.suspend_user", True, "user", "user", ("https://www.googleapis.com/auth/admin.directory.user",)),
    ],
)
def test_builtin_declarations(name, reversible, target, target_type, permissions):
    """Each built-in action declares the reversibility, target and permissions its API call needs."""
    action = registry.get(name)

    assert reversible == action.reversible
    assert target == action.target
    assert target_type == action.target_type
    assert permissions == action.permissions


def test_weak_methods_default():
    """disable_weak_auth_methods defaults to Sms, Voice and Email."""
    assert {"methods": ["Sms", "Voice", "Email"]} == registry.with_defaults("m365.disable_weak_auth_methods", {})


def test_with_defaults_keeps_given():
    """with_defaults keeps given values and leaves optional arguments without a default omitted."""
    assert {"methods": ["Sms"]} == registry.with_defaults("m365.disable_weak_auth_methods", {"methods": ["Sms"]})
    assert {"user": "u1"} == registry.with_defaults("gws.revoke_tokens", {"user": "u1"})


def test_optional_client_id_accepted():
    """gws.revoke_tokens accepts an optional client_id string."""
    arguments = {"user": "ana@example.org", "client_id": "1234.apps.googleusercontent.com"}

    assert [] == registry.validate_arguments("gws.revoke_tokens", arguments)


def test_describe_require_mfa():
    """describe() gives the full JSON shape of m365.require_mfa."""
    described = registry.describe("m365.require_mfa")

    assert "m365.require_mfa" == described["name"]
    assert "m365" == described["provider"]
    assert True is described["reversible"]
    assert "user" == described["target"]
    assert "user" == described["targetType"]
    assert ["GroupMember.ReadWrite.All"] == described["permissions"]
    assert ["user", "group"] == list(described["arguments"])
    assert {"type", "required", "description", "default", "choices"} == set(described["arguments"]["user"])
    assert True is described["arguments"]["user"]["required"]
    assert False is described["arguments"]["group"]["required"]


def test_spec_is_action_spec():
    """spec() returns an ActionSpec built from the action class."""
    spec = registry.spec("m365.revoke_sessions")

    assert isinstance(spec, ActionSpec)
    assert "m365.revoke_sessions" == spec.name
    assert False is spec.reversible


def test_get_unknown_returns_none():
    """get() returns None for a name no action is registered under."""
    assert None is registry.get("m365.delete_tenant")


def test_describe_unknown_suggests():
    """describe() of a misspelt action raises UserError with a suggestion."""
    with pytest.raises(UserError) as caught:
        registry.describe("m365.revoke_session")

    assert "unknown remediation action 'm365.revoke_session'; did you mean 'm365.revoke_sessions'?" == str(caught.value)


def test_target_id_from_argument():
    """target_id returns the value of the target argument."""
    assert "rule-7" == registry.target_id("m365.disable_inbox_rule", {"user": "u1", "rule": "rule-7"})


def test_target_id_singleton():
    """target_id of a tenant-wide singleton is its target type."""
    assert "authenticationMethodsPolicy" == registry.target_id("m365.disable_weak_auth_methods", {})


def test_target_id_missing_value():
    """target_id raises UserError when the target argument is missing."""
    with pytest.raises(UserError) as caught:
        registry.target_id("m365.disable_user", {})

    assert "needs a non-empty string for its target argument 'user'" in str(caught.value)


# Argument validation.


def test_validate_unknown_action():
    """validate_arguments reports an unknown action with a suggestion."""
    problems = registry.validate_arguments("gws.suspend_usr", {"user": "a@example.org"})

    assert ["unknown remediation action 'gws.suspend_usr'; did you mean 'gws.suspend_user'?"] == problems


def test_validate_unknown_action_lists_known():
    """An action name close to nothing lists the known actions."""
    problems = registry.validate_arguments("zzz", {})

    assert 1 == len(problems)
    assert problems[0].startswith("unknown remediation action 'zzz'; known actions: gws.disable_auto_forwarding, ")


def test_validate_missing_required():
    """A missing required argument is reported by name."""
    problems = registry.validate_arguments("m365.disable_inbox_rule", {"user": "u1"})

    assert ["m365.disable_inbox_rule is missing its required argument 'rule'"] == problems


def test_validate_unknown_argument_did_you_mean():
    """A misspelt argument name gets a did-you-mean hint, and the missing one is reported too."""
    problems = registry.validate_arguments("m365.revoke_sessions", {"usr": "u1"})

    expected = [
        "m365.revoke_sessions has no argument 'usr'; did you mean 'user'?",
        "m365.revoke_sessions is missing its required argument 'user'",
    ]
    assert expected == problems


def test_validate_unknown_argument_lists_known():
    """An argument name close to nothing lists the arguments the action takes."""
    problems = registry.validate_arguments("m365.disable_inbox_rule", {"user": "u1", "rule": "r1", "zzz": 1})

    assert ["m365.disable_inbox_rule has no argument 'zzz'; it takes 'user', 'rule'"] == problems


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (3, "must be a string, not int"),
        (True, "must be a string, not bool"),
        (None, "must be a string, not null"),
        (["u1"], "must be a string, not list"),
        ("", "must not be an empty string"),
    ],
)
def test_validate_string_type(value, problem):
    """A string argument rejects other types, null and the empty string."""
    problems = registry.validate_arguments("m365.disable_user", {"user": value})

    assert [f"argument 'user' of m365.disable_user {problem}"] == problems


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Sms", "must be a list of strings, not string"),
        ([], "must list at least one string"),
        (["Sms", 3], "must be a list of strings, but item 1 is int"),
        (["SMS"], "has 'SMS', which is not one of Sms, Voice, Email; did you mean 'Sms'?"),
        (["Voise"], "has 'Voise', which is not one of Sms, Voice, Email; did you mean 'Voice'?"),
        (["Fido2"], "has 'Fido2', which is not one of Sms, Voice, Email"),
    ],
)
def test_validate_list_type(value, problem):
    """A list<string> argument rejects non-lists, empty lists, non-string items and unknown choices."""
    problems = registry.validate_arguments("m365.disable_weak_auth_methods", {"methods": value})

    assert [f"argument 'methods' of m365.disable_weak_auth_methods {problem}"] == problems


def test_validate_list_tuple_accepted():
    """A tuple of strings passes as a list<string> value."""
    assert [] == registry.validate_arguments("m365.disable_weak_auth_methods", {"methods": ("Sms", "Voice")})


def test_validate_int_and_bool_types():
    """An int argument rejects bool, and a bool argument rejects int."""
    scratch = ActionRegistry()
    action = _plain_action(
        arguments={
            "user": ArgumentSpec("string", description="Object id of the user."),
            "days": ArgumentSpec("int", required=False, description="Number of days."),
            "notify": ArgumentSpec("bool", required=False, description="Whether to notify."),
        }
    )
    scratch.register(action)

    assert [] == scratch.validate_arguments("m365.example_action", {"user": "u", "days": 0, "notify": False})
    problems = scratch.validate_arguments("m365.example_action", {"user": "u", "days": True, "notify": 1})
    expected = [
        "argument 'days' of m365.example_action must be an int, not bool",
        "argument 'notify' of m365.example_action must be a bool, not int",
    ]
    assert expected == problems


def test_validate_argument_names_only():
    """validate_argument_names checks names without looking at values."""
    assert [] == registry.validate_argument_names("m365.disable_inbox_rule", ["user", "rule"])
    expected = ["m365.disable_inbox_rule is missing its required argument 'rule'"]
    assert expected == registry.validate_argument_names("m365.disable_inbox_rule", ["user"])


# Registration.


def test_register_returns_class():
    """register works as a class decorator and makes the class findable."""
    scratch = ActionRegistry()
    action = _plain_action()

    assert action is scratch.register(action)
    assert action is scratch.get("m365.example_action")
    assert ["m365.example_action"] == scratch.names()


def test_register_same_class_twice():
    """Registering the same class again is a no-op."""
    scratch = ActionRegistry()
    action = _plain_action()
    scratch.register(action)
    scratch.register(action)

    assert ["m365.example_action"] == scratch.names()


def test_register_name_conflict():
    """A second class with a registered name raises ValueError."""
    scratch = ActionRegistry()
    scratch.register(_plain_action())

    with pytest.raises(ValueError) as caught:
        scratch.register(_plain_action())

    assert "remediation action m365.example_action is already registered by" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"name": "m365.example_action", "provider": "gws"}, "must start with its provider prefix 'gws.'"),
        ({"provider": "aws"}, "provider must be one of m365, gws, not 'aws'"),
        ({"name": "RequireMfa"}, "name must look like 'provider.verb_object', not 'RequireMfa'"),
        ({"description": ""}, "description must be a non-empty sentence"),
        ({"description": "No full stop"}, "description must be one sentence ending with a full stop"),
        ({"reversible": "yes"}, "reversible must be True or False"),
        ({"target": "mailbox"}, "target 'mailbox' is not one of its arguments"),
        ({"target_type": "User Account"}, "target_type must be a camelCase resource type"),
        ({"permissions": ()}, "permissions must be a non-empty tuple of permission names"),
        ({"permissions": ("read users",)}, "'read users' is not a Microsoft Graph permission name"),
        ({"arguments": {"user": ArgumentSpec("str", description="x.")}}, "type must be one of string, int, bool"),
        ({"arguments": {"user": ArgumentSpec("string")}}, "description must not be empty"),
        (
            {"arguments": {"user": ArgumentSpec("string", description="x."), "Days": ArgumentSpec("int", False, "n.")}},
            "argument names must be lower_snake_case",
        ),
        (
            {"arguments": {"user": ArgumentSpec("string", description="x.", default="u")}},
            "is required, so it cannot have a default",
        ),
        (
            {
                "arguments": {
                    "user": ArgumentSpec("string", description="x."),
                    "days": ArgumentSpec("int", required=False, description="n.", default="7"),
                }
            },
            ".default must be an int, not string",
        ),
        (
            {"arguments": {"user": ArgumentSpec("string", required=False, description="x.")}},
            "target 'user' must be a required string argument",
        ),
    ],
)
def test_register_rejects_bad_declaration(overrides, problem):
    """register raises TypeError naming what is wrong with the declaration."""
    scratch = ActionRegistry()

    with pytest.raises(TypeError) as caught:
        scratch.register(_plain_action(**overrides))

    assert problem in str(caught.value)
    assert [] == scratch.names()


def test_register_rejects_google_scope_typo():
    """A gws action must name Google OAuth scope URLs."""
    action = _plain_action(name="gws.example_action", provider="gws", permissions=("admin.directory.user",))

    problems = declaration_problems(action)

    assert ["ExampleAction.permissions: 'admin.directory.user' is not a Google OAuth scope URL"] == problems


def test_register_rejects_non_action():
    """A class that does not subclass Action is rejected."""
    scratch = ActionRegistry()

    with pytest.raises(TypeError) as caught:
        scratch.register(dict)

    assert "dict is not a subclass of remediations.Action" in str(caught.value)


# Step hooks: declared, not carried out yet.


@pytest.mark.parametrize(
    ("step", "call"),
    [
        ("read the state of its target", lambda action: action.read_state(None, {"user": "u1"})),
        ("execute", lambda action: action.execute(None, {"user": "u1"})),
        ("verify its change", lambda action: action.verify(None, {"user": "u1"})),
        ("undo its change", lambda action: action.undo(None, {"user": "u1"}, {})),
    ],
)
def test_step_hooks_not_implemented(step, call):
    """An action that does not override a step method raises NotImplementedError naming it."""
    action = _plain_action()()

    with pytest.raises(NotImplementedError) as caught:
        call(action)

    assert f"remediation action m365.example_action cannot {step}: " in str(caught.value)


def test_undo_irreversible_action():
    """undo of an irreversible action raises an error saying so."""
    action = registry.get("m365.revoke_sessions")()

    with pytest.raises(NotImplementedError) as caught:
        action.undo(None, {"user": "u1"}, {})

    assert "remediation action m365.revoke_sessions is not reversible, so it cannot be undone" == str(caught.value)


# Third-party plugins through the entry-point group.

PLUGIN_MODULE = '''
from remediations.registry import Action, ArgumentSpec


class QuarantineMailbox(Action):
    name = "m365.quarantine_mailbox"
    provider = "m365"
    description = "Block a mailbox from sending mail."
    reversible = True
    arguments = {"user": ArgumentSpec("string", description="Object id of the user.")}
    target = "user"
    target_type = "user"
    permissions = ("MailboxSettings.ReadWrite",)


class SharedBase(Action):
    provider = "m365"
'''


def _install_plugin(root: Path, distribution: str, module: str, source: str, entry_points: str) -> None:
    """Write a module and a dist-info folder that importlib.metadata finds on sys.path."""
    (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    dist_info = root / f"{distribution}-1.0.dist-info"
    dist_info.mkdir()
    metadata = f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n"
    (dist_info / "METADATA").write_text(metadata, encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(
        "[safeguard.remediations]\n" + textwrap.dedent(entry_points), encoding="utf-8"
    )


@pytest.fixture
def plugin_root(tmp_path, monkeypatch):
    """A folder on sys.path for plugin distributions, with their modules unloaded afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for module in set(sys.modules) - before:
        if module.startswith("sg_plugin_"):
            del sys.modules[module]


def test_plugin_class_entry_point(plugin_root):
    """An entry point naming an Action subclass registers it."""
    entry_points = "quarantine = sg_plugin_class:QuarantineMailbox\n"
    _install_plugin(plugin_root, "sg-plugin-class", "sg_plugin_class", PLUGIN_MODULE, entry_points)
    scratch = ActionRegistry()

    scratch.load_entry_points()

    assert ["m365.quarantine_mailbox"] == scratch.names()
    assert [] == scratch.validate_arguments("m365.quarantine_mailbox", {"user": "u1"})


def test_plugin_module_entry_point(plugin_root):
    """An entry point naming a module registers the named Action subclasses it defines."""
    _install_plugin(plugin_root, "sg-plugin-module", "sg_plugin_module", PLUGIN_MODULE, "mailbox = sg_plugin_module\n")
    scratch = ActionRegistry()

    scratch.load_entry_points()

    assert ["m365.quarantine_mailbox"] == scratch.names()


def test_plugin_loading_idempotent(plugin_root):
    """A second load_entry_points call changes nothing."""
    entry_points = "quarantine = sg_plugin_twice:QuarantineMailbox\n"
    _install_plugin(plugin_root, "sg-plugin-twice", "sg_plugin_twice", PLUGIN_MODULE, entry_points)
    scratch = ActionRegistry()

    scratch.load_entry_points()
    scratch.load_entry_points()

    assert ["m365.quarantine_mailbox"] == scratch.names()


def test_plugin_import_error(plugin_root):
    """A plugin whose module fails to import raises UserError naming the entry point and package."""
    source = "import not_a_real_module_xyz\n"
    _install_plugin(plugin_root, "sg-plugin-broken", "sg_plugin_broken", source, "broken = sg_plugin_broken\n")
    scratch = ActionRegistry()

    with pytest.raises(UserError) as caught:
        scratch.load_entry_points()

    message = str(caught.value)
    assert message.startswith(
        "entry point 'broken = sg_plugin_broken' in group safeguard.remediations failed to load: ModuleNotFoundError: "
    )
    assert message.endswith("; fix or uninstall sg-plugin-broken")


def test_plugin_bad_declaration(plugin_root):
    """A plugin action with an incomplete declaration raises UserError naming the entry point."""
    source = PLUGIN_MODULE.replace('target = "user"', 'target = "mailbox"')
    _install_plugin(plugin_root, "sg-plugin-bad", "sg_plugin_bad", source, "bad = sg_plugin_bad:QuarantineMailbox\n")
    scratch = ActionRegistry()

    with pytest.raises(UserError) as caught:
        scratch.load_entry_points()

    message = str(caught.value)
    expected_start = "entry point 'bad = sg_plugin_bad:QuarantineMailbox' in group safeguard.remediations is invalid: "
    assert message.startswith(expected_start)
    assert "target 'mailbox' is not one of its arguments" in message


def test_plugin_wrong_object(plugin_root):
    """An entry point naming something other than an action class or module raises UserError."""
    source = "def setup():\n    pass\n"
    _install_plugin(plugin_root, "sg-plugin-func", "sg_plugin_func", source, "func = sg_plugin_func:setup\n")
    scratch = ActionRegistry()

    with pytest.raises(UserError) as caught:
        scratch.load_entry_points()

    assert "must name a remediations.Action subclass or a module, not <function setup" in str(caught.value)


def test_plugin_name_conflict(plugin_root):
    """A plugin that reuses a built-in action name raises UserError."""
    source = PLUGIN_MODULE.replace('"m365.quarantine_mailbox"', '"m365.disable_user"')
    entry_points = "clash = sg_plugin_clash:QuarantineMailbox\n"
    _install_plugin(plugin_root, "sg-plugin-clash", "sg_plugin_clash", source, entry_points)
    scratch = ActionRegistry()
    scratch.register(registry.get("m365.disable_user"))

    with pytest.raises(UserError) as caught:
        scratch.load_entry_points()

    expected = "remediation action m365.disable_user is already registered by remediations.m365.DisableUser"
    assert expected in str(caught.value)


def test_plugin_module_without_actions(plugin_root):
    """An entry point naming a module without actions raises UserError."""
    _install_plugin(plugin_root, "sg-plugin-empty", "sg_plugin_empty", "VALUE = 1\n", "empty = sg_plugin_empty\n")
    scratch = ActionRegistry()

    with pytest.raises(UserError) as caught:
        scratch.load_entry_points()

    assert "names module sg_plugin_empty, which defines no remediation action" in str(caught.value)
