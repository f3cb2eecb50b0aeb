r"""Model arguments: `-M KEY=VALUE` settings sent to the backend with every request.

A value is read as JSON when it parses (`64`, `0.9`, `true`, `["a", "b"]`, `{"type": "x"}`)
and as a plain string otherwise (`low`, `END`); quote it as JSON to force a string
(`-M 'user="42"'`). The keys:

* `max_tokens`: the token budget of every request (replaces each task's own budget);
* `top_p`: nucleus sampling, between 0 and 1;
* `stop`: a stop sequence; a JSON list gives several (`-M 'stop=["\n\n", "END"]'`) and
  repeating `-M stop=...` adds more. A comma is part of the sequence, not a separator;
* `reasoning_effort`: e.g. `low`, `medium`, `high` (OpenAI reasoning models; Anthropic's
  `output_config.effort`);
* `timeout`: seconds one attempt at a request may take (as `--timeout`); it does not change
  the answer, so it is not part of the cache key;
* any other key: a field sent as-is in the request body (`-M top_k=40`,
  `-M 'thinking={"type": "enabled", "budget_tokens": 2048}'`).

Settings that have their own option are refused with a pointer to it (`temperature`, `seed`,
`model`), and so is anything that looks like a credential (`api_key`): keys come from the
environment, never from the command line, so they reach no run record.

Every argument but `timeout` changes the answers: `with_model_args` adds them to the backend's
identity, so they are part of every cache key, and a run without `-M` keeps its keys.

Example:
    >>> args = ModelArgs.parse(["max_tokens=64", "top_p=0.9", "stop=END"])
    >>> backend = with_model_args(load_backend("openai:gpt-4o-mini"), args)
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, JsonValue

from valuelens._errors import ValuelensError
from valuelens.models._base import (
    Backend,
    Capabilities,
    JsonObject,
    NoteSource,
    Request,
    Response,
)

TIMEOUT_KEY = "timeout"
_REFUSED = {
    "temperature": "use --temperature",
    "seed": "use --seed",
    "model": "use --model",
    "max_completion_tokens": "use max_tokens (sent as max_completion_tokens where the API "
    "wants that name)",
    "messages": "the prompts come from the task's templates (--templates)",
    "response_format": "structured output is chosen by the task (--scoring)",
    "logprobs": "log-probabilities are chosen by the task (--scoring)",
    "top_logprobs": "log-probabilities are chosen by the task (--scoring)",
    "stream": "valuelens reads whole answers",
    "n": "valuelens reads one answer per request",
}
_SECRET = re.compile(
    r"(^|_)(api_?key|key|secret|password|token|auth|authorization|bearer|credentials?|cookie)$"
)
_NOT_SECRET = frozenset({"prompt_cache_key", "max_tokens", "max_completion_tokens"})
"""Names the pattern matches that are ordinary request fields."""
_SECRET_HINT = (
    "credentials never go on the command line or into a run: set the backend's environment "
    "variable (OPENAI_API_KEY, ANTHROPIC_API_KEY)"
)
_FLAG = "-M/--model-arg"


class ModelArgs(BaseModel):
    """The model arguments of a session (see the module docstring); empty by default.

    Attributes:
        max_tokens: the token budget of every request, replacing the task's.
        top_p: nucleus sampling.
        stop: stop sequences.
        reasoning_effort: how hard a reasoning model thinks.
        timeout_s: seconds one attempt may take (not part of the cache key).
        extra: other request fields, sent as given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    reasoning_effort: str | None = None
    timeout_s: float | None = None
    extra: dict[str, JsonValue] = {}

    @classmethod
    def parse(cls, items: Iterable[str], *, where: str = _FLAG) -> ModelArgs:
        """The arguments of `-M KEY=VALUE` strings, in order (a later key replaces an earlier).

        Raises:
            ValuelensError: an item without `=`, a refused key, or a bad value for a known key.
        """
        pairs: list[tuple[str, JsonValue]] = []
        for item in items:
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise ValuelensError(f"{where} {item!r}: expected KEY=VALUE (e.g. max_tokens=64)")
            pairs.append((key.strip(), _json_or_text(text)))
        return cls._build(pairs, where)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, JsonValue], *, where: str = "args") -> ModelArgs:
        """The arguments of a mapping, such as a sweep entry's `args = {max_tokens = 64}`."""
        return cls._build(list(mapping.items()), where)

    @classmethod
    def _build(cls, pairs: list[tuple[str, JsonValue]], where: str) -> ModelArgs:
        fields: dict[str, object] = {}
        stop: list[str] = []
        extra: dict[str, JsonValue] = {}
        for key, value in pairs:
            name = _checked_key(key, where)
            _refuse_nested_secrets(value, f"{where} {key}")
            if name == "stop":
                stop.extend(_stop_sequences(value, where))
            elif name in _CHECKS:
                field, check = _CHECKS[name]
                fields[field] = check(value, f"{where} {name}")
            else:
                extra[key] = value
        return cls.model_validate({**fields, "stop": tuple(stop), "extra": extra})

    def merged(self, other: ModelArgs) -> ModelArgs:
        """These arguments with those `other` gives replacing them (stop sequences: `other`'s)."""
        given = other.model_dump(exclude_defaults=True)
        extra = {**self.extra, **other.extra}
        return ModelArgs.model_validate({**self.model_dump(), **given, "extra": extra})

    @property
    def is_empty(self) -> bool:
        """Whether no argument is set."""
        return not self.recorded()

    def answer_fields(self) -> JsonObject:
        """The request fields that change the answer, as sent (OpenAI's names), `max_tokens` too."""
        fields: JsonObject = {}
        if self.max_tokens is not None:
            fields["max_tokens"] = self.max_tokens
        if self.top_p is not None:
            fields["top_p"] = self.top_p
        if self.stop:
            fields["stop"] = list(self.stop)
        if self.reasoning_effort is not None:
            fields["reasoning_effort"] = self.reasoning_effort
        return fields | self.extra

    def recorded(self) -> JsonObject:
        """Every argument given, by its `-M` key: what a run records (never a credential)."""
        fields = self.answer_fields()
        if self.timeout_s is not None:
            fields[TIMEOUT_KEY] = self.timeout_s
        return fields

    def key_entry(self) -> str | None:
        """The canonical JSON of the answer-changing arguments; None when there are none."""
        fields = self.answer_fields()
        if not fields:
            return None
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def apply(self, request: Request) -> Request:
        """`request` as these arguments change it: its budget replaced, the fields added."""
        fields = self.answer_fields()
        max_tokens = self.max_tokens if self.max_tokens is not None else request.max_tokens
        fields.pop("max_tokens", None)
        if not fields and max_tokens == request.max_tokens:
            return request
        return dataclasses.replace(
            request, max_tokens=max_tokens, extra={**request.extra, **fields}
        )


