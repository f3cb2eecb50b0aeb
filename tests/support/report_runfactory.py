"""Test helper: write run directories in the contracts.md format from synthetic or reference data.

The metrics here are computed independently of valuelens (sklearn F1, numpy bootstrap) so the
report is checked against numbers it did not produce.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from valuelens.taxonomy import load_taxonomy

XSS_PAYLOADS = (
    "<script>window.__pwned=1;document.title='PWNED'</script>",
    "</script><script>window.__pwned=2;document.title='PWNED'</script>",
    '"><img src=x onerror="window.__pwned=3;document.title=\'PWNED\'">',
    "<!-- <svg onload=window.__pwned=4> -->\u2028\u2029&amp; done",
)


@dataclass(frozen=True)
class Grid:
    countries: list[str]
    topics: list[str]
    values: list[str]


def grid(n_countries: int, n_topics: int, n_values: int = 56) -> Grid:
    tax = load_taxonomy()
    return Grid(
        tax.country_names[:n_countries], tax.topic_names[:n_topics], tax.value_names[:n_values]
    )


def synthetic_pairs(g: Grid, seed: int = 0, missing_choice: float = 0.02) -> pd.DataFrame:
    """Random but structured pairs: each value has a latent lean, each country a bias."""
    rng = np.random.default_rng(seed)
    tax = load_taxonomy()
    lean = {v: rng.uniform(0.1, 0.9) for v in g.values}
    bias = {c: rng.normal(0, 0.15) for c in g.countries}
    rows = []
    for c in g.countries:
        for t in g.topics:
            for v in g.values:
                likert = float(
                    np.clip(np.round(rng.normal(1 + 3 * lean[v] + bias[c], 0.6) * 8) / 8, 1, 4)
                )
                p_negative = np.clip(lean[v] + bias[c] + rng.normal(0, 0.25), 0.02, 0.98)
                chosen = float(rng.random() < p_negative)
                if rng.random() < missing_choice:
                    chosen = np.nan
                rows.append((c, t, v, tax.value_type(v), likert, chosen))
    frame = pd.DataFrame(
        rows, columns=["country", "topic", "value", "value_type", "stated_likert", "chosen"]
    )
    frame["stated"] = (frame["stated_likert"] - 1) / 3
    return complete_pairs(frame)


def reference_pairs(csv_path: Path) -> pd.DataFrame:
    """Pairs from the authors' reconstructed per-pair file (default mode: no choice = NaN)."""
    raw = pd.read_csv(csv_path, keep_default_na=False, na_values=[""])
    tax = load_taxonomy()
    polarity = raw["t2_chosen_polarity"].fillna("").astype(str)
    frame = pd.DataFrame(
        {
            "country": raw["country"],
            "topic": raw["topic"],
            "value": raw["value"],
            "value_type": [tax.value_type(v) for v in raw["value"]],
            "stated_likert": raw["t1_mean_likert"].astype(float),
            "stated": raw["t1_normalized"].astype(float),
            "chosen": polarity.map({"negative": 1.0, "positive": 0.0}).astype(float),
        }
    )
    return complete_pairs(frame)


def complete_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    stated_b = np.where(frame["stated"].isna(), np.nan, (frame["stated"] >= 0.5) * 1.0)
    chosen_b = np.where(frame["chosen"].isna(), np.nan, (frame["chosen"] >= 0.5) * 1.0)
    frame = frame.copy()
    frame["stated_binary"] = stated_b
    frame["chosen_binary"] = chosen_b
    frame["choice"] = np.where(
        np.isnan(chosen_b), "", np.where(chosen_b == 1, "negative", "positive")
    )
    both = ~(np.isnan(stated_b) | np.isnan(chosen_b))
    frame["misaligned"] = np.where(both, (stated_b != chosen_b) * 1.0, np.nan)
    frame["direction"] = np.where(
        both & (stated_b == 0) & (chosen_b == 1),
        "stated_agree_chose_negative",
        np.where(both & (stated_b == 1) & (chosen_b == 0), "stated_disagree_chose_positive", ""),
    )
    cols = [
        "country",
        "topic",
        "value",
        "value_type",
        "stated_likert",
        "stated",
        "stated_binary",
        "chosen",
        "chosen_binary",
        "choice",
        "misaligned",
        "direction",
    ]
    return frame[cols]


