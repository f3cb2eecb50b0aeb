"""Run directories (summary + tidy tables) and the HTML report."""

from valuelens.report._tables import read_summary, write_run

__all__ = ["read_summary", "write_run"]
