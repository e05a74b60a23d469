"""Registry of remediation actions: declarations, argument validation and plugins.

An action is a class that declares what it changes (its target), which
arguments it takes, whether it can be undone and which API permissions it needs
to write. Policies name actions in `remediate` clauses. The policy checker
looks them up here and validates their arguments before anything runs. The
plan writer copies `describe()` into each planned action.

Built-in actions live in `remediations.m365` and `remediations.gws`. Third-party
packages add actions through the entry-point group ``safeguard.remediations``:
each entry point names either an `Action` subclass or a module whose `Action`
subclasses are all registered.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import ClassVar

import structlog

from engine.errors import UserError

__all__ = [
    "ARGUMENT_TYPES",
    "ENTRY_POINT_GROUP",
    "PROVIDERS",
    "Action",
    "ActionRegistry",
    "ActionSpec",
    "ArgumentSpec",
    "StateAction",
    "declaration_problems",
    "registry",
]

log = structlog.get_logger()

ENTRY_POINT_GROUP = "safeguard.remediations"

PROVIDERS = ("m365", "gws")

ARGUMENT_TYPES = ("string", "int", "bool", "list<string>")

_ACTION_NAME = re.compile(r"^[a-z][a-z0-9]*\.[a-z][a-z0-9_]*$")
_ARGUMENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TARGET_TYPE = re.compile(r"^[a-z][A-Za-z0-9]*$")
# Graph permission names look like "User.RevokeSessions.All" or "MailboxSettings.ReadWrite".
_GRAPH_PERMISSION = re.compile(r"^[A-Z][A-Za-z]*(\.[A-Za-z]+)+$")
_GOOGLE_SCOPE_PREFIX = "https://www.googleapis.com/auth/"


@dataclass(frozen=True)
class ArgumentSpec:
    """Declaration of one action argument.

    ``type`` is one of `ARGUMENT_TYPES`. ``default`` is the value an optional
    argument takes when a policy leaves it out. A list default is written as a
    tuple, so the declaration stays immutable. ``choices``, when not empty,
    lists the only values a string (or each item of a list) may take.
    """

    type: str
    required: bool = True
    description: str = ""
    default: object = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionSpec:
    """JSON-ready declaration of one action, as plans and docs show it."""

    name: str
    provider: str
    description: str
    reversible: bool
    target: str | None
    target_type: str
    permissions: tuple[str, ...]
    arguments: Mapping[str, ArgumentSpec] = field(default_factory=dict)

    @classmethod
    def from_action(cls, action: type[Action]) -> ActionSpec:
        """Build the spec from an action class's declarations."""
        return cls(
            name=action.name,
            provider=action.provider,
            description=action.description,
            reversible=action.reversible,
            target=action.target,
            target_type=action.target_type,
            permissions=tuple(action.permissions),
            arguments=dict(action.arguments),
        )

    def to_dict(self) -> dict[str, object]:
        """Return the declaration as JSON-serialisable data, arguments in declaration order."""
        arguments = {}
        for argument_name, spec in self.arguments.items():
            default = list(spec.default) if isinstance(spec.default, tuple) else spec.default
            arguments[argument_name] = {
                "type": spec.type,
                "required": spec.required,
                "description": spec.description,
                "default": default,
                "choices": list(spec.choices),
            }

        return {
            "name": self.name,
            "provider": self.provider,
            "description": self.description,
            "reversible": self.reversible,
            "target": self.target,
            "targetType": self.target_type,
            "permissions": list(self.permissions),
            "arguments": arguments,
        }


