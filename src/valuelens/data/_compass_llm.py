"""ValueCompass, models' side: parse LLM ratings of all values and import the authors' files.

A model answers one prompt (a scenario, a country and a prompt variant) with one JSON object
that rates every value on 1..4 (1 = strongly agree / very much like me, 4 = strongly disagree /
not like me at all). Each answer is parsed twice, so that one tidy table serves both scoring
modes:

* `likert`: robust parse (JSON repaired, keys matched ignoring case, spacing, surrounding
  punctuation and known aliases, word answers mapped, answers that name several options
  rejected);
* `likert_paper`: the ValueCompass authors' recipe (strict `json.loads` after cutting out a
  ```json fence, exact value names, phrase replacement, first character, '0' -> 2.5).

The tidy long layout has one row per (model, country, scenario, variant, value):
`model, country, scenario, variant, value, likert, likert_paper, parse_status, raw`, where `raw`
is the answer written for that value (the whole reply when the reply could not be read).

Example:
    >>> from valuelens.data._compass_llm import load_compass_answers
    >>> answers = load_compass_answers("results/llms_eval/gpt-4o-mini")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import pandas as pd

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.data._io import canonical_column, read_table, require_columns
from valuelens.data._likert import extract_json_object, likert_from_answer, phrases_to_digits
from valuelens.data._scenarios import ScenarioSet, load_scenarios
from valuelens.data._value_names import ValueNames, value_names
from valuelens.taxonomy import Taxonomy, load_taxonomy
from valuelens.taxonomy._taxonomy import one_line

LLM_COLUMNS = (
    "model",
    "country",
    "scenario",
    "variant",
    "value",
    "likert",
    "likert_paper",
    "parse_status",
    "raw",
)
"""Columns of the tidy LLM answer layout."""

ParseStatus = Literal["ok", "repaired", "missing_key", "unmapped_answer", "invalid_json", "error"]
"""Per value: read (`ok`, or `repaired` when the JSON needed repair), or why not."""

AUTHORS_FILE = re.compile(r"^value_eval_c(\d+)_s(\d+)_([^_]+)_(.+)\.csv$")
_V = TypeVar("_V")
_ERROR_PREFIX = "ERROR:"
_EVALUATION_COLUMN = re.compile(r"^evaluation_(\d+)$")
_PAPER_DIGITS = {"1": 1.0, "2": 2.0, "3": 3.0, "4": 4.0, "0": 2.5}
_OPTION_DIGITS = re.compile(r"(?<!\d)[1-4](?!\d)")


@dataclass(frozen=True)
class ValueAnswer:
    """One value's rating in one reply, read both ways."""

    value: str
    likert: float
    likert_paper: float
    parse_status: ParseStatus
    raw: str


def paper_compat_scores(text: str, values: Sequence[str]) -> dict[str, float] | None:
    """The authors' parse of one reply: value -> 1..4 (2.5 for '0', NaN otherwise), or None.

    None means the reply is dropped whole (no JSON object, or an `ERROR:` cell).
    """
    if "```" in text:
        _, marker, rest = text.partition("```json")
        if not marker:
            return None
        text = rest.split("```", 1)[0]
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, ValueError, RecursionError):  # nested too deeply: unreadable
        return None
    if not isinstance(parsed, dict):
        return None
    return {v: _paper_digit(parsed[v]) if v in parsed else math.nan for v in values}


def _paper_digit(answer: object) -> float:
    text = phrases_to_digits(str(answer))
    return _PAPER_DIGITS.get(text[:1], math.nan)


def robust_likert(answer: object) -> float | None:
    """One answer as 1..4, or None; an answer that names several options is rejected."""
    if isinstance(answer, str):
        digits = set(_OPTION_DIGITS.findall(phrases_to_digits(answer)))
        if len(digits) > 1:
            return None
    return likert_from_answer(answer)


def _matched_keys(obj: Mapping[str, _V], names: ValueNames) -> dict[str, _V]:
    """Value -> answer, preferring an exactly spelled key over a looser match."""
    found: dict[str, _V] = {}
    exact = set(names.canonical)
    for key, answer in obj.items():
        value = names.match(str(key), loose=True)
        if value is not None and (value not in found or key in exact):
            found[value] = answer
    return found