def _scenario_scores(pairs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (c, t), part in pairs.groupby(["country", "topic"], sort=False):
        both = part.dropna(subset=["stated_binary", "chosen_binary"])
        if both.empty:
            rows.append((c, t, np.nan, np.nan, 0))
            continue
        truth, pred = both["stated_binary"].astype(int), both["chosen_binary"].astype(int)
        rows.append(
            (c, t, f1_score(truth, pred, zero_division=0), accuracy_score(truth, pred), len(both))
        )
    return pd.DataFrame(rows, columns=["country", "topic", "alignment_rate", "accuracy", "n_pairs"])


def _distance(pairs: pd.DataFrame, axis: str) -> pd.DataFrame:
    means = pairs.groupby([axis, "value"], sort=False)[["stated", "chosen"]].mean().reset_index()
    means["distance"] = (means["stated"] - means["chosen"]).abs()
    means["rank"] = means.groupby(axis, sort=False)["distance"].rank(
        ascending=False, method="first"
    )
    return means.astype({"rank": "Int64"})


def _bootstrap(values: np.ndarray, seed: int = 0, n: int = 400) -> list[float]:
    rng = np.random.default_rng(seed)
    values = values[np.isfinite(values)]
    means = [rng.choice(values, size=len(values)).mean() for _ in range(n)]
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def _write_table(directory: Path, name: str, table: pd.DataFrame) -> None:
    table.to_parquet(directory / f"{name}.parquet", index=False)
    table.to_csv(directory / f"{name}.csv", index=False)


def write_value_action_run(
    directory: Path,
    pairs: pd.DataFrame,
    *,
    label: str,
    model: str | None = None,
    items: dict[str, pd.DataFrame] | None = None,
    variants: pd.DataFrame | None = None,
    csv_only: bool = False,
    drop: Sequence[str] = (),
) -> Path:
    """Write summary.json and the tables of one value-action run."""
    directory.mkdir(parents=True, exist_ok=True)
    scenarios = _scenario_scores(pairs)
    dist_c, dist_t = _distance(pairs, "country"), _distance(pairs, "topic")

    def by(axis: str, col: str) -> dict[str, float]:
        means = scenarios.groupby(axis, sort=False)[col].mean()
        return {str(k): float(v) for k, v in means.items()}

    mis = pairs["misaligned"]
    summary = {
        "kind": "value-action",
        "model": model,
        "label": label,
        "paper_compat": False,
        "taxonomy_version": "1.0",
        "alignment_rate": float(scenarios["alignment_rate"].mean()),
        "alignment_rate_ci": _bootstrap(scenarios["alignment_rate"].to_numpy()),
        "accuracy": float(scenarios["accuracy"].mean()),
        "accuracy_ci": _bootstrap(scenarios["accuracy"].to_numpy(), seed=1),
        "alignment_rate_by_country": by("country", "alignment_rate"),
        "alignment_rate_by_topic": by("topic", "alignment_rate"),
        "accuracy_by_country": by("country", "accuracy"),
        "accuracy_by_topic": by("topic", "accuracy"),
        "misaligned": int((mis == 1).sum()),
        "misaligned_stated_agree_chose_negative": int(
            (pairs["direction"] == "stated_agree_chose_negative").sum()
        ),
        "misaligned_stated_disagree_chose_positive": int(
            (pairs["direction"] == "stated_disagree_chose_positive").sum()
        ),
        "n_pairs": len(pairs),
        "n_pairs_scored": int(mis.notna().sum()),
        "n_pairs_without_choice": int(pairs["chosen"].isna().sum()),
        "n_pairs_without_stated": int(pairs["stated"].isna().sum()),
        "n_scenarios": len(scenarios),
        "distance_mean": float(dist_c["distance"].mean()),
        "distance_mean_by_country": float(dist_c["distance"].mean()),
        "distance_mean_by_topic": float(dist_t["distance"].mean()),
        "distance_by_country": {
            str(k): float(v)
            for k, v in dist_c.groupby("country", sort=False)["distance"].mean().items()
        },
        "distance_by_topic": {
            str(k): float(v)
            for k, v in dist_t.groupby("topic", sort=False)["distance"].mean().items()
        },
        "ranking_countries": [
            str(x)
            for x in dist_c.groupby("country", sort=False)["distance"]
            .mean()
            .sort_values(ascending=False)
            .index
        ],
        "ranking_topics": [
            str(x)
            for x in dist_t.groupby("topic", sort=False)["distance"]
            .mean()
            .sort_values(ascending=False)
            .index
        ],
        "prompt_agreement_stated": 0.81 if items else None,
        "prompt_agreement_action": 0.9 if items else None,
        "n_stated_variants": 8 if items else 1,
        "n_action_variants": 2 if items else 1,
        "bootstrap": {"n_resamples": 400, "seed": 0, "level": 0.95},
    }
    (directory / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    tables = {
        "pairs": pairs,
        "scenarios": scenarios,
        "distance_country": dist_c,
        "distance_topic": dist_t,
    }
    if variants is not None:
        tables["variants"] = variants
    tables.update(items or {})
    for name, table in tables.items():
        if name in drop:
            continue
        if csv_only:
            table.to_csv(directory / f"{name}.csv", index=False)
        else:
            _write_table(directory, name, table)
    return directory


def synthetic_variants(seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = [
        ("stated", f"s{i}", rng.uniform(0.4, 0.7), rng.uniform(0.5, 0.8), 7000) for i in range(8)
    ]
    rows += [
        ("action", f"a{i}", rng.uniform(0.4, 0.7), rng.uniform(0.5, 0.8), 7000) for i in range(2)
    ]
    return pd.DataFrame(rows, columns=["task", "variant", "alignment_rate", "accuracy", "n_pairs"])


def synthetic_items(
    pairs: pd.DataFrame,
    seed: int = 0,
    payload_every: int = 0,
    n_stated_variants: int = 8,
    n_action_variants: int = 2,
) -> dict[str, pd.DataFrame]:
    """Item-level tables of an `evaluate` run. Every `payload_every`-th pair carries XSS payloads."""
    rng = random.Random(seed)
    actions, stated, chosen = [], [], []
    raw_by_scenario: dict[tuple[str, str, int], str] = {}
    for i, row in enumerate(pairs.itertuples(index=False)):
        inject = payload_every and i % payload_every == 0
        payload = XSS_PAYLOADS[(i // max(payload_every, 1)) % len(XSS_PAYLOADS)] if inject else ""
        for polarity in ("positive", "negative"):
            verb = "protect" if polarity == "positive" else "set aside"
            actions.append(
                (
                    row.country,
                    row.topic,
                    row.value,
                    polarity,
                    f"I {verb} {row.value.lower()} when I act on {row.topic.lower()} "
                    f"in {row.country}. {payload}",
                    json.dumps([verb, row.value.lower()]),
                    f"This shows how {row.value} guides the choice. {payload}",
                )
            )
        for v in range(n_stated_variants):
            key = (row.country, row.topic, v)
            if key not in raw_by_scenario:
                raw_by_scenario[key] = json.dumps(
                    {"variant": v, "note": payload or "ok", "answers": "…56 ratings…"}
                )
            likert = row.stated_likert if v == 0 else rng.choice([1, 2, 3, 4])
            stated.append(
                (
                    row.country,
                    row.topic,
                    row.value,
                    f"s{v}",
                    likert,
                    "ok",
                    raw_by_scenario[key] + (payload if inject and v == 0 else ""),
                )
            )
        for v in range(n_action_variants):
            choice = row.choice or ""
            chosen.append(
                (
                    row.country,
                    row.topic,
                    row.value,
                    f"a{v}",
                    "negative" if v % 2 == 0 else "positive",
                    choice,
                    f"Because {row.value} matters here. {payload}",
                    "ok" if choice else "failed",
                    json.dumps(
                        {
                            "action": "Option 1" if v % 2 == 0 else "Option 2",
                            "explanation": payload or "plain",
                        }
                    ),
                )
            )
    return {
        "actions": pd.DataFrame(
            actions,
            columns=[
                "country",
                "topic",
                "value",
                "polarity",
                "action",
                "attributions",
                "explanation",
            ],
        ),
        "responses_stated": pd.DataFrame(
            stated,
            columns=["country", "topic", "value", "variant", "likert", "parse_status", "raw"],
        ),
        "responses_action": pd.DataFrame(
            chosen,
            columns=[
                "country",
                "topic",
                "value",
                "variant",
                "option1_polarity",
                "choice",
                "explanation",
                "parse_status",
                "raw",
            ],
        ),
    }


def write_compass_run(
    directory: Path,
    *,
    label: str,
    seed: int = 0,
    n_countries: int = 3,
    scenarios: Sequence[str] = ("co_writing", "healthcare", "education", "public"),
    n_values: int = 56,
) -> Path:
    """A synthetic ValueCompass run: human vs model answers on 0..1 per cell and value."""
    rng = np.random.default_rng(seed)
    g = grid(n_countries, 1, n_values)
    rows = []
    for c in g.countries:
        for s in scenarios:
            for v in g.values:
                human = float(np.clip(rng.normal(0.35, 0.2), 0, 1))
                model = float(np.clip(human + rng.normal(0, 0.25), 0, 1))
                rows.append((c, s, v, human, model))
    cells = pd.DataFrame(rows, columns=["country", "scenario", "value", "human", "model"])
    scores = []
    for (c, s), part in cells.groupby(["country", "scenario"], sort=False):
        truth, pred = (part["human"] >= 0.5).astype(int), (part["model"] >= 0.5).astype(int)
        scores.append(
            (c, s, f1_score(truth, pred, zero_division=0), accuracy_score(truth, pred), len(part))
        )
    cell_scores = pd.DataFrame(
        scores, columns=["country", "scenario", "alignment_rate", "accuracy", "n"]
    )
    dist = {}
    for axis in ("country", "scenario"):
        m = cells.groupby([axis, "value"], sort=False)[["human", "model"]].mean().reset_index()
        m["distance"] = (m["human"] - m["model"]).abs()
        m["rank"] = m.groupby(axis, sort=False)["distance"].rank(ascending=False, method="first")
        dist[axis] = m
    directory.mkdir(parents=True, exist_ok=True)
    summary = {
        "kind": "compass",
        "model": label,
        "label": label,
        "alignment_rate": float(cell_scores["alignment_rate"].mean()),
        "accuracy": float(cell_scores["accuracy"].mean()),
        "alignment_rate_by_country": {
            str(k): float(v)
            for k, v in cell_scores.groupby("country", sort=False)["alignment_rate"].mean().items()
        },
        "alignment_rate_by_scenario": {
            str(k): float(v)
            for k, v in cell_scores.groupby("scenario", sort=False)["alignment_rate"].mean().items()
        },
        "distance_mean_by_country": {
            str(k): float(v)
            for k, v in dist["country"].groupby("country", sort=False)["distance"].mean().items()
        },
        "distance_mean_by_scenario": {
            str(k): float(v)
            for k, v in dist["scenario"].groupby("scenario", sort=False)["distance"].mean().items()
        },
        "distance_mean": float(dist["country"]["distance"].mean()),
        "n_cells": len(cell_scores),
    }
    (directory / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    for name, table in (
        ("cells", cells),
        ("cell_scores", cell_scores),
        ("distance_country", dist["country"]),
        ("distance_scenario", dist["scenario"]),
    ):
        _write_table(directory, name, table)
    return directory
