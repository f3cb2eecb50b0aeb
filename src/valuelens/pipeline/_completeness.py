"""Whether a run got an answer to every request, and what all its invocations used.

Every command that sends requests (`evaluate`, `quickstart`, `generate`, `compass run`,
`predict run`) writes the same fields into its `summary.json`:

* `complete`: true when every request has an answer; false when some failed for good (after
  all retries). The numbers beside it are then computed from the answers that arrived.
* `requests_failed_by_stage`: how many requests failed, per stage (`generate`, `stated`,
  `action`, `compass`, `predict`); only stages with failures appear.
* `incomplete`: the one line the CLI prints for an incomplete run (absent when complete).
* `usage`: requests sent, cached and failed, tokens and cost summed over every invocation of
  the run (tokens and cost count only what was sent, so a cached rerun adds none);
  `usage_last_invocation`: the same figures for the last invocation alone; `invocations`: how
  many invocations wrote the summary.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Required, TypedDict

from valuelens.runner import RunResult, RunStats

USAGE_COUNTS = (
    "requests_sent",
    "requests_cached",
    "requests_failed",
    "prompt_tokens",
    "completion_tokens",
)


@dataclass(frozen=True)
class Completeness:
    """How many of a run's requests got no answer, per stage.

    Attributes:
        n_requests: distinct requests of the invocation (sent or cached).
        failed_by_stage: failed requests per stage, in the order the stages ran.
        attempts: the fewest and most attempts a failed request got ((0, 0) when none failed).
        most_common_failure: the most frequent reason and how often it occurred, or None.
    """

    n_requests: int = 0
    failed_by_stage: dict[str, int] = field(default_factory=dict)
    attempts: tuple[int, int] = (0, 0)
    most_common_failure: tuple[str, int] | None = None

    @classmethod
    def of(
        cls, stages: Mapping[str, Sequence[RunResult]], stats: RunStats | None = None
    ) -> Completeness:
        """Count the failed results of each stage (a request asked twice counts once).

        Args:
            stages: every result of the invocation, by stage.
            stats: the runner's totals, for the failure reasons without their attempt counts;
                without them the results' own error messages are counted.
        """
        seen: set[str] = set()
        failed: dict[str, int] = {}
        attempts: list[int] = []
        reasons: Counter[str] = Counter()
        for stage, results in stages.items():
            for result in results:
                if result.key in seen:
                    continue
                seen.add(result.key)
                if result.response is None:
                    failed[stage] = failed.get(stage, 0) + 1
                    attempts.append(result.attempts)
                    reasons[result.error or "unknown error"] += 1
        bounds = (min(attempts), max(attempts)) if attempts else (0, 0)
        common = stats.most_common_failure if stats is not None else None
        if common is None and reasons:
            common = reasons.most_common(1)[0]
        return cls(len(seen), failed, bounds, common if failed else None)

    @property
    def n_failed(self) -> int:
        """Requests without an answer, over all stages."""
        return sum(self.failed_by_stage.values())

    @property
    def complete(self) -> bool:
        """Whether every request has an answer."""
        return self.n_failed == 0

    def message(self) -> str | None:
        """The one line to print for an incomplete run, e.g. "64 of 440 requests failed ..."."""
        if self.complete:
            return None
        low, high = self.attempts
        tries = f"{high}" if low == high else f"{low}-{high}"
        plural = "" if high == 1 else "s"
        stages = ", ".join(f"{stage} {n:,}" for stage, n in self.failed_by_stage.items())
        reason = ""
        if self.most_common_failure is not None:
            text, count = self.most_common_failure
            reason = f"; most often: {text}, {'once' if count == 1 else f'{count:,} times'}"
        return (
            f"{self.n_failed:,} of {self.n_requests:,} requests failed after {tries} "
            f"attempt{plural} ({stages}{reason}): the numbers come from partial data; "
            "rerun to retry them"
        )

    def summary_fields(self) -> CompletenessFields:
        """`complete`, `requests_failed_by_stage` and (when incomplete) `incomplete`."""
        fields = CompletenessFields(
            complete=self.complete, requests_failed_by_stage=dict(self.failed_by_stage)
        )
        message = self.message()
        if message is not None:
            fields["incomplete"] = message
        return fields


class CompletenessFields(TypedDict, total=False):
    """What `Completeness.summary_fields` adds to a summary."""

    complete: Required[bool]
    requests_failed_by_stage: Required[dict[str, int]]
    incomplete: str


class UsageFigures(TypedDict):
    """Tokens, cost and request counts of one invocation, or summed over a run's."""

    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    requests_sent: int
    requests_cached: int
    requests_failed: int


class UsageFields(TypedDict):
    """What `accumulated_usage` adds to a summary."""

    usage: UsageFigures
    usage_last_invocation: UsageFigures
    invocations: int


def usage_of(stats: RunStats) -> UsageFigures:
    """The `usage` figures of one invocation (tokens and cost of what it sent)."""
    return UsageFigures(
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        cost_usd=stats.cost_usd,
        requests_sent=stats.n_sent,
        requests_cached=stats.n_cached,
        requests_failed=stats.n_failed,
    )


def accumulated_usage(out: Path, last: UsageFigures) -> UsageFields:
    """`usage` over every invocation of the run in `out`, `usage_last_invocation` and `invocations`.

    The earlier invocations' totals come from `out/summary.json`, if one was written (a summary
    from before `invocations` existed counts as one invocation). Cost stays None once any
    invocation's cost is unknown.

    Args:
        out: the run directory (its `summary.json` is read, not written).
        last: this invocation's figures, as `usage_of` gives them.
    """
    previous, invocations = _previous_usage(out / "summary.json")
    before = previous.pop("cost_usd", 0.0)
    now = last["cost_usd"]
    cost = None if before is None or now is None else float(before) + float(now)

    def summed(name: str, this_time: int) -> int:
        return int(previous.get(name) or 0) + this_time

    total = UsageFigures(
        prompt_tokens=summed("prompt_tokens", last["prompt_tokens"]),
        completion_tokens=summed("completion_tokens", last["completion_tokens"]),
        cost_usd=cost,
        requests_sent=summed("requests_sent", last["requests_sent"]),
        requests_cached=summed("requests_cached", last["requests_cached"]),
        requests_failed=summed("requests_failed", last["requests_failed"]),
    )
    return UsageFields(usage=total, usage_last_invocation=last, invocations=invocations + 1)


def _previous_usage(path: Path) -> tuple[dict[str, float | None], int]:
    """The usage totals and invocation count of an earlier summary; nothing when there is none."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, 0
    usage = summary.get("usage") if isinstance(summary, dict) else None
    if not isinstance(usage, dict):
        return {}, 0
    counts: dict[str, float | None] = {
        name: usage[name]
        for name in USAGE_COUNTS
        if isinstance(usage.get(name), int) and not isinstance(usage.get(name), bool)
    }
    cost = usage.get("cost_usd")
    counts["cost_usd"] = cost if isinstance(cost, int | float) else None
    invocations = summary.get("invocations")
    return counts, invocations if isinstance(invocations, int) and invocations > 0 else 1
