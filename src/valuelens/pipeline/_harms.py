"""`harms`: export misaligned examples, code them for harm (a judge model, people), count them.

One harms run directory carries the whole analysis:

1. `harms_export(sources, out)` writes every misaligned pair of one or more sources as the
   `examples` table. A source is a scored value-action run directory (`valuelens score` or
   `evaluate`), one of the authors' `*_misaligned_example.csv` lists, or their older complete
   gpt-3.5 list (`chatgpt_misaligned_example.csv` with stringified pandas Series).
2. `harms_code(run, model)` asks a judge model for each example's risk type (`codes`).
3. `harms_sheet(run, out)` writes a coding sheet for people; `harms_import(run, sheets)` reads the
   filled sheets (`human_codes`), merges them by majority (`merged`) and measures agreement
   among coders and with the judge (`agreement`).

`counts` (by type, level, model, country, topic and gap direction) is recomputed at each step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError
from valuelens._rundir import holds_run_dir
from valuelens.data import load_via, parse_action_text, read_table, via_pairs
from valuelens.data._download import default_via_path
from valuelens.data._io import canonical_column, is_blank
from valuelens.metrics._harms import (
    agreement_table,
    harm_counts,
    headline_agreement,
    merged_labels,
    ratings_matrix,
)
from valuelens.pipeline._completeness import Completeness, accumulated_usage, usage_of
from valuelens.pipeline._session import (
    ConnectionOptions,
    SessionSettings,
    open_session,
    run_requests,
    session_settings,
)
from valuelens.pipeline._tasks import configured_task
from valuelens.prompts import load_templates
from valuelens.runner import Estimate
from valuelens.runs import RunRecord, read_run, write_run
from valuelens.runs._harms import HARMS
from valuelens.tasks._harms import TASK_NAME, HarmsTask, HarmTaxonomy, load_harm_taxonomy
from valuelens.tasks._predict import as_attributions
from valuelens.taxonomy import Taxonomy, load_taxonomy

EXAMPLE_COLUMNS = [
    "example_id",
    "model",
    "source",
    "country",
    "topic",
    "value",
    "value_type",
    "stated_stance",
    "stated_likert",
    "stated",
    "chosen_polarity",
    "direction",
    "chosen_action",
    "chosen_attributions",
    "chosen_explanation",
    "other_action",
    "positive_action",
    "negative_action",
    "model_explanation",
    "actions_from",
]
SHEET_COLUMNS = [
    "example_id",
    "model",
    "country",
    "topic",
    "value",
    "stated",
    "chosen_action",
    "chosen_explanation",
    "other_action",
    "coder",
    "harm",
    "note",
]
JUDGE_ARGS = "judge_model_args"
"""The summary field with the judge's model arguments (`-M`), when it had any."""
AUTHORS_MODELS = {
    "chatgpt": "gpt-3.5-turbo",
    "deepseek": "deepseek-r1-distill-llama-70b",
    "gemma": "gemma-2-9b-it",
    "gpt4o": "gpt-4o-mini",
    "llama3": "Llama-3.3-70B-Instruct",
    "qwen": "qwen-qwq-32b",
}
"""The models behind the nicknames of the authors' file names (`gpt4o` is gpt-4o-mini)."""
INVERTED_FLAG = frozenset({"gpt4o"})
"""Authors' lists written from a Task 2 log that flagged the action NOT chosen."""
_PAIR = ["country", "topic", "value"]
_DIRECTIONS = {
    "positive": "stated_disagree_chose_positive",
    "negative": "stated_agree_chose_negative",
}
_POLARITY_WORD = re.compile(r"\b(positive|negative)\b")
_OPPOSITE = {"positive": "negative", "negative": "positive"}


class _Side(TypedDict, total=False):
    """One action of a VIA pair, as read from the table (blank cells stay as they were)."""

    action: object
    attributions: list[str]
    explanation: object


_SideMap = dict[tuple[str, str, str], dict[str, _Side]]
"""(country, topic, value) -> polarity -> action, attributions, explanation."""


class ExportFacts(TypedDict):
    """What `export_examples` tells the summary about its sources."""

    sources: list[str]
    models: list[str]
    via: str | None
    n_examples: int
    n_examples_by_model: dict[str, int]
    misaligned_by_model: dict[str, int | None]
    direction_by_model: dict[str, dict[str, int]]
    notes: list[str]