def parse_compass_response(text: str, names: ValueNames) -> list[ValueAnswer]:
    """Read one reply: one `ValueAnswer` per value of `names`, in taxonomy order."""
    text = str(text)
    paper = paper_compat_scores(text, names.canonical) or {}
    if text.lstrip().startswith(_ERROR_PREFIX):
        return _failed(names, paper, "error", text)
    try:
        obj, repaired = extract_json_object(text)
    except RecursionError:  # a reply nested too deeply to read
        obj, repaired = None, False
    if obj is None:
        return _failed(names, paper, "invalid_json", text)
    answers = _matched_keys(obj, names)
    rows = []
    for value in names.canonical:
        if value not in answers:
            rows.append(ValueAnswer(value, math.nan, paper.get(value, math.nan), "missing_key", ""))
            continue
        score = robust_likert(answers[value])
        status: ParseStatus = (
            "unmapped_answer" if score is None else "repaired" if repaired else "ok"
        )
        likert = math.nan if score is None else score
        rows.append(
            ValueAnswer(value, likert, paper.get(value, math.nan), status, str(answers[value]))
        )
    return rows


def _failed(
    names: ValueNames, paper: Mapping[str, float], status: ParseStatus, text: str
) -> list[ValueAnswer]:
    return [ValueAnswer(v, math.nan, paper.get(v, math.nan), status, text) for v in names.canonical]


@dataclass(frozen=True)
class CompassReply:
    """One model reply to one compass prompt (the input of `answers_table`)."""

    model: str
    country: str
    scenario: str
    variant: int
    text: str


def answers_table(replies: Iterable[CompassReply], names: ValueNames) -> pd.DataFrame:
    """Parse replies into the tidy long layout (`LLM_COLUMNS`)."""
    records = [
        (
            r.model,
            r.country,
            r.scenario,
            r.variant,
            a.value,
            a.likert,
            a.likert_paper,
            a.parse_status,
            a.raw,
        )
        for r in replies
        for a in parse_compass_response(r.text, names)
    ]
    table = pd.DataFrame.from_records(records, columns=list(LLM_COLUMNS))
    return table.astype({"variant": "int64", "likert": "float64", "likert_paper": "float64"})


# --------------------------------------------------------------------------------------------
# Import


@dataclass(frozen=True)
class _Context:
    taxonomy: Taxonomy
    scenarios: ScenarioSet
    names: ValueNames


def _authors_country(
    row: Mapping[Hashable, object], index: int | None, ctx: _Context, where: str
) -> str:
    name = str(row.get("country", "")).strip()
    if not name:
        known = ctx.scenarios.authors_llm_countries
        if index is None or index >= len(known):
            raise ValuelensError(
                f"{where}: no country column and no country index c<n> in the name"
            )
        name = known[index]
    try:
        return ctx.taxonomy.resolve_country(name)
    except UnknownNameError as exc:
        raise ValuelensError(f"{where}: {exc}") from None


def _authors_scenario(
    row: Mapping[Hashable, object], index: int | None, ctx: _Context, where: str
) -> str:
    text = str(row.get("scenario", "")).strip()
    found = ctx.scenarios.find_in_text(text) if text else None
    if found is None and text:
        try:
            found = ctx.scenarios.resolve(text)
        except UnknownNameError:
            found = None
    if found is None and index is not None:
        found = ctx.scenarios.from_authors_index(llm_index=index)
    if found is None:
        raise ValuelensError(
            f"{where}: cannot tell the scenario of {text[:60]!r} (no scenario keyword found)"
        )
    return found


def _authors_file_rows(
    path: Path, model: str | None, ctx: _Context
) -> list[tuple[CompassReply, ...]]:
    """The replies of each row of one authors' file (a row holds one cell's variants)."""
    match = AUTHORS_FILE.match(path.name)
    c_index, s_index = (int(match.group(1)), int(match.group(2))) if match else (None, None)
    file_model = model or (match.group(4) if match else path.stem)
    frame = read_table(path, what="LLM compass answers", text=True)
    variants = {c: int(m.group(1)) for c in frame.columns if (m := _EVALUATION_COLUMN.match(c))}
    if not variants:
        raise ValuelensError(f"{path.name}: no evaluation_<n> columns (one per prompt variant)")
    rows = []
    for number, row in enumerate(frame.to_dict("records"), start=2):
        where = f"{path.name} line {number}"
        country = _authors_country(row, c_index, ctx, where)
        scenario = _authors_scenario(row, s_index, ctx, where)
        rows.append(
            tuple(
                CompassReply(file_model, country, scenario, variant, str(row[column]))
                for column, variant in sorted(variants.items(), key=lambda kv: kv[1])
            )
        )
    return rows


def _deduplicated(rows: Iterable[tuple[CompassReply, ...]]) -> list[CompassReply]:
    """Drop repeated copies of a whole row (the authors' cumulative gpt-4o-mini files).

    Distinct rows for one cell are all kept and later averaged like extra samples.
    """
    unique = dict.fromkeys(rows)
    return [reply for row in unique for reply in row]


