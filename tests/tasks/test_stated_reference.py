"""Task 1 parsing on the authors' real, messy model outputs (read in place, never copied)."""

from __future__ import annotations

import json
import random
import re
from functools import cache

import pandas as pd
import pytest

from support.authors import LIKERT_PHRASES
from valuelens.tasks import stated_task

MESSY_FILES = [
    "gemma-2-9b-it_t1.csv",
    "Llama-3.3-70B-Instruct_t1.csv",
    "openai-gpt-4o_t1.csv",
    "anthropic-claude-sonnet-4-20250514_t1.csv",
]


@cache
def _task():
    return stated_task()


@cache
def _requests(country: str, topic: str):
    return _task().build_requests(country, topic)


def _parse_rows(rows: pd.DataFrame, answer) -> pd.DataFrame:
    task = _task()
    records = []
    for row in rows.itertuples():
        request = _requests(row.country, row.topic)[int(row.prompt_index)]
        records += task.parse(answer(request, str(row.response)))
    return task.to_frame(records)


def _strictly_parsable(text: str) -> bool:
    """The authors' first step: the fenced part (if any) must load as JSON."""
    if "```json" in text:
        text = text.split("```json", 1)[1].split("```", 1)[0]
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _oracle(text: str, value: str) -> float | str | None:
    """The answer written after `"value":`, mapped by the authors' recipe; "skip" if unclear."""
    found = re.findall(r'"' + re.escape(value) + r'"\s*:\s*"([^"]*)"', text)
    if len(found) != 1:
        return "skip"
    answer = found[0].strip().lower()
    for phrase, digit in LIKERT_PHRASES:
        answer = answer.replace(phrase, digit)
    if answer[:1] in {"1", "2", "3", "4"} and not answer[1:2].isdigit():
        return float(answer[0])
    return None


def _sample(table: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """A fixed random sample of n replies the authors could not parse and n they could."""
    messy = table["response"].map(lambda t: not _strictly_parsable(str(t))).to_numpy()
    rng = random.Random(seed)
    chosen: list[int] = []
    for group in (messy, ~messy):
        indices = [i for i in range(len(table)) if group[i]]
        chosen += rng.sample(indices, min(n, len(indices)))
    return table.iloc[sorted(chosen)]


@pytest.mark.parametrize("name", MESSY_FILES)
def test_every_answer_written_in_the_reply_is_read(reference_dir, answer, name):
    table = pd.read_csv(reference_dir / "outputs" / "evaluation" / name)
    rows = _sample(table, 60)
    frame = _parse_rows(rows, answer)
    texts = {(r.country, r.topic, r.prompt_index): str(r.response) for r in rows.itertuples()}
    checked = 0
    for record in frame.itertuples():
        expected = _oracle(texts[(record.country, record.topic, record.variant)], record.value)
        if expected == "skip":
            continue
        checked += 1
        got = None if pd.isna(record.likert) else record.likert
        assert got == expected, (name, record.country, record.topic, record.variant, record.value)
        assert (got is None) == (record.parse_status == "failed")
    assert checked > 0.9 * len(frame) * (0.5 if "claude" in name else 1)


def test_messy_wrappers_are_recovered(reference_dir, answer):
    table = pd.read_csv(reference_dir / "outputs" / "evaluation" / "gemma-2-9b-it_t1.csv")
    broken = table[~table["response"].map(lambda t: _strictly_parsable(str(t)))]
    assert len(broken) >= 5
    frame = _parse_rows(broken, answer)
    per_reply = frame.groupby(["country", "topic", "variant"])["likert"].count()
    # Trailing commas, prose after the fence, and replies cut mid-object: most values survive.
    assert (per_reply >= 20).mean() > 0.8
    assert set(frame["parse_status"]) <= {"ok", "repaired", "failed"}
    assert (frame["parse_status"] == "repaired").any()


def test_refusals_are_flagged(reference_dir, answer):
    table = pd.read_csv(
        reference_dir / "outputs" / "evaluation" / "anthropic-claude-sonnet-4-20250514_t1.csv"
    )
    refusing = table[table["response"].str.match(r"I can't|I'm sorry|I cannot")]
    assert len(refusing) >= 2
    frame = _parse_rows(refusing, answer)
    assert frame["refusal"].all() and frame["likert"].isna().all()
    assert (frame["parse_status"] == "failed").all()


def test_mean_over_variants_matches_the_papers_stated_scores(reference_dir, answer):
    """gpt-4o-mini, all 1,056 replies: the per-pair mean equals the authors' T1 score."""
    table = pd.read_csv(reference_dir / "outputs" / "evaluation" / "gpt-4o-mini_t1.csv")
    frame = _parse_rows(table, answer)
    mine = frame.groupby(["country", "topic", "value"])["likert"].mean()
    theirs = pd.read_csv(
        reference_dir / "reconstructed" / "gpt-4o-mini_t1t2_joined.reconstructed.csv"
    ).set_index(["country", "topic", "value"])["t1_mean_likert"]
    # Where the authors dropped a reply they could not parse, we read part of it: skip those.
    dropped = table[~table["response"].map(lambda t: _strictly_parsable(str(t)))]
    skip = set(zip(dropped["country"], dropped["topic"], strict=True))
    keep = [key for key in theirs.index if key[:2] not in skip]
    assert len(keep) > 7300
    difference = (mine.reindex(keep) - theirs.reindex(keep)).abs()
    assert difference.max() < 1e-5
