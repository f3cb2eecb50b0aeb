"""Run directories (summary + tidy tables) and the self-contained HTML report."""

from valuelens.report._html import render_report
from valuelens.report._tables import read_summary, write_run

__all__ = ["read_summary", "render_report", "write_run"]
