"""Small `valuelens evaluate` runs against a fake server: the VIA file, the command, the summary.

Standard library only, so a benchmark's bare child process can import it without valuelens.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

VIA_COLUMNS = ("country", "topic", "value", "polarity", "action", "explanation")
# What describes an invocation rather than the scores (what was sent, cached or failed).
RUN_ONLY_KEYS = ("usage", "usage_last_invocation", "invocations")


def write_via(
    path: Path,
    country: str,
    topic: str,
    actions: Mapping[str, tuple[str, str]],
    *,
    explanations: tuple[str, str] | None = ("It shows it.", "It resists it."),
) -> Path:
    """A tidy VIA table for one scenario: `actions[value]` is its (positive, negative) action.

    `explanations` are the positive and the negative row's explanation; None leaves the column out.
    """
    columns = VIA_COLUMNS if explanations is not None else VIA_COLUMNS[:-1]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for value, (positive, negative) in actions.items():
            for polarity, action, index in (("positive", positive, 0), ("negative", negative, 1)):
                row = [country, topic, value, polarity, action]
                if explanations is not None:
                    row.append(explanations[index])
                writer.writerow(row)
    return path


def evaluate_args(
    base_url: str,
    via: Path,
    out: Path,
    *,
    country: str,
    topic: str,
    values: Sequence[str] | None = None,
    stated_variants: str | None = "all",
    concurrency: int | None = None,
    report: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """`valuelens evaluate` arguments for one scenario on `openai:fake`, every action variant.

    `values=None` keeps every value of the VIA file; `stated_variants=None` and
    `concurrency=None` keep the command's defaults; `extra` goes before `--out`.
    """
    args = ["evaluate", "--model", "openai:fake", "--base-url", base_url, "--via", str(via)]
    args += ["--countries", country, "--topics", topic]
    if values is not None:
        args += ["--values", ",".join(values)]
    args += ["--variants", "all"]
    if stated_variants is not None:
        args += ["--stated-variants", stated_variants]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    args += list(extra)
    if not report:
        args.append("--no-report")
    return [*args, "--out", str(out)]


def read_summary(out: Path) -> dict[str, Any]:
    """The run's summary.json."""
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary


def scores(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary without what describes one invocation (what was sent, cached or failed)."""
    return {k: v for k, v in summary.items() if k not in RUN_ONLY_KEYS}
