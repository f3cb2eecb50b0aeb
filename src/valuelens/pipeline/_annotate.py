"""`annotate`: VIA quality control, from a sample of actions to people's and a judge's verdicts.

1. `write_sheets(via, out)` draws a reproducible sample of VIA items (`--per country|variant|
   all`, `--n`, `--seed`) and writes an `annotation` run whose `sheet.csv` people fill in: one
   row per item, the four criteria (`correct`, `harmless`, `sufficient`, `plausible`) blank.
2. `judge_sheets(via, model, out)` asks a judge model the same four questions about the same
   sample (same options, same items) and writes `sheet.csv` pre-filled with its answers.
3. `import_sheets(sheets, out)` reads the filled sheets of any number of annotators and writes
   their rates, majority votes, agreement (Cohen's kappa for two, Fleiss' for more, and
   Krippendorff's alpha) by country and by generation variant, the disagreements, and with a
   judge run, the judge's agreement with the people.

A sheet cell takes 1/0, yes/no, y/n, true/false or x; blank means not rated. The annotator is
the sheet's `annotator` column, or the file's name when that is blank (copy `sheet.csv` to
`alice.csv`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack

import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError
from valuelens._rundir import holds_run_dir
from valuelens.data import load_via
from valuelens.data._io import read_table
from valuelens.metrics._annotate import (
    ALL,
    PUBLISHED_KAPPA,
    RATING_COLUMNS,
    disagreements,
    judge_agreement,
    majority_votes,
    quality_table,
    variant_comparison,
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
from valuelens.runs import read_run, write_run
from valuelens.runs._annotate import ANNOTATION
from valuelens.tasks._annotate import CRITERIA, TASK_NAME, AnnotateTask, is_blank, verdict
from valuelens.taxonomy import Taxonomy, load_taxonomy
from valuelens.taxonomy._taxonomy import shown

Per = Literal["country", "variant", "all"]
PER_CHOICES: tuple[Per, ...] = ("country", "variant", "all")
ITEM_COLUMNS = [
    "item_id",
    "country",
    "topic",
    "value",
    "polarity",
    "variant",
    "action",
    "attributions",
    "explanation",
]
SHEET_COLUMNS = [*ITEM_COLUMNS, "annotator", *CRITERIA, "comment"]
SHEET = "sheet"
"""The sheet table of a run: `sheet.csv` is the file people fill in."""


def via_items(path: Path, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The actions of a VIA file as annotation items (`ITEM_COLUMNS`), in file order.

    Rows without an action (failed generations, refusals) are left out: there is nothing to
    judge. `variant` is the generation prompt variant where the file records one (a table from
    `valuelens generate`), else missing. `attributions` is a JSON list.
    """
    via = load_via(path, taxonomy=taxonomy)
    variants = _variant_column(path, len(via))
    items = via.assign(variant=variants)
    items = items[items["action"].map(lambda a: not is_blank(a))].copy()
    items["attributions"] = items["attributions"].map(lambda a: json.dumps(list(a)))
    items["item_id"] = _item_ids(items)
    return items[ITEM_COLUMNS].reset_index(drop=True)


def _variant_column(path: Path, n_rows: int) -> pd.Series:
    raw = read_table(path, what="VIA file", text=True, zip_member="full_data")
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    if "variant" not in raw.columns or len(raw) != n_rows:
        return pd.Series(pd.NA, index=range(n_rows), dtype="Int64")
    numbers = pd.to_numeric(raw["variant"].replace("", pd.NA), errors="coerce")
    return numbers.round().astype("Int64").reset_index(drop=True)


def _item_ids(items: pd.DataFrame) -> list[str]:
    """`country / topic / value / polarity [/ vN]`, numbered `#2`, `#3` when repeated."""
    seen: dict[str, int] = {}
    ids = []
    for row in items.to_dict("records"):
        base = f"{row['country']} / {row['topic']} / {row['value']} / {row['polarity']}"
        variant = row["variant"]
        if isinstance(variant, int | float) and variant == variant:  # NaN/NA are not numbers
            base += f" / v{int(variant)}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
    return ids


