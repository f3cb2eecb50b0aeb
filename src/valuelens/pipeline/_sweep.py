"""Several models in one command: `evaluate --model A --model B --out OUT`.

Each model gets its own run directory `OUT/<name>/` (the name is the model spec made safe for a
folder), all of them share one cache, and they run at the same time, each within its own
concurrency and rate limits. A model that fails (a dead endpoint, a bad key) does not stop the
others: `OUT/sweep.json` says which models finished, which are incomplete and which failed and
why, and a comparison report of the finished runs is written to `OUT/report.html`.

A sweep file names models with their own endpoints and settings (YAML or JSON)::

    models:
      - model: openai:qwen2.5-7b
        base_url: http://127.0.0.1:8000/v1
      - model: openai:llama-3.1-8b
        base_url: [http://127.0.0.1:8001/v1, http://127.0.0.1:8002/v1]
        name: llama
        concurrency: 64
        args: {max_tokens: 64, top_p: 0.9}   # model arguments, as `-M`; over the command's

Example:
    >>> outcome = evaluate_models(base_config, ["openai:gpt-4o-mini", "openai:gpt-4o"])  # doctest: +SKIP
    >>> [m.status for m in outcome.models]  # doctest: +SKIP
    ['complete', 'failed']
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from valuelens._errors import ValuelensError
from valuelens._rundir import write_text_atomic
from valuelens.models._args import ModelArgs
from valuelens.pipeline._evaluate import EvaluateConfig, EvaluateOutcome, evaluate_async
from valuelens.pipeline._session import run_cache

SWEEP_FILE = "sweep.json"
Status = Literal["complete", "incomplete", "failed"]


class SweepModel(BaseModel):
    """One model of a sweep: its spec, and what it does not share with the others."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    model: str
    base_url: tuple[str, ...] = Field(default=(), description="API roots; one or several.")
    name: str | None = None
    concurrency: int | None = Field(default=None, ge=1)
    rpm: float | None = Field(default=None, gt=0)
    args: dict[str, JsonValue] = Field(
        default_factory=dict, description="Model arguments, as `-M KEY=VALUE` gives them."
    )

    @field_validator("base_url", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("args")
    @classmethod
    def _known_args(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        try:
            ModelArgs.from_mapping(value, where="")
        except ValuelensError as exc:
            raise ValueError(str(exc).strip()) from None
        return value

    @property
    def model_args(self) -> ModelArgs:
        """The entry's own model arguments."""
        return ModelArgs.from_mapping(self.args)


def load_sweep_file(path: Path) -> list[SweepModel]:
    """The models of a sweep file (see the module docstring).

    Raises:
        ValuelensError: unreadable file, no `models` list, or an entry that does not fit.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValuelensError(f"{path}: cannot read the sweep file ({exc})") from None
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValuelensError(f"{path}: expected a `models:` list of {{model: SPEC, ...}} entries")
    models = []
    for number, entry in enumerate(entries, 1):
        try:
            models.append(SweepModel.model_validate(entry))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "entry"
            message = str(problem["msg"]).removeprefix("Value error, ")
            raise ValuelensError(f"{path}: model {number}: {where}: {message}") from None
    return models


@dataclass(frozen=True)
class ModelOutcome:
    """How one model of a sweep ended.

    Attributes:
        model: the model spec.
        out: its run directory.
        status: `complete`, `incomplete` (some requests failed for good) or `failed`.
        error: why it failed or is incomplete, one line.
        outcome: the evaluation's outcome (None when it failed).
    """

    model: str
    out: Path
    status: Status
    error: str | None = None
    outcome: EvaluateOutcome | None = None


@dataclass(frozen=True)
class SweepOutcome:
    """Every model's outcome, the sweep file and the comparison report (when one was written)."""

    out: Path
    models: list[ModelOutcome]
    report: Path | None

    @property
    def failed(self) -> list[ModelOutcome]:
        """The models that produced no run."""
        return [m for m in self.models if m.status == "failed"]


def run_names(models: Sequence[SweepModel]) -> list[str]:
    """A distinct, folder-safe name per model (`openai:gpt-4o-mini` -> `gpt-4o-mini`)."""
    names: list[str] = []
    for entry in models:
        spec = entry.name or entry.model.split(":", 1)[-1] or entry.model
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", spec).strip("-.")
        base = base or "model"
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def evaluate_models(config: EvaluateConfig, models: Sequence[str | SweepModel]) -> SweepOutcome:
    """Evaluate every model in `models` with `config` (its `out` is the sweep's folder).

    A plain spec uses `config`'s base URLs and limits; a `SweepModel` may set its own.
    """
    return asyncio.run(evaluate_models_async(config, models))


async def evaluate_models_async(
    config: EvaluateConfig, models: Sequence[str | SweepModel]
) -> SweepOutcome:
    """`evaluate_models` for code that already runs an event loop."""
    entries = [m if isinstance(m, SweepModel) else SweepModel(model=m) for m in models]
    if not entries:
        raise ValuelensError("--model: name at least one model")
    keys = [(e.model, e.base_url, e.name, e.model_args.key_entry()) for e in entries]
    if len(set(keys)) != len(keys):
        raise ValuelensError("--model: the same model is named twice")
    store = config.store or run_cache(config.out)
    configs = [
        replace(
            config,
            model=entry.model,
            out=config.out / name,
            store=store,
            base_urls=entry.base_url or config.base_urls,
            concurrency=entry.concurrency or config.concurrency,
            requests_per_minute=entry.rpm or config.requests_per_minute,
            **_model_args(config, entry),
        )
        for entry, name in zip(entries, run_names(entries), strict=True)
    ]
    outcomes = await asyncio.gather(*(_one(c) for c in configs))
    report = _comparison_report(config, outcomes) if config.report else None
    _write_sweep_file(config.out, outcomes, report)
    return SweepOutcome(config.out, list(outcomes), report)


def _model_args(config: EvaluateConfig, entry: SweepModel) -> dict[str, Any]:
    """The `model_args` of an entry's run: the command's, with the entry's own over them."""
    if not entry.args:
        return {}
    # getattr: an EvaluateConfig from before model arguments has no such field.
    shared = getattr(config, "model_args", None)
    if not isinstance(shared, ModelArgs):
        raise ValuelensError("sweep file `args`: this evaluate takes no model arguments")
    return {"model_args": shared.merged(entry.model_args)}


async def _one(config: EvaluateConfig) -> ModelOutcome:
    try:
        outcome = await evaluate_async(config)
    except ValuelensError as exc:
        return ModelOutcome(config.model, config.out, "failed", str(exc))
    if outcome.completeness.complete:
        return ModelOutcome(config.model, config.out, "complete", outcome=outcome)
    line = str(outcome.summary.get("incomplete") or "some requests failed for good")
    return ModelOutcome(config.model, config.out, "incomplete", line, outcome)


def _comparison_report(config: EvaluateConfig, outcomes: Sequence[ModelOutcome]) -> Path | None:
    scored = [m.out for m in outcomes if m.outcome is not None and m.outcome.result is not None]
    if len(scored) < 2:
        return None
    from valuelens.report import render_report

    return render_report(scored, config.out / "report.html")


def _write_sweep_file(out: Path, outcomes: Sequence[ModelOutcome], report: Path | None) -> None:
    data = {
        "kind": "sweep",
        "models": [
            {
                "model": m.model,
                "run": m.out.relative_to(out).as_posix(),
                "status": m.status,
                "error": m.error,
            }
            for m in outcomes
        ],
        "report": report.relative_to(out).as_posix() if report is not None else None,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / SWEEP_FILE, json.dumps(data, indent=2) + "\n")
