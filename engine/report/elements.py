"""The elements of an information security program under 16 CFR 314.4 (FTC Safeguards Rule).

Policies cite controls as strings such as ``"FTC 16 CFR 314.4(c)(5)"``; the
evidence report groups them by element with ``element_of``. Paragraph (c) is
split into its eight numbered safeguards because each has its own checks.
Deeper paragraphs roll up: (c)(1)(ii) belongs to (c)(1), (d)(2) to (d).
Titles and summaries paraphrase the rule; paragraph (j) was added in 2023.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Element", "ELEMENTS", "CONTROL_PREFIX", "element_of", "get_element"]

CONTROL_PREFIX = "FTC 16 CFR 314.4"

# "FTC 16 CFR 314.4" then the paragraph letter, then optional numbered and
# lettered sub-paragraphs.
_CONTROL = re.compile(r"^FTC 16 CFR 314\.4\(([a-z])\)((?:\([0-9ivx]+\))*)$")


@dataclass(frozen=True)
class Element:
    """One element of 16 CFR 314.4, keyed by its paragraph such as ``(c)(5)``."""

    key: str
    title: str
    summary: str
    # True for elements that no tenant API can check, where the report expects
    # a manual attestation and flags its absence.
    attestation_expected: bool = False

    @property
    def control(self) -> str:
        """Control string of the element as policies and attestations write it."""
        return f"{CONTROL_PREFIX}{self.key}"

    @property
    def anchor(self) -> str:
        """Fragment identifier of the element's section in the HTML report."""
        return "element-" + re.sub(r"[^a-z0-9]+", "-", self.key).strip("-")


ELEMENTS: tuple[Element, ...] = (
    Element(
        "(a)",
        "Qualified individual",
        "Designate a qualified individual who oversees, implements and enforces the information security program.",
        attestation_expected=True,
    ),
    Element(
        "(b)",
        "Written risk assessment",
        "Base the program on a written risk assessment of internal and external risks, repeated periodically.",
        attestation_expected=True,
    ),
    Element("(c)", "Safeguards", "Design and implement safeguards that control the risks the risk assessment identifies."),
    Element(
        "(c)(1)",
        "Access controls",
        "Authenticate users and limit each user's access to the customer information they need; review access periodically.",
    ),
    Element("(c)(2)", "Asset inventory", "Identify and manage data, personnel, devices, systems and facilities by their importance."),
    Element("(c)(3)", "Encryption", "Encrypt customer information at rest and in transit over external networks."),
    Element(
        "(c)(4)",
        "Secure development",
        "Use secure development practices for in-house applications and evaluate the security of external ones.",
    ),
    Element("(c)(5)", "Multi-factor authentication", "Require multi-factor authentication for anyone accessing any information system."),
    Element(
        "(c)(6)",
        "Secure disposal",
        "Dispose of customer information within two years of its last use unless it must be kept; review data retention.",
    ),
    Element("(c)(7)", "Change management", "Adopt procedures for change management."),
    Element(
        "(c)(8)",
        "Monitoring and logging",
        "Monitor and log the activity of authorized users and detect unauthorized access, use or tampering.",
    ),
    Element(
        "(d)",
        "Testing and continuous monitoring",
        "Regularly test or monitor the key controls: continuous monitoring, or yearly penetration tests and half-yearly"
        " vulnerability assessments.",
    ),
    Element(
        "(e)",
        "Security awareness training",
        "Train personnel in security awareness and keep security staff qualified and current.",
        attestation_expected=True,
    ),
    Element(
        "(f)",
        "Service provider oversight",
        "Select service providers that maintain safeguards, require them by contract and assess them periodically.",
    ),
    Element("(g)", "Program adjustments", "Evaluate and adjust the program after testing, operational changes and other material events."),
    Element("(h)", "Incident response plan", "Establish a written incident response plan.", attestation_expected=True),
    Element(
        "(i)",
        "Annual report to the board",
        "The qualified individual reports in writing, at least once a year, to the board of directors or its equivalent.",
        attestation_expected=True,
    ),
    Element(
        "(j)",
        "Notification of the FTC",
        "Notify the FTC within 30 days of discovering a notification event that involves at least 500 consumers.",
    ),
)

_BY_KEY = {element.key: element for element in ELEMENTS}


def get_element(key: str) -> Element:
    """Return the element with paragraph ``key`` such as ``(c)(5)``, or raise KeyError."""
    return _BY_KEY[key]


def element_of(control: str) -> Element | None:
    """Return the element a control string cites, or None for a control outside 16 CFR 314.4.

    ``"FTC 16 CFR 314.4(c)(5)"`` gives (c)(5); ``"FTC 16 CFR 314.4(d)(2)"`` gives
    (d); ``"CISA MS.AAD.3.2v1"`` and ``"FTC 16 CFR 314.4(z)"`` give None.
    """
    match = _CONTROL.match(control.strip())
    if match is None:
        return None
    letter, subparagraphs = match.groups()
    if letter == "c":
        number = re.match(r"\((\d+)\)", subparagraphs)
        if number is not None:
            return _BY_KEY.get(f"(c)({number.group(1)})")

    return _BY_KEY.get(f"({letter})")