def sample_items(items: pd.DataFrame, *, per: str, n: int, seed: int) -> pd.DataFrame:
    """`n` items drawn at random per country, per generation variant, or over all (`per`).

    The draw depends only on the items, `per`, `n` and `seed`; the sample keeps file order.

    Raises:
        ValuelensError: an unknown `per`, `n` below 1, no items, or `per="variant"` for a file
            that records no variant.
    """
    if per not in PER_CHOICES:
        raise ValuelensError(f"--per must be one of {', '.join(PER_CHOICES)}, got {shown(per)}")
    if n < 1:
        raise ValuelensError(f"--n must be at least 1, got {n}")
    if items.empty:
        raise ValuelensError("the VIA file holds no action to annotate")
    if per == "variant" and items["variant"].isna().all():
        raise ValuelensError(
            "the VIA file records no generation variant (only tables from `valuelens generate` "
            "do); use --per country or --per all"
        )
    rng = np.random.default_rng(seed)  # one stream: groups of the same shape get other items
    if per == "all":
        return items.sample(n=min(n, len(items)), random_state=rng).sort_index()
    parts = [
        part.sample(n=min(n, len(part)), random_state=rng)
        for _, part in items.dropna(subset=[per]).groupby(per, sort=True)
    ]
    return pd.concat(parts).sort_index()


def sheet_frame(items: pd.DataFrame, prefill: pd.DataFrame | None = None) -> pd.DataFrame:
    """The sheet people fill in: the items, a blank annotator, the criteria, a comment.

    Args:
        items: the sampled items.
        prefill: a judge's verdicts (item_id and one True/False/None column per criterion),
            written as yes/no; blank cells without it.
    """
    sheet = items[ITEM_COLUMNS].copy()
    sheet["annotator"] = ""
    verdicts = prefill.set_index("item_id") if prefill is not None else None
    for criterion in CRITERIA:
        if verdicts is None:
            sheet[criterion] = ""
            continue
        said = sheet["item_id"].map(verdicts[criterion])
        sheet[criterion] = said.map(lambda v: "" if is_blank(v) else ("yes" if v else "no"))
    sheet["comment"] = ""
    return sheet[SHEET_COLUMNS].reset_index(drop=True)


class _Sampling(TypedDict):
    """How the items of a sheet were drawn (see `sample_items`)."""

    per: str
    n: int
    seed: int


def _sampling(per: str, n: int, seed: int) -> _Sampling:
    return {"per": per, "n": n, "seed": seed}


@holds_run_dir("out")
def write_sheets(
    via: Path,
    out: Path,
    *,
    per: str = "country",
    n: int = 10,
    seed: int = 0,
    annotators: Sequence[str] = (),
    taxonomy: Path | None = None,
    wait: bool = False,
) -> dict[str, Any]:
    """Sample VIA items and write the blank sheet(s) as an `annotation` run.

    Args:
        via: the VIA file (the authors' release or a `valuelens generate` table).
        out: the run directory; `sheet.csv` (or `sheet_<name>.csv` per annotator) is the
            file to fill in.
        per: draw `n` items per country, per generation variant, or over all items.
        n: items per group.
        seed: the draw's seed.
        annotators: names to write one sheet each for (their `annotator` column filled in).
        taxonomy: a file extending the built-in countries, topics and values.
        wait: wait for another writer of `out` instead of failing.

    Returns:
        The summary written.
    """
    items = sample_items(via_items(via, load_taxonomy(taxonomy)), per=per, n=n, seed=seed)
    blank = sheet_frame(items)
    sheets = {SHEET: blank}
    for name in annotators:
        sheets[f"{SHEET}_{_file_safe(name)}"] = blank.assign(annotator=name)
    summary = {
        "kind": ANNOTATION,
        "stage": "sheet",
        "via": str(via),
        "sheets": [f"{name}.csv" for name in sheets],
        "sampling": _sampling(per, n, seed),
        "n_items": len(items),
        "criteria": list(CRITERIA),
        "annotators": list(annotators),
    }
    write_run(out, summary, {"items": items, **sheets})
    return summary


def _file_safe(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.strip())
    if not safe:
        raise ValuelensError(f"annotator name {shown(name)} has no letters or digits")
    return safe


