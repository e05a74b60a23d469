"""Render the HTML evidence report of the shipped example in headless Chromium.

The screenshot and the PDF are kept in tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.cli import main
from engine.diff import load_document
from engine.report.attestations import load_attestations
from engine.report.elements import ELEMENTS
from engine.report.html import render_html

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed; CI installs Debian's package with `apt-get install -y chromium`",
)

# No sandbox because CI runs as root; the rest keeps Chromium off the network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Sections(HTMLParser):
    """Collects the text of each element section of the first tenant, by id."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, list[str]] = {}
        self._current: str | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section" and attributes.get("class") == "element":
            self._current = attributes["id"]
            self.text[self._current] = []
            self._depth = 0
        elif tag == "section" and self._current is not None:
            self._depth += 1

    def handle_endtag(self, tag):
        if tag != "section" or self._current is None:
            return
        if self._depth == 0:
            self._current = None
        else:
            self._depth -= 1

    def handle_data(self, data):
        if self._current is not None:
            self.text[self._current].append(data)

    def section(self, anchor: str) -> str:
        return " ".join(" ".join(self.text[anchor]).split())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A temporary folder holding the plan, the report page and Chromium's profile."""
    return tmp_path_factory.mktemp("chromium")


@pytest.fixture(scope="module")
def page(workspace) -> Path:
    """The evidence report of the example tenant with the example attestations, written to a file."""
    plan_path = workspace / "plan.json"
    argv = [
        "plan",
        "--snapshot", str(REPO / "examples" / "m365-snapshot.json"),
        "--params", str(REPO / "examples" / "params.yaml"),
        "--policies", str(REPO / "policies"),
        "--format", "json",
        "--out", str(plan_path),
    ]  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code in (0, 2)

    plan = load_document(plan_path)
    attestations = load_attestations(REPO / "examples" / "attestations.yaml")
    path = workspace / "report.html"
    path.write_text(render_html(plan, attestations=attestations), encoding="utf-8")

    return path


def _chromium(workspace: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={workspace / 'profile'}", *arguments]

    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def dom(workspace, page) -> str:
    """The page's DOM after Chromium loaded it."""
    result = _chromium(workspace, "--dump-dom", page.as_uri())
    assert 0 == result.returncode, result.stderr[-2000:]

    return result.stdout


@pytest.fixture(scope="module")
def sections(dom) -> _Sections:
    """The text of each element section in the loaded DOM."""
    parser = _Sections()
    parser.feed(dom)

    return parser


def test_dom_has_every_element(sections):
    """Chromium's DOM has one section per element of 16 CFR 314.4."""
    expected = {f"t1-{element.anchor}" for element in ELEMENTS}
    assert expected <= set(sections.text)


def test_dom_shows_verdicts(sections):
    """The MFA element fails and the monitoring element lists its passing policy."""
    mfa = sections.section("t1-element-c-5")
    monitoring = sections.section("t1-element-c-8")
    assert mfa.startswith("§ 314.4(c)(5) Multi-factor authentication fail")
    assert "m365.audit.unified-log-enabled" in monitoring
    assert " pass " in monitoring


def test_dom_flags_stale_attestation(sections):
    """The incident response plan, last reviewed 2025-09-30, is flagged stale at 2026-11-30."""
    incident = sections.section("t1-element-h")
    assert "1 of 1 attestation stale" in incident
    assert "stale review was due 2026-09-30" in incident
    assert "current next review due 2027-03-02" in sections.section("t1-element-a")


def test_dom_shows_digests(dom):
    """The tenant header shows the snapshot digest and the evaluation time."""
    assert "sha256:08bd411978a46b1b3d3f630e62ca76ff13d7eea722c12a6b54ca5b03c10fc581" in dom
    assert "2026-11-30T12:00:00Z" in dom


def test_screenshot(workspace, page):
    """Chromium takes a 1280x2000 screenshot of the page, kept in tests/artifacts/report.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "report.png"
    target.unlink(missing_ok=True)
    result = _chromium(workspace, f"--screenshot={target}", "--window-size=1280,2000", page.as_uri())
    assert 0 == result.returncode, result.stderr[-2000:]

    data = target.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    assert b"\x89PNG\r\n\x1a\n" == data[:8]
    assert (1280, 2000) == (width, height)


def test_print_to_pdf(workspace, page):
    """The page prints to a multi-page PDF, kept in tests/artifacts/report.pdf."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "report.pdf"
    target.unlink(missing_ok=True)
    result = _chromium(workspace, "--no-pdf-header-footer", f"--print-to-pdf={target}", page.as_uri())
    assert 0 == result.returncode, result.stderr[-2000:]

    data = target.read_bytes()
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", data)
    assert b"%PDF-" == data[:5]
    assert len(pages) > 1
