"""Static checks over parsed modules: names, field paths, types, actions.

The checker resolves every name, checks every field path against the snapshot
schema, and validates built-in calls and ``remediate`` clauses. It records on
the AST what the compiler needs: the binding of each name, the section each
snapshot read refers to, local slot numbers and the sections each policy
reads. User functions are checked at each call with the argument types of
that call, so field paths inside a function are checked too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from engine.diagnostics import DiagnosticSink, Position, suggest
from engine.language import ast
from engine.language.builtins import BUILTINS
from engine.language.types import (
    ANY,
    BOOL,
    DURATION,
    NULL,
    NUMBER,
    STRING,
    TIMESTAMP,
    SchemaTypes,
    Type,
    list_of,
    set_of,
    type_from_name,
)

__all__ = ["Program", "PackageInfo", "check_modules", "SEVERITIES", "PROVIDERS"]

SEVERITIES = ("critical", "high", "medium", "low", "info")
PROVIDERS = ("m365", "gws")
_POLICY_ID = re.compile(r"^[a-z0-9]+(\.[a-z0-9][a-z0-9-]*)+$")
_MAX_FIELDS_LISTED = 12


@dataclass
class PackageInfo:
    name: str
    params: dict[str, ast.Param] = field(default_factory=dict)
    param_types: dict[str, Type] = field(default_factory=dict)
    lets: dict[str, ast.Let] = field(default_factory=dict)
    funcs: dict[str, ast.Func] = field(default_factory=dict)
    modules: list[ast.Module] = field(default_factory=list)


@dataclass
class Program:
    """The checked program: packages, policies in a stable order, param declarations."""

    packages: dict[str, PackageInfo]
    policies: list[tuple[ast.Module, ast.Policy]]
    param_types: dict[str, Type]
    param_defaults: dict[str, ast.Param]
    sources: dict[str, str]


@dataclass
class _Local:
    slot: int
    type: Type


class _Frame:
    """Slot allocation for one policy or one function instantiation."""

    def __init__(self) -> None:
        self.size = 0

    def allocate(self) -> int:
        slot = self.size
        self.size += 1

        return slot


@dataclass
class _Scope:
    module: ast.Module
    package: PackageInfo
    frame: _Frame | None
    locals: list[dict[str, _Local]]
    sections: set[str]
    constant: bool = False  # a param default: no snapshot, no params, no lets

    def lookup(self, name: str) -> _Local | None:
        for scope in reversed(self.locals):
            if name in scope:
                return scope[name]

        return None

    def visible_names(self) -> set[str]:
        names: set[str] = set()
        for scope in self.locals:
            names |= set(scope)

        return names


class _Checker:
    def __init__(self, modules: list[ast.Module], schema: SchemaTypes, sink: DiagnosticSink, registry) -> None:
        self.modules = modules
        self.schema = schema
        self.sink = sink
        self.registry = registry
        self.packages: dict[str, PackageInfo] = {}
        self.imports: dict[int, dict[str, str]] = {}
        self.let_types: dict[int, tuple[Type, frozenset[str]]] = {}
        self.let_in_progress: set[int] = set()
        self.instances: dict[tuple, tuple[Type, frozenset[str]]] = {}
        self.call_stack: list[ast.Func] = []
        self.param_types: dict[str, Type] = {}
        self.param_decls: dict[str, ast.Param] = {}
        # Calls being checked, outermost first. A function body is checked once per combination of argument types.
        self.call_sites: list[ast.Call] = []

    # Declarations ----------------------------------------------------------

    def error(self, node: ast.Node | Position, code: str, message: str, *notes: str) -> None:
        position = node if isinstance(node, Position) else node.pos
        if self.call_sites and not getattr(self.call_sites[0], "synthetic", False):
            # Inside a function the argument types come from the call, so the note names that call.
            site = self.call_sites[0].pos
            notes = (*notes, f"note: checked for the call at {site.file}:{site.line}:{site.column}")
        self.sink.error(position, code, message, *notes)

    def collect_declarations(self) -> None:
        for module in self.modules:
            package = self.packages.setdefault(module.package, PackageInfo(module.package))
            package.modules.append(module)
            for param in module.params:
                self._declare(package, package.params, param, "param")
            for let in module.lets:
                self._declare(package, package.lets, let, "let")
            for func in module.funcs:
                if func.name in BUILTINS:
                    self.error(func, "shadowed_builtin", f"function '{func.name}' has the name of a built-in function")
                    continue
                self._declare(package, package.funcs, func, "func")

    def _declare(self, package: PackageInfo, table: dict, node, kind: str) -> None:
        if node.name in PROVIDERS:
            self.error(node, "reserved_name", f"'{node.name}' is reserved for snapshot data")
            return
        # Params, lets and functions share one namespace per package.
        first = package.params.get(node.name) or package.lets.get(node.name) or package.funcs.get(node.name)
        if first is not None:
            self.error(
                node,
                "duplicate_name",
                f"{kind} '{node.name}' is already declared in this package",
                f"note: first declared at {first.pos.file}:{first.pos.line}:{first.pos.column}",
            )
            return
        table[node.name] = node

    def resolve_imports(self) -> None:
        for module in self.modules:
            table: dict[str, str] = {}
            for item in module.imports:
                if item.package not in self.packages:
                    notes = []
                    guess = suggest(item.package, self.packages)
                    if guess:
                        notes.append(f"did you mean '{guess}'?")
                    self.error(item, "unknown_package", f"package '{item.package}' is not defined by any policy file", *notes)
                    continue
                if item.alias in table or item.alias in PROVIDERS:
                    self.error(item, "duplicate_name", f"import alias '{item.alias}' is already in use")
                    continue
                table[item.alias] = item.package
            self.imports[id(module)] = table

    def check_params(self) -> None:
        for package in self.packages.values():
            for param in package.params.values():
                declared = self._type_of_ref(param.type)
                if declared is None:
                    # Uses of the param are checked as 'any', so they do not repeat the error as unknown names.
                    package.param_types[param.name] = ANY
                    continue
                package.param_types[param.name] = declared
                previous = self.param_types.get(param.name)
                if previous is not None and not previous.same_as(declared):
                    first = self.param_decls[param.name].pos
                    self.error(
                        param.type,
                        "param_type_conflict",
                        f"param '{param.name}' is declared as {previous} elsewhere",
                        f"note: see {first.file}:{first.line}:{first.column}",
                        f"have: {declared}",
                        f"want: {previous}",
                    )
                    continue
                self.param_types.setdefault(param.name, declared)
                self.param_decls.setdefault(param.name, param)
                if param.default is None:
                    continue
                module = next(module for module in package.modules if param in module.params)
                scope = _Scope(module, package, _Frame(), [{}], set(), constant=True)
                actual = self.check_expr(param.default, scope)
                param.frame_size = scope.frame.size
                if not _assignable(actual, declared):
                    self.error(
                        param.default,
                        "type_mismatch",
                        f"default of param '{param.name}' has the wrong type",
                        f"have: {actual}",
                        f"want: {declared}",
                    )

    def _type_of_ref(self, ref: ast.TypeRef) -> Type | None:
        argument = None
        if ref.argument is not None:
            argument = self._type_of_ref(ref.argument)
            if argument is None:
                return None
        resolved = type_from_name(ref.name, argument)
        if resolved is None:
            names = ["string", "int", "number", "bool", "duration", "timestamp", "any", "list", "set"]
            notes = ["want: string, int, number, bool, duration, timestamp, any, list<T> or set<T>"]
            guess = suggest(ref.name, names)
            if guess:
                notes.append(f"did you mean '{guess}'?")
            self.error(ref, "unknown_type", f"unknown type '{ref}'", *notes)

        return resolved

    # Policies --------------------------------------------------------------

    def check_policies(self) -> list[tuple[ast.Module, ast.Policy]]:
        seen: dict[str, ast.Policy] = {}
        ordered: list[tuple[ast.Module, ast.Policy]] = []
        for module in self.modules:
            package = self.packages[module.package]
            for policy in module.policies:
                if policy.id in seen:
                    first = seen[policy.id].id_pos or seen[policy.id].pos
                    self.error(
                        policy.id_pos or policy,
                        "duplicate_policy",
                        f"policy id '{policy.id}' is already used",
                        f"note: first used at {first.file}:{first.line}:{first.column}",
                    )
                    continue
                seen[policy.id] = policy
                self.check_policy(module, package, policy)
                ordered.append((module, policy))

        return sorted(ordered, key=lambda pair: pair[1].id)

    def check_policy(self, module: ast.Module, package: PackageInfo, policy: ast.Policy) -> None:
        if not _POLICY_ID.match(policy.id):
            self.error(
                policy.id_pos or policy,
                "invalid_policy_id",
                f"policy id '{policy.id}' is not a dotted lower-case name",
                "want: for example m365.mfa.all-users",
            )
        # One diagnostic for both clauses: two at the same position would hide the second.
        missing = [f"'{clause}'" for clause, value in (("title", policy.title), ("severity", policy.severity)) if value is None]
        if missing:
            notes = [f"want: severity one of {', '.join(SEVERITIES)}"] if policy.severity is None else []
            self.error(policy, "missing_clause", f"policy '{policy.id}' has no {' and no '.join(missing)}", *notes)
        if policy.severity is not None and policy.severity not in SEVERITIES:
            notes = [f"want: one of {', '.join(SEVERITIES)}"]
            guess = suggest(policy.severity, SEVERITIES)
            if guess:
                notes.append(f"did you mean '{guess}'?")
            self.error(policy.severity_pos or policy, "invalid_severity", f"unknown severity '{policy.severity}'", *notes)

        frame = _Frame()
        scope = _Scope(module, package, frame, [{}], set())
        if policy.when is not None:
            self._expect_bool(policy.when, self.check_expr(policy.when, scope), "'when'")
        for let in policy.lets:
            self._bind_let(let, scope)
        if policy.collection is not None:
            collection_type = self.check_expr(policy.collection, scope)
            element = self._element_type(policy.collection, collection_type, "'for'")
            policy.for_slot = frame.allocate()
            scope.locals.append({policy.for_var: _Local(policy.for_slot, element)})
            policy.element_type = element
            if policy.where is not None:
                self._expect_bool(policy.where, self.check_expr(policy.where, scope), "'where'")
        for let in policy.item_lets:
            self._bind_let(let, scope)
        self._expect_bool(policy.assertion, self.check_expr(policy.assertion, scope), "'assert'")
        if policy.message is not None:
            for part in policy.message.parts:
                if part.expr is not None:
                    self.check_expr(part.expr, scope)
        for item in policy.evidence:
            self.check_expr(item.value, scope)
        for remediate in policy.remediations:
            self.check_remediate(remediate, scope)
        policy.frame_size = frame.size
        policy.sections = frozenset(scope.sections)

    def _bind_let(self, let: ast.Let, scope: _Scope) -> None:
        value_type = self.check_expr(let.value, scope)
        if scope.lookup(let.name) is not None:
            self.error(let, "duplicate_name", f"'{let.name}' is already defined in this policy")
        let.slot = scope.frame.allocate()
        scope.locals[-1][let.name] = _Local(let.slot, value_type)

    def check_remediate(self, remediate: ast.Remediate, scope: _Scope) -> None:
        action = self.registry.get(remediate.action)
        if action is None:
            notes = []
            guess = suggest(remediate.action, self.registry.names())
            if guess:
                notes.append(f"did you mean '{guess}'?")
            notes.append("note: 'safeguard actions' lists the available remediation actions")
            self.error(remediate, "unknown_action", f"unknown remediation action '{remediate.action}'", *notes)
            for arg in remediate.args:
                self.check_expr(arg.value, scope)
            return
        seen: set[str] = set()
        for arg in remediate.args:
            arg_type = self.check_expr(arg.value, scope)
            if arg.name in seen:
                self.error(arg, "duplicate_argument", f"argument '{arg.name}' is given twice")
                continue
            seen.add(arg.name)
            spec = action.arguments.get(arg.name)
            if spec is None:
                notes = []
                guess = suggest(arg.name, action.arguments)
                if guess:
                    notes.append(f"did you mean '{guess}'?")
                notes.append(f"want: {_describe_arguments(action)}")
                self.error(arg, "unknown_argument", f"action '{action.name}' has no argument '{arg.name}'", *notes)
                continue
            wanted = _argument_type(spec.type)
            if not _assignable(arg_type, wanted):
                self.error(
                    arg.value,
                    "type_mismatch",
                    f"argument '{arg.name}' of '{action.name}' has the wrong type",
                    f"have: {arg_type}",
                    f"want: {spec.type}",
                )
        missing = [name for name, spec in action.arguments.items() if spec.required and name not in seen]
        if missing:
            self.error(
                remediate,
                "missing_argument",
                f"action '{action.name}' needs argument {', '.join(repr(name) for name in missing)}",
                f"want: {_describe_arguments(action)}",
            )

    # Expressions -----------------------------------------------------------

    def _expect_bool(self, node: ast.Expr, actual: Type, where: str) -> None:
        if actual.kind not in ("bool", "any"):
            self.error(node, "type_mismatch", f"{where} needs a boolean condition", f"have: {actual}", "want: bool")

    def _element_type(self, node: ast.Expr, collection: Type, where: str) -> Type:
        if collection.kind in ("list", "set"):
            return collection.element or ANY
        if collection.kind == "any":
            return ANY
        self.error(node, "type_mismatch", f"{where} needs a list or set to iterate over", f"have: {collection}")

        return ANY

    def check_expr(self, node: ast.Expr, scope: _Scope) -> Type:
        method = getattr(self, f"_check_{type(node).__name__}")
        result = method(node, scope)
        node.type = result

        return result

    def _check_Literal(self, node: ast.Literal, scope: _Scope) -> Type:
        value = node.value
        if isinstance(value, bool):
            return BOOL
        if value is None:
            return NULL
        if isinstance(value, (int, float)):
            return NUMBER
        if isinstance(value, timedelta):
            return DURATION

        return STRING

    def _check_Name(self, node: ast.Name, scope: _Scope) -> Type:
        local = scope.lookup(node.id)
        if local is not None:
            node.binding = ("local", local.slot)
            return local.type
        if node.id in PROVIDERS:
            if scope.constant:
                self.error(node, "not_constant", "a param default cannot read snapshot data")
            else:
                # Only m365.SECTION reads go through the section status (and so three-valued logic).
                self.error(
                    node,
                    "not_a_value",
                    f"'{node.id}' is the root of the snapshot, not a value",
                    f"want: a section, for example {node.id}.users",
                )
            node.binding = ("error",)
            return ANY
        if not scope.constant:
            if node.id in scope.package.param_types:
                node.binding = ("param", node.id)
                return scope.package.param_types[node.id]
            if node.id in scope.package.lets:
                let = scope.package.lets[node.id]
                node.binding = ("global", scope.package.name, node.id)
                return self._global_let_type(let, scope)
        if node.id in self.imports.get(id(scope.module), {}):
            package_name = self.imports[id(scope.module)][node.id]
            self.error(
                node,
                "not_a_value",
                f"'{node.id}' is the imported package '{package_name}', not a value",
                f"want: {node.id}.NAME to read a let or call a function of that package",
            )
            node.binding = ("error",)
            return ANY
        if node.id in scope.package.funcs or node.id in BUILTINS:
            self.error(node, "function_as_value", f"'{node.id}' is a function; call it with arguments")
            node.binding = ("error",)
            return ANY
        if node.id in ("any", "all", "none", "count"):
            self.error(node, "syntax_error", f"'{node.id}' needs the form {node.id}(x in COLLECTION: CONDITION)")
            node.binding = ("error",)
            return ANY
        candidates = scope.visible_names() | set(PROVIDERS)
        if not scope.constant:
            candidates |= set(scope.package.param_types) | set(scope.package.lets)
        candidates |= set(self.imports.get(id(scope.module), {}))
        notes = []
        guess = suggest(node.id, candidates)
        if guess:
            notes.append(f"did you mean '{guess}'?")
        if scope.constant and (node.id in scope.package.params or node.id in scope.package.lets):
            self.error(node, "not_constant", f"a param default cannot refer to '{node.id}'")
        else:
            self.error(node, "unknown_name", f"unknown name '{node.id}'", *notes)
        node.binding = ("error",)

        return ANY

    def _global_let_type(self, let: ast.Let, scope: _Scope) -> Type:
        key = id(let)
        if key in self.let_types:
            value_type, sections = self.let_types[key]
            scope.sections |= sections
            return value_type
        if key in self.let_in_progress:
            self.error(let, "recursive_definition", f"'{let.name}' refers to itself")
            return ANY
        self.let_in_progress.add(key)
        module = next(module for module in self.modules if let in module.lets)
        inner = _Scope(module, self.packages[module.package], _Frame(), [{}], set())
        # A let does not depend on the call that first reads it.
        call_sites, self.call_sites = self.call_sites, []
        value_type = self.check_expr(let.value, inner)
        self.call_sites = call_sites
        let.frame_size = inner.frame.size
        self.let_in_progress.discard(key)
        self.let_types[key] = (value_type, frozenset(inner.sections))
        let.sections = frozenset(inner.sections)
        scope.sections |= inner.sections

        return value_type

    def _check_Attr(self, node: ast.Attr, scope: _Scope) -> Type:
        base = node.value
        if isinstance(base, ast.Name) and scope.lookup(base.id) is None:
            imported = self.imports.get(id(scope.module), {}).get(base.id)
            if imported is not None and base.id not in scope.package.lets and base.id not in scope.package.param_types:
                return self._check_package_member(node, imported, scope)
        if isinstance(base, ast.Name) and base.id in PROVIDERS and scope.lookup(base.id) is None:
            if scope.constant:
                self.error(base, "not_constant", "a param default cannot read snapshot data")
                return ANY
            base.binding = ("root", base.id)
            return self._check_section(node, base.id, scope)
        value_type = self.check_expr(base, scope)

        return self._field(node, value_type, node.attr)

    def _check_package_member(self, node: ast.Attr, package_name: str, scope: _Scope) -> Type:
        package = self.packages[package_name]
        node.value.binding = ("package", package_name)
        if node.attr in package.lets:
            node.binding = ("global", package_name, node.attr)
            owner = next(module for module in package.modules if package.lets[node.attr] in module.lets)
            inner = _Scope(owner, package, _Frame(), [{}], scope.sections)
            return self._global_let_type(package.lets[node.attr], inner)
        if node.attr in package.funcs:
            self.error(node.field_pos, "function_as_value", f"'{node.attr}' is a function; call it with arguments")
            return ANY
        notes = []
        guess = suggest(node.attr, list(package.lets) + list(package.funcs))
        if guess:
            notes.append(f"did you mean '{guess}'?")
        self.error(node.field_pos, "unknown_name", f"package '{package_name}' has no let or function '{node.attr}'", *notes)

        return ANY

    def _check_section(self, node: ast.Attr, provider: str, scope: _Scope) -> Type:
        section_type = self.schema.section_type(provider, node.attr)
        name = f"{provider}.{node.attr}"
        node.section = name
        if section_type is None:
            notes = []
            root = self.schema.roots.get(provider)
            known = sorted((root.fields or {}) if root else {})
            guess = suggest(node.attr, known)
            if guess:
                notes.append(f"did you mean '{provider}.{guess}'?")
            self.error(getattr(node, "field_pos", node.pos), "unknown_section", f"snapshot has no section '{name}'", *notes)
            return ANY
        scope.sections.add(name)

        return section_type

    def _field(self, node: ast.Expr, value_type: Type, name: str) -> Type:
        if value_type.kind == "any":
            return ANY
        if value_type.kind == "object" and value_type.fields is not None:
            if name in value_type.fields:
                result = value_type.fields[name]
                if result.kind == "timestamp":
                    node.timestamp = True
                return result.with_null() if value_type.nullable else result
            notes = []
            guess = suggest(name, value_type.fields)
            if guess:
                notes.append(f"did you mean '{guess}'?")
            else:
                known = sorted(value_type.fields)
                listed = ", ".join(known[:_MAX_FIELDS_LISTED]) + (", …" if len(known) > _MAX_FIELDS_LISTED else "")
                notes.append(f"have: {listed}")
            self.error(
                getattr(node, "field_pos", node.pos),
                "unknown_field",
                f"{value_type.name or 'object'} has no field '{name}'",
                *notes,
            )
            return ANY
        if value_type.kind in ("list", "set"):
            self.error(
                getattr(node, "field_pos", node.pos),
                "type_mismatch",
                f"cannot read field '{name}' of a {value_type.kind}",
                "want: a quantifier such as any(x in LIST: x." + name + " == …) or a comprehension",
            )
            return ANY
        self.error(
            getattr(node, "field_pos", node.pos),
            "type_mismatch",
            f"cannot read field '{name}' of a {value_type.kind}",
            f"have: {value_type}",
        )

        return ANY

    def _check_Index(self, node: ast.Index, scope: _Scope) -> Type:
        value_type = self.check_expr(node.value, scope)
        key_type = self.check_expr(node.key, scope)
        if value_type.kind in ("list",):
            if key_type.kind not in ("number", "any"):
                self.error(node.key, "type_mismatch", "a list index must be a number", f"have: {key_type}")
            return value_type.element or ANY
        if value_type.kind == "object" and isinstance(node.key, ast.Literal) and isinstance(node.key.value, str):
            return self._field(node, value_type, node.key.value)
        if value_type.kind == "string":
            return STRING
        if value_type.kind in ("object", "any"):
            return ANY
        self.error(node, "type_mismatch", f"cannot index a {value_type.kind}", f"have: {value_type}")

        return ANY

    def _check_Call(self, node: ast.Call, scope: _Scope) -> Type:
        arg_types = [self.check_expr(arg, scope) for arg in node.args]
        func = node.func
        if isinstance(func, ast.Name) and scope.lookup(func.id) is None:
            if func.id in scope.package.funcs:
                return self._call_user(node, scope.package.funcs[func.id], scope.package.name, arg_types, scope)
            if func.id in BUILTINS:
                return self._call_builtin(node, BUILTINS[func.id], arg_types, scope)
            if func.id in scope.package.param_types or func.id in scope.package.lets or func.id in PROVIDERS:
                self.error(func, "not_callable", f"'{func.id}' is not a function and cannot be called")
                node.binding = ("error",)
                return ANY
            names = set(BUILTINS) | set(scope.package.funcs)
            notes = []
            guess = suggest(func.id, names)
            if guess:
                notes.append(f"did you mean '{guess}'?")
            self.error(func, "unknown_function", f"unknown function '{func.id}'", *notes)
            node.binding = ("error",)
            return ANY
        if isinstance(func, ast.Attr) and isinstance(func.value, ast.Name) and scope.lookup(func.value.id) is None:
            imported = self.imports.get(id(scope.module), {}).get(func.value.id)
            if imported is not None:
                package = self.packages[imported]
                if func.attr in package.funcs:
                    return self._call_user(node, package.funcs[func.attr], imported, arg_types, scope)
                notes = []
                guess = suggest(func.attr, package.funcs)
                if guess:
                    notes.append(f"did you mean '{guess}'?")
                self.error(func.field_pos, "unknown_function", f"package '{imported}' has no function '{func.attr}'", *notes)
                node.binding = ("error",)
                return ANY
        self.error(func, "not_callable", "only functions can be called")
        node.binding = ("error",)

        return ANY

    def _call_builtin(self, node: ast.Call, builtin, arg_types: list[Type], scope: _Scope) -> Type:
        node.binding = ("builtin", builtin.name)
        count = len(arg_types)
        if not builtin.min_args <= count <= builtin.max_args:
            expected = str(builtin.min_args) if builtin.min_args == builtin.max_args else f"{builtin.min_args} to {builtin.max_args}"
            noun = "argument" if expected == "1" else "arguments"
            self.error(node, "wrong_argument_count", f"{builtin.name}() takes {expected} {noun}, got {count}")
            return ANY
        for index, (wanted, actual) in enumerate(zip(builtin.params, arg_types)):
            if not _assignable(actual, wanted):
                self.error(
                    node.args[index],
                    "type_mismatch",
                    f"argument {index + 1} of {builtin.name}() has the wrong type",
                    f"have: {actual}",
                    f"want: {wanted}",
                )
        if builtin.name == "matches" and isinstance(node.args[1], ast.Literal) and isinstance(node.args[1].value, str):
            try:
                re.compile(node.args[1].value)
            except re.error as error:
                self.error(node.args[1], "invalid_pattern", f"invalid regular expression: {error}")
        if scope.constant and not builtin.constant:
            self.error(node, "not_constant", f"a param default cannot call {builtin.name}()")
        scope.sections |= set(builtin.sections)

        return builtin.return_type(arg_types)

    def _call_user(self, node: ast.Call, func: ast.Func, package_name: str, arg_types: list[Type], scope: _Scope) -> Type:
        node.binding = ("func", package_name, func.name)
        if scope.constant:
            self.error(node, "not_constant", "a param default cannot call a function")
        if len(arg_types) != len(func.params):
            self.error(
                node,
                "wrong_argument_count",
                f"{func.name}() takes {len(func.params)} argument{'' if len(func.params) == 1 else 's'}, got {len(arg_types)}",
                f"want: {func.name}({', '.join(func.params)})",
            )
            return ANY
        if func in self.call_stack:
            self.error(node, "recursive_function", f"function '{func.name}' calls itself; recursion is not supported")
            return ANY
        key = (id(func), tuple(_type_key(arg) for arg in arg_types))
        if key in self.instances:
            result, sections = self.instances[key]
            scope.sections |= sections
            return result
        package = self.packages[package_name]
        module = next(module for module in package.modules if func in module.funcs)
        frame = _Frame()
        params = {name: _Local(frame.allocate(), arg_type) for name, arg_type in zip(func.params, arg_types)}
        inner = _Scope(module, package, frame, [params], set())
        self.call_stack.append(func)
        self.call_sites.append(node)
        result = self.check_expr(func.body, inner)
        self.call_sites.pop()
        self.call_stack.pop()
        func.frame_size = max(getattr(func, "frame_size", 0), frame.size)
        self.instances[key] = (result, frozenset(inner.sections))
        scope.sections |= inner.sections

        return result

    def _check_Unary(self, node: ast.Unary, scope: _Scope) -> Type:
        operand = self.check_expr(node.operand, scope)
        if operand.kind not in ("number", "duration", "any"):
            self.error(node, "type_mismatch", "'-' needs a number or duration", f"have: {operand}")
            return ANY

        return operand

    def _check_Binary(self, node: ast.Binary, scope: _Scope) -> Type:
        left = self.check_expr(node.left, scope)
        right = self.check_expr(node.right, scope)
        op = node.op
        if op == "??":
            if left.kind == "null":
                return right
            if left.kind == "any":
                return right.non_null() if right.kind != "null" else ANY
            return left.non_null()
        kinds = (left.kind, right.kind)
        if "any" in kinds:
            if op in ("|", "&"):
                return set_of(ANY)
            return left if right.kind == "any" else right
        if op in ("|", "&"):
            if left.kind in ("list", "set") and right.kind in ("list", "set"):
                return set_of(left.element or ANY)
            self.error(node, "type_mismatch", f"'{op}' needs two lists or sets", f"have: {left} {op} {right}")
            return ANY
        result = _ARITHMETIC.get((op, left.kind, right.kind))
        if result is None:
            self.error(node, "type_mismatch", f"'{op}' cannot combine {left} and {right}")
            return ANY
        if result == "left":
            return left.non_null()
        if result == "set":
            return set_of(left.element or ANY)

        return result

    def _check_BoolOp(self, node: ast.BoolOp, scope: _Scope) -> Type:
        self._expect_bool(node.left, self.check_expr(node.left, scope), f"'{node.op}'")
        self._expect_bool(node.right, self.check_expr(node.right, scope), f"'{node.op}'")

        return BOOL

    def _check_Not(self, node: ast.Not, scope: _Scope) -> Type:
        self._expect_bool(node.operand, self.check_expr(node.operand, scope), "'not'")

        return BOOL

    def _check_Compare(self, node: ast.Compare, scope: _Scope) -> Type:
        left = self.check_expr(node.left, scope)
        right = self.check_expr(node.right, scope)
        if node.op in ("==", "!="):
            return BOOL
        orderable = {"number", "string", "timestamp", "duration"}
        if left.kind == "any" or right.kind == "any":
            return BOOL
        if left.kind not in orderable or right.kind not in orderable or left.kind != right.kind:
            notes = [f"have: {left} {node.op} {right}"]
            if {left.kind, right.kind} == {"timestamp", "string"}:
                notes.append('want: time("2026-01-31T00:00:00Z") to turn a string into a timestamp')
            self.error(node, "type_mismatch", f"'{node.op}' cannot compare {left.kind} with {right.kind}", *notes)

        return BOOL

    def _check_Membership(self, node: ast.Membership, scope: _Scope) -> Type:
        self.check_expr(node.left, scope)
        right = self.check_expr(node.right, scope)
        if right.kind not in ("list", "set", "string", "object", "any"):
            self.error(node.right, "type_mismatch", "the right side of 'in' must be a list, set, string or object", f"have: {right}")

        return BOOL

    def _check_IsCheck(self, node: ast.IsCheck, scope: _Scope) -> Type:
        self.check_expr(node.operand, scope)

        return BOOL

    def _check_Conditional(self, node: ast.Conditional, scope: _Scope) -> Type:
        self._expect_bool(node.condition, self.check_expr(node.condition, scope), "'if'")
        then = self.check_expr(node.then, scope)
        otherwise = self.check_expr(node.otherwise, scope)
        if then.kind == "null":
            return otherwise.with_null()
        if otherwise.kind == "null":
            return then.with_null()
        if then.same_as(otherwise):
            return then

        return ANY

    def _check_ListLiteral(self, node: ast.ListLiteral, scope: _Scope) -> Type:
        element = None
        for item in node.items:
            item_type = self.check_expr(item, scope)
            if element is None:
                element = item_type
            elif not element.same_as(item_type):
                element = ANY

        return list_of(element or ANY)

    def _iterate(self, node, scope: _Scope) -> tuple[Type, dict[str, _Local]]:
        collection = self.check_expr(node.collection, scope)
        element = self._element_type(node.collection, collection, f"'{getattr(node, 'kind', 'for')}'")
        node.slot = scope.frame.allocate()

        return element, {node.var: _Local(node.slot, element)}

    def _check_Comprehension(self, node: ast.Comprehension, scope: _Scope) -> Type:
        _, binding = self._iterate(node, scope)
        scope.locals.append(binding)
        if node.condition is not None:
            self._expect_bool(node.condition, self.check_expr(node.condition, scope), "'where'")
        element = self.check_expr(node.element, scope)
        scope.locals.pop()

        return list_of(element) if node.kind == "list" else set_of(element)

    def _check_Quantifier(self, node: ast.Quantifier, scope: _Scope) -> Type:
        _, binding = self._iterate(node, scope)
        scope.locals.append(binding)
        if node.condition is not None:
            self._expect_bool(node.condition, self.check_expr(node.condition, scope), "'where'")
        if node.predicate is not None:
            self._expect_bool(node.predicate, self.check_expr(node.predicate, scope), f"'{node.kind}'")
        scope.locals.pop()

        return NUMBER if node.kind == "count" else BOOL


_ARITHMETIC: dict[tuple[str, str, str], object] = {
    ("+", "number", "number"): NUMBER,
    ("-", "number", "number"): NUMBER,
    ("*", "number", "number"): NUMBER,
    ("/", "number", "number"): NUMBER,
    ("%", "number", "number"): NUMBER,
    ("+", "string", "string"): STRING,
    ("+", "list", "list"): "left",
    ("-", "set", "set"): "set",
    ("-", "set", "list"): "set",
    ("-", "list", "set"): "set",
    ("-", "list", "list"): "set",
    ("+", "timestamp", "duration"): TIMESTAMP,
    ("-", "timestamp", "duration"): TIMESTAMP,
    ("+", "duration", "timestamp"): TIMESTAMP,
    ("-", "timestamp", "timestamp"): DURATION,
    ("+", "duration", "duration"): DURATION,
    ("-", "duration", "duration"): DURATION,
    ("*", "duration", "number"): DURATION,
    ("*", "number", "duration"): DURATION,
    ("/", "duration", "number"): DURATION,
    ("/", "duration", "duration"): NUMBER,
}


def _type_key(value: Type) -> tuple:
    if value.kind in ("list", "set"):
        return (value.kind, _type_key(value.element or ANY))
    if value.kind == "object":
        return ("object", id(value.fields))

    return (value.kind,)


def _assignable(actual: Type, wanted: Type) -> bool:
    """Return whether a value of type ``actual`` may be used where ``wanted`` is expected."""
    if actual.kind in ("any", "null") or wanted.kind == "any":
        return True
    if wanted.kind in ("list", "set"):
        if actual.kind not in ("list", "set"):
            return False
        return _assignable(actual.element or ANY, wanted.element or ANY)
    if wanted.kind == "timestamp" and actual.kind == "string":
        return False

    return actual.kind == wanted.kind


def _argument_type(name: str) -> Type:
    mapping = {"string": STRING, "int": NUMBER, "bool": BOOL, "list<string>": list_of(STRING)}

    return mapping.get(name, ANY)


def _describe_arguments(action) -> str:
    parts = []
    for name, spec in action.arguments.items():
        parts.append(f"{name}: {spec.type}" + ("" if spec.required else " (optional)"))

    return f"{action.name}({', '.join(parts)})"


def check_modules(modules: list[ast.Module], schema: SchemaTypes, sink: DiagnosticSink, registry) -> Program:
    """Check parsed modules; problems go to ``sink``. The Program is usable only if the sink is empty."""
    checker = _Checker(modules, schema, sink, registry)
    checker.collect_declarations()
    checker.resolve_imports()
    checker.check_params()
    policies = checker.check_policies()
    # Functions and lets that no policy uses are still checked, with unknown argument types.
    for package in checker.packages.values():
        for let in package.lets.values():
            module = next(module for module in package.modules if let in module.lets)
            checker._global_let_type(let, _Scope(module, package, _Frame(), [{}], set()))
        for func in package.funcs.values():
            if not any(key[0] == id(func) for key in checker.instances):
                module = next(module for module in package.modules if func in module.funcs)
                scope = _Scope(module, package, _Frame(), [{}], set())
                call = ast.Call(pos=func.pos, func=ast.Name(pos=func.pos, id=func.name), args=[])
                call.synthetic = True
                checker._call_user(
                    call,
                    func,
                    package.name,
                    [ANY] * len(func.params),
                    scope,
                )
    sources = {module.file: module.source for module in modules}

    return Program(
        packages=checker.packages,
        policies=policies,
        param_types=checker.param_types,
        param_defaults=checker.param_decls,
        sources=sources,
    )
