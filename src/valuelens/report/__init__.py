"""Run directories (summary + tidy tables) and the self-contained HTML report.

Other modules add report sections with `register_section(Section(...))`; see `_sections.py`.
"""

# Sections that register themselves on import.
from valuelens.report import _annotate as _annotate
from valuelens.report import _compass_groups as _compass_groups
from valuelens.report import _harms as _harms
from valuelens.report import _language as _language
from valuelens.report import _open as _open
from valuelens.report import _sensitivity as _sensitivity
from valuelens.report._html import Page, build_page, render_report
from valuelens.report._load import GenericRun
from valuelens.report._sections import (
    Section,
    SectionContext,
    register_section,
    render_fragment,
    unregister_section,
)
from valuelens.runs import read_summary, write_run

__all__ = [
    "GenericRun",
    "Page",
    "Section",
    "SectionContext",
    "build_page",
    "read_summary",
    "register_section",
    "render_fragment",
    "render_report",
    "unregister_section",
    "write_run",
]