@dataclass
class _Exported:
    """The examples of one source and what the summary records about it."""

    model: str
    examples: pd.DataFrame
    misaligned: int | None
    notes: list[str] = field(default_factory=list)


class _Via:
    """The VIA pairs, read once and only if a source needs action texts it does not hold."""

    def __init__(self, path: Path | None, taxonomy: Taxonomy) -> None:
        self.path = path
        self.taxonomy = taxonomy
        self.used = False
        self._pairs: _SideMap | None = None

    def pairs(self, required_by: str | None) -> _SideMap | None:
        """Both actions of each pair, by (country, topic, value); None without a VIA file.

        Raises:
            ValuelensError: `required_by` names a source that cannot do without it.
        """
        if self.path is None:
            if required_by is None:
                return None
            raise ValuelensError(
                f"{required_by} holds no action texts: pass --via PATH (the VIA file) or "
                "download the official release with `valuelens data download`"
            )
        if self._pairs is None:
            self._pairs = side_map(load_via(self.path, taxonomy=self.taxonomy))
        self.used = True
        return self._pairs


def export_examples(
    sources: Sequence[str | Path],
    *,
    via: str | Path | None = None,
    taxonomy: Taxonomy | None = None,
) -> tuple[pd.DataFrame, ExportFacts]:
    """Every misaligned pair of the sources, one row per example, and the summary's facts.

    Args:
        sources: value-action run directories and/or the authors' misaligned CSV files.
        via: the VIA file for action texts a source lacks (a `score` run, the authors' complete
            list, the other action of the authors' lists); default: the cached official
            release, if it was downloaded.
        taxonomy: names to canonicalise against (default: the built-in taxonomy).

    Returns:
        (examples in `EXAMPLE_COLUMNS`, summary fields).

    Raises:
        ValuelensError: a source that is neither, two sources of the same model, or a source
            without action texts when no VIA file is known.
    """
    if not sources:
        raise ValuelensError("give at least one run directory or misaligned-examples file")
    values = taxonomy or load_taxonomy()
    via_file = Path(via).expanduser() if via is not None else default_via_path()
    if via_file is not None and not via_file.is_file():
        raise ValuelensError(f"VIA file not found: {via_file}")
    shared = _Via(via_file, values)
    exported = [_export_one(Path(source), shared, values) for source in sources]
    models = [e.model for e in exported]
    repeated = sorted({m for m in models if models.count(m) > 1})
    if repeated:
        raise ValuelensError(
            f"two sources hold examples of {repeated[0]}; export them into separate runs"
        )
    examples = pd.concat([e.examples for e in exported], ignore_index=True)
    facts: ExportFacts = {
        "sources": [str(s) for s in sources],
        "models": models,
        "via": str(via_file) if shared.used else None,
        "n_examples": len(examples),
        "n_examples_by_model": {e.model: len(e.examples) for e in exported},
        "misaligned_by_model": {e.model: e.misaligned for e in exported},
        "direction_by_model": {
            e.model: {str(k): int(v) for k, v in e.examples["direction"].value_counts().items()}
            for e in exported
        },
        "notes": [note for e in exported for note in e.notes],
    }
    return examples[EXAMPLE_COLUMNS], facts


def _export_one(source: Path, via: _Via, taxonomy: Taxonomy) -> _Exported:
    if source.is_dir():
        return _from_run(read_run(source), via, taxonomy)
    if not source.is_file():
        raise ValuelensError(f"no such run directory or file: {source}")
    table = read_table(source, what="misaligned examples", text=True)
    table.columns = [str(c).strip().lower() for c in table.columns]
    if {"t1_response", "t2_response", "action"} <= set(table.columns):
        return _from_authors_list(source, table, via, taxonomy)
    if {"polarity", "generation_prompt"} <= set(table.columns):
        return _from_complete_list(source, table, via, taxonomy)
    raise ValuelensError(
        f"{source.name}: not a run directory nor an authors' misaligned list (expected columns "
        "country, topic, value, T1_response, T2_response, action; or polarity and "
        "generation_prompt)"
    )


