"""Renderers of a plan document for people and machines."""

from engine.report.text import render_text

__all__ = ["render_text"]
