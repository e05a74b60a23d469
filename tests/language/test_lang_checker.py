"""Checker tests: every diagnostic code with its exact text, ordering, cap and per-call checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.diagnostics import MAX_DIAGNOSTICS
from engine.language.policyset import load_policies


def policy_text(body: str, declarations: str = "") -> tuple[str, str]:
    """Return ("t.sg", source) for a policy "m365.t.p" in package t with the given clause lines."""
    lines = "\n".join(f"  {line}" for line in body.strip().splitlines())
    source = f'package t\n{declarations}\npolicy "m365.t.p" {{\n  title "T"\n  severity low\n{lines}\n}}\n'

    return ("t.sg", source)


CHECKER_CASES = [
    (
        "unknown_name",
        [policy_text("assert limt > 0", "param limit: int = 1")],
        "t.sg:6:10: unknown_name: unknown name 'limt'\n"
        "      assert limt > 0\n"
        "             ^\n"
        "    did you mean 'limit'?",
    ),
    (
        "unknown_name package member",
        [policy_text("assert ca.nosuch", "import t.lib as ca"), ("lib.sg", "package t.lib\nlet something = true\n")],
        "t.sg:6:13: unknown_name: package 't.lib' has no let or function 'nosuch'\n"
        "      assert ca.nosuch\n"
        "                ^",
    ),
    (
        "unknown_field suggestion",
        [policy_text("for u in m365.users\nassert u.userprincipalname != \"\"")],
        "t.sg:7:12: unknown_field: User has no field 'userprincipalname'\n"
        "      assert u.userprincipalname != \"\"\n"
        "               ^\n"
        "    did you mean 'userPrincipalName'?",
    ),
    (
        "unknown_field listing",
        [policy_text("for u in m365.users\nassert u.signInActivity.zzz is null")],
        "t.sg:7:27: unknown_field: SignInActivity has no field 'zzz'\n"
        "      assert u.signInActivity.zzz is null\n"
        "                              ^\n"
        "    have: lastNonInteractiveSignInDateTime, lastNonInteractiveSignInRequestId, lastSignInDateTime, lastSignInRequestId, lastSuccessfulSignInDateTime, lastSuccessfulSignInRequestId",
    ),
    (
        "unknown_section",
        [policy_text("assert gws.orgunits is empty")],
        "t.sg:6:14: unknown_section: snapshot has no section 'gws.orgunits'\n"
        "      assert gws.orgunits is empty\n"
        "                 ^\n"
        "    did you mean 'gws.orgUnits'?",
    ),
    (
        "unknown_function",
        [policy_text("assert lowr(\"A\") == \"a\"")],
        "t.sg:6:10: unknown_function: unknown function 'lowr'\n"
        "      assert lowr(\"A\") == \"a\"\n"
        "             ^\n"
        "    did you mean 'lower'?",
    ),
    (
        "unknown_function package",
        [policy_text("assert ca.helper()", "import t.lib as ca"), ("lib.sg", "package t.lib\nfunc helpr() = true\n")],
        "t.sg:6:13: unknown_function: package 't.lib' has no function 'helper'\n"
        "      assert ca.helper()\n"
        "                ^\n"
        "    did you mean 'helpr'?",
    ),
    (
        "unknown_package",
        [policy_text("assert true", "import t.nothere")],
        "t.sg:2:1: unknown_package: package 't.nothere' is not defined by any policy file\n"
        "    import t.nothere\n"
        "    ^",
    ),
    (
        "unknown_type",
        [policy_text("assert true", "param cutoff: time")],
        "t.sg:2:15: unknown_type: unknown type 'time'\n"
        "    param cutoff: time\n"
        "                  ^\n"
        "    want: string, int, number, bool, duration, timestamp, any, list<T> or set<T>\n"
        "    did you mean 'timestamp'?",
    ),
    (
        "unknown_action",
        [policy_text("for u in m365.users\nassert false\nremediate m365.disable_usr(user: u.id)")],
        "t.sg:8:3: unknown_action: unknown remediation action 'm365.disable_usr'\n"
        "      remediate m365.disable_usr(user: u.id)\n"
        "      ^\n"
        "    did you mean 'm365.disable_user'?\n"
        "    note: 'safeguard actions' lists the available remediation actions",
    ),
    (
        "unknown_argument",
        [policy_text("for u in m365.users\nassert false\nremediate m365.disable_user(usr: u.id)")],
        "t.sg:8:3: missing_argument: action 'm365.disable_user' needs argument 'user'\n"
        "      remediate m365.disable_user(usr: u.id)\n"
        "      ^\n"
        "    want: m365.disable_user(user: string)\n"
        "t.sg:8:31: unknown_argument: action 'm365.disable_user' has no argument 'usr'\n"
        "      remediate m365.disable_user(usr: u.id)\n"
        "                                  ^\n"
        "    did you mean 'user'?\n"
        "    want: m365.disable_user(user: string)",
    ),
    (
        "missing_argument",
        [policy_text("for u in m365.users\nassert false\nremediate m365.require_mfa(group: \"g\")")],
        "t.sg:8:3: missing_argument: action 'm365.require_mfa' needs argument 'user'\n"
        "      remediate m365.require_mfa(group: \"g\")\n"
        "      ^\n"
        "    want: m365.require_mfa(user: string, group: string (optional))",
    ),
    (
        "duplicate_argument",
        [policy_text("for u in m365.users\nassert false\nremediate m365.disable_user(user: u.id, user: u.id)")],
        "t.sg:8:43: duplicate_argument: argument 'user' is given twice\n"
        "      remediate m365.disable_user(user: u.id, user: u.id)\n"
        "                                              ^",
    ),
    (
        "type_mismatch argument",
        [policy_text("for u in m365.users\nassert false\nremediate m365.disable_user(user: u.accountEnabled)")],
        "t.sg:8:37: type_mismatch: argument 'user' of 'm365.disable_user' has the wrong type\n"
        "      remediate m365.disable_user(user: u.accountEnabled)\n"
        "                                        ^\n"
        "    have: bool or null\n"
        "    want: string",
    ),
    (
        "type_mismatch assert",
        [policy_text("assert 1 + 1")],
        "t.sg:6:10: type_mismatch: 'assert' needs a boolean condition\n"
        "      assert 1 + 1\n"
        "             ^\n"
        "    have: number\n"
        "    want: bool",
    ),
    (
        "type_mismatch builtin",
        [policy_text("assert lower(5) == \"5\"")],
        "t.sg:6:16: type_mismatch: argument 1 of lower() has the wrong type\n"
        "      assert lower(5) == \"5\"\n"
        "                   ^\n"
        "    have: number\n"
        "    want: string",
    ),
    (
        "type_mismatch field of list",
        [policy_text("assert m365.users.id == \"x\"")],
        "t.sg:6:21: type_mismatch: cannot read field 'id' of a list\n"
        "      assert m365.users.id == \"x\"\n"
        "                        ^\n"
        "    want: a quantifier such as any(x in LIST: x.id == …) or a comprehension",
    ),
    (
        "type_mismatch arithmetic",
        [policy_text("assert \"a\" + 1 == \"a1\"")],
        "t.sg:6:10: type_mismatch: '+' cannot combine string and number\n"
        "      assert \"a\" + 1 == \"a1\"\n"
        "             ^",
    ),
    (
        "type_mismatch param default",
        [policy_text("assert true", "param limit: int = \"ten\"")],
        "t.sg:2:20: type_mismatch: default of param 'limit' has the wrong type\n"
        "    param limit: int = \"ten\"\n"
        "                       ^\n"
        "    have: string\n"
        "    want: int",
    ),
    (
        "type_mismatch for",
        [policy_text("for u in m365.securityDefaults\nassert true")],
        "t.sg:6:12: type_mismatch: 'for' needs a list or set to iterate over\n"
        "      for u in m365.securityDefaults\n"
        "               ^\n"
        "    have: SecurityDefaults",
    ),
    (
        "wrong_argument_count builtin",
        [policy_text("assert len() == 0")],
        "t.sg:6:10: wrong_argument_count: len() takes 1 argument, got 0\n"
        "      assert len() == 0\n"
        "             ^",
    ),
    (
        "wrong_argument_count func",
        [policy_text("assert f(1, 2)", "func f(x) = x == 1")],
        "t.sg:6:10: wrong_argument_count: f() takes 1 argument, got 2\n"
        "      assert f(1, 2)\n"
        "             ^\n"
        "    want: f(x)",
    ),
    (
        "not_callable local",
        [policy_text("for u in m365.users\nassert u(1)")],
        "t.sg:7:10: not_callable: only functions can be called\n"
        "      assert u(1)\n"
        "             ^",
    ),
    (
        "not_callable param",
        [policy_text("assert limit(1) > 0", "param limit: int = 1")],
        "t.sg:6:10: not_callable: 'limit' is not a function and cannot be called\n"
        "      assert limit(1) > 0\n"
        "             ^",
    ),
    (
        "function_as_value",
        [policy_text("assert f == f", "func f(x) = x")],
        "t.sg:6:10: function_as_value: 'f' is a function; call it with arguments\n"
        "      assert f == f\n"
        "             ^\n"
        "t.sg:6:15: function_as_value: 'f' is a function; call it with arguments\n"
        "      assert f == f\n"
        "                  ^",
    ),
    (
        "function_as_value package",
        [policy_text("assert ca.f == 1", "import t.lib as ca"), ("lib.sg", "package t.lib\nfunc f() = true\n")],
        "t.sg:6:13: function_as_value: 'f' is a function; call it with arguments\n"
        "      assert ca.f == 1\n"
        "                ^",
    ),
    (
        "not_a_value alias",
        [policy_text("assert ca == 1", "import t.lib as ca"), ("lib.sg", "package t.lib\nlet x = 1\n")],
        "t.sg:6:10: not_a_value: 'ca' is the imported package 't.lib', not a value\n"
        "      assert ca == 1\n"
        "             ^\n"
        "    want: ca.NAME to read a let or call a function of that package",
    ),
    (
        "not_a_value root",
        [policy_text("assert gws[\"users\"] is empty")],
        "t.sg:6:10: not_a_value: 'gws' is the root of the snapshot, not a value\n"
        "      assert gws[\"users\"] is empty\n"
        "             ^\n"
        "    want: a section, for example gws.users",
    ),
    (
        "not_constant snapshot",
        [policy_text("assert true", "param n: int = len(m365.users)")],
        "t.sg:2:20: not_constant: a param default cannot read snapshot data\n"
        "    param n: int = len(m365.users)\n"
        "                       ^",
    ),
    (
        "not_constant param",
        [policy_text("assert true", "param a: int = 1\nparam b: int = a")],
        "t.sg:3:16: not_constant: a param default cannot refer to 'a'\n"
        "    param b: int = a\n"
        "                   ^",
    ),
    (
        "not_constant function",
        [policy_text("assert true", "func one() = 1\nparam b: int = one()")],
        "t.sg:3:16: not_constant: a param default cannot call a function\n"
        "    param b: int = one()\n"
        "                   ^",
    ),
    (
        "not_constant tenant",
        [policy_text("assert true", "param d: string = tenant_domain()")],
        "t.sg:2:19: not_constant: a param default cannot call tenant_domain()\n"
        "    param d: string = tenant_domain()\n"
        "                      ^",
    ),
    (
        "recursive_function mutual",
        [policy_text("assert even(2)", "func even(n) = n == 0 or odd(n - 1)\nfunc odd(n) = n != 0 and even(n - 1)")],
        "t.sg:3:26: recursive_function: function 'even' calls itself; recursion is not supported\n"
        "    func odd(n) = n != 0 and even(n - 1)\n"
        "                             ^\n"
        "    note: checked for the call at t.sg:7:10",
    ),
    (
        "recursive_definition",
        [policy_text("assert a", "let a = not a")],
        "t.sg:2:1: recursive_definition: 'a' refers to itself\n"
        "    let a = not a\n"
        "    ^",
    ),
    (
        "duplicate_name policy let",
        [policy_text("let x = 1\nlet x = 2\nassert x > 0")],
        "t.sg:7:3: duplicate_name: 'x' is already defined in this policy\n"
        "      let x = 2\n"
        "      ^",
    ),
    (
        "duplicate_name import alias",
        [policy_text("assert true", "import t.lib as ca\nimport t.lib as ca"), ("lib.sg", "package t.lib\nlet x = 1\n")],
        "t.sg:3:1: duplicate_name: import alias 'ca' is already in use\n"
        "    import t.lib as ca\n"
        "    ^",
    ),
    (
        "duplicate_name across kinds",
        [policy_text("assert true", "let limit = 1\nfunc limit() = 2")],
        "t.sg:3:1: duplicate_name: func 'limit' is already declared in this package\n"
        "    func limit() = 2\n"
        "    ^\n"
        "    note: first declared at t.sg:2:1",
    ),
    (
        "reserved_name",
        [policy_text("assert true", "param gws: int = 1")],
        "t.sg:2:1: reserved_name: 'gws' is reserved for snapshot data\n"
        "    param gws: int = 1\n"
        "    ^",
    ),
    (
        "shadowed_builtin",
        [policy_text("assert true", "func len(x) = 0")],
        "t.sg:2:1: shadowed_builtin: function 'len' has the name of a built-in function\n"
        "    func len(x) = 0\n"
        "    ^",
    ),
    (
        "invalid_pattern",
        [policy_text("assert matches(\"a\", \"[\")")],
        "t.sg:6:23: invalid_pattern: invalid regular expression: unterminated character set at position 0\n"
        "      assert matches(\"a\", \"[\")\n"
        "                          ^",
    ),
    (
        "param_type_conflict",
        [policy_text("assert true", "param limit: int = 1"), ("other.sg", "package other\nparam limit: string = \"1\"\n")],
        "other.sg:2:14: param_type_conflict: param 'limit' is declared as int elsewhere\n"
        "    param limit: string = \"1\"\n"
        "                 ^\n"
        "    note: see t.sg:2:1\n"
        "    have: string\n"
        "    want: int",
    ),
    (
        "invalid_default null",
        [policy_text("assert true", "param limit: int = null")],
        "t.sg:2:20: invalid_default: default of param 'limit' is null\n"
        "    param limit: int = null\n"
        "                       ^\n"
        "    want: a value of type int, or no default so every params file must set it",
    ),
]


@pytest.mark.parametrize(("name", "sources", "expected"), CHECKER_CASES, ids=[case[0] for case in CHECKER_CASES])
def test_checker_text(diagnostics_of, name, sources, expected):
    """Each checker diagnostic renders with its position, source line, caret and hints."""
    rendered, error = diagnostics_of(*sources)
    count = len(error.diagnostics)

    assert f"{expected}\n{count} error{'s' if count != 1 else ''}" == rendered


def test_codes_listed(diagnostics_of):
    """The PolicyError carries structured diagnostics as well as the text."""
    _, error = diagnostics_of(policy_text("for u in m365.users\nassert u.acountEnabled and nosuch"))

    assert ["unknown_field", "unknown_name"] == [diagnostic.code for diagnostic in error.diagnostics]
    assert [(7, 12), (7, 30)] == [(d.position.line, d.position.column) for d in error.diagnostics]


def test_errors_sorted_across_files(diagnostics_of):
    """Diagnostics from several files come sorted by file, line and column."""
    first = ("b.sg", 'package b\nlet x = nosuch\nlet y = other\n')
    second = ("a.sg", 'package a\nlet z = missing\n')
    _, error = diagnostics_of(first, second)

    positions = [(d.position.file, d.position.line) for d in error.diagnostics]
    assert [("a.sg", 2), ("b.sg", 2), ("b.sg", 3)] == positions


def test_errors_capped(diagnostics_of):
    """At most MAX_DIAGNOSTICS errors are kept, and the summary reports that the run stopped."""
    lets = "\n".join(f"let value_{index} = missing_{index}" for index in range(MAX_DIAGNOSTICS + 5))
    rendered, error = diagnostics_of(f"package t\n{lets}\n")

    assert MAX_DIAGNOSTICS == len(error.diagnostics)
    assert rendered.endswith(f"\n{MAX_DIAGNOSTICS} errors (stopped after {MAX_DIAGNOSTICS}; fix these and run again)")


def test_same_position_reported_once(diagnostics_of):
    """An unknown let used in two policies is reported once, at the let."""
    source = (
        "package t\nlet broken = missing\n"
        'policy "m365.t.a" {\n  title "A"\n  severity low\n  assert broken\n}\n'
        'policy "m365.t.b" {\n  title "B"\n  severity low\n  assert broken\n}\n'
    )
    _, error = diagnostics_of(source)

    assert [("unknown_name", 2)] == [(d.code, d.position.line) for d in error.diagnostics]


def test_missing_title_and_severity(diagnostics_of):
    """Both missing clauses are named in one diagnostic."""
    rendered, _ = diagnostics_of('package t\npolicy "m365.t.p" {\n  assert true\n}\n')

    expected = (
        "t.sg:2:1: missing_clause: policy 'm365.t.p' has no 'title' and no 'severity'\n"
        '    policy "m365.t.p" {\n'
        "    ^\n"
        "    want: severity one of critical, high, medium, low, info\n"
        "1 error"
    )
    assert expected == rendered


def test_invalid_severity_points_at_clause(diagnostics_of):
    """An unknown severity is reported at its clause, with a suggestion."""
    rendered, _ = diagnostics_of('package t\npolicy "m365.t.p" {\n  title "T"\n  severity hgh\n  assert true\n}\n')

    expected = (
        "t.sg:4:3: invalid_severity: unknown severity 'hgh'\n"
        "      severity hgh\n"
        "      ^\n"
        "    want: one of critical, high, medium, low, info\n"
        "    did you mean 'high'?\n"
        "1 error"
    )
    assert expected == rendered


def test_invalid_policy_id(diagnostics_of):
    """A policy id must be dotted lower-case words; the caret is on the id."""
    rendered, _ = diagnostics_of('package t\npolicy "Admins" {\n  title "T"\n  severity low\n  assert true\n}\n')

    expected = (
        "t.sg:2:8: invalid_policy_id: policy id 'Admins' is not a dotted lower-case name\n"
        '    policy "Admins" {\n'
        "           ^\n"
        "    want: for example m365.mfa.all-users\n"
        "1 error"
    )
    assert expected == rendered


def test_duplicate_policy_across_files(diagnostics_of):
    """A policy id used in two files is reported at the second, naming the first."""
    text = 'policy "m365.t.same" {\n  title "T"\n  severity low\n  assert true\n}\n'
    rendered, _ = diagnostics_of(("a.sg", f"package a\n{text}"), ("b.sg", f"package b\n{text}"))

    expected = (
        "b.sg:2:8: duplicate_policy: policy id 'm365.t.same' is already used\n"
        '    policy "m365.t.same" {\n'
        "           ^\n"
        "    note: first used at a.sg:2:8\n"
        "1 error"
    )
    assert expected == rendered


# ---------------------------------------------------------------- functions


LIBRARY = ("lib.sg", "package t.lib\nfunc enabled(user) = user.acountEnabled == true\nfunc first(items) = items[0]\n")


def test_function_field_checked_per_call(diagnostics_of):
    """A field path inside a function is checked against the argument's type at each call."""
    caller = policy_text("for u in m365.users\nassert lib.enabled(u)", "import t.lib")
    rendered, _ = diagnostics_of(caller, LIBRARY)

    expected = (
        "lib.sg:2:27: unknown_field: User has no field 'acountEnabled'\n"
        "    func enabled(user) = user.acountEnabled == true\n"
        "                              ^\n"
        "    did you mean 'accountEnabled'?\n"
        "    note: checked for the call at t.sg:7:10\n"
        "1 error"
    )
    assert expected == rendered


