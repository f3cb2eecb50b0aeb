"""Run directories (summary + tidy tables) and the self-contained HTML report."""

from valuelens.report._html import Page, build_page, render_report
from valuelens.runs import read_summary, write_run

__all__ = ["Page", "build_page", "read_summary", "render_report", "write_run"]
