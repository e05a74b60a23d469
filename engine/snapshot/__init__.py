"""Native snapshot format: section names, the Snapshot model, the loader and the writer.

See docs/snapshot.md for the format and schema/snapshot.schema.json for its schema.
"""

from engine.snapshot.loader import load_snapshot
from engine.snapshot.model import SCHEMA_VERSION, SECTIONS, SectionStatus, Snapshot
from engine.snapshot.validation import SCHEMA_PATH, validate_document
from engine.snapshot.writer import serialize_snapshot, write_snapshot

__all__ = [
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "SECTIONS",
    "SectionStatus",
    "Snapshot",
    "load_snapshot",
    "serialize_snapshot",
    "validate_document",
    "write_snapshot",
]
