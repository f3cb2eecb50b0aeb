"""A dry run counts what is sent: `-M max_tokens` replaces each request's budget in the estimate."""

from __future__ import annotations

from pathlib import Path

from valuelens.models import Capabilities, Message, Request, Response
from valuelens.models._args import ModelArgs, with_model_args
from valuelens.runner import Runner, Store


class _Silent:
    """A backend the estimate must never call."""

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "test", "model": "silent", "endpoint": "none"}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    async def complete(self, request: Request) -> Response:
        raise AssertionError("a dry run sent a request")

    async def aclose(self) -> None:
        return None


def _requests(n: int) -> list[Request]:
    return [Request((Message("user", f"question {i}"),), max_tokens=8) for i in range(n)]


def test_estimate_uses_the_model_argument_budget(tmp_path: Path) -> None:
    with Store(tmp_path / "cache.sqlite") as store:
        plain = Runner(_Silent(), store, progress=False).estimate(_requests(3))
        wrapped = with_model_args(_Silent(), ModelArgs.parse(["max_tokens=4000"]))
        shaped = Runner(wrapped, store, progress=False).estimate(_requests(3))
    assert plain.completion_tokens == 3 * 8
    assert shaped.completion_tokens == 3 * 4000
    assert shaped.prompt_tokens == plain.prompt_tokens