class ArgsBackend:
    """A backend whose every request carries the session's model arguments.

    Its identity is the inner backend's with an `args` entry (the canonical JSON of the
    arguments that change answers), so those arguments are part of every cache key.
    """

    def __init__(self, inner: Backend, args: ModelArgs) -> None:
        """Wrap `inner`; `args` must hold at least one answer-changing argument."""
        entry = args.key_entry()
        if entry is None:
            raise ValueError("ArgsBackend needs answer-changing arguments")
        self.inner = inner
        self.args = args
        self._identity = {**inner.identity, "args": entry}

    @property
    def identity(self) -> dict[str, str]:
        """The inner backend's identity and the `args` entry."""
        return dict(self._identity)

    @property
    def capabilities(self) -> Capabilities:
        """The inner backend's."""
        return self.inner.capabilities

    async def complete(self, request: Request) -> Response:
        """Send `request`, changed by the arguments, to the inner backend."""
        return await self.inner.complete(self.args.apply(request))

    def take_notes(self) -> list[str]:
        """The inner backend's notes, if it gives any."""
        return self.inner.take_notes() if isinstance(self.inner, NoteSource) else []

    async def aclose(self) -> None:
        """Close the inner backend."""
        await self.inner.aclose()


def with_model_args(backend: Backend, args: ModelArgs) -> Backend:
    """`backend` sending `args` with every request; `backend` itself when none changes answers.

    A session without model arguments (or with only `timeout`) therefore keeps the backend's
    identity, and its cache keys, unchanged.
    """
    return backend if args.key_entry() is None else ArgsBackend(backend, args)


