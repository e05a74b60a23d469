"""The stylesheet embedded in HTML reports: screen and print, no external assets."""

from __future__ import annotations

__all__ = ["STYLESHEET"]

STYLESHEET = """
:root {
  --ink: #1d2329; --muted: #5b6670; --rule: #d5dbe1; --panel: #f5f7f9;
  --fail: #b3261e; --fail-bg: #fde8e6; --error: #8a4b00; --error-bg: #fff1d6;
  --pass: #1e6b34; --pass-bg: #e3f4e8; --waived: #5a4a9c; --waived-bg: #ece8fa;
  --na: #59636e; --na-bg: #eceff2;
}
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
html { font-family: "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; color: var(--ink); }
body { margin: 0 auto; max-width: 1200px; padding: 24px 32px; line-height: 1.45; font-size: 14px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 6px; padding-bottom: 4px; border-bottom: 2px solid var(--rule); }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 14px; margin: 14px 0 4px; }
p { margin: 6px 0; }
code { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 12px; overflow-wrap: anywhere; }
a { color: #0b57a4; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; table-layout: fixed; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--rule); overflow-wrap: break-word; }
th { background: var(--panel); font-weight: 600; }
thead { display: table-header-group; }
.report-header { border-bottom: 3px solid var(--ink); padding-bottom: 10px; margin-bottom: 8px; }
.muted, .requirement { color: var(--muted); }
.tenant { margin-top: 28px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 10px 0; font-size: 13px; }
.facts dt { font-weight: 600; color: var(--muted); }
.facts dd { margin: 0; }
.counts span { display: inline-block; margin: 0 6px 4px 0; }
.verdict { display: inline-block; min-width: 4.5em; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  text-align: center; white-space: nowrap; border: 1px solid currentColor; }
.verdict.fail { color: var(--fail); background: var(--fail-bg); }
.verdict.error, .verdict.stale, .verdict.missing, .verdict.future { color: var(--error); background: var(--error-bg); }
.verdict.pass, .verdict.current { color: var(--pass); background: var(--pass-bg); }
.verdict.waived { color: var(--waived); background: var(--waived-bg); }
.verdict.not_applicable, .verdict.none { color: var(--na); background: var(--na-bg); }
h2 .verdict { margin-left: 10px; vertical-align: middle; }
td .verdict { margin-right: 4px; }
.cite { color: var(--muted); font-weight: 600; margin-right: 6px; }
.element { break-inside: auto; }
.detail { border-left: 3px solid var(--rule); padding: 2px 0 2px 12px; margin: 10px 0 14px; }
.detail.fail { border-left-color: var(--fail); }
.detail.error { border-left-color: var(--error); }
.detail.waived { border-left-color: var(--waived); }
.note { background: var(--panel); border: 1px solid var(--rule); border-radius: 4px; padding: 6px 10px; margin: 6px 0; }
.note.gap { background: var(--error-bg); border-color: #e7c98f; }
.note.exception { background: var(--waived-bg); border-color: #c9c0ec; }
.evidence div { overflow-wrap: anywhere; }
.evidence ul { margin: 2px 0 4px; padding-left: 18px; }
tr.stale td, tr.future td { background: var(--error-bg); }
footer { margin-top: 36px; padding-top: 8px; border-top: 1px solid var(--rule); color: var(--muted); font-size: 12px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  table { font-size: 9pt; }
  .tenant + .tenant { break-before: page; }
  h1, h2, h3, h4 { break-after: avoid; }
  tr, .note { break-inside: avoid; }
  a { color: inherit; }
}
"""
