"""A paired test between two value-action runs, over the scenarios both of them scored.

Both runs are compared on the same pairs: the (country, topic, value) pairs that each of them
scored (stated and chosen both present). The unit of resampling is the scenario (country x
topic), as for the runs' own confidence intervals.

* **Difference**: first run minus second run, for the alignment rate (mean over scenarios of
  the per-scenario F1), the accuracy (likewise) and the mean distance (mean over country x value
  of |mean stated - mean chosen| over the country's topics, as `distance_mean`).
* **95% interval**: a seeded percentile bootstrap that draws the same scenarios, with
  replacement, for both runs. The distance is a mean of absolute values, which a resample with
  repeated scenarios inflates (fewer distinct topics per country, noisier means); its interval
  is shifted by the bootstrap's estimate of that bias (mean of the resamples minus the observed
  difference) so that it stays centred on the observed difference.
* **p-value** (two-sided): a paired permutation test. Under the null hypothesis the two runs'
  answers are exchangeable within each scenario, so each permutation swaps the two runs in a
  random subset of scenarios. For the alignment rate and the accuracy this is the sign-flip
  test on the per-scenario differences; for the distance the statistic is recomputed. With few
  scenarios (2**n at most `n_permutations`) every swap pattern is enumerated and the p-value is
  exact; otherwise p = (1 + #{|permuted| >= |observed|}) / (1 + n_permutations).

Example:
    >>> import pandas as pd
    >>> a = pd.DataFrame({"country": ["c"] * 4, "topic": ["t"] * 4, "value": list("wxyz"),
    ...                   "stated": [0.0, 1.0, 1.0, 0.0], "chosen": [0.0, 1.0, 1.0, 0.0]})
    >>> test = paired_test(a, a, n_resamples=10)
    >>> test.differences["alignment_rate"].difference, test.differences["alignment_rate"].p_value
    (0.0, 1.0)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from valuelens._errors import ValuelensError
from valuelens.metrics._alignment import scores_by_group

PAIR_KEYS = ["country", "topic", "value"]
PAIRED_MEASURES: tuple[str, ...] = ("alignment_rate", "accuracy", "distance_mean")
"""The measures `paired_test` compares, in the order it reports them."""
_CHUNK = 2000  # resamples or permutations handled at once (bounds memory)
_TOLERANCE = 1e-12  # permuted statistics this close to the observed one count as ties

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class PairedDifference:
    """One measure compared between two runs on their common scenarios."""

    measure: str
    first: float
    """The first run's value on the common pairs."""
    second: float
    """The second run's value on the common pairs."""
    difference: float
    """first - second."""
    ci_low: float
    ci_high: float
    p_value: float
    """Two-sided p-value of the paired permutation test."""


@dataclass(frozen=True)
class PairedTest:
    """The paired comparison of two runs: one `PairedDifference` per measure."""

    n_pairs: int
    n_scenarios: int
    differences: dict[str, PairedDifference]
    n_resamples: int
    n_permutations: int
    """Permutations used; 2**n_scenarios when the test is exact."""
    exact: bool
    seed: int
    level: float


@dataclass(frozen=True)
class _Scored:
    """Per-scenario scores and per-scenario x value differences of one run."""

    f1: Floats  # (S,)
    accuracy: Floats  # (S,)
    gap: Floats  # (S, K*V): stated - chosen, placed in the block of the scenario's country


