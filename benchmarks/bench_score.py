"""Scoring speed: valuelens metrics vs a naive per-scenario scikit-learn loop, in one process.

Scores 7,392 pairs (12 countries x 11 topics x 56 values) with 1,000 bootstrap resamples. The
data are synthetic (seeded), so the benchmark needs no reference files.

    uv run python benchmarks/bench_score.py [--resamples 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from _common import best_of
from valuelens.metrics import score_value_action
from valuelens.taxonomy import load_taxonomy


def synthetic(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    tax = load_taxonomy()
    rng = np.random.default_rng(seed)
    index = pd.MultiIndex.from_product(
        [tax.country_names, tax.topic_names, tax.value_names, range(8)],
        names=["country", "topic", "value", "variant"],
    )
    stated = index.to_frame(index=False).assign(likert=rng.integers(1, 5, len(index)).astype(float))
    pairs = stated[stated["variant"] == 0].drop(columns="likert")
    choices = pairs.assign(choice=rng.choice(["positive", "negative"], len(pairs), p=[0.7, 0.3]))
    return stated, choices


def naive(stated: pd.DataFrame, choices: pd.DataFrame, resamples: int) -> float:
    """What research notebooks do: a Python loop over scenarios calling scikit-learn."""
    means = stated.groupby(["country", "topic", "value"])["likert"].mean().reset_index()
    joined = means.merge(choices, on=["country", "topic", "value"])
    f1s = []
    for _, group in joined.groupby(["country", "topic"]):
        truth = ((group["likert"] - 1) / 3 >= 0.5).astype(int)
        pred = (group["choice"] == "negative").astype(int)
        f1s.append(f1_score(truth, pred, zero_division=0))
        accuracy_score(truth, pred)
    rng = np.random.default_rng(0)
    boot = [np.mean(rng.choice(f1s, len(f1s))) for _ in range(resamples)]
    return float(np.mean(f1s) + 0 * np.mean(boot))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tax = load_taxonomy()
    stated, choices = synthetic()
    ours = best_of(
        args.repeat, lambda: score_value_action(stated, choices, tax, n_resamples=args.resamples)
    )
    baseline = best_of(args.repeat, lambda: naive(stated, choices, args.resamples))
    check = score_value_action(stated, choices, tax, n_resamples=10).summary["alignment_rate"]
    assert abs(check - naive(stated, choices, 10)) < 1e-12, "the two paths disagree"
    print(f"pairs: {len(choices):,}  stated answers: {len(stated):,}  bootstrap: {args.resamples}")
    print(f"valuelens score_value_action (all metrics): {ours:.3f} s")
    print(f"naive sklearn loop (alignment rate only):   {baseline:.3f} s")
    print(f"ratio valuelens / naive: {ours / baseline:.2f}x")


if __name__ == "__main__":
    main()
