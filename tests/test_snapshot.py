"""Tests for the snapshot schema, loader, validator and atomic writer."""

from __future__ import annotations

import copy
import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from engine.errors import SnapshotError
from engine.snapshot import (
    SCHEMA_PATH,
    SECTIONS,
    SectionStatus,
    Snapshot,
    load_snapshot,
    serialize_snapshot,
    validate_document,
    validation,
    write_snapshot,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "snapshots"
M365 = FIXTURES / "m365-minimal.json"
GWS = FIXTURES / "gws-minimal.json"


def read_fixture(path: Path) -> dict:
    return orjson.loads(path.read_bytes())


def write_json(path: Path, document: object) -> Path:
    path.write_bytes(orjson.dumps(document))
    return path


def error_of(document: object, source: str = "snapshot.json") -> str:
    with pytest.raises(SnapshotError) as caught:
        validate_document(document, source)
    return str(caught.value)


# ---------------------------------------------------------------- loading


def test_load_m365_envelope():
    """The minimal m365 fixture loads with its tenant, provider and timestamp."""
    snapshot = load_snapshot(M365)

    assert str(M365) == snapshot.path
    assert "m365" == snapshot.provider
    assert "contoso.example" == snapshot.tenant["domain"]
    assert datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc) == snapshot.collected_at
    assert snapshot.collected_at.tzinfo is not None


def test_load_m365_sections():
    """Section statuses and data of the m365 fixture are exposed as listed."""
    snapshot = load_snapshot(M365)

    assert SectionStatus("ok", None) == snapshot.status("m365.users")
    assert "error" == snapshot.status("m365.inboxRules").status
    assert "Exchange Online was not reachable" == snapshot.status("m365.auditConfig").message
    assert 2 == len(snapshot.data("m365.users"))
    assert {"id": "00000000-0000-0000-0000-000000000000", "isEnabled": False} == snapshot.data("m365.securityDefaults")


def test_load_gws_fixture():
    """The minimal gws fixture loads, and a +00:00 offset parses as UTC."""
    snapshot = load_snapshot(GWS)

    assert "gws" == snapshot.provider
    assert timezone.utc.utcoffset(None) == snapshot.collected_at.utcoffset()
    assert "/" == snapshot.data("gws.orgUnits")[0]["orgUnitPath"]
    assert "not_collected" == snapshot.status("gws.tokens").status


def test_data_of_section_not_ok():
    """data() raises KeyError naming the status of a section that is not ok."""
    snapshot = load_snapshot(M365)

    with pytest.raises(KeyError) as caught:
        snapshot.data("m365.inboxRules")

    assert "m365.inboxRules is error" in str(caught.value)


def test_status_of_unlisted_section(tmp_path):
    """A section missing from sections counts as not_collected with a reason."""
    document = read_fixture(M365)
    del document["sections"]["m365.remoteDomains"]
    del document["m365"]["remoteDomains"]
    snapshot = load_snapshot(write_json(tmp_path / "s.json", document))

    status = snapshot.status("m365.remoteDomains")

    assert "not_collected" == status.status
    assert "does not list section m365.remoteDomains" in status.message
    with pytest.raises(KeyError):
        snapshot.data("m365.remoteDomains")


def test_digest_is_canonical(tmp_path):
    """The digest hashes sorted-key bytes, so formatting and key order do not change it."""
    document = read_fixture(M365)
    reordered = dict(reversed(list(document.items())))
    pretty = tmp_path / "pretty.json"
    pretty.write_bytes(orjson.dumps(reordered, option=orjson.OPT_INDENT_2))

    expected = "sha256:" + hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()

    assert expected == load_snapshot(M365).digest
    assert expected == load_snapshot(pretty).digest


