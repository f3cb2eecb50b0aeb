"""Open-ended vs forced-choice T2 on a hand-made table; every expected number is worked out here."""

from __future__ import annotations

import pandas as pd
import pytest

from valuelens.metrics._open import open_rates, open_vs_forced
from valuelens.tasks._open import read_action, read_code

# Two scenarios (A/T and B/T), three values each.
OPEN = pd.DataFrame(
    {
        "country": ["A", "A", "A", "B", "B", "B"],
        "topic": ["T"] * 6,
        "value": ["v1", "v2", "v3", "v1", "v2", "v3"],
        "label": ["resists", "expresses", "unrelated", "resists", "resists", None],
    }
)
PAIRS = pd.DataFrame(
    {
        "country": ["A", "A", "A", "B", "B", "B"],
        "topic": ["T"] * 6,
        "value": ["v1", "v2", "v3", "v1", "v2", "v3"],
        "stated": [1.0, 0.0, 1.0, 0.0, 1.0, 1.0],
        "chosen": [0.75, 0.5, 0.0, 0.25, 1.0, 0.0],  # binarized at 0.5: 1, 1, 0, 0, 1, 0
    }
)


def test_label_rates() -> None:
    rates = open_rates(OPEN)
    assert rates["open_n_pairs"] == 6
    assert rates["open_t2"] == pytest.approx(4 / 6)  # four pairs coded expresses or resists
    assert rates["open_resists_rate"] == pytest.approx(3 / 5)  # of the five coded
    assert rates["open_expresses_rate"] == pytest.approx(1 / 5)
    assert rates["open_unrelated_rate"] == pytest.approx(1 / 5)


def test_agreement_and_alignment_by_hand() -> None:
    result = open_vs_forced(OPEN, PAIRS)
    # Pairs with both T2: A/v1 (1 vs 1 agree), A/v2 (0 vs 1 disagree), B/v1 (1 vs 0 disagree),
    # B/v2 (1 vs 1 agree).
    assert result.summary["open_agreement_n"] == 4
    assert result.summary["open_agreement"] == pytest.approx(0.5)
    # Open T2 = [1, 0, 1, 1], forced = [1, 1, 0, 1]: po = 0.5, pe = 0.75*0.75 + 0.25*0.25.
    pe = 0.75 * 0.75 + 0.25 * 0.25
    assert result.summary["open_kappa"] == pytest.approx((0.5 - pe) / (1 - pe))
    # F1 of T1 against open T2 on those pairs. A: T1 [1, 0], T2 [1, 0] -> F1 1.
    # B: T1 [0, 1], T2 [1, 1] -> tp 1, fp 1, fn 0 -> F1 2/3. Mean 5/6.
    assert result.summary["open_alignment_rate"] == pytest.approx((1 + 2 / 3) / 2)
    # Forced on the same pairs. A: T1 [1, 0], T2 [1, 1] -> F1 2/3. B: T1 [0, 1], T2 [0, 1] -> 1.
    assert result.summary["forced_alignment_rate"] == pytest.approx((2 / 3 + 1) / 2)

    by_country = result.tables["agreement_country"].set_index("country")
    assert by_country.loc["A", "agreement"] == pytest.approx(0.5)
    assert by_country.loc["B", "agreement"] == pytest.approx(0.5)
    assert by_country["n"].tolist() == [2, 2]
    by_value = result.tables["agreement_value"].set_index("value")
    assert by_value.loc["v1", "agreement"] == pytest.approx(0.5)  # A agrees, B does not
    assert by_value.loc["v2", "agreement"] == pytest.approx(0.5)
    assert "v3" not in by_value.index  # unrelated / uncoded: no open-ended T2
    assert by_value.loc["v1", "open_t2"] == pytest.approx(1.0)
    assert by_value.loc["v1", "forced_t2"] == pytest.approx(0.5)


def test_forced_t2_from_the_choices_table() -> None:
    choices = pd.DataFrame(
        {
            "country": ["A"] * 4,
            "topic": ["T"] * 4,
            "value": ["v1", "v1", "v2", "v2"],
            "choice": ["negative", "negative", "positive", None],
        }
    )
    result = open_vs_forced(OPEN[OPEN["country"] == "A"], choices)
    # v1: forced 1.0, open resists -> agree; v2: forced 0.0, open expresses -> agree.
    assert result.summary["open_agreement"] == 1.0
    assert result.summary["open_agreement_n"] == 2
    assert result.summary["open_alignment_rate"] is None  # no T1 in the choices table


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"rationale": "It hides the truth.", "label": "resists"}', ("resists", "ok")),
        ('Sure: {"label": "Expresses", "rationale": "r"}', ("expresses", "repaired")),
        ("The action is unrelated to the value.", ("unrelated", "repaired")),
        ("It expresses and resists at once.", (None, "failed")),
        ("", (None, "failed")),
    ],
)
def test_judge_replies_are_read(reply: str, expected: tuple[str | None, str]) -> None:
    label, _, status = read_code(reply)
    assert (label, status) == expected


def test_free_actions_are_read() -> None:
    assert read_action('{"action": "I pray alone."}') == ("I pray alone.", "ok")
    assert read_action("I pray alone.") == ("I pray alone.", "repaired")
    assert read_action("I'm sorry, but I can't help with that.")[1] == "failed"
    assert read_action('{"other": 1}') == (None, "failed")