def paired_test(
    first: pd.DataFrame,
    second: pd.DataFrame,
    *,
    n_resamples: int = 1000,
    n_permutations: int = 10000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedTest:
    """Compare two runs' pairs tables on the pairs both scored (see the module docstring).

    Args:
        first: pairs of the first run (country, topic, value, stated, chosen).
        second: pairs of the second run, same columns.
        n_resamples: bootstrap resamples of the scenarios for the intervals.
        n_permutations: random swap patterns for the p-value (fewer scenarios: exact).
        seed: seeds both the bootstrap and the permutations.
        level: confidence level of the intervals.

    Raises:
        ValuelensError: when `n_resamples` or `n_permutations` is below 1 or `level` is not
            between 0 and 1.
    """
    if n_resamples < 1 or n_permutations < 1 or not 0 < level < 1:
        raise ValuelensError(
            "the paired test needs at least 1 resample and 1 permutation and a level in (0, 1), "
            f"not {n_resamples}, {n_permutations} and {level}"
        )
    common = _common_pairs(first, second)
    scenario = pd.MultiIndex.from_frame(common[["country", "topic"]])
    codes, scenarios = pd.factorize(scenario)
    n_scenarios = len(scenarios)
    exact = n_scenarios <= math.log2(n_permutations)
    used = 2**n_scenarios if exact else n_permutations
    if n_scenarios == 0:
        nan = math.nan
        empty = {m: PairedDifference(m, nan, nan, nan, nan, nan, nan) for m in PAIRED_MEASURES}
        return PairedTest(0, 0, empty, n_resamples, used, exact, seed, level)

    cells, count = _cell_layout(common, codes, n_scenarios)
    a, b = (_scored(common, side, codes, cells, n_scenarios) for side in ("a", "b"))
    boot_rng, perm_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    boot = _bootstrap(a, b, count, n_resamples, boot_rng)
    swaps = _swap_patterns(n_scenarios, n_permutations, exact, perm_rng)
    perm = _permutations(a, b, count, swaps)
    ones = np.ones((1, n_scenarios))
    observed = {
        "alignment_rate": (float(a.f1.mean()), float(b.f1.mean())),
        "accuracy": (float(a.accuracy.mean()), float(b.accuracy.mean())),
        "distance_mean": (
            float(_distance(ones, a.gap, count)[0]),
            float(_distance(ones, b.gap, count)[0]),
        ),
    }
    tail = (1 - level) / 2
    differences = {}
    for measure in PAIRED_MEASURES:
        one, two = observed[measure]
        diff = one - two
        low, high = np.quantile(boot[measure], [tail, 1 - tail])
        if measure == "distance_mean":
            bias = float(np.mean(boot[measure])) - diff
            low, high = low - bias, high - bias
        extreme = int((np.abs(perm[measure]) >= abs(diff) - _TOLERANCE).sum())
        p_value = extreme / used if exact else (1 + extreme) / (1 + used)
        differences[measure] = PairedDifference(
            measure, one, two, diff, float(low), float(high), min(1.0, p_value)
        )
    return PairedTest(len(common), n_scenarios, differences, n_resamples, used, exact, seed, level)


def _common_pairs(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """One row per pair scored by both runs: keys, stated_a, chosen_a, stated_b, chosen_b."""
    sides = []
    for table, suffix in ((first, "a"), (second, "b")):
        scored = table[[*PAIR_KEYS, "stated", "chosen"]].dropna(subset=["stated", "chosen"])
        scored = scored.astype({k: str for k in PAIR_KEYS}).drop_duplicates(PAIR_KEYS)
        sides.append(
            scored.rename(columns={"stated": f"stated_{suffix}", "chosen": f"chosen_{suffix}"})
        )
    return sides[0].merge(sides[1], on=PAIR_KEYS, how="inner", sort=False)


def _cell_layout(
    common: pd.DataFrame, codes: NDArray[np.intp], n_scenarios: int
) -> tuple[NDArray[np.intp], Floats]:
    """The (country, value) cell of each pair, and a scenario x cell matrix of pair counts."""
    cells, uniques = pd.factorize(pd.MultiIndex.from_frame(common[["country", "value"]]))
    count = np.zeros((n_scenarios, len(uniques)))
    np.add.at(count, (codes, cells), 1.0)
    return cells, count


def _scored(
    common: pd.DataFrame, side: str, codes: NDArray[np.intp], cells: NDArray[np.intp], n: int
) -> _Scored:
    frame = common[["country", "topic"]].assign(
        scenario=codes, stated=common[f"stated_{side}"], chosen=common[f"chosen_{side}"]
    )
    scores = scores_by_group(frame, ["scenario"], "stated", "chosen").set_index("scenario")
    scores = scores.reindex(range(n))
    gap = np.zeros((n, int(cells.max()) + 1))
    np.add.at(gap, (codes, cells), (frame["stated"] - frame["chosen"]).to_numpy(dtype=float))
    return _Scored(
        scores["f1"].to_numpy(dtype=float), scores["accuracy"].to_numpy(dtype=float), gap
    )


def _distance(weights: Floats, gap: Floats, count: Floats) -> Floats:
    """Mean over cells of |weighted mean gap| for each row of scenario weights."""
    numerator = weights @ gap
    denominator = weights @ count
    with np.errstate(invalid="ignore", divide="ignore"):
        cell = np.abs(numerator / denominator)
    cell[denominator == 0] = np.nan
    means: Floats = np.nanmean(cell, axis=1)
    return means


def _bootstrap(
    a: _Scored, b: _Scored, count: Floats, n_resamples: int, rng: np.random.Generator
) -> dict[str, Floats]:
    """Bootstrap differences (first - second) per measure, the same scenarios for both runs."""
    n = len(a.f1)
    rate_gap, accuracy_gap = a.f1 - b.f1, a.accuracy - b.accuracy
    out: dict[str, list[Floats]] = {m: [] for m in PAIRED_MEASURES}
    for start in range(0, n_resamples, _CHUNK):
        size = min(_CHUNK, n_resamples - start)
        picks = rng.integers(0, n, size=(size, n))
        weights = np.zeros((size, n))
        np.add.at(weights, (np.arange(size)[:, None], picks), 1.0)
        out["alignment_rate"].append(weights @ rate_gap / n)
        out["accuracy"].append(weights @ accuracy_gap / n)
        distance = _distance(weights, a.gap, count) - _distance(weights, b.gap, count)
        out["distance_mean"].append(distance)
    return {m: np.concatenate(v) for m, v in out.items()}


def _swap_patterns(
    n: int, n_permutations: int, exact: bool, rng: np.random.Generator
) -> list[Floats]:
    """Chunks of 0/1 rows, 1 where a permutation swaps the two runs in that scenario."""
    if exact:
        every = np.array(list(itertools.product((0.0, 1.0), repeat=n)), dtype=float)
        return [every[i : i + _CHUNK] for i in range(0, len(every), _CHUNK)]
    chunks = []
    for start in range(0, n_permutations, _CHUNK):
        size = min(_CHUNK, n_permutations - start)
        chunks.append(rng.integers(0, 2, size=(size, n)).astype(float))
    return chunks


def _permutations(a: _Scored, b: _Scored, count: Floats, swaps: list[Floats]) -> dict[str, Floats]:
    """Permuted differences (first - second) per measure, one per swap pattern."""
    n = len(a.f1)
    rate_gap, accuracy_gap = a.f1 - b.f1, a.accuracy - b.accuracy
    gap_a, gap_b = a.gap.sum(axis=0), b.gap.sum(axis=0)
    total = count.sum(axis=0)
    exchange = b.gap - a.gap
    out: dict[str, list[Floats]] = {m: [] for m in PAIRED_MEASURES}
    for swap in swaps:
        signs = 1.0 - 2.0 * swap
        out["alignment_rate"].append(signs @ rate_gap / n)
        out["accuracy"].append(signs @ accuracy_gap / n)
        moved = swap @ exchange  # what run a takes from run b in the swapped scenarios
        with np.errstate(invalid="ignore", divide="ignore"):
            first = np.nanmean(np.abs((gap_a + moved) / total), axis=1)
            second = np.nanmean(np.abs((gap_b - moved) / total), axis=1)
        out["distance_mean"].append(first - second)
    return {m: np.concatenate(v) for m, v in out.items()}
