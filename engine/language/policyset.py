"""Load policy files into a compiled, ready-to-run policy set.

Steps: read every ``.sg`` file under the given paths, parse each (collecting
syntax errors from all files), check the whole program against the snapshot
schema and the remediation registry, then compile each policy into closures.
Any diagnostic stops the load with a PolicyError that carries all of them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.diagnostics import DiagnosticSink, render
from engine.errors import InputError, PolicyError
from engine.language import ast
from engine.language.checker import Program, check_modules
from engine.language.compiler import Compiled, Compiler
from engine.language.parser import parse_module
from engine.language.types import SchemaTypes, Type, snapshot_types
from engine.language.values import ABSENT, EvalError, format_value, strict_equal, to_json, type_name

__all__ = ["CompiledPolicy", "PolicySet", "load_policies", "compile_sources", "find_policy_files", "read_policy_file", "POLICY_SUFFIX"]

POLICY_SUFFIX = ".sg"

_ID_FIELDS = ("id", "primaryEmail", "orgUnitPath", "domainName", "userEmail", "clientId", "name")
# Automatic evidence labels quote the policy source up to this many characters.
_MAX_LABEL = 80

_NAME_FIELDS = ("displayName", "userPrincipalName", "primaryEmail", "name", "domainName", "orgUnitPath", "userEmail")


@dataclass
class CompiledPolicy:
    """A policy ready to run, with its metadata and compiled clauses."""

    id: str
    title: str
    severity: str
    controls: list[str]
    description: str | None
    file: str
    line: int
    sections: frozenset[str]
    providers: frozenset[str]
    frame_size: int
    when: Compiled | None
    when_node: ast.Expr | None
    lets: list[tuple[int, Compiled]]
    collection: Compiled | None
    collection_node: ast.Expr | None
    for_var: str | None
    for_slot: int | None
    where: Compiled | None
    where_node: ast.Expr | None
    item_lets: list[tuple[int, Compiled]]
    assertion: Compiled
    assertion_node: ast.Expr
    evidence: list[tuple[str, Compiled]]
    message_parts: list[tuple[str | None, Compiled | None]] | None
    remediations: list[tuple[str, list[tuple[str, Compiled]]]]
    resource_info: dict[str, str] = field(default_factory=dict)

    @property
    def provider(self) -> str | None:
        if len(self.providers) == 1:
            return next(iter(self.providers))

        return None

    def resource(self, item: Any, snapshot) -> dict[str, Any]:
        """Name the resource a violation is about: type, id and display name."""
        if item is None:
            tenant = snapshot.tenant
            return {"type": "tenant", "id": tenant.get("id"), "displayName": tenant.get("domain")}
        resource_type = self.resource_info.get("type") or self.for_var or "resource"
        if not isinstance(item, dict):
            return {"type": resource_type, "id": format_value(item), "displayName": format_value(item)}
        id_field = self.resource_info.get("id")
        name_field = self.resource_info.get("name")
        resource_id = item.get(id_field) if id_field else None
        if resource_id is None:
            resource_id = next((item[key] for key in _ID_FIELDS if item.get(key) is not None), None)
        name = item.get(name_field) if name_field else None
        if name is None:
            name = next((item[key] for key in _NAME_FIELDS if item.get(key) is not None), resource_id)

        return {"type": resource_type, "id": resource_id, "displayName": name}

    def resource_label(self, item: Any) -> str:
        if isinstance(item, dict):
            for key in _NAME_FIELDS + _ID_FIELDS:
                if item.get(key) is not None:
                    return str(item[key])

        return format_value(item)

    def render_message(self, frame: list, context, resource: dict[str, Any]) -> str:
        if self.message_parts is None:
            if resource.get("type") == "tenant":
                return self.title
            return f"{self.title}: {resource.get('displayName') or resource.get('id')}"
        pieces = []
        for text, function in self.message_parts:
            if text is not None:
                pieces.append(text)
                continue
            try:
                pieces.append(format_value(function(frame, context)))
            except EvalError as error:
                pieces.append(f"<error: {error.message}>")

        return "".join(pieces)


@dataclass
class PolicySet:
    policies: list[CompiledPolicy]
    program: Program
    files: list[str]
    digest: str
    param_types: dict[str, Type]
    param_defaults: dict[str, Any]

    def get(self, policy_id: str) -> CompiledPolicy | None:
        return next((policy for policy in self.policies if policy.id == policy_id), None)


def _display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def find_policy_files(paths: Sequence[Path]) -> list[Path]:
    """List the policy files under each folder (sorted) and each file given directly, in argument order.

    Raises InputError for a path that does not exist. A file named twice is listed twice.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(candidate for candidate in path.rglob(f"*{POLICY_SUFFIX}") if candidate.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            message = f"{path}: no such file or directory; pass a policy file or a folder of {POLICY_SUFFIX} files"
            raise InputError(message)

    return files


def _policy_files(paths: Sequence[Path]) -> list[Path]:
    files = find_policy_files(paths)
    if not files:
        shown = ", ".join(str(path) for path in paths)
        message = f"no {POLICY_SUFFIX} policy files found in {shown}"
        raise InputError(message)

    return files


def read_policy_file(path: Path) -> str:
    """Read a policy file as UTF-8; raise InputError naming the file when that fails."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        message = f"{path}: not valid UTF-8 at byte {error.start}; save policy files as UTF-8"
        raise InputError(message) from None
    except OSError as error:
        message = f"{path}: cannot read: {error.strerror}"
        raise InputError(message) from None


def _evidence_leaves(node: ast.Expr) -> list[ast.Expr]:
    """Return the sub-expressions whose values explain a failed assertion."""
    if isinstance(node, ast.BoolOp):
        return _evidence_leaves(node.left) + _evidence_leaves(node.right)
    if isinstance(node, ast.Not):
        return _evidence_leaves(node.operand)
    if isinstance(node, (ast.Compare, ast.Membership)):
        return [side for side in (node.left, node.right) if not isinstance(side, (ast.Literal, ast.ListLiteral))]
    if isinstance(node, ast.IsCheck):
        return [node.operand]
    if isinstance(node, ast.Literal):
        return []

    return [node]


def _compile_policy(compiler: Compiler, module: ast.Module, policy: ast.Policy) -> CompiledPolicy:
    source = module.source
    evidence: list[tuple[str, Compiled]] = []
    labels: set[str] = set()
    for item in policy.evidence:
        evidence.append((item.label, compiler.compile(item.value)))
        labels.add(item.label)
    if not policy.evidence:
        for leaf in _evidence_leaves(policy.assertion):
            if isinstance(leaf, ast.Quantifier):
                # Its value only repeats the failed verdict, so an evidence clause is the better tool.
                continue
            label = " ".join(source[leaf.start : leaf.end].split())
            if len(label) > _MAX_LABEL:
                label = label[: _MAX_LABEL - 1] + "…"
            if label and label not in labels:
                labels.add(label)
                evidence.append((label, compiler.compile(leaf)))
    message_parts = None
    if policy.message is not None:
        message_parts = [
            (part.text, compiler.compile(part.expr) if part.expr is not None else None) for part in policy.message.parts
        ]
    element_type = getattr(policy, "element_type", None)
    resource_info = dict(element_type.resource or {}) if element_type is not None and element_type.resource else {}

    return CompiledPolicy(
        id=policy.id,
        title=policy.title or policy.id,
        severity=policy.severity or "medium",
        controls=list(policy.controls),
        description=policy.description,
        file=module.file,
        line=policy.pos.line,
        sections=policy.sections,
        providers=frozenset(section.split(".", 1)[0] for section in policy.sections),
        frame_size=policy.frame_size,
        when=compiler.compile(policy.when) if policy.when is not None else None,
        when_node=policy.when,
        lets=[(let.slot, compiler.compile(let.value)) for let in policy.lets],
        collection=compiler.compile(policy.collection) if policy.collection is not None else None,
        collection_node=policy.collection,
        for_var=policy.for_var,
        for_slot=getattr(policy, "for_slot", None),
        where=compiler.compile(policy.where) if policy.where is not None else None,
        where_node=policy.where,
        item_lets=[(let.slot, compiler.compile(let.value)) for let in policy.item_lets],
        assertion=compiler.compile(policy.assertion),
        assertion_node=policy.assertion,
        evidence=evidence,
        message_parts=message_parts,
        remediations=[
            (remediate.action, [(arg.name, compiler.compile(arg.value)) for arg in remediate.args])
            for remediate in policy.remediations
        ],
        resource_info=resource_info,
    )


def _digest(files: list[tuple[str, str]]) -> str:
    hasher = hashlib.sha256()
    for name, text in sorted(files):
        hasher.update(name.encode("utf-8") + b"\0" + text.encode("utf-8") + b"\0")

    return f"sha256:{hasher.hexdigest()}"


def _default_registry():
    from remediations import registry

    registry.load_entry_points()

    return registry


def compile_sources(
    sources: Sequence[tuple[str, str]],
    schema: SchemaTypes | None = None,
    registry=None,
    pack_names: Sequence[str] | None = None,
) -> PolicySet:
    """Parse, check and compile (file name, text) pairs; raise PolicyError with every diagnostic.

    ``pack_names`` gives each file's name inside the policy pack, one per
    source. The digest and the file list use them, so they do not depend on
    the working folder. Without them the file names are used.
    """
    schema = schema or snapshot_types()
    registry = registry or _default_registry()
    sink = DiagnosticSink()
    modules = []
    for name, text in sources:
        module = parse_module(text, name, sink)
        if module is not None:
            modules.append(module)
    texts = {name: text for name, text in sources}
    if sink:
        raise PolicyError(sink.sorted(), _render(sink, texts))
    program = check_modules(modules, schema, sink, registry)
    if sink:
        raise PolicyError(sink.sorted(), _render(sink, texts))
    names = list(pack_names) if pack_names is not None else [name for name, _ in sources]
    compiler = Compiler(program)
    policies = [_compile_policy(compiler, module, policy) for module, policy in program.policies]
    defaults = _param_defaults(compiler, program, sink)
    if sink:
        raise PolicyError(sink.sorted(), _render(sink, texts))

    return PolicySet(
        policies=policies,
        program=program,
        files=list(names),
        digest=_digest([(name, text) for name, (_, text) in zip(names, sources)]),
        param_types=program.param_types,
        param_defaults=defaults,
    )


def _param_defaults(compiler: Compiler, program: Program, sink: DiagnosticSink) -> dict[str, Any]:
    """Evaluate every param default once and return the defaults as plain JSON values.

    A default that fails, has no value, or differs from the default another
    package declares for the same name is a diagnostic: one value applies to
    every package, so two defaults would leave one package silently wrong.
    """
    defaults: dict[str, Any] = {}
    first: dict[str, ast.Param] = {}
    declarations = [param for package in program.packages.values() for param in package.params.values()]
    for param in sorted(declarations, key=lambda item: (item.pos.file, item.pos.line, item.pos.column)):
        name = param.name
        if param.default is None or name not in program.param_types:
            continue
        # The checker allowed no snapshot, clock, params or lets here, so no context is needed.
        frame = [None] * getattr(param, "frame_size", 0)
        try:
            value = compiler.compile(param.default)(frame, None)
        except EvalError as error:
            node = error.node or param.default
            sink.error(node.pos, "invalid_default", f"default of param '{name}' cannot be evaluated: {error.message}")
            continue
        if value is None or value is ABSENT:
            sink.error(
                param.default.pos,
                "invalid_default",
                f"default of param '{name}' is {type_name(value)}",
                f"want: a value of type {program.param_types[name]}, or no default so every params file must set it",
            )
            continue
        if name in defaults:
            declared = program.param_types[name]
            if not strict_equal(_comparable_default(defaults[name], declared), _comparable_default(value, declared)):
                where = first[name].pos
                sink.error(
                    param.default.pos,
                    "param_default_conflict",
                    f"param '{name}' has another default at {where.file}:{where.line}:{where.column}",
                    f"have: {format_value(value)}",
                    f"want: {format_value(defaults[name])}, the same default in every package (or none here)",
                )
            continue
        defaults[name] = value
        first[name] = param

    # In the form a params file writes values (90d, RFC 3339 text, lists), so
    # resolve_params checks a default exactly as it checks an override.
    return {name: to_json(value) for name, value in defaults.items()}


def _comparable_default(value: Any, declared: Type) -> Any:
    # A set<T> default is written as a list, whose order does not matter.
    if declared.kind == "set" and isinstance(value, list):
        try:
            return frozenset(value)
        except TypeError:
            return value

    return value


def _render(sink: DiagnosticSink, texts: dict[str, str]) -> str:
    text = render(sink.sorted(), texts)
    count = len(sink.diagnostics)
    summary = f"{count} error{'s' if count != 1 else ''}"
    if sink.truncated:
        summary += f" (stopped after {sink.limit}; fix these and run again)"

    return f"{text}\n{summary}"


def load_policies(paths: Sequence[str | Path], schema: SchemaTypes | None = None, registry=None) -> PolicySet:
    """Load every policy file under ``paths`` into a compiled PolicySet."""
    roots = [Path(path) for path in paths]
    files = _policy_files(roots)
    sources = [(_display_path(path), read_policy_file(path)) for path in files]

    return compile_sources(sources, schema=schema, registry=registry, pack_names=[_pack_name(path, roots) for path in files])


def _pack_name(path: Path, roots: list[Path]) -> str:
    """Name a policy file relative to the folder it was found in (``m365/mfa.sg``)."""
    for root in roots:
        if root.is_dir():
            try:
                return path.relative_to(root).as_posix()
            except ValueError:
                continue

    return path.name