def test_sections_constant_matches_schema():
    """SECTIONS lists exactly the section names the schema allows, per provider."""
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    allowed = schema["properties"]["sections"]["propertyNames"]["enum"]
    data_keys = {
        provider: list(schema["$defs"][name]["properties"])
        for provider, name in (("m365", "M365Data"), ("gws", "GwsData"))
    }

    assert [*SECTIONS["m365"], *SECTIONS["gws"]] == allowed
    for provider, names in SECTIONS.items():
        assert [name.split(".", 1)[1] for name in names] == data_keys[provider]


# Definitions that describe the envelope rather than tenant data; they may be closed.
ENVELOPE_DEFS = {"Tenant", "SectionStatus", "M365Data", "GwsData"}


def schema_nodes(node, path="#"):
    """Yield (path, schema) for every subschema; maps of names (properties, $defs) are not schemas."""
    if isinstance(node, list):
        for index, child in enumerate(node):
            yield from schema_nodes(child, f"{path}/{index}")
        return
    if not isinstance(node, dict):
        return

    yield path, node
    for key, child in node.items():
        if key in ("properties", "$defs"):
            for name, subschema in child.items():
                yield from schema_nodes(subschema, f"{path}/{key}/{name}")
        elif key in ("items", "additionalProperties", "propertyNames", "oneOf", "if", "then"):
            yield from schema_nodes(child, f"{path}/{key}")


def test_schema_conventions():
    """The schema keeps the conventions the policy checker and the draft-07 fast path rely on."""
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    problems = []
    for path, node in schema_nodes(schema):
        if "$ref" in node and set(node) - {"$ref", "description"}:
            problems.append(f"{path}: $ref with sibling keywords")
        for keyword in ("allOf", "anyOf", "not", "patternProperties", "dependentSchemas"):
            if keyword in node:
                problems.append(f"{path}: uses {keyword}")
        if "if" in node and path != "#/$defs/SectionStatus":
            problems.append(f"{path}: uses if")
        if "oneOf" in node:
            options = node["oneOf"]
            if len(options) != 2 or options[0] != {"type": "null"} or set(options[1]) != {"$ref"}:
                problems.append(f"{path}: oneOf other than [null, $ref]")
        kinds = node.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds or []
        if "array" in kinds and "items" not in node:
            problems.append(f"{path}: array without items")
    for name, definition in schema["$defs"].items():
        if name not in ENVELOPE_DEFS and definition.get("additionalProperties") is not True:
            problems.append(f"#/$defs/{name}: additionalProperties is not true")
        if "properties" not in definition:
            problems.append(f"#/$defs/{name}: no properties")

    assert [] == problems


def test_snapshot_repr_names_path():
    """The repr of a Snapshot names its file, provider and tenant."""
    snapshot = Snapshot("x.json", read_fixture(GWS))

    assert "Snapshot(path='x.json', provider='gws', tenant='C0123abcd')" == repr(snapshot)


# ---------------------------------------------------------------- file errors


def test_missing_file(tmp_path):
    """A missing snapshot file is reported with its path."""
    path = tmp_path / "absent.json"

    with pytest.raises(SnapshotError) as caught:
        load_snapshot(path)

    assert str(caught.value).startswith(f"{path}: snapshot not found")


def test_not_json_names_line_and_column(tmp_path):
    """A file that is not JSON is reported with line and column."""
    path = tmp_path / "broken.json"
    path.write_text('{\n  "schemaVersion": "1.0",\n  oops\n}\n')

    with pytest.raises(SnapshotError) as caught:
        load_snapshot(path)

    assert str(caught.value).startswith(f"{path}:3:3: not valid JSON")


