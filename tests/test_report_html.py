"""Tests for the HTML evidence report: structure, escaping, attestations and self-containment."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import pytest

from engine.diff import diff_documents
from engine.report.attestations import parse_attestations
from engine.report.elements import ELEMENTS
from engine.report.html import render_diff_html, render_html

ATTESTATIONS = """
attestations:
  - element: FTC 16 CFR 314.4(a)
    statement: Dana Lee is the qualified individual.
    evidence: https://compliance.northwind.example/qi.pdf
    owner: Dana Lee
    lastReviewed: 2025-11-30
  - element: FTC 16 CFR 314.4(h)
    statement: The incident response plan is <b>written</b>.
    evidence: javascript:alert(1)
    owner: Security team
    lastReviewed: 2025-11-29
  - element: FTC 16 CFR 314.4(i)
    statement: Board report for another client.
    evidence: docs/board.md
    owner: Dana Lee
    lastReviewed: 2026-06-01
    tenants: [fabrikam.example]
"""


class _Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture
def attestations():
    """Attestations: one current at the boundary, one a day stale, one for another tenant."""
    return parse_attestations(ATTESTATIONS, "attestations.yaml")


def _tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(text)

    return parser.tags


def _section(text: str, anchor: str) -> str:
    match = re.search(rf'<section class="element" id="{re.escape(anchor)}">(.*?)</section>', text, re.DOTALL)
    assert match is not None, anchor

    return match.group(1)


def test_section_per_element(plan):
    """The report has one section per element of 16 CFR 314.4, in the rule's order."""
    text = render_html(plan)
    ids = [attributes["id"] for tag, attributes in _tags(text) if tag == "section" and attributes.get("class") == "element"]
    expected = [f"t1-{element.anchor}" for element in ELEMENTS] + ["t1-element-other"]
    assert expected == ids


def test_element_verdict(plan):
    """An element's heading carries the most pressing verdict of its policies."""
    text = render_html(plan)
    assert '<span class="verdict fail">fail</span>' in _section(text, "t1-element-c-5").split("</h2>")[0]
    assert '<span class="verdict waived">waived</span>' in _section(text, "t1-element-c-8").split("</h2>")[0]
    assert '<span class="verdict error">error</span>' in _section(text, "t1-element-c-1").split("</h2>")[0]


def test_policy_listed_under_each_element(plan):
    """A policy citing two elements is listed under both, with its details under the first."""
    text = render_html(plan)
    access = _section(text, "t1-element-c-1")
    monitoring = _section(text, "t1-element-c-8")
    assert "<code>m365.mail.forwarding</code>" in access
    assert "<code>m365.mail.forwarding</code>" in monitoring
    assert 'id="t1-policy-m365.mail.forwarding"' in access
    assert 'id="t1-policy-m365.mail.forwarding"' not in monitoring
    assert 'details under <a href="#t1-element-c-1">' in monitoring


def test_other_controls(plan):
    """A policy citing no element of 16 CFR 314.4 is listed under other controls."""
    text = render_html(plan)
    assert "<code>m365.custom.naming</code>" in _section(text, "t1-element-other")


def test_tenant_text_escaped(plan):
    """Violation messages and display names cannot add markup to the page."""
    text = render_html(plan)
    tags = {tag for tag, _ in _tags(text)}
    assert "script" not in tags
    assert "img" not in tags
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;/td&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text


def test_self_contained(plan, attestations):
    """The page loads nothing: no src, no stylesheet link, a CSP forbidding fetches, only local or http(s) links."""
    text = render_html(plan, attestations=attestations)
    tags = _tags(text)
    assert [] == [tag for tag, attributes in tags if "src" in attributes]
    assert [] == [tag for tag, _ in tags if tag in ("link", "script", "iframe", "object", "img")]
    policy = next(attributes["content"] for tag, attributes in tags if tag == "meta" and attributes.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none'")
    hrefs = [attributes["href"] for tag, attributes in tags if tag == "a"]
    assert [] == [href for href in hrefs if not (href.startswith("#") or href.startswith("https://"))]


def test_snapshot_facts(plan):
    """The tenant header shows the evaluation and collection times and the digests."""
    text = render_html(plan)
    assert "2026-11-30T12:00:00Z" in text
    assert "2026-11-30T11:00:00Z" in text
    assert plan["snapshot"]["digest"] in text
    assert plan["policySet"]["digest"] in text
    assert plan["params"]["digest"] in text
    assert "m365.conditionalAccessPolicies: error" in text


def test_exception_and_error(plan):
    """A waived policy shows its exception; an erroring one its reason."""
    text = render_html(plan)
    assert "<strong>owner</strong>: Dana Lee" in text
    assert "<strong>ticket</strong>: SEC-142" in text
    assert "section m365.conditionalAccessPolicies was not collected: 403 Forbidden" in text


def test_stale_attestation_flagged(plan, attestations):
    """A review 12 months and a day before the evaluation is stale; exactly 12 months is current."""
    text = render_html(plan, attestations=attestations)
    incident = _section(text, "t1-element-h")
    qualified = _section(text, "t1-element-a")
    assert '<span class="verdict stale">stale</span> review was due 2026-11-29' in incident
    assert '<span class="verdict stale">1 of 1 attestation stale</span>' in incident
    assert '<span class="verdict current">current</span> next review due 2026-11-30' in qualified


def test_missing_attestation_gap(plan, attestations):
    """An element that needs an attestation and has none is flagged."""
    text = render_html(plan, attestations=attestations)
    risk = _section(text, "t1-element-b")
    assert "No attestation recorded." in risk
    assert '<span class="verdict missing">attestation missing</span>' in risk


def test_attestation_tenant_scope(plan, attestations):
    """An attestation limited to another tenant is not shown."""
    text = render_html(plan, attestations=attestations)
    assert "Board report for another client." not in text
    assert "No attestation recorded." in _section(text, "t1-element-i")


def test_unsafe_evidence_not_linked(plan, attestations):
    """Only http(s) evidence becomes a link; a javascript: URL is shown as text."""
    text = render_html(plan, attestations=attestations)
    assert '<a href="https://compliance.northwind.example/qi.pdf">' in text
    assert "<code>javascript:alert(1)</code>" in text
    assert "The incident response plan is &lt;b&gt;written&lt;/b&gt;." in text


def test_combined_tenants(plan, attestations):
    """A combined result gives a section per tenant, and a failed run shows its error."""
    combined = {"tenants": [{"name": "northwind", "plan": plan}, {"name": "fabrikam", "error": "token expired"}]}
    text = render_html(combined, attestations=attestations)
    sections = [attributes["id"] for tag, attributes in _tags(text) if tag == "section" and attributes.get("class") == "tenant"]
    assert ["t1", "t2"] == sections
    assert "token expired" in text
    assert "evidence report: 2 tenants" in text


def test_deterministic(plan, attestations):
    """The same plan and attestations give the same page."""
    assert render_html(copy.deepcopy(plan), attestations=attestations) == render_html(plan, attestations=attestations)


def test_diff_page(plan):
    """A diff page lists status changes and each category of violations."""
    new = copy.deepcopy(plan)
    new["results"][5]["status"] = "pass"
    new["results"][5]["violations"] = []
    text = render_diff_html(diff_documents(plan, new, "old.json", "new.json"))
    assert "<h2>Status changes</h2>" in text
    assert "<code>m365.mfa.all-users</code>" in text
    assert "Resolved violations" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "script" not in {tag for tag, _ in _tags(text)}