def _json_or_text(text: str) -> JsonValue:
    try:
        value: JsonValue = json.loads(text)
    except ValueError:
        return text
    return value


def _checked_key(key: str, where: str) -> str:
    """The known name of `key` (dashes read as underscores), or `key`; refused keys raise."""
    name = key.replace("-", "_").lower()
    if name in _REFUSED:
        raise ValuelensError(f"{where} {key}: not a model argument; {_REFUSED[name]}")
    if _SECRET.search(name) and name not in _NOT_SECRET:
        raise ValuelensError(f"{where} {key}: refused; {_SECRET_HINT}")
    return name if name in _CHECKS or name == "stop" else key


def _refuse_nested_secrets(value: JsonValue, where: str) -> None:
    """Refuse a credential inside an object value (`extra_headers={"Authorization": ...}`)."""
    if isinstance(value, list):
        for item in value:
            _refuse_nested_secrets(item, where)
    elif isinstance(value, dict):
        for inner, item in value.items():
            name = inner.replace("-", "_").lower()
            if _SECRET.search(name) and name not in _NOT_SECRET:
                raise ValuelensError(f"{where}: refused ({inner}); {_SECRET_HINT}")
            _refuse_nested_secrets(item, where)


def _number(value: JsonValue) -> float | None:
    """`value` as a float when it is a JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _positive_int(value: JsonValue, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValuelensError(f"{where}: expected a whole number of at least 1, got {value!r}")
    return value


def _probability(value: JsonValue, where: str) -> float:
    number = _number(value)
    if number is None or not 0.0 <= number <= 1.0:
        raise ValuelensError(f"{where}: expected a number from 0 to 1, got {value!r}")
    return number


def _seconds(value: JsonValue, where: str) -> float:
    number = _number(value)
    if number is None or not (math.isfinite(number) and number > 0):
        raise ValuelensError(f"{where}: expected seconds (a number above 0), got {value!r}")
    return number


def _word(value: JsonValue, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValuelensError(f"{where}: expected a word such as low, medium or high, got {value!r}")
    return value.strip()


def _stop_sequences(value: JsonValue, where: str) -> list[str]:
    sequences = value if isinstance(value, list) else [value]
    if not sequences or not all(isinstance(s, str) and s for s in sequences):
        raise ValuelensError(
            f"{where} stop: expected a text or a JSON list of texts "
            f'(e.g. stop=END or \'stop=["END", "\\n\\n"]\'), got {value!r}'
        )
    return [s for s in sequences if isinstance(s, str)]


_Check = Callable[[JsonValue, str], object]
_CHECKS: dict[str, tuple[str, _Check]] = {
    "max_tokens": ("max_tokens", _positive_int),
    "top_p": ("top_p", _probability),
    "reasoning_effort": ("reasoning_effort", _word),
    TIMEOUT_KEY: ("timeout_s", _seconds),
}


def sent_form(backend: Backend) -> Callable[[Request], Request]:
    """What `backend` makes of a request before sending it: the `-M` arguments applied.

    The identity function for a backend without arguments. Estimates and token limits use it
    so that `-M max_tokens` counts; cache keys use the request as the task built it.
    """
    if isinstance(backend, ArgsBackend):
        return backend.args.apply
    return _unchanged


def _unchanged(request: Request) -> Request:
    return request