def test_function_other_argument_type(diagnostics_of):
    """The same function called with a group reports the field against Group."""
    caller = policy_text("for g in m365.groups\nassert lib.enabled(g)", "import t.lib")
    rendered, _ = diagnostics_of(caller, LIBRARY)

    assert rendered.startswith("lib.sg:2:27: unknown_field: Group has no field 'acountEnabled'\n")


def test_uncalled_function_not_field_checked(compile_policies):
    """An uncalled function is checked with 'any' arguments, so only its names are checked."""
    policy_set = compile_policies(policy_text("assert true"), LIBRARY)

    assert ["m365.t.p"] == [policy.id for policy in policy_set.policies]


def test_uncalled_function_names_checked(diagnostics_of):
    """An unknown name inside an uncalled function is still reported, without a call note."""
    rendered, _ = diagnostics_of(policy_text("assert true"), ("lib.sg", "package t.lib\nfunc f(x) = x == nosuch\n"))

    expected = (
        "lib.sg:2:18: unknown_name: unknown name 'nosuch'\n"
        "    func f(x) = x == nosuch\n"
        "                     ^\n"
        "1 error"
    )
    assert expected == rendered


def test_function_result_type_per_call(diagnostics_of):
    """A function's result type follows its argument: first() of strings is a string."""
    caller = policy_text('assert lib.first(["a"]) + 1 == 2', "import t.lib")
    rendered, _ = diagnostics_of(caller, LIBRARY)

    assert rendered.startswith("t.sg:6:10: type_mismatch: '+' cannot combine string and number\n")


# ---------------------------------------------------------------- sections and providers


def test_sections_inferred(compile_policies):
    """A policy's sections include those read by lets, functions and built-ins."""
    declarations = "let domains = [d.domainName for d in m365.acceptedDomains]\nfunc roles(u) = member_roles(u.id)"
    policy_set = compile_policies(policy_text("for u in m365.users\nassert len(roles(u)) >= 0 and len(domains) > 0", declarations)[1])
    policy = policy_set.get("m365.t.p")

    expected = {"m365.users", "m365.groups", "m365.directoryRoles", "m365.acceptedDomains"}
    assert expected == set(policy.sections)
    assert frozenset({"m365"}) == policy.providers


def test_no_sections_no_provider(compile_policies):
    """A policy that reads no section has no provider and applies everywhere."""
    policy_set = compile_policies(policy_text("assert 1 < 2")[1])

    assert frozenset() == policy_set.get("m365.t.p").sections
    assert policy_set.get("m365.t.p").provider is None


def test_shipped_pack_checks():
    """The shipped policy pack loads without diagnostics."""
    policy_set = load_policies([Path(__file__).resolve().parents[2] / "policies"])

    assert policy_set.policies