def _from_run(record: RunRecord, via: _Via, taxonomy: Taxonomy) -> _Exported:
    if record.kind != "value-action" or not record.has_table("pairs"):
        raise ValuelensError(
            f"{record.path} is a {record.kind} run; export needs a scored value-action run "
            "(`valuelens score` or `valuelens evaluate`)"
        )
    pairs = record.table("pairs")
    misaligned = pairs[pd.to_numeric(pairs["misaligned"], errors="coerce") == 1]
    model = record.summary.name or record.path.name
    sides: _SideMap | None
    if record.has_table("actions"):
        sides, origin = side_map(record.table("actions")), "run"
    else:
        sides, origin = via.pairs(required_by=f"run {record.path}"), "via"
    rows = []
    explanations = _model_explanations(record)
    for pair in misaligned.to_dict("records"):
        key = (str(pair["country"]), str(pair["topic"]), str(pair["value"]))
        chosen = str(pair["choice"])
        stance = "agree" if pair["stated_binary"] == 0 else "disagree"
        row = _example(model, str(record.path), key, stance, chosen, _sides(sides, key), origin)
        row.update(
            stated_likert=pair.get("stated_likert"),
            stated=pair.get("stated"),
            value_type=pair.get("value_type"),
            model_explanation=explanations.get((*key, chosen)),
        )
        rows.append(row)
    recorded = record.summary.get("misaligned")
    return _Exported(model, _frame(rows, taxonomy), int(recorded) if recorded is not None else None)


def _model_explanations(record: RunRecord) -> dict[tuple[str, str, str, str], str]:
    """The first explanation the model gave in Task 2 for each pair and chosen polarity."""
    answers = record.optional_table("responses_action")
    if answers is None or "explanation" not in answers.columns:
        return {}
    found: dict[tuple[str, str, str, str], str] = {}
    for row in answers.to_dict("records"):
        text = row.get("explanation")
        key = (str(row["country"]), str(row["topic"]), str(row["value"]), str(row["choice"]))
        if isinstance(text, str) and text.strip() and key not in found:
            found[key] = text.strip()
    return found


def side_map(actions: pd.DataFrame) -> _SideMap:
    """Both actions of each pair (text, attributions, explanation) of a VIA table."""
    found: _SideMap = {}
    if "attributions" in actions.columns:  # a run's table read back holds arrays, not lists
        actions = actions.assign(attributions=actions["attributions"].map(as_attributions))
    for row in via_pairs(actions).to_dict("records"):
        key = (str(row["country"]), str(row["topic"]), str(row["value"]))
        found.setdefault(
            key,
            {
                polarity: {
                    "action": row.get(f"{polarity}_action"),
                    "attributions": as_attributions(row.get(f"{polarity}_attributions")),
                    "explanation": row.get(f"{polarity}_explanation"),
                }
                for polarity in ("positive", "negative")
            },
        )
    return found


def _sides(pairs: _SideMap | None, key: tuple[str, str, str]) -> dict[str, _Side]:
    return dict(pairs.get(key, {})) if pairs is not None else {}


def _example(
    model: str,
    source: str,
    key: tuple[str, str, str],
    stance: str,
    chosen: str,
    sides: Mapping[str, _Side],
    origin: str,
) -> dict[str, object]:
    picked = sides.get(chosen, {})
    other = sides.get(_OPPOSITE.get(chosen, ""), {})
    return {
        "example_id": "|".join((model, *key)),
        "model": model,
        "source": source,
        "country": key[0],
        "topic": key[1],
        "value": key[2],
        "stated_stance": stance,
        "chosen_polarity": chosen,
        "direction": _DIRECTIONS.get(chosen, ""),
        "chosen_action": _clean(picked.get("action")),
        "chosen_attributions": list(picked.get("attributions") or []),
        "chosen_explanation": _clean(picked.get("explanation")),
        "other_action": _clean(other.get("action")),
        "positive_action": _clean(sides.get("positive", {}).get("action")),
        "negative_action": _clean(sides.get("negative", {}).get("action")),
        "actions_from": origin if picked.get("action") else "none",
    }


def _clean(value: object) -> str | None:
    return None if is_blank(value) else str(value).strip()


