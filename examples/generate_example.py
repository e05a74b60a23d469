"""Write the example snapshots and tenant params in examples/.

The data is synthetic: a Microsoft 365 tenant "contoso-example" and a Google
Workspace tenant "fabrikam-example", shaped like `safeguard collect` output
(docs/snapshot.md), with the configuration mistakes small organisations
typically have. Object ids and sign-in times come from a seeded random
generator, and every timestamp is relative to the fixed collection time
2026-11-30T12:00:00Z. So every run writes byte-identical files, which
tests/test_examples.py checks against the committed files.

Internal domains are reserved `.example` names. External addresses use
`gmail.example`, `partner.example` and similar, so no real mailbox appears.

Usage: python examples/generate_example.py [--output-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from snapshot_generator.common import SEED, Ids, render_json
from snapshot_generator.gws import build_gws_snapshot
from snapshot_generator.m365 import build_m365_snapshot, render_params

__all__ = ["main", "write_examples"]

EXAMPLES_DIR = Path(__file__).resolve().parent


def write_examples(output_dir: Path) -> list[Path]:
    """Write m365-snapshot.json, params.yaml and gws-snapshot.json into output_dir and return their paths."""
    # Each tenant has its own generator, so a change to one leaves the other's ids alone.
    m365_snapshot, people = build_m365_snapshot(Ids(SEED))
    gws_snapshot = build_gws_snapshot(Ids(SEED + 1))
    outputs = {
        "m365-snapshot.json": render_json(m365_snapshot),
        "params.yaml": render_params(people),
        "gws-snapshot.json": render_json(gws_snapshot),
    }

    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in outputs.items():
        path = output_dir / name
        path.write_bytes(text.encode("utf-8"))
        written.append(path)

    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the example snapshots and tenant params.")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=EXAMPLES_DIR,
        help="folder to write the files into (default: the folder of this script)",
    )
    arguments = parser.parse_args(argv)

    for path in write_examples(arguments.output_dir):
        print(f"wrote {path}")

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