class Action:
    """Base class of every remediation action.

    Subclasses declare the class attributes below and are registered with
    ``@registry.register``. ``target`` names the argument that identifies the
    resource the action changes. It is None only for a tenant-wide singleton
    such as the authentication methods policy, whose id is then
    ``target_type``.

    Carrying out an action takes these steps, which subclasses implement and
    the base class only declares (each raises NotImplementedError):

    - ``observe`` (a classmethod) reads the target's managed fields from a
      snapshot. The plan stores them, fingerprinted, as the precondition.
    - ``read_state`` reads the same fields from the live tenant.
    - ``desired_state`` returns the fields as the change leaves them.
    - ``execute`` writes only what differs, ``verify`` reads again and checks.
    - ``undo`` restores the fields read before ``execute`` (reversible actions).

    ``client`` is the provider session that `engine.apply` opens for one
    tenant. It carries the tenant's remediation settings, such as the MFA group.
    """

    name: ClassVar[str]
    provider: ClassVar[str]
    description: ClassVar[str]
    reversible: ClassVar[bool]
    arguments: ClassVar[Mapping[str, ArgumentSpec]] = {}
    target: ClassVar[str | None]
    target_type: ClassVar[str]
    permissions: ClassVar[tuple[str, ...]] = ()
    # Fields that read_state returns for verification only: a snapshot does not
    # carry them, so the precondition leaves them out.
    volatile_fields: ClassVar[tuple[str, ...]] = ()
    # False when no API shows the change (a Google sign-out, for example), so
    # success rests on the API accepting the write.
    verifiable: ClassVar[bool] = True

    @classmethod
    def observe(cls, snapshot: object, arguments: Mapping[str, object]) -> dict[str, object]:
        """Return the target's managed fields as a snapshot shows them, in read_state's shape.

        Raises KeyError when a section the action needs was not collected.
        Subclasses implement this. The base class raises NotImplementedError.
        """
        raise NotImplementedError(_step_not_implemented(cls, "observe its target in a snapshot"))

    @classmethod
    def precondition(cls, snapshot: object, arguments: Mapping[str, object]) -> dict[str, object] | None:
        """Return ``{"fields", "fingerprint"}`` observed in ``snapshot``, or None when it cannot be observed.

        None means the snapshot lacks a section the action reads, or the
        action does not implement ``observe``; apply refuses such an action.
        """
        from engine.apply.state import state_fingerprint

        try:
            fields = cls.observe(snapshot, arguments)
        except (KeyError, NotImplementedError):
            return None

        return {"fields": fields, "fingerprint": state_fingerprint(fields)}

    def comparable_state(self, state: Mapping[str, object]) -> dict[str, object]:
        """Return ``state`` without its volatile fields: the part a precondition compares."""
        return {key: value for key, value in state.items() if key not in self.volatile_fields}

    def read_state(self, client: object, arguments: Mapping[str, object]) -> dict[str, object]:
        """Return the target's current managed fields, read live, in the shape ``observe`` returns.

        Subclasses implement this. The base class raises NotImplementedError.
        """
        raise NotImplementedError(_step_not_implemented(self, "read the state of its target"))

    def desired_state(self, client: object, arguments: Mapping[str, object], state: Mapping[str, object]) -> dict[str, object]:
        """Return the managed fields as executing the action on ``state`` leaves them.

        Subclasses implement this. The base class raises NotImplementedError.
        """
        raise NotImplementedError(_step_not_implemented(self, "compute its desired state"))

    def is_applied(self, before: Mapping[str, object], current: Mapping[str, object], desired: Mapping[str, object]) -> bool:
        """Return whether ``current`` shows the change that turns ``before`` into ``desired``.

        The default compares the normalised non-volatile fields of ``current``
        and ``desired``; an action whose effect is a volatile field overrides it.
        """
        from engine.apply.state import normalize_state

        return normalize_state(self.comparable_state(current)) == normalize_state(self.comparable_state(desired))

    def principals(self, client: object, arguments: Mapping[str, object]) -> frozenset[str]:
        """Return the ids and sign-in names, in lower case, of the accounts the action touches.

        Apply refuses an action touching a break-glass account. The default
        returns the value of a ``user`` argument; subclasses add the aliases
        they can read from the tenant.
        """
        value = arguments.get("user")

        return frozenset({value.lower()}) if isinstance(value, str) and value else frozenset()

    def execute(
        self,
        client: object,
        arguments: Mapping[str, object],
        state: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        """Make the change against the tenant and return a summary of the requests sent.

        ``state`` is the live state just read, so the action need not read it
        again. Subclasses implement this. The base class raises NotImplementedError.
        """
        raise NotImplementedError(_step_not_implemented(self, "execute"))

    def verify(
        self,
        client: object,
        arguments: Mapping[str, object],
        before: Mapping[str, object] | None = None,
    ) -> bool:
        """Re-read the target and return whether the change took effect.

        ``before`` is the state read before ``execute``, which an action whose
        effect is a volatile field compares against. Subclasses implement this.
        The base class raises NotImplementedError.
        """
        raise NotImplementedError(_step_not_implemented(self, "verify its change"))

    def undo(
        self,
        client: object,
        arguments: Mapping[str, object],
        prior_state: Mapping[str, object],
    ) -> dict[str, object]:
        """Restore the target to ``prior_state``, as read before execute.

        Reversible subclasses implement this. The base class raises NotImplementedError.
        """
        if not self.reversible:
            message = f"remediation action {self.name} is not reversible, so it cannot be undone"
            raise NotImplementedError(message)
        raise NotImplementedError(_step_not_implemented(self, "undo its change"))


class StateAction(Action):
    """An action that moves a target's managed fields to a desired state through ``write_state``.

    Subclasses implement ``observe``, ``read_state``, ``desired_state`` and
    ``write_state``. This class derives ``execute``, ``verify`` and ``undo``
    from them, so a write is always the difference between two states and an
    undo is the same write towards the state read before the change.
    """

    def write_state(
        self,
        client: object,
        arguments: Mapping[str, object],
        current: Mapping[str, object],
        desired: Mapping[str, object],
    ) -> dict[str, object]:
        """Send the writes that turn ``current`` into ``desired``; return ``{"requests": [...]}``.

        Subclasses implement this. The base class raises NotImplementedError.
        """
        raise NotImplementedError(_step_not_implemented(self, "write its state"))

    def execute(
        self,
        client: object,
        arguments: Mapping[str, object],
        state: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        current = state if state is not None else self.read_state(client, arguments)

        return self.write_state(client, arguments, current, self.desired_state(client, arguments, current))

    def verify(
        self,
        client: object,
        arguments: Mapping[str, object],
        before: Mapping[str, object] | None = None,
    ) -> bool:
        current = self.read_state(client, arguments)
        start = before if before is not None else current

        return self.is_applied(start, current, self.desired_state(client, arguments, start))

    def undo(
        self,
        client: object,
        arguments: Mapping[str, object],
        prior_state: Mapping[str, object],
    ) -> dict[str, object]:
        if not self.reversible:
            return super().undo(client, arguments, prior_state)

        current = self.read_state(client, arguments)

        return self.write_state(client, arguments, current, prior_state)


def _step_not_implemented(action: Action | type[Action], step: str) -> str:
    action_class = action if isinstance(action, type) else type(action)

    return f"remediation action {action_class.name} cannot {step}: its class does not implement this step"


def declaration_problems(action: type) -> list[str]:
    """Return what is missing or inconsistent in an action class's declarations."""
    label = getattr(action, "__qualname__", repr(action))
    if not (inspect.isclass(action) and issubclass(action, Action)):
        return [f"{label} is not a subclass of remediations.Action"]

    problems: list[str] = []
    name = getattr(action, "name", None)
    provider = getattr(action, "provider", None)
    if not isinstance(name, str) or not _ACTION_NAME.match(name):
        problems.append(f"{label}.name must look like 'provider.verb_object', not {name!r}")
    if provider not in PROVIDERS:
        problems.append(f"{label}.provider must be one of {', '.join(PROVIDERS)}, not {provider!r}")
    elif isinstance(name, str) and not name.startswith(f"{provider}."):
        problems.append(f"{label}.name {name!r} must start with its provider prefix '{provider}.'")

    description = getattr(action, "description", None)
    if not isinstance(description, str) or not description.strip():
        problems.append(f"{label}.description must be a non-empty sentence")
    elif not description.endswith("."):
        problems.append(f"{label}.description must be one sentence ending with a full stop")

    if not isinstance(getattr(action, "reversible", None), bool):
        problems.append(f"{label}.reversible must be True or False")

    problems.extend(_argument_problems(label, getattr(action, "arguments", None)))
    problems.extend(_target_problems(label, action))
    problems.extend(_permission_problems(label, provider, getattr(action, "permissions", None)))

    return problems


def _argument_problems(label: str, arguments: object) -> list[str]:
    if not isinstance(arguments, Mapping):
        return [f"{label}.arguments must be a dict of argument name to ArgumentSpec"]

    problems = []
    for argument_name, spec in arguments.items():
        where = f"{label}.arguments[{argument_name!r}]"
        if not isinstance(argument_name, str) or not _ARGUMENT_NAME.match(argument_name):
            problems.append(f"{where}: argument names must be lower_snake_case")
        if not isinstance(spec, ArgumentSpec):
            problems.append(f"{where} must be an ArgumentSpec, not {type(spec).__name__}")
            continue
        if spec.type not in ARGUMENT_TYPES:
            problems.append(f"{where}.type must be one of {', '.join(ARGUMENT_TYPES)}, not {spec.type!r}")
            continue
        if not spec.description.strip():
            problems.append(f"{where}.description must not be empty")
        if spec.required and spec.default is not None:
            problems.append(f"{where} is required, so it cannot have a default")
        if spec.choices and spec.type not in ("string", "list<string>"):
            problems.append(f"{where} has choices, which only string and list<string> arguments take")
        if spec.default is not None:
            default = list(spec.default) if isinstance(spec.default, tuple) else spec.default
            for problem in _value_problems(spec, default):
                problems.append(f"{where}.default {problem}")

    return problems


def _target_problems(label: str, action: type[Action]) -> list[str]:
    problems = []
    target_type = getattr(action, "target_type", None)
    if not isinstance(target_type, str) or not _TARGET_TYPE.match(target_type):
        problems.append(f"{label}.target_type must be a camelCase resource type, not {target_type!r}")

    if not hasattr(action, "target"):
        problems.append(f"{label}.target must name the argument that identifies the target, or be None")
        return problems

    target = action.target
    arguments = getattr(action, "arguments", None)
    if target is None or not isinstance(arguments, Mapping):
        return problems

    spec = arguments.get(target)
    if spec is None:
        problems.append(f"{label}.target {target!r} is not one of its arguments")
    elif isinstance(spec, ArgumentSpec) and not (spec.required and spec.type == "string"):
        problems.append(f"{label}.target {target!r} must be a required string argument")

    return problems


def _permission_problems(label: str, provider: object, permissions: object) -> list[str]:
    if not isinstance(permissions, tuple) or not permissions:
        return [f"{label}.permissions must be a non-empty tuple of permission names"]

    problems = []
    for permission in permissions:
        if provider == "m365" and not (isinstance(permission, str) and _GRAPH_PERMISSION.match(permission)):
            problems.append(f"{label}.permissions: {permission!r} is not a Microsoft Graph permission name")
        if provider == "gws" and not (isinstance(permission, str) and permission.startswith(_GOOGLE_SCOPE_PREFIX)):
            problems.append(f"{label}.permissions: {permission!r} is not a Google OAuth scope URL")

    return problems


def _json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "object"

    return type(value).__name__


def _value_problems(spec: ArgumentSpec, value: object) -> list[str]:
    """Return why ``value`` does not fit ``spec``, phrased to follow the argument's name."""
    actual = _json_type_name(value)
    if spec.type == "string":
        if not isinstance(value, str):
            return [f"must be a string, not {actual}"]
        if not value:
            return ["must not be an empty string"]
        return _choice_problems(spec, [value])

    if spec.type == "int":
        # bool is a subclass of int in Python, but True is not a count.
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"must be an int, not {actual}"]
        return []

    if spec.type == "bool":
        if not isinstance(value, bool):
            return [f"must be a bool, not {actual}"]
        return []

    if not isinstance(value, (list, tuple)):
        return [f"must be a list of strings, not {actual}"]
    if not value:
        return ["must list at least one string"]
    problems = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(f"must be a list of strings, but item {index} is {_json_type_name(item)}")
    if problems:
        return problems

    return _choice_problems(spec, list(value))


def _choice_problems(spec: ArgumentSpec, values: list[str]) -> list[str]:
    if not spec.choices:
        return []

    problems = []
    for value in values:
        if value in spec.choices:
            continue
        problem = f"has {value!r}, which is not one of {', '.join(spec.choices)}"
        same_letters = [choice for choice in spec.choices if choice.lower() == value.lower()]
        close = same_letters or difflib.get_close_matches(value, spec.choices, n=1, cutoff=0.6)
        if close:
            problem += f"; did you mean {close[0]!r}?"
        problems.append(problem)

    return problems


class ActionRegistry:
    """Remediation actions by name, with third-party plugins from an entry-point group."""

    def __init__(self, entry_point_group: str = ENTRY_POINT_GROUP) -> None:
        self.entry_point_group = entry_point_group
        self._actions: dict[str, type[Action]] = {}
        self._entry_points_loaded = False

    def register(self, action: type[Action]) -> type[Action]:
        """Add an action class to the registry. Usable as a class decorator.

        Raises TypeError for an incomplete declaration and ValueError when a
        different class already has the name. Registering the same class twice
        does nothing.
        """
        problems = declaration_problems(action)
        if problems:
            message = "invalid remediation action declaration:\n  " + "\n  ".join(problems)
            raise TypeError(message)

        existing = self._actions.get(action.name)
        if existing is action:
            return action
        if existing is not None:
            message = (
                f"remediation action {action.name} is already registered by "
                f"{existing.__module__}.{existing.__qualname__}; "
                f"rename {action.__module__}.{action.__qualname__}"
            )
            raise ValueError(message)

        self._actions[action.name] = action

        return action

    def get(self, name: str) -> type[Action] | None:
        """Return the action class registered under ``name``, or None."""
        return self._actions.get(name)

    def names(self) -> list[str]:
        """Return every registered action name, sorted."""
        return sorted(self._actions)

    def spec(self, name: str) -> ActionSpec:
        """Return the declaration of a registered action, or raise UserError for an unknown name."""
        return ActionSpec.from_action(self._require(name))

    def describe(self, name: str) -> dict[str, object]:
        """Return the JSON-serialisable declaration of a registered action."""
        return self.spec(name).to_dict()

    def target_id(self, name: str, arguments: Mapping[str, object]) -> str:
        """Return the id of the resource an action with these arguments changes.

        For a tenant-wide singleton (``target`` None) the id is the target type,
        which is also the object's id in Graph (``authenticationMethodsPolicy``).
        """
        action = self._require(name)
        if action.target is None:
            return action.target_type

        value = arguments.get(action.target)
        if not isinstance(value, str) or not value:
            message = f"remediation action {name} needs a non-empty string for its target argument '{action.target}'"
            raise UserError(message)

        return value

    def with_defaults(self, name: str, arguments: Mapping[str, object]) -> dict[str, object]:
        """Return the arguments with every omitted optional argument set to its default.

        Arguments are returned in declaration order. Optional arguments without
        a default stay omitted, and list defaults become lists.
        """
        action = self._require(name)
        complete: dict[str, object] = {}
        for argument_name, spec in action.arguments.items():
            if argument_name in arguments:
                complete[argument_name] = arguments[argument_name]
            elif spec.default is not None:
                default = spec.default
                complete[argument_name] = list(default) if isinstance(default, tuple) else default

        return complete

    def validate_argument_names(self, name: str, argument_names: Iterable[str]) -> list[str]:
        """Return problems with which arguments are given, ignoring their values.

        The policy checker can call this before any value is known.
        """
        action = self.get(name)
        if action is None:
            return [self._unknown_action_message(name)]

        supplied = list(argument_names)
        problems = []
        for argument_name in supplied:
            if argument_name in action.arguments:
                continue
            problem = f"{name} has no argument '{argument_name}'"
            close = difflib.get_close_matches(argument_name, list(action.arguments), n=1, cutoff=0.6)
            if close:
                problem += f"; did you mean '{close[0]}'?"
            else:
                problem += f"; it takes {_argument_list(action)}"
            problems.append(problem)

        for argument_name, spec in action.arguments.items():
            if spec.required and argument_name not in supplied:
                problems.append(f"{name} is missing its required argument '{argument_name}'")

        return problems

    def validate_arguments(self, name: str, arguments: Mapping[str, object]) -> list[str]:
        """Return problems with an action's arguments in plain English, or [] when they are valid."""
        problems = self.validate_argument_names(name, arguments)
        action = self.get(name)
        if action is None:
            return problems

        for argument_name, value in arguments.items():
            spec = action.arguments.get(argument_name)
            if spec is None:
                continue
            for problem in _value_problems(spec, value):
                problems.append(f"argument '{argument_name}' of {name} {problem}")

        return problems

    def load_entry_points(self) -> None:
        """Register the actions of every installed plugin once. Later calls do nothing.

        Raises UserError naming the entry point when a plugin fails to import,
        names something other than an Action subclass or a module, declares an
        action incompletely, or reuses a registered name.
        """
        if self._entry_points_loaded:
            return

        entry_points = sorted(
            importlib.metadata.entry_points(group=self.entry_point_group),
            key=lambda entry_point: (entry_point.name, entry_point.value),
        )
        for entry_point in entry_points:
            self._load_entry_point(entry_point)
        self._entry_points_loaded = True

    def _load_entry_point(self, entry_point: importlib.metadata.EntryPoint) -> None:
        label = f"entry point '{entry_point.name} = {entry_point.value}' in group {self.entry_point_group}"
        distribution = entry_point.dist.name if entry_point.dist is not None else "its package"
        remedy = f"fix or uninstall {distribution}"
        try:
            loaded = entry_point.load()
        except Exception as error:
            message = f"{label} failed to load: {type(error).__name__}: {error}; {remedy}"
            raise UserError(message) from error

        if inspect.isclass(loaded) and issubclass(loaded, Action):
            actions = [loaded]
        elif isinstance(loaded, ModuleType):
            actions = _actions_defined_in(loaded)
        else:
            message = f"{label} must name a remediations.Action subclass or a module, not {loaded!r}; {remedy}"
            raise UserError(message)

        if not actions:
            message = f"{label} names module {loaded.__name__}, which defines no remediation action; {remedy}"
            raise UserError(message)

        for action in actions:
            try:
                self.register(action)
            except (TypeError, ValueError) as error:
                message = f"{label} is invalid: {error}; {remedy}"
                raise UserError(message) from error

        log.info(
            "remediation_plugin_loaded",
            entry_point=entry_point.name,
            actions=[action.name for action in actions],
        )

    def _require(self, name: str) -> type[Action]:
        action = self.get(name)
        if action is None:
            raise UserError(self._unknown_action_message(name))

        return action

    def _unknown_action_message(self, name: str) -> str:
        message = f"unknown remediation action '{name}'"
        close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
        if close:
            return f"{message}; did you mean '{close[0]}'?"

        return f"{message}; known actions: {', '.join(self.names())}"


def _argument_list(action: type[Action]) -> str:
    if not action.arguments:
        return "no arguments"

    return ", ".join(f"'{argument_name}'" for argument_name in action.arguments)


def _actions_defined_in(module: ModuleType) -> list[type[Action]]:
    actions = []
    for _, member in inspect.getmembers(module, inspect.isclass):
        # A shared base class without a name of its own is not an action.
        defined_here = member.__module__ == module.__name__
        if issubclass(member, Action) and hasattr(member, "name") and defined_here:
            actions.append(member)

    return actions


registry = ActionRegistry()