def test_byte_order_mark_accepted(tmp_path):
    """A snapshot saved with a UTF-8 byte-order mark still loads."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + M365.read_bytes())

    assert "m365" == load_snapshot(path).provider


def test_directory_instead_of_file(tmp_path):
    """A directory path is rejected with a clear message."""
    with pytest.raises(SnapshotError) as caught:
        load_snapshot(tmp_path)

    assert f"{tmp_path}: is a directory" in str(caught.value)


# ---------------------------------------------------------------- invalid documents


def mutate(base: Path, change) -> dict:
    document = read_fixture(base)
    change(document)
    return document


INVALID_CASES = [
    (
        "boolean field",
        lambda d: d["m365"]["users"][1].__setitem__("accountEnabled", "yes"),
        'snapshot.json: $.m365.users[1].accountEnabled: expected boolean or null, got "yes"',
    ),
    (
        "timestamp format",
        lambda d: d["m365"]["users"][0].__setitem__("createdDateTime", "yesterday"),
        'snapshot.json: $.m365.users[0].createdDateTime: expected an RFC 3339 date-time such as '
        '2026-12-01T09:30:00Z, got "yesterday"',
    ),
    (
        "nullable object",
        lambda d: d["m365"]["users"][0].__setitem__("signInActivity", "never"),
        'snapshot.json: $.m365.users[0].signInActivity: expected null or object, got "never"',
    ),
    (
        "inside nullable object",
        lambda d: d["m365"]["users"][0]["signInActivity"].__setitem__("lastSignInDateTime", 5),
        "snapshot.json: $.m365.users[0].signInActivity.lastSignInDateTime: expected string or null, got 5",
    ),
    (
        "required field",
        lambda d: d["m365"]["conditionalAccessPolicies"][0].pop("state"),
        'snapshot.json: $.m365.conditionalAccessPolicies[0]: missing required field "state"',
    ),
    (
        "odata key",
        lambda d: d["m365"]["groups"][0]["members"][0].__setitem__("@odata.type", None),
        'snapshot.json: $.m365.groups[0].members[0]["@odata.type"]: expected string, got null',
    ),
    (
        "unknown top-level field",
        lambda d: d.__setitem__("colectedAt", "2026-12-01T09:30:00Z"),
        'snapshot.json: $: unknown field "colectedAt"; did you mean "collectedAt"?',
    ),
    (
        "unknown section",
        lambda d: d["sections"].__setitem__("m365.usres", {"status": "ok"}),
        'snapshot.json: $.sections["m365.usres"]: unknown section "m365.usres"; did you mean "m365.users"?',
    ),
    (
        "bad status",
        lambda d: d["sections"]["m365.users"].__setitem__("status", "done"),
        'snapshot.json: $.sections["m365.users"].status: expected one of "ok", "error", "not_collected", '
        'got "done"',
    ),
    (
        "status without message",
        lambda d: d["sections"]["m365.auditConfig"].pop("message"),
        'snapshot.json: $.sections["m365.auditConfig"]: missing required field "message" '
        "(a section whose status is not ok needs a message)",
    ),
    (
        "provider",
        lambda d: d["tenant"].__setitem__("provider", "aws"),
        'snapshot.json: $.tenant.provider: expected one of "m365", "gws", got "aws"',
    ),
    (
        "collectedAt without offset",
        lambda d: d.__setitem__("collectedAt", "2026-12-01T09:30:00"),
        'snapshot.json: $.collectedAt: expected an RFC 3339 date-time such as 2026-12-01T09:30:00Z, '
        'got "2026-12-01T09:30:00"',
    ),
    (
        "empty tenant id",
        lambda d: d["tenant"].__setitem__("id", ""),
        "snapshot.json: $.tenant.id: expected a non-empty string",
    ),
    (
        "ok section without data",
        lambda d: d["m365"].pop("groups"),
        "snapshot.json: $.m365.groups: missing: section m365.groups has status ok, so its data must be present",
    ),
    (
        "section not ok with data",
        lambda d: d["m365"].__setitem__("inboxRules", []),
        "snapshot.json: $.m365.inboxRules: section m365.inboxRules has status error, so it must have no data",
    ),
    (
        "section of the other provider",
        lambda d: d["sections"].__setitem__("gws.users", {"status": "not_collected", "message": "n/a"}),
        'snapshot.json: $.sections["gws.users"]: section of provider gws in a snapshot whose '
        "tenant.provider is m365",
    ),
    (
        "data of the other provider",
        lambda d: d.__setitem__("gws", {}),
        "snapshot.json: $.gws: gws data in a snapshot whose tenant.provider is m365",
    ),
    (
        "data for unlisted section",
        lambda d: d["sections"].pop("m365.remoteDomains"),
        "snapshot.json: $.m365.remoteDomains: data for section m365.remoteDomains, which $.sections does not list",
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), INVALID_CASES, ids=[case[0] for case in INVALID_CASES])
def test_invalid_document_message(case, change, expected):
    """Each kind of invalid document names the file and the JSON path of the problem."""
    document = mutate(M365, change)

    assert expected == error_of(document)


def test_invalid_file_names_path(tmp_path):
    """load_snapshot reports schema errors with the path it was given."""
    document = mutate(M365, lambda d: d["m365"]["users"][1].__setitem__("accountEnabled", "yes"))
    path = write_json(tmp_path / "tenant.json", document)

    with pytest.raises(SnapshotError) as caught:
        load_snapshot(path)

    assert f'{path}: $.m365.users[1].accountEnabled: expected boolean or null, got "yes"' == str(caught.value)


def test_wrong_schema_version():
    """An unsupported schemaVersion is reported before any schema error."""
    document = mutate(M365, lambda d: d.update(schemaVersion="2.0", tenant=None))

    assert 'snapshot.json: $.schemaVersion: unsupported version "2.0"; this safeguard reads version 1.0' == error_of(
        document
    )


def test_missing_schema_version():
    """A document without schemaVersion is not taken for a snapshot."""
    document = mutate(M365, lambda d: d.pop("schemaVersion"))

    assert error_of(document).startswith("snapshot.json: $.schemaVersion: missing")


def test_top_level_not_object():
    """A JSON array is rejected as a whole."""
    assert "snapshot.json: $: expected a JSON object, got array" == error_of([1, 2])


def test_error_list_is_capped():
    """Only the first few errors are listed, and a final line reports that more exist."""
    document = read_fixture(M365)
    user = document["m365"]["users"][0]
    document["m365"]["users"] = [{**user, "accountEnabled": "no"} for _ in range(20)]

    lines = error_of(document).splitlines()

    assert validation.MAX_REPORTED_ERRORS + 1 == len(lines)
    assert "snapshot.json: more errors not shown; fix these and validate again" == lines[-1]
    assert lines[0].startswith("snapshot.json: $.m365.users[0].accountEnabled")


def test_extra_fields_allowed():
    """Fields the schema does not list are kept: real API objects have more fields."""
    document = read_fixture(M365)
    document["m365"]["users"][0]["employeeHireDate"] = "2020-01-01T00:00:00Z"
    document["collector"]["host"] = "runner-7"

    validate_document(document, "snapshot.json")

    assert "runner-7" == Snapshot("s", document).document["collector"]["host"]


def test_compiled_validator_agrees(monkeypatch):
    """The compiled fast path accepts valid documents and reports the same errors."""
    monkeypatch.setattr(validation, "FAST_PATH_MIN_ITEMS", 0)
    valid = read_fixture(M365)
    cases = [mutate(M365, change) for _, change, _ in INVALID_CASES]

    assert validation._passes_compiled_validator(valid)
    assert validation._passes_compiled_validator(read_fixture(GWS))

    for (case, _, expected), document in zip(INVALID_CASES, cases, strict=True):
        assert expected == error_of(document), case


def test_compiled_validator_rejects_what_jsonschema_rejects():
    """Invalid documents found by jsonschema are also failed by the compiled validator."""
    for _, change, _ in INVALID_CASES[:13]:
        document = mutate(M365, change)

        assert not validation._passes_compiled_validator(document)


# ---------------------------------------------------------------- writing


def test_write_is_deterministic(tmp_path):
    """Writing the same document twice gives identical bytes with indent 2 and a final newline."""
    document = read_fixture(M365)
    first = tmp_path / "a.json"
    second = tmp_path / "b.json"

    write_snapshot(document, first)
    write_snapshot(copy.deepcopy(document), second)
    data = first.read_bytes()

    assert data == second.read_bytes()
    assert data.endswith(b"}\n")
    assert data.startswith(b'{\n  "schemaVersion": "1.0",\n  "tenant": {\n    "id"')
    assert document == orjson.loads(data)


def test_write_keeps_key_order(tmp_path):
    """Keys are written in the order the document has them, not sorted."""
    document = read_fixture(GWS)
    path = tmp_path / "s.json"

    write_snapshot(document, path)

    assert list(document) == list(orjson.loads(path.read_bytes()))
    assert serialize_snapshot(document) == path.read_bytes()


def test_write_then_load(tmp_path):
    """A written snapshot loads back to the same document and digest."""
    document = read_fixture(GWS)
    path = tmp_path / "s.json"

    write_snapshot(document, path)
    snapshot = load_snapshot(path)

    assert document == snapshot.document
    assert Snapshot("x", document).digest == snapshot.digest


def test_write_invalid_leaves_file(tmp_path):
    """An invalid document is rejected before the target file is touched."""
    path = tmp_path / "s.json"
    path.write_bytes(b"original")
    document = mutate(M365, lambda d: d["m365"]["users"][0].__setitem__("accountEnabled", 1))

    with pytest.raises(SnapshotError) as caught:
        write_snapshot(document, path)

    assert str(caught.value).startswith(f"{path}: $.m365.users[0].accountEnabled")
    assert b"original" == path.read_bytes()


def test_write_failure_keeps_original(tmp_path, monkeypatch):
    """A failure after the temporary file is written keeps the old file and leaves no temporary file."""
    path = tmp_path / "s.json"
    path.write_bytes(b"original")

    def failing_fsync(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(SnapshotError) as caught:
        write_snapshot(read_fixture(M365), path)

    assert f"{path}: cannot write snapshot: No space left on device" == str(caught.value)
    assert b"original" == path.read_bytes()
    assert ["s.json"] == sorted(entry.name for entry in tmp_path.iterdir())


def test_write_interrupted_keeps_original(tmp_path, monkeypatch):
    """An interruption between write and rename keeps the old file and removes the temporary one."""
    path = tmp_path / "s.json"
    path.write_bytes(b"original")

    def interrupted_replace(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        write_snapshot(read_fixture(M365), path)

    assert b"original" == path.read_bytes()
    assert ["s.json"] == sorted(entry.name for entry in tmp_path.iterdir())


def test_write_into_missing_directory(tmp_path):
    """A target in a directory that does not exist gives a SnapshotError, not a traceback."""
    path = tmp_path / "missing" / "s.json"

    with pytest.raises(SnapshotError) as caught:
        write_snapshot(read_fixture(M365), path)

    assert str(caught.value).startswith(f"{path}: cannot create a temporary file in {path.parent}")


def test_written_file_mode_follows_umask(tmp_path):
    """The snapshot gets the permissions a plain open() would give, not the temporary file's 0600."""
    path = tmp_path / "s.json"
    previous = os.umask(0o022)
    try:
        write_snapshot(read_fixture(GWS), path)
    finally:
        os.umask(previous)

    assert 0o644 == path.stat().st_mode & 0o777


def test_replaced_file_keeps_mode(tmp_path):
    """Replacing a snapshot keeps the permissions the old file had."""
    path = tmp_path / "s.json"
    path.write_bytes(b"original")
    path.chmod(0o600)

    write_snapshot(read_fixture(GWS), path)

    assert 0o600 == path.stat().st_mode & 0o777