def read_sheet(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One filled sheet: its items and its ratings in the long layout (`RATING_COLUMNS`).

    Raises:
        ValuelensError: no `item_id` or criterion column, or a cell that is not a yes/no
            answer (the message names the file, the row and the column).
    """
    table = read_table(path, what="annotation sheet", text=True)
    table.columns = [str(c).strip().lower() for c in table.columns]
    criteria = [c for c in CRITERIA if c in table.columns]
    if "item_id" not in table.columns or not criteria:
        raise ValuelensError(
            f"{path.name}: not an annotation sheet; it needs an item_id column and at least "
            f"one of {', '.join(CRITERIA)} (write one with `valuelens annotate sheet`)"
        )
    fallback = path.stem
    names = table["annotator"] if "annotator" in table.columns else pd.Series("", index=table.index)
    rows = []
    for i, record in enumerate(table.to_dict("records")):
        annotator = str(names.iloc[i]).strip() or fallback
        for criterion in criteria:
            rating = _rating(record[criterion], path, i, criterion)
            if rating is not None:
                rows.append((str(record["item_id"]).strip(), annotator, criterion, rating))
    items = table[[c for c in ITEM_COLUMNS if c in table.columns]]
    return items, pd.DataFrame(rows, columns=RATING_COLUMNS)


def _rating(cell: object, path: Path, row: int, criterion: str) -> float | None:
    if is_blank(cell):
        return None
    said = verdict(cell)
    if said is None:
        raise ValuelensError(
            f"{path.name}: row {row + 2}, column {criterion}: {shown(cell)} is not a yes/no "
            "answer; write 1/0, yes/no, y/n, true/false or x, or leave the cell blank"
        )
    return 1.0 if said else 0.0


def read_sheets(paths: Sequence[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every sheet's items (one row per item_id) and ratings (long), checked for repeats.

    Raises:
        ValuelensError: no sheet, no rating in any of them, or one annotator rating the same
            item and criterion twice.
    """
    if not paths:
        raise ValuelensError("give at least one filled annotation sheet")
    read = [read_sheet(Path(p)) for p in paths]
    ratings = pd.concat([r for _, r in read], ignore_index=True)
    if ratings.empty:
        raise ValuelensError(f"the sheets hold no rating yet ({', '.join(map(str, paths))})")
    repeated = ratings.duplicated(["item_id", "annotator", "criterion"])
    if repeated.any():
        first = ratings[repeated].iloc[0]
        raise ValuelensError(
            f"annotator {shown(first['annotator'])} rated {shown(first['item_id'])} "
            f"({first['criterion']}) twice; give each annotator's sheet once"
        )
    items = pd.concat([i for i, _ in read], ignore_index=True).drop_duplicates("item_id")
    items = items.reindex(columns=ITEM_COLUMNS)
    items["variant"] = pd.to_numeric(items["variant"], errors="coerce").astype("Int64")
    return items.reset_index(drop=True), ratings


def _headline(quality: pd.DataFrame) -> dict[str, dict[str, object]]:
    overall = quality[quality["axis"] == ALL]
    fields = ("rate", "rating_rate", "kappa", "method", "alpha", "n_items", "n_raters")
    return {
        str(row["criterion"]): {key: row[key] for key in (*fields, "n_disagree")}
        for row in overall.to_dict("records")
    }


def _judge_headline(agreement: pd.DataFrame) -> dict[str, dict[str, object]]:
    overall = agreement[agreement["axis"] == ALL]
    return {
        str(row["criterion"]): {k: row[k] for k in ("kappa", "accuracy", "n")}
        for row in overall.to_dict("records")
    }


@holds_run_dir("out")
def import_sheets(
    sheets: Sequence[Path], out: Path, *, judge: Path | None = None, wait: bool = False
) -> dict[str, Any]:
    """Read filled sheets, score them, and write an `annotation` run (stage `import`).

    Args:
        sheets: the filled sheets (CSV, Parquet or JSON lines), one or more per annotator.
        out: the run directory to write.
        judge: an `annotate judge` run to compare with the people's majority.
        wait: wait for another writer of `out` instead of failing.

    Returns:
        The summary written.

    Raises:
        ValuelensError: a bad sheet (see `read_sheet`) or a `judge` directory that is not a
            judge run.
    """
    items, ratings = read_sheets(sheets)
    quality = quality_table(ratings, items)
    flagged = disagreements(ratings)
    tables = {
        "items": items,
        "ratings": ratings,
        "votes": majority_votes(ratings),
        "quality": quality,
        "flagged": flagged,
        "variants": variant_comparison(quality),
    }
    summary: dict[str, Any] = {
        "kind": ANNOTATION,
        "stage": "import",
        "sheets": [str(p) for p in sheets],
        "n_items": len(items),
        "criteria": [c for c in CRITERIA if c in set(ratings["criterion"])],
        "annotators": list(dict.fromkeys(ratings["annotator"])),
        "headline": _headline(quality),
        "n_flagged": int(flagged["item_id"].nunique()),
        "published_kappa": PUBLISHED_KAPPA,
    }
    if judge is not None:
        agreement = judge_agreement(_judge_ratings(judge), ratings, items)
        tables["judge_agreement"] = agreement
        summary["judge"] = str(judge)
        summary["judge_headline"] = _judge_headline(agreement)
    write_run(out, summary, tables)
    return summary


def _judge_ratings(run_dir: Path) -> pd.DataFrame:
    record = read_run(run_dir)
    if record.kind != ANNOTATION or record.summary.get("stage") != "judge":
        raise ValuelensError(f"{run_dir} is not an `annotate judge` run")
    return record.table("ratings")


def judge_ratings(judged: pd.DataFrame, annotator: str) -> pd.DataFrame:
    """A judge's verdicts (one row per item) in the long ratings layout, under `annotator`."""
    long = judged.melt(
        id_vars="item_id", value_vars=list(CRITERIA), var_name="criterion", value_name="said"
    )
    long = long[long["said"].map(lambda v: isinstance(v, bool))]
    return pd.DataFrame(
        {
            "item_id": long["item_id"],
            "annotator": annotator,
            "criterion": long["criterion"],
            "rating": long["said"].map(float),
        },
        columns=RATING_COLUMNS,
    ).reset_index(drop=True)


@holds_run_dir("out")
def judge_sheets(
    via: Path,
    session: SessionSettings | str,
    out: Path,
    *,
    per: str = "country",
    n: int = 10,
    seed: int = 0,
    temperature: float = 0.0,
    templates: Path | None = None,
    taxonomy: Path | None = None,
    dry_run: bool = False,
    wait: bool = False,
    **options: Unpack[ConnectionOptions],
) -> dict[str, Any] | Estimate:
    """Ask a judge model the four questions about a sample of VIA items; write the run.

    The sample is drawn as in `write_sheets` (same `per`, `n`, `seed`: same items). Answers are
    cached in the session's store (see `valuelens.pipeline.run_cache`), so a rerun sends only
    what is missing.

    Args:
        via: the VIA file.
        session: the judge: a model spec, or `SessionSettings` saying how to reach it (its
            other fields may also be given one by one, as `options`).
        out: the run directory; its `sheet.csv` is pre-filled with the judge's answers.
        per: as `write_sheets`.
        n: as `write_sheets`.
        seed: the draw's seed, also the sampling seed of the judge.
        temperature: the judge's sampling temperature.
        templates: a folder with your own `annotate/judge.jinja`.
        taxonomy: a file extending the built-in countries, topics and values.
        dry_run: send nothing; return the estimate.
        wait: wait for another writer of `out` instead of failing.
        **options: `SessionSettings` fields one by one (base_urls, concurrency, store, ...).

    Returns:
        The summary written (with `complete`, see `valuelens.pipeline.Completeness`), or the
        estimate of a dry run.
    """
    values = load_taxonomy(taxonomy)
    items = sample_items(via_items(via, values), per=per, n=n, seed=seed)
    task = configured_task(
        TASK_NAME,
        AnnotateTask,
        values=values,
        templates=load_templates(templates, tasks=(TASK_NAME,)) if templates else None,
        temperature=temperature,
        seed=seed,
    )
    judge = session_settings(session, options)
    done = run_requests(
        open_session(judge, run_dir=out), task.build_requests(items), dry_run=dry_run
    )
    if isinstance(done, Estimate):
        return done
    judged = task.to_frame(task.parse_many(done.results))
    label = f"judge:{done.identity.get('model') or judge.model}"
    ratings = judge_ratings(judged, label)
    quality = quality_table(ratings, items)
    completeness = Completeness.of({TASK_NAME: done.results}, done.totals)
    summary: dict[str, Any] = {
        "kind": ANNOTATION,
        "stage": "judge",
        "model": judge.model,
        "label": label,
        "via": str(via),
        "sheets": [f"{SHEET}.csv"],
        "sampling": _sampling(per, n, seed),
        "n_items": len(items),
        "criteria": list(CRITERIA),
        "annotators": [label],
        "headline": _headline(quality),
        "judge": judge.model,
        "backend": done.identity,
        **judge.recorded_args(),
        "parse_status": {str(k): int(v) for k, v in judged["parse_status"].value_counts().items()},
        "temperature": temperature,
        "templates": str(templates) if templates else "built-in",
        **completeness.summary_fields(),
        **accumulated_usage(out, usage_of(done.totals)),
    }
    tables = {
        "items": items,
        "judge": judged,
        "ratings": ratings,
        "quality": quality,
        "variants": variant_comparison(quality),
        SHEET: sheet_frame(items, prefill=judged),
    }
    write_run(out, summary, tables)
    return summary
