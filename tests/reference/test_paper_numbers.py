"""valuelens reproduces the published ValueActionLens numbers from the authors' raw outputs."""

import numpy as np
import pandas as pd
import pytest

from valuelens import score
from valuelens.data import load_stated

# (overall alignment rate, misaligned pairs out of 7,392), paper Tables 3/13 and 4
PUBLISHED = {
    "gpt-4o-mini": (0.564, 1144),
    "gemma-2-9b-it": (0.461, 1192),
    "Llama-3.3-70B-Instruct": (0.434, 1086),
    "gpt-3.5-turbo": (0.179, 1421),
}


def _paths(reference_dir, model):
    return (
        reference_dir / "outputs" / "evaluation" / f"{model}_t1.csv",
        reference_dir / "reconstructed" / f"{model}_t1t2_joined.reconstructed.csv",
    )


@pytest.mark.parametrize("model", sorted(PUBLISHED))
def test_paper_compat_reproduces_published_numbers(reference_dir, model):
    rate, misaligned = PUBLISHED[model]
    summary = score(*_paths(reference_dir, model), paper_compat=True, n_resamples=200).summary
    assert round(summary["alignment_rate"], 3) == rate
    assert summary["misaligned"] == misaligned
    assert summary["n_pairs"] == 7392
    low, high = summary["alignment_rate_ci"]
    assert low < summary["alignment_rate"] < high


def test_per_country_published_for_gpt4o_mini(reference_dir):
    summary = score(
        *_paths(reference_dir, "gpt-4o-mini"), paper_compat=True, n_resamples=10
    ).summary
    assert round(summary["alignment_rate_by_country"]["United States"], 2) == 0.67
    assert round(summary["alignment_rate_by_country"]["Philippines"], 2) == 0.47


@pytest.mark.parametrize("model", [*sorted(PUBLISHED), "anthropic-claude-sonnet-4-20250514"])
def test_task1_parser_agrees_with_reconstructed_means(reference_dir, model):
    stated_path, joined_path = _paths(reference_dir, model)
    stated = load_stated(stated_path, paper_compat=True)
    ours = stated.groupby(["country", "topic", "value"])["likert"].mean().rename("ours")
    joined = pd.read_csv(joined_path).join(ours, on=["country", "topic", "value"])
    # the binary inclination, which every published rate depends on, matches on every pair
    assert ((joined["ours"] - 1) / 3 >= 0.5).astype(int).tolist() == joined["t1_binary"].tolist()
    close = np.isclose(joined["ours"], joined["t1_mean_likert"], atol=1e-6)
    # gemma and gpt-3.5 differ in the mean (not the binary) on a few pairs of 2-3 scenarios whose
    # released Task 1 rows differ from what the authors' notebooks saw; everything else is exact
    assert close.mean() > 0.99
    if model in {"gpt-4o-mini", "Llama-3.3-70B-Instruct", "anthropic-claude-sonnet-4-20250514"}:
        assert close.all()


def test_default_mode_excludes_pairs_without_choice(reference_dir):
    paper = score(*_paths(reference_dir, "gpt-4o-mini"), paper_compat=True, n_resamples=10).summary
    robust = score(*_paths(reference_dir, "gpt-4o-mini"), n_resamples=10).summary
    assert robust["n_pairs_without_choice"] == 198
    assert robust["n_pairs_scored"] == 7392 - 198
    assert paper["n_pairs_scored"] == 7392
    assert abs(robust["alignment_rate"] - paper["alignment_rate"]) < 0.01
