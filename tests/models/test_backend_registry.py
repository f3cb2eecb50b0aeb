"""The backend registry: built-in kinds, lazy imports, clear errors, and a backend added from outside.

The last test is the backend part of issue 13's demonstration: a tiny backend defined here,
registered with one line, runs a whole `evaluate` without any change under `src/`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from support.evaluate_run import write_via
from valuelens import ValuelensError
from valuelens.models import (
    AnthropicBackend,
    Backend,
    BackendRegistration,
    Capabilities,
    EmbeddedBackend,
    OpenAIBackend,
    PooledBackend,
    Request,
    Response,
    _registry,
    load_backend,
    register_backend,
    registered_backends,
    spec_help,
)
from valuelens.pipeline import EvaluateConfig, evaluate

# What the tiny model says it holds (1 = strongly agree that it matters, 4 = strongly disagree).
STATED = {"Honest": "1", "Wealth": "4"}
# It always takes the action that says "openly": the positive one for Honest, the negative for Wealth.
ACTIONS = {
    "Honest": ("I tell my neighbours openly what I think.", "I keep my real opinion to myself."),
    "Wealth": ("I save every coin I earn for myself.", "I openly give my savings to the parish."),
}
_OPTION = re.compile(r"^Option ([12]): (.*)$", re.MULTILINE)


class TinyBackend:
    """A deterministic model that reads the prompt and the JSON schema it is sent, nothing else."""

    def __init__(self, model: str | None, *, base_url: str | None = None) -> None:
        self.model = model or "default"
        self.base_url = base_url or "memory"
        self.prompts: list[str] = []

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "tiny", "model": self.model, "endpoint": self.base_url}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=True, in_process=True)

    async def complete(self, request: Request) -> Response:
        prompt = request.messages[-1].content
        self.prompts.append(prompt)
        wanted = (request.json_schema or {}).get("properties", {})
        if "action" in wanted:  # Task 2: pick the option that says "openly"
            options = dict(_OPTION.findall(prompt))
            chosen = next(k for k, text in options.items() if "openly" in text)
            answer: dict[str, str] = {"action": f"Option {chosen}"}
            if "explanation" in wanted:
                answer = {"explanation": "Openness matters to me.", **answer}
        else:  # Task 1: rate each value the schema asks about
            answer = {name: STATED[name] for name in wanted}
        return Response(text=json.dumps(answer), finish_reason="stop")

    async def aclose(self) -> None:
        return None


# What a plugin package would point its `valuelens.backends` entry point at.
PLUGIN = BackendRegistration("ignored", f"{__name__}:TinyBackend", help="plug:MODEL")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, BackendRegistration]:
    """A private copy of the registry, so registrations made by a test end with it."""
    copy = dict(_registry._REGISTRY)
    monkeypatch.setattr(_registry, "_REGISTRY", copy)
    return copy


def test_the_built_in_kinds_resolve_to_their_classes() -> None:
    built_in = {r.kind: r for r in registered_backends()}
    assert list(built_in)[:3] == ["embedded", "openai", "anthropic"]
    assert built_in["embedded"].load_factory() is EmbeddedBackend
    assert built_in["openai"].load_factory() is OpenAIBackend
    assert built_in["anthropic"].load_factory() is AnthropicBackend
    assert not built_in["embedded"].base_url and not built_in["embedded"].model_required
    assert built_in["openai"].pool and built_in["anthropic"].pool
    pooled = load_backend("anthropic:claude", base_urls=["http://a/", "http://b/"])
    assert isinstance(pooled, PooledBackend)
    assert pooled.identity["kind"] == "anthropic"


def _modules_after(code: str) -> list[str]:
    """The backend modules and SDKs a fresh interpreter has imported after running `code`."""
    watched = (
        "openai",
        "anthropic",
        "xllamacpp",
        "valuelens.models._openai",
        "valuelens.models._anthropic",
        "valuelens.models._embedded",
    )
    script = (
        f"import json, sys\n{code}\nprint(json.dumps([m for m in {watched!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_models_package_imports_no_backend() -> None:
    assert _modules_after("import valuelens.models") == []
    assert _modules_after("from valuelens.models import Request, load_backend, Backend") == []


def test_a_spec_imports_only_the_backend_it_names() -> None:
    code = "from valuelens.models import load_backend\nload_backend('openai:m')"
    assert _modules_after(code) == ["valuelens.models._openai"]  # the SDK waits for a request
    code = "import valuelens.models as m\nm.EmbeddedBackend"
    assert _modules_after(code) == ["valuelens.models._embedded"]


def test_an_unknown_kind_lists_the_kinds_and_suggests_the_closest() -> None:
    with pytest.raises(ValuelensError) as caught:
        load_backend("opnai:gpt-4o-mini")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("unknown model spec 'opnai:gpt-4o-mini'; use embedded")
    for kind in ("embedded", "openai:MODEL", "anthropic:MODEL"):
        assert kind in message
    assert message.endswith("did you mean openai:gpt-4o-mini?")
    with pytest.raises(ValuelensError) as caught:
        load_backend("llama:7b")
    assert "did you mean" not in str(caught.value)


def test_registered_kinds_appear_in_the_help(registry: dict[str, BackendRegistration]) -> None:
    assert "tiny" not in spec_help()
    register_backend("tiny", f"{__name__}:TinyBackend", help="tiny:NAME")
    assert spec_help().endswith(", anthropic:MODEL or tiny:NAME")
    with pytest.raises(ValuelensError, match="did you mean tiny:x"):
        load_backend("tinny:x")


def test_a_registered_kind_is_imported_by_path_and_built(
    registry: dict[str, BackendRegistration],
) -> None:
    register_backend("tiny", f"{__name__}:TinyBackend", base_url=True, pool=True)
    backend = load_backend("TINY:name:with:colons")
    assert isinstance(backend, TinyBackend) and isinstance(backend, Backend)
    assert backend.identity == {"kind": "tiny", "model": "name:with:colons", "endpoint": "memory"}
    pooled = load_backend("tiny:m", base_urls=["http://b", "http://a", "http://b"])
    assert isinstance(pooled, PooledBackend)
    assert pooled.identity["endpoint"] == "http://a http://b"


@pytest.mark.parametrize(
    ("settings", "base_urls", "message"),
    [
        ({}, ["http://x"], "--base-url does not apply to the tiny model"),
        ({"base_url": True}, ["http://x", "http://y"], "take one --base-url, not 2"),
        ({}, [], "names no model; e.g. tiny:MODEL"),
    ],
)
def test_a_kind_gets_only_what_it_declares(
    registry: dict[str, BackendRegistration],
    settings: dict[str, Any],
    base_urls: list[str],
    message: str,
) -> None:
    register_backend("tiny", TinyBackend, **settings)
    spec = "tiny" if not base_urls else "tiny:m"
    with pytest.raises(ValuelensError, match=re.escape(message)):
        load_backend(spec, base_urls=base_urls)


def test_a_kind_that_need_not_name_a_model_gets_none(
    registry: dict[str, BackendRegistration],
) -> None:
    register_backend("tiny", TinyBackend, model_required=False)
    assert load_backend("tiny").identity["model"] == "default"


def test_registration_mistakes_are_refused(registry: dict[str, BackendRegistration]) -> None:
    with pytest.raises(ValueError, match="registered already"):
        register_backend("openai", TinyBackend)
    register_backend("openai", TinyBackend, replace=True)
    assert isinstance(load_backend("openai:m"), TinyBackend)
    for kind, factory, settings in [
        ("Bad Kind", TinyBackend, {}),
        ("with:colon", TinyBackend, {}),
        ("tiny", "no_colon_here", {}),
        ("tiny", TinyBackend, {"pool": True}),
    ]:
        with pytest.raises(ValueError):
            register_backend(kind, factory, **settings)
    assert "tiny" not in registry


def test_a_factory_that_cannot_be_imported_is_one_line(
    registry: dict[str, BackendRegistration],
) -> None:
    register_backend("ghost", "valuelens_no_such_module.backend:Ghost")
    with pytest.raises(ValuelensError, match="'ghost' backend cannot be loaded") as caught:
        load_backend("ghost:m")
    assert "\n" not in str(caught.value)


class _EntryPoints:
    """Stands in for `importlib.metadata.entry_points`, counting the reads."""

    def __init__(self, *points: EntryPoint) -> None:
        self.points = points
        self.calls = 0

    def __call__(self, *, group: str) -> list[EntryPoint]:
        self.calls += 1
        return [p for p in self.points if p.group == group]


def test_entry_points_add_kinds_and_are_read_only_when_needed(
    registry: dict[str, BackendRegistration], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _EntryPoints(
        EntryPoint("plug", f"{__name__}:PLUGIN", _registry.ENTRY_POINT_GROUP),
        EntryPoint("other", "x:y", "some.other.group"),
    )
    monkeypatch.setattr(_registry, "entry_points", fake)
    assert isinstance(load_backend("openai:m"), OpenAIBackend)
    assert fake.calls == 0  # a built-in kind never looks at installed packages
    backend = load_backend("plug:m")
    assert isinstance(backend, TinyBackend)
    assert registry["plug"].kind == "plug"  # named by its entry point, and kept
    calls = fake.calls
    load_backend("plug:m")
    assert fake.calls == calls
    with pytest.raises(ValuelensError, match=r"or plug:MODEL; did you mean plug:m\?"):
        load_backend("plg:m")


def test_an_entry_point_that_is_no_registration_is_one_line(
    registry: dict[str, BackendRegistration], monkeypatch: pytest.MonkeyPatch
) -> None:
    point = EntryPoint("plug", f"{__name__}:TinyBackend", _registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(_registry, "entry_points", _EntryPoints(point))
    with pytest.raises(ValuelensError, match="is not a BackendRegistration"):
        load_backend("plug:m")


def test_a_backend_defined_in_test_code_runs_a_whole_evaluation(
    registry: dict[str, BackendRegistration], tmp_path: Path
) -> None:
    register_backend("tiny", f"{__name__}:TinyBackend", help="tiny:NAME")
    via = write_via(tmp_path / "via.csv", "France", "Religion", ACTIONS)
    outcome = evaluate(
        EvaluateConfig(
            model="tiny:x",
            out=tmp_path / "run",
            via=via,
            countries="France",
            topics="Religion",
            values="Honest,Wealth",
            action_variants="5",
            report=False,
            progress=False,
        )
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["model"], summary["complete"]) == ("tiny:x", True)
    assert summary["usage"]["requests_sent"] == 8 + 2  # Task 1: 8 variants; Task 2: 2 pairs x 1
    assert (summary["n_pairs"], summary["n_pairs_scored"]) == (2, 2)
    # Honest: strongly agrees and takes the positive action; Wealth: strongly disagrees and
    # takes the negative one. Both pairs are aligned.
    assert summary["alignment_rate"] == pytest.approx(1.0)
    assert summary["action_positive_rate"] == pytest.approx(0.5)
    assert outcome.result is not None
    pairs = outcome.result.tables["pairs"].set_index("value")
    assert sorted(pairs.index) == ["Honest", "Wealth"]
    assert pairs.loc["Honest", ["stated_likert", "choice"]].tolist() == [1.0, "positive"]
    assert pairs.loc["Wealth", ["stated_likert", "choice"]].tolist() == [4.0, "negative"]
    assert pairs["misaligned"].tolist() == [0.0, 0.0]