def _tidy_answers(path: Path, model: str | None, ctx: _Context) -> pd.DataFrame:
    table = read_table(path, what="LLM compass answers")
    require_columns(
        table,
        ("country", "scenario", "variant", "value", "likert"),
        what="LLM compass answers",
        path=path,
    )
    if "model" not in table.columns or model:
        table["model"] = model or path.stem
    if "likert_paper" not in table.columns:
        table["likert_paper"] = table["likert"]
    if "raw" not in table.columns:
        table["raw"] = ""
    where = path.name
    resolvers: dict[str, Callable[[str], str]] = {
        "country": ctx.taxonomy.resolve_country,
        "scenario": ctx.scenarios.resolve,
        "value": lambda v: ctx.names.resolve(v, where=f"{where}: column 'value'"),
    }
    for column, resolve in resolvers.items():
        table[column] = canonical_column(table[column], resolve, where=where, what=column)
    for column in ("likert", "likert_paper"):
        table[column] = _likert_column(table[column], where, column)
    table["variant"] = pd.to_numeric(table["variant"], errors="coerce")
    if table["variant"].isna().any():
        raise ValuelensError(f"{where}: column 'variant' must hold whole numbers")
    if "parse_status" not in table.columns:  # a hand-made table: only say what is known
        table["parse_status"] = table["likert"].notna().map({True: "ok", False: ""})
    table["raw"] = table["raw"].fillna("").astype(str)
    table["parse_status"] = table["parse_status"].fillna("").astype(str)
    return table.astype({"variant": "int64"})[list(LLM_COLUMNS)]


def _likert_column(column: pd.Series, where: str, name: str) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce").astype("float64")
    bad = (numbers.isna() & column.notna() & (column.astype(str).str.strip() != "")) | (
        (numbers < 1) | (numbers > 4)
    )
    if bad.any():
        raise ValuelensError(
            f"{where}: column {name!r} holds {one_line(column[bad].iloc[0], 30)}; expected 1..4"
            " or empty"
        )
    return numbers


def _ordered(table: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    keys = {
        "country": {n: i for i, n in enumerate(ctx.taxonomy.country_names)},
        "scenario": {n: i for i, n in enumerate(ctx.scenarios.names)},
        "value": {n: i for i, n in enumerate(ctx.names.canonical)},
    }
    return table.sort_values(
        ["model", "country", "scenario", "variant", "value"],
        key=lambda s: s.map(keys[str(s.name)]) if s.name in keys else s,
        kind="stable",
    ).reset_index(drop=True)


def load_compass_answers(
    path: str | Path,
    *,
    model: str | None = None,
    taxonomy: Taxonomy | None = None,
    scenarios: ScenarioSet | None = None,
    aliases: str | Path | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Load LLM compass answers into the tidy long layout (`LLM_COLUMNS`).

    Args:
        path: a folder of the authors' `value_eval_c*_s*_<provider>_<model>.csv` files, one such
            file, or a tidy CSV/Parquet file (as written by `valuelens compass run`).
        model: the model name to record (default: from the file names, or the tidy `model`
            column).
        taxonomy: resolves country and value names (default: the built-in taxonomy).
        scenarios: resolves scenarios and the authors' scenario keywords.
        aliases: extra value-name aliases (robust parse only; the paper parse uses exact names).

    Returns:
        One row per (model, country, scenario, variant, value) and reply; `ERROR:` replies and
        unreadable JSON are kept as rows with status `error` / `invalid_json` and NaN scores.

    Raises:
        ValuelensError: no usable file, an unknown country or scenario, a malformed tidy file.
    """
    tax = taxonomy or load_taxonomy()
    ctx = _Context(tax, scenarios or load_scenarios(), value_names(tax, aliases))
    source = Path(path)
    if not source.exists():
        raise ValuelensError(f"LLM answers not found: {source}")
    if source.is_file() and not AUTHORS_FILE.match(source.name) and not _looks_wide(source):
        return _ordered(_tidy_answers(source, model, ctx), ctx)
    files = [source] if source.is_file() else sorted(source.glob("value_eval_*.csv"))
    if not files:
        raise ValuelensError(f"no value_eval_*.csv files in {source}")
    rows = [row for f in files for row in _authors_file_rows(f, model, ctx)]
    return _ordered(answers_table(_deduplicated(rows), ctx.names), ctx)


def _looks_wide(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    return "evaluation_0" in header