def _frame(rows: list[dict[str, object]], taxonomy: Taxonomy) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=EXAMPLE_COLUMNS)
    if frame["value_type"].isna().all() and len(frame):
        frame["value_type"] = frame["value"].map(taxonomy.value_type)
    frame["chosen_attributions"] = frame["chosen_attributions"].map(
        lambda v: list(v) if isinstance(v, list | tuple | np.ndarray) else []
    )
    return frame


def _nickname(source: Path) -> str:
    return source.stem.split("_misaligned")[0].lower()


def _canonical(table: pd.DataFrame, source: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    resolvers = {
        "country": taxonomy.resolve_country,
        "topic": taxonomy.resolve_topic,
        "value": taxonomy.resolve_value,
    }
    for axis, resolve in resolvers.items():
        if axis not in table.columns:
            raise ValuelensError(f"{source.name}: lacks the {axis} column")
        table[axis] = canonical_column(table[axis], resolve, where=source.name, what=axis)
    return table


def _from_authors_list(
    source: Path, table: pd.DataFrame, via: _Via, taxonomy: Taxonomy
) -> _Exported:
    """One of the authors' `*_misaligned_example.csv` (T2_response: the flagged row)."""
    nickname = _nickname(source)
    model = AUTHORS_MODELS.get(nickname, nickname)
    inverted = nickname in INVERTED_FLAG
    table = _canonical(table, source, taxonomy)
    pairs = via.pairs(required_by=None)
    rows = []
    for line, row in enumerate(table.to_dict("records"), start=2):
        flagged = _polarity(row["t2_response"], source, line, "T2_response")
        chosen = _OPPOSITE[flagged] if inverted else flagged
        key = (str(row["country"]), str(row["topic"]), str(row["value"]))
        parsed = parse_action_text(str(row["action"]))
        sides = dict(_sides(pairs, key))
        listed: _Side = {
            "action": parsed.action,
            "attributions": parsed.attributions,
            "explanation": parsed.explanation,
        }
        sides[flagged] = listed
        stance = "agree" if chosen == "negative" else "disagree"
        origin = "file" if chosen == flagged else ("via" if pairs is not None else "none")
        rows.append(_example(model, str(source), key, stance, chosen, sides, origin))
    notes = [
        f"{source.name}: the authors' list leaves out misaligned pairs whose generation "
        "failed to parse (about 7-12% of them)"
    ]
    if inverted:
        notes.append(
            f"{source.name}: written from a Task 2 log that flagged the action not chosen; "
            "the chosen action is the opposite of T2_response"
            + ("" if pairs is not None else " (its text needs --via)")
        )
    return _Exported(model, _frame(rows, taxonomy), None, notes)


def _polarity(cell: object, source: Path, line: int, column: str) -> str:
    match = _POLARITY_WORD.search(str(cell).lower())
    if match is None:
        raise ValuelensError(
            f"{source.name}, line {line}: {column} must say positive or negative, "
            f"found {str(cell)[:40]!r}"
        )
    return match.group(1)


def _from_complete_list(
    source: Path, table: pd.DataFrame, via: _Via, taxonomy: Taxonomy
) -> _Exported:
    """The authors' older complete list: `polarity` holds a printed pandas Series."""
    nickname = _nickname(source)
    model = AUTHORS_MODELS.get(nickname, nickname)
    table = _canonical(table, source, taxonomy)
    pairs = via.pairs(required_by=f"{source.name} (its actions are cut short)")
    rows = []
    for line, row in enumerate(table.to_dict("records"), start=2):
        chosen = _polarity(row["polarity"], source, line, "polarity")
        key = (str(row["country"]), str(row["topic"]), str(row["value"]))
        stance = "agree" if chosen == "negative" else "disagree"
        rows.append(_example(model, str(source), key, stance, chosen, _sides(pairs, key), "via"))
    return _Exported(model, _frame(rows, taxonomy), None)


# ---- the run directory ----------------------------------------------------------------------


@holds_run_dir("out")
def harms_export(
    sources: Sequence[str | Path],
    out: Path,
    *,
    via: str | Path | None = None,
    taxonomy: Taxonomy | None = None,
    wait: bool = False,
) -> dict[str, Any]:
    """Export every misaligned pair of the sources into a new harms run at `out`.

    Returns:
        The summary written (kind `harms`; see `valuelens.runs._harms.HarmsSummary`).
    """
    examples, facts = export_examples(sources, via=via, taxonomy=taxonomy)
    summary: dict[str, Any] = {
        "kind": HARMS,
        "label": ", ".join(facts["models"]),
        **facts,
    }
    write_run(out, summary, _storable({"examples": examples}), wait=True)
    return summary


def _storable(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Arrays read back from Parquet become lists, so the CSV copy stays readable."""
    fixed = {}
    for name, table in tables.items():
        table = table.copy()
        for column in table.columns:
            if table[column].map(lambda x: isinstance(x, np.ndarray | tuple)).any():
                table[column] = table[column].map(
                    lambda x: list(x) if isinstance(x, np.ndarray | tuple) else x
                )
        fixed[name] = table
    return fixed


def _read_harms_run(run: Path) -> RunRecord:
    record = read_run(run)
    if record.kind != HARMS or not record.has_table("examples"):
        raise ValuelensError(
            f"{run} is not a harms run; make one with `valuelens harms export RUN... --out DIR`"
        )
    return record


def _tables(record: RunRecord) -> dict[str, pd.DataFrame]:
    return {
        name: table
        for name in record.table_names
        if (table := record.optional_table(name)) is not None
    }


def _rewrite(
    record: RunRecord,
    updates: Mapping[str, object],
    tables: Mapping[str, pd.DataFrame],
    taxonomy: HarmTaxonomy,
    *,
    removed: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Write the run again with new summary fields and tables, counts and agreement redone.

    The `removed` fields of the summary go (e.g. the model arguments of an earlier coding).
    """
    merged = {**_tables(record), **tables, "labels": taxonomy.definitions()}
    merged.update(_derived(merged, taxonomy))
    kept = {k: v for k, v in record.summary.to_dict().items() if k not in removed}
    summary = {**kept, **updates}
    summary.update(_label_facts(merged, taxonomy))
    write_run(record.path, summary, _storable(merged), wait=True)
    return summary


def _derived(tables: Mapping[str, pd.DataFrame], taxonomy: HarmTaxonomy) -> dict[str, pd.DataFrame]:
    """`counts` from whatever labels exist, and `agreement` when people coded."""
    examples = tables["examples"]
    levels = {key: taxonomy.level_of(key) or "" for key in taxonomy.labels}
    parts = []
    derived: dict[str, pd.DataFrame] = {}
    judge = _judge_labels(tables)
    if judge is not None:
        parts.append(harm_counts(examples, judge, levels, source="judge", order=taxonomy.labels))
    if "human_codes" in tables and len(tables["human_codes"]):
        ratings = ratings_matrix(tables["human_codes"])
        merged = merged_labels(ratings)
        derived["merged"] = merged
        derived["agreement"] = agreement_table(ratings, judge)
        people = merged.set_index("example_id")["harm"]
        parts.append(harm_counts(examples, people, levels, source="people", order=taxonomy.labels))
    if parts:
        derived["counts"] = pd.concat(parts, ignore_index=True)
    return derived


def _judge_labels(tables: Mapping[str, pd.DataFrame]) -> pd.Series | None:
    codes = tables.get("codes")
    if codes is None or not len(codes):
        return None
    return codes.set_index(codes["example_id"].astype(str))["harm"]


def _label_facts(tables: Mapping[str, pd.DataFrame], taxonomy: HarmTaxonomy) -> dict[str, object]:
    facts: dict[str, object] = {
        "harm_taxonomy_version": taxonomy.version,
        "harm_labels": list(taxonomy.labels),
    }
    codes = tables.get("codes")
    if codes is not None and len(codes):
        facts["judge_counts"] = _label_counts(codes["harm"], taxonomy)
    merged = tables.get("merged")
    if merged is not None and len(merged):
        facts["human_counts"] = _label_counts(merged["harm"], taxonomy)
        agreement = tables["agreement"]
        n_coders = int(tables["human_codes"]["coder"].nunique())
        headline = headline_agreement(agreement, n_coders)
        facts["agreement_statistic"], facts["agreement"] = headline or (None, None)
        judged = agreement[agreement["rater_b"] == "judge"]
        facts["judge_agreement"] = {
            str(r["rater_a"]): r["value"] for r in judged.to_dict("records")
        }
    return facts


def _label_counts(labels: pd.Series, taxonomy: HarmTaxonomy) -> dict[str, int]:
    found = labels.dropna().astype(str).value_counts()
    return {key: int(found.get(key, 0)) for key in taxonomy.labels}


# ---- the judge ------------------------------------------------------------------------------


def choose_examples(examples: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """All examples, or `limit` of them drawn with `seed` (kept in table order).

    Raises:
        ValuelensError: a limit below 1.
    """
    if limit is None or limit >= len(examples):
        return examples
    if limit < 1:
        raise ValuelensError(f"--limit must be at least 1 (got {limit})")
    return examples.sample(n=limit, random_state=seed).sort_index()


@holds_run_dir("run")
def harms_code(
    run: Path,
    session: SessionSettings | str,
    *,
    harm_taxonomy: str | Path | None = None,
    templates: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    temperature: float = 0.0,
    dry_run: bool = False,
    wait: bool = False,
    **options: Unpack[ConnectionOptions],
) -> dict[str, Any] | Estimate:
    """Ask a judge model for the risk type of each example of the harms run `run`.

    `session` is the judge (a model spec, or `SessionSettings` saying how to reach it; its
    other fields may also be given one by one, as `options`). Answers are cached in its store
    (default: the shared store, see `run_cache`), so a rerun sends only what is missing. The
    `codes` table is replaced by this invocation's codes.

    Returns:
        The summary written, or for a dry run the estimate of what would be sent.
    """
    judge_settings = session_settings(session, options)
    record = _read_harms_run(run)
    taxonomy = load_harm_taxonomy(harm_taxonomy)
    task = configured_task(
        TASK_NAME,
        HarmsTask,
        taxonomy=taxonomy,
        templates=load_templates(templates, tasks=(TASK_NAME,)) if templates else None,
        temperature=temperature,
        seed=seed,
    )
    examples = choose_examples(record.table("examples"), limit, seed)
    requests = task.build_requests(examples)
    done = run_requests(open_session(judge_settings, run_dir=run), requests, dry_run=dry_run)
    if isinstance(done, Estimate):
        return done
    model = judge_settings.model
    judge = str(done.identity.get("model") or model)
    codes = task.to_frame(task.parse_many(done.results)).assign(judge=judge)
    completeness = Completeness.of({TASK_NAME: done.results}, done.totals)
    updates = {
        "judge": model,
        "judge_backend": done.identity,
        **judge_settings.recorded_args(JUDGE_ARGS),
        "n_coded": int(codes["harm"].notna().sum()),
        "parse_status": {str(k): int(v) for k, v in codes["parse_status"].value_counts().items()},
        "judge_temperature": temperature,
        "judge_seed": seed,
        "judge_templates": str(templates) if templates else "built-in",
        **completeness.summary_fields(),
        **accumulated_usage(run, usage_of(done.totals)),
    }
    return _rewrite(record, updates, {"codes": codes}, taxonomy, removed=(JUDGE_ARGS,))


# ---- people ---------------------------------------------------------------------------------


def _stance_text(stance: object) -> str:
    return {
        "agree": "said the value matters to it",
        "disagree": "said the value does not matter to it",
    }.get(str(stance), "")


def harms_sheet(
    run: Path,
    out: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    coder: str = "",
    harm_taxonomy: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write a coding sheet (CSV) for people and, beside it, the definitions of the labels.

    The sheet has one row per example with what the judge sees and three columns to fill:
    `coder` (prefilled with `coder`), `harm` (a label key or name from the definitions file;
    empty: not coded) and `note`. The definitions go to `<sheet>.definitions.csv`.

    Returns:
        (the sheet, the definitions file).
    """
    record = _read_harms_run(run)
    taxonomy = load_harm_taxonomy(harm_taxonomy)
    examples = choose_examples(record.table("examples"), limit, seed)
    sheet = pd.DataFrame(
        {
            "example_id": examples["example_id"],
            "model": examples["model"],
            "country": examples["country"],
            "topic": examples["topic"],
            "value": examples["value"],
            "stated": examples["stated_stance"].map(_stance_text),
            "chosen_action": examples["chosen_action"],
            "chosen_explanation": examples["chosen_explanation"],
            "other_action": examples["other_action"],
            "coder": coder,
            "harm": "",
            "note": "",
        },
        columns=SHEET_COLUMNS,
    )
    definitions = out.with_name(f"{out.stem}.definitions.csv")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # UTF-8 with a byte-order mark, so spreadsheet programs show accents and quotes right.
        sheet.to_csv(out, index=False, encoding="utf-8-sig")
        taxonomy.definitions().to_csv(definitions, index=False, encoding="utf-8-sig")
    except OSError as exc:
        raise ValuelensError(f"cannot write the coding sheet {out}: {exc.strerror}") from None
    return out, definitions


def read_sheets(sheets: Sequence[str | Path], taxonomy: HarmTaxonomy) -> pd.DataFrame:
    """People's codes from filled sheets: example_id, coder, harm, level, note, sheet, line.

    The coder is the sheet's `coder` cell (a sheet may hold several coders), else the file's
    name without its suffix. A row with an empty `harm` is not coded and is left out.

    Raises:
        ValuelensError: no sheets, a sheet without `example_id`/`harm`, a label outside the
            taxonomy (naming the file, line and the accepted labels), or one coder coding the
            same example twice.
    """
    if not sheets:
        raise ValuelensError("give at least one filled coding sheet")
    parts = [_read_sheet(Path(sheet), taxonomy) for sheet in sheets]
    codes = pd.concat(parts, ignore_index=True)
    twice = codes[codes.duplicated(["example_id", "coder"], keep=False)]
    if len(twice):
        first = twice.iloc[0]
        raise ValuelensError(
            f"coder {first['coder']!r} coded example {first['example_id']!r} twice "
            f"({Path(str(first['sheet'])).name}, line {first['line']})"
        )
    return codes


def _read_sheet(path: Path, taxonomy: HarmTaxonomy) -> pd.DataFrame:
    table = read_table(path, what="coding sheet", text=True)
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("example_id", "harm") if c not in table.columns]
    if missing:
        raise ValuelensError(
            f"coding sheet {path.name} lacks column(s) {', '.join(missing)}; write one with "
            "`valuelens harms sheet`"
        )
    rows = []
    for line, row in enumerate(table.to_dict("records"), start=2):
        said = str(row.get("harm") or "").strip()
        if not said:
            continue
        label = taxonomy.resolve(said)
        if label is None:
            raise ValuelensError(
                f"coding sheet {path.name}, line {line}: unknown harm {said[:40]!r}; accepted: "
                f"{', '.join(taxonomy.labels)} (or their names)"
            )
        coder = str(row.get("coder") or "").strip() or path.stem
        rows.append(
            {
                "example_id": str(row["example_id"]).strip(),
                "coder": coder,
                "harm": label,
                "level": taxonomy.level_of(label),
                "note": str(row.get("note") or "").strip() or None,
                "sheet": str(path),
                "line": line,
            }
        )
    return pd.DataFrame(
        rows, columns=["example_id", "coder", "harm", "level", "note", "sheet", "line"]
    )


@holds_run_dir("run")
def harms_import(
    run: Path,
    sheets: Sequence[str | Path],
    *,
    harm_taxonomy: str | Path | None = None,
    wait: bool = False,
) -> dict[str, Any]:
    """Read filled coding sheets into the harms run `run` (replacing earlier imports).

    Computes the majority label per example (`merged`), agreement among coders (Cohen's kappa
    per pair, Krippendorff's alpha and Fleiss' kappa over all) and between each coder and the
    judge (`agreement`), and the counts of people's labels.

    Returns:
        The summary written.

    Raises:
        ValuelensError: a bad sheet (see `read_sheets`), or codes for examples the run lacks.
    """
    record = _read_harms_run(run)
    taxonomy = load_harm_taxonomy(harm_taxonomy)
    codes = read_sheets(sheets, taxonomy)
    known = set(record.table("examples")["example_id"].astype(str))
    stray = codes[~codes["example_id"].isin(known)]
    if len(stray):
        first = stray.iloc[0]
        raise ValuelensError(
            f"{Path(str(first['sheet'])).name}, line {first['line']}: example "
            f"{first['example_id']!r} is not in {run} ({len(stray)} such row(s))"
        )
    updates = {
        "coders": list(dict.fromkeys(codes["coder"])),
        "sheets": [str(s) for s in sheets],
        "n_human_coded": int(codes["example_id"].nunique()),
    }
    return _rewrite(record, updates, {"human_codes": codes}, taxonomy)
