"""The item browser's data: one record per pair with both actions and every answer, embedded once.

Texts are interned (`_Strings`) so a raw response shared by the 56 values of a scenario is stored
once; `report.js` unpacks the records in the browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from valuelens.data import parse_attributions
from valuelens.metrics import binarize
from valuelens.report._format import axis_labels, embed_json
from valuelens.report._load import ValueActionRun
from valuelens.taxonomy import Taxonomy

ITEMS_PAGE_SIZE = 20
_DIRECTION_CODES = {"stated_agree_chose_negative": 1, "stated_disagree_chose_positive": 2}
_NO_ACTION = [-1, -1, -1]


class _Strings:
    """Interns texts so a raw response shared by 56 values is embedded once."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.items: list[str] = []

    def __call__(self, text: object) -> int:
        if text is None or (isinstance(text, float) and not math.isfinite(text)):
            return -1
        text = str(text)
        if text == "":
            return -1
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.items)
            self.items.append(text)
        return found


def items(run: ValueActionRun, taxonomy: Taxonomy, element_id: str) -> dict[str, object] | None:
    """The item browser's data: one record per pair with both actions and every response."""
    if not run.has_items:
        return None
    strings = _Strings()
    countries, topics, values = run.countries, run.topics, run.values
    records = _records(run, strings)
    return {
        "id": element_id,
        "n": len(records),
        "page_size": ITEMS_PAGE_SIZE,
        "countries": countries,
        "topics": topics,
        "values": values,
        "json": embed_json(
            {
                "countries": axis_labels(taxonomy, "country", countries),
                "countryNames": countries,
                "topics": axis_labels(taxonomy, "topic", topics),
                "topicNames": topics,
                "values": values,
                "strings": strings.items,
                "items": records,
            }
        ),
    }


def _records(run: ValueActionRun, strings: _Strings) -> list[list[object]]:
    """One list per pair, the item browser's rows (positions are read by `report.js`).

    [country, topic, value, stated, chosen, misaligned, direction, positive action, negative
    action, stated answers, action answers, stated side, chosen side].
    `stated` and `chosen` are rounded for display; the sides (1 = disagree / chose negative,
    0 = agree / chose positive, None = no data) are read from the unrounded values with the
    metrics' own threshold, so 0.49998 is "chose positive" even though it shows as 0.50.
    """
    pairs = run.pairs
    index = [
        {n: i for i, n in enumerate(names)} for names in (run.countries, run.topics, run.values)
    ]
    keys = list(zip(pairs["country"], pairs["topic"], pairs["value"], strict=True))
    position = {k: i for i, k in enumerate(keys)}
    actions = _actions_by_pair(run.actions, position, strings)
    stated = _responses(
        run.responses_stated,
        position,
        strings,
        ["variant", "likert", "parse_status", "raw"],
        numeric={"likert"},
    )
    chosen = _responses(
        run.responses_action,
        position,
        strings,
        ["variant", "option1_polarity", "choice", "explanation", "parse_status", "raw"],
    )
    stated_col, chosen_col = pairs["stated"].to_numpy(float), pairs["chosen"].to_numpy(float)
    misaligned = pairs["misaligned"].to_numpy(float)
    directions = pairs["direction"].tolist()
    stated_side, chosen_side = _sides(stated_col), _sides(chosen_col)
    return [
        [
            *(index[axis][name] for axis, name in enumerate(key)),
            _round(stated_col[i]),
            _round(chosen_col[i]),
            None if math.isnan(misaligned[i]) else int(misaligned[i]),
            _DIRECTION_CODES.get(directions[i], 0),
            actions.get((i, "positive"), _NO_ACTION),
            actions.get((i, "negative"), _NO_ACTION),
            stated.get(i, []),
            chosen.get(i, []),
            stated_side[i],
            chosen_side[i],
        ]
        for i, key in enumerate(keys)
    ]


def _plain(column: pd.Series) -> list[Any]:
    """Python objects of a column (iterating Arrow-backed strings directly is slow)."""
    return column.to_numpy(dtype=object).tolist()


def _sides(values: np.ndarray) -> list[int | None]:
    """1 or 0 per value by the metrics' threshold (`binarize`), None where there is no value."""
    return [None if math.isnan(b) else int(b) for b in binarize(values).tolist()]


def _round(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 4)


def _actions_by_pair(
    actions: pd.DataFrame | None, position: dict[tuple[str, str, str], int], strings: _Strings
) -> dict[tuple[int, str], list[int]]:
    if actions is None or not {"country", "topic", "value", "polarity"} <= set(actions.columns):
        return {}
    out: dict[tuple[int, str], list[int]] = {}
    cols = [
        _plain(actions[c]) if c in actions.columns else [None] * len(actions)
        for c in ("action", "explanation", "attributions")
    ]
    for row in zip(
        *(_plain(actions[c].astype(str)) for c in ("country", "topic", "value", "polarity")),
        *cols,
        strict=True,
    ):
        i = position.get((row[0], row[1], row[2]))
        if i is not None:
            out[(i, row[3].strip().lower())] = [
                strings(row[4]),
                strings(row[5]),
                strings(_attributions(row[6])),
            ]
    return out


def _attributions(value: object) -> str | None:
    """Attribution spans as one line, read as the VIA reader reads them (lists, JSON or literals)."""
    spans = parse_attributions(value)
    return " · ".join(spans) if spans else None


def _responses(
    table: pd.DataFrame | None,
    position: dict[tuple[str, str, str], int],
    strings: _Strings,
    columns: list[str],
    numeric: frozenset[str] | set[str] = frozenset(),
) -> dict[int, list[list[object]]]:
    if table is None or not {"country", "topic", "value"} <= set(table.columns):
        return {}
    n = len(table)
    fields: list[Sequence[object]] = []
    for name in columns:
        if name not in table.columns:
            fields.append([None if name in numeric else -1] * n)
        elif name in numeric:
            values = pd.to_numeric(table[name], errors="coerce").round(4).astype(object)
            fields.append(values.where(values.notna(), None).tolist())
        else:
            fields.append(_string_ids(table[name], strings))
    out: dict[int, list[list[object]]] = {}
    keys = zip(*(_plain(table[c].astype(str)) for c in ("country", "topic", "value")), strict=True)
    for key, *record in zip(keys, *fields, strict=True):
        i = position.get(key)
        if i is not None:
            out.setdefault(i, []).append(record)
    return out


def _string_ids(column: pd.Series, strings: _Strings) -> list[int]:
    """Interned ids of a text column, interning each distinct text once."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    ids = [strings(u) for u in uniques]
    return [ids[c] if c >= 0 else -1 for c in codes.tolist()]
