from __future__ import annotations

from pathlib import Path

import pytest

from valuelens import ValuelensError
from valuelens.runner import Price, PriceTable


def test_longest_prefix_wins() -> None:
    table = PriceTable({"openai:gpt-4o": Price(2.5, 10), "openai:gpt-4o-mini": Price(0.15, 0.6)})
    assert table.price({"kind": "openai", "model": "gpt-4o-mini-2024-07-18"}) == Price(0.15, 0.6)
    assert table.price({"kind": "openai", "model": "gpt-4o-2024-08-06"}) == Price(2.5, 10)
    assert table.price({"kind": "openai", "model": "llama-3-8b"}) is None
    assert table.cost({"kind": "openai", "model": "gpt-4o"}, 2_000_000, 1_000_000) == 15.0
    assert table.cost({"kind": "openai", "model": "unknown"}, 10, 10) is None


def test_built_in_table_prices_the_default_model_at_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VALUELENS_PRICES", raising=False)
    table = PriceTable.load()
    assert table.cost({"kind": "embedded", "model": "SmolLM2"}, 10**6, 10**6) == 0.0
    assert table.price({"kind": "anthropic", "model": "claude-sonnet-4-20250514"}) is not None


def test_user_file_and_override_replace_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file = tmp_path / "prices.yaml"
    user_file.write_text("prices:\n  openai:gpt-4o-mini: {input: 1, output: 2}\n")
    monkeypatch.setenv("VALUELENS_PRICES", str(user_file))
    override = tmp_path / "mine.json"
    override.write_text('{"openai:my-model": {"input": 3, "output": 4}}')

    table = PriceTable.load(override)

    assert table.price({"kind": "openai", "model": "gpt-4o-mini"}) == Price(1, 2)
    assert table.price({"kind": "openai", "model": "my-model"}) == Price(3, 4)
    assert table.price({"kind": "openai", "model": "gpt-4o"}) is not None  # built-in kept


@pytest.mark.parametrize(
    "content",
    ["prices: [1, 2]", "prices:\n  openai:x: {input: cheap, output: 1}", "a: b: c:", "[1"],
)
def test_broken_tables_are_clear_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(content)
    with pytest.raises(ValuelensError, match=r"prices\.yaml"):
        PriceTable.load(path)


def test_missing_table_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValuelensError, match="cannot read price table"):
        PriceTable.load(tmp_path / "nope.yaml")
