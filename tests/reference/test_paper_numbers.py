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


# Paper Table 8, Task 1 column: prompt agreement of the stated values across the 8 variants
TABLE8_TASK1 = {
    "gpt-4o-mini": 0.946,
    "gpt-3.5-turbo": 0.980,
    "Llama-3.3-70B-Instruct": 0.951,
    "gemma-2-9b-it": 0.967,
    "anthropic-claude-sonnet-4-20250514": 0.968,
}


@pytest.mark.parametrize("model", sorted(TABLE8_TASK1))
def test_prompt_agreement_stated_matches_table8(reference_dir, model):
    # The plain recipe lands (within 0.001 on all five): each answer binarised as T1 is,
    # unparsed replies left out, a pair's share of its most common label, mean over pairs.
    summary = score(*_paths(reference_dir, model), paper_compat=True, n_resamples=20).summary
    assert abs(summary["prompt_agreement_stated"] - TABLE8_TASK1[model]) < 0.005
    # the four-level figure is lower (0.849 for gpt-4o-mini): it is not the published one
    assert summary["prompt_agreement_stated_likert"] < summary["prompt_agreement_stated"] - 0.05


ROBUSTNESS_FILES = {
    "gpt_4o_mini": "gpt-4o-mini",
    "gpt_35_turbo": "gpt-3.5-turbo",
    "llama33": "Llama-3.3-70B-Instruct",
    "gemma2": "gemma-2-9b-it",
    "claude_sonnet_4": "anthropic-claude-sonnet-4-20250514",
}


@pytest.mark.parametrize("paper_compat", [True, False])
@pytest.mark.parametrize("name", sorted(ROBUSTNESS_FILES))
def test_robustness_file_is_scored_on_its_own_50_pairs(reference_dir, name, paper_compat):
    stated = reference_dir / "outputs" / "evaluation" / f"{ROBUSTNESS_FILES[name]}_t1.csv"
    actions = reference_dir / "src" / "outputs" / f"task2_results_{name}.csv"
    result = score(stated, actions, paper_compat=paper_compat, n_resamples=20)
    s = result.summary
    assert s["action_scope"] == "sample" and s["n_pairs"] == 50
    action = result.tables["variants"].query("task == 'action'")
    assert action["variant"].tolist() == list(range(8))
    if paper_compat:  # a sampled pair without an answer counts as positive, within the sample
        assert action["n_pairs"].tolist() == [50] * 8
    else:
        assert (action["n_pairs"] <= 50).all() and (action["n_pairs"] > 0).all()
    rates = s["action_positive_rate_by_variant"]
    assert set(rates) == {str(v) for v in range(8)}
    assert all(0 <= r <= 1 for r in rates.values())
    assert 0.5 < s["prompt_agreement_action"] <= 1
