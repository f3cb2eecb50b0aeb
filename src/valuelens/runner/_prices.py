"""Token prices (an editable YAML table) and dry-run estimates."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from valuelens._errors import ValuelensError
from valuelens.models import Request

PRICES_ENV = "VALUELENS_PRICES"
_CHARS_PER_TOKEN = 4
_TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True)
class Price:
    """US dollars per million input and output tokens."""

    input: float
    output: float


class PriceTable:
    """Prices by `kind:model` prefix; the longest matching prefix wins.

    Example:
        >>> table = PriceTable.load()  # package table + VALUELENS_PRICES / user file
        >>> table.cost({"kind": "openai", "model": "gpt-4o-mini"}, 1_000_000, 0)
        0.15
    """

    def __init__(self, prices: Mapping[str, Price]) -> None:
        """Use exactly `prices`."""
        # Longest first, so the first match is the most specific.
        self._entries = sorted(prices.items(), key=lambda item: -len(item[0]))

    @classmethod
    def load(cls, override: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> PriceTable:
        """The package's table, updated by the user's file and by `override`.

        Args:
            override: a YAML/JSON file or a mapping of the same shape as `prices.yaml`
                (`{"prices": {"openai:gpt-4o": {"input": 2.5, "output": 10}}}`; the
                top-level `prices` key may be left out).

        Raises:
            ValuelensError: if a table cannot be read or has the wrong shape.
        """
        package_file = resources.files("valuelens.runner").joinpath("prices.yaml")
        prices = _parse(yaml.safe_load(package_file.read_text()), "the built-in price table")
        for path in _user_files():
            prices.update(_parse(_read(path), str(path)))
        if isinstance(override, Mapping):
            prices.update(_parse(override, "price_table"))
        elif override is not None:
            prices.update(_parse(_read(Path(override)), str(override)))
        return cls(prices)

    def price(self, identity: Mapping[str, str]) -> Price | None:
        """The price for a backend identity, or None when the table does not know the model."""
        name = f"{identity.get('kind', '')}:{identity.get('model', '')}"
        for prefix, price in self._entries:
            if name.startswith(prefix):
                return price
        return None

    def cost(
        self, identity: Mapping[str, str], prompt_tokens: int, completion_tokens: int
    ) -> float | None:
        """Dollars for the given token counts, or None for an unknown model."""
        price = self.price(identity)
        if price is None:
            return None
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


def _user_files() -> list[Path]:
    import platformdirs

    candidates = [Path(platformdirs.user_config_dir("valuelens")) / "prices.yaml"]
    if os.environ.get(PRICES_ENV):
        candidates.append(Path(os.environ[PRICES_ENV]))
    return [path for path in candidates if path.is_file()]


def _read(path: Path) -> object:
    try:
        text = path.read_text()
    except OSError as error:
        raise ValuelensError(f"cannot read price table {path}: {error.strerror}") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        raise ValuelensError(f"price table {path} is not valid YAML/JSON") from None


def _parse(document: object, source: str) -> dict[str, Price]:
    table = document.get("prices", document) if isinstance(document, Mapping) else None
    if not isinstance(table, Mapping):
        raise ValuelensError(f"{source}: expected a mapping of 'kind:model' to input/output prices")
    prices = {}
    for name, entry in table.items():
        try:
            prices[str(name)] = Price(float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError):
            raise ValuelensError(
                f"{source}: price of {name!r} needs numeric 'input' and 'output'"
            ) from None
    return prices


def estimate_prompt_tokens(request: Request) -> int:
    """A rough prompt size (4 characters per token plus a little per message)."""
    characters = sum(len(message.content) for message in request.messages)
    if request.json_schema is not None:
        characters += len(json.dumps(request.json_schema))
    return characters // _CHARS_PER_TOKEN + _TOKENS_PER_MESSAGE * len(request.messages)


@dataclass(frozen=True)
class Estimate:
    """What a run would send and cost (a dry run).

    Attributes:
        model: `kind:model` of the backend.
        n_requests: requests given.
        n_unique: distinct requests (identical requests are sent once).
        n_cached: distinct requests already finished in the store.
        n_to_send: distinct requests a run would send.
        prompt_tokens: estimated prompt tokens of the requests to send.
        completion_tokens: upper bound on completion tokens (their `max_tokens`).
        cost_usd: upper bound on the cost; None when the price table does not know the model.
    """

    model: str
    n_requests: int
    n_unique: int
    n_cached: int
    n_to_send: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None

    def summary(self) -> str:
        """One line for people."""
        cost = "unknown (model not in the price table)"
        if self.cost_usd is not None:
            cost = f"at most ${self.cost_usd:,.2f}"
        return (
            f"{self.model}: {self.n_requests:,} requests ({self.n_unique:,} distinct, "
            f"{self.n_cached:,} already done), {self.n_to_send:,} to send; "
            f"~{self.prompt_tokens:,} prompt + <= {self.completion_tokens:,} completion tokens; "
            f"cost {cost}"
        )


def build_estimate(
    model: str,
    identity: Mapping[str, str],
    n_requests: int,
    unique: Iterable[Request],
    n_cached: int,
    prices: PriceTable,
) -> Estimate:
    """Sum the token estimates of the distinct `unique` requests that still need sending."""
    to_send = list(unique)
    prompt = sum(estimate_prompt_tokens(request) for request in to_send)
    completion = sum(request.max_tokens for request in to_send)
    return Estimate(
        model=model,
        n_requests=n_requests,
        n_unique=len(to_send) + n_cached,
        n_cached=n_cached,
        n_to_send=len(to_send),
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=prices.cost(identity, prompt, completion),
    )
