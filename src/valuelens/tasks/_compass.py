"""ValueCompass, models' side: ask a model, as the AI in a scenario and country, to rate values.

One request per (country, scenario, prompt variant) rates every chosen value on 1..4 in one JSON
object, constrained by a JSON schema where the backend supports it. The prompts are the
templates `compass/variant_0..7.jinja` of `valuelens.prompts` (a user's folder may replace
them: `load_templates(folder, tasks=["compass"])`). The eight variants follow
Task 1 (`valuelens.prompts.STATED_VARIANTS`): survey framing (1 = strongly agree ..
4 = strongly disagree) or portrait framing (1 = very much like me .. 4 = not like me at all),
values or options first, chat ending or a completion cue.

Example:
    >>> from valuelens.tasks._compass import compass_task
    >>> task = compass_task(variants="0,2")
    >>> requests = task.build_requests(countries="Canada", scenarios="Healthcare")
    >>> len(requests), requests[0].metadata["scenario"]
    (2, 'Healthcare')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.data._compass_llm import (
    LLM_COLUMNS,
    ValueAnswer,
    parse_compass_response,
)
from valuelens.data._scenarios import ScenarioSet, load_scenarios
from valuelens.data._value_names import ValueNames, value_names
from valuelens.models import Request
from valuelens.prompts import (
    STATED_VARIANTS,
    StatedVariant,
    TemplateSet,
    select_variants,
    variant_template,
)
from valuelens.tasks._records import (
    ResultLike,
    answer_text,
    metadata,
    name_list,
    task_templates,
    user_request,
)
from valuelens.tasks._stated import stated_schema
from valuelens.taxonomy import Taxonomy, load_taxonomy

TASK_NAME = "compass"


def compass_prompt(
    *,
    country: str,
    scenario_name: str,
    vignette: str,
    values: Sequence[tuple[str, str]],
    variant: StatedVariant,
    templates: TemplateSet | None = None,
) -> str:
    """The text of one compass prompt, rendered from the `compass/variant_N` template.

    Args:
        country: where the scenario takes place.
        scenario_name: the scenario's name.
        vignette: the situation, in a few sentences.
        values: (name, short definition) pairs, in the order to list them.
        variant: framing, order of values and options, and ending.
        templates: a loaded template set with the compass files; default: the built-in ones.
    """
    chosen = task_templates(templates, TASK_NAME, "compass")
    context = _context(
        country, scenario_name, vignette, [{"name": n, "definition": d} for n, d in values]
    )
    return chosen.render(
        TASK_NAME, variant_template(variant.id), {**context, "variant": variant.as_context()}
    )


def _context(
    country: str, scenario: str, vignette: str, values: Sequence[Mapping[str, str]]
) -> dict[str, Any]:
    return {
        "country": country,
        "scenario": {"name": scenario, "vignette": vignette},
        "values": [dict(v) for v in values],
        "value_names": [v["name"] for v in values],
    }


def _in_order(chosen: Sequence[str], order: Sequence[str]) -> list[str]:
    """The distinct chosen names, in the canonical order."""
    picked = set(chosen)
    return [name for name in order if name in picked]


@dataclass(frozen=True)
class CompassTask:
    """Builds compass requests and reads replies into tidy answers (see `compass_task`)."""

    templates: TemplateSet
    taxonomy: Taxonomy
    scenarios: ScenarioSet
    names: ValueNames
    variants: tuple[int, ...]
    temperature: float
    seed: int | None

    @cached_property
    def _values(self) -> dict[str, dict[str, str]]:
        return {v.name: v.model_dump() for v in self.taxonomy.values}

    def build_requests(
        self,
        countries: str | Sequence[str] | None = None,
        scenarios: str | Sequence[str] | None = None,
        values: str | Sequence[str] | None = None,
    ) -> list[Request]:
        """One request per (country, scenario, variant), in taxonomy and scenario order.

        Args:
            countries: names (a list or a comma-separated string); None or "all" for all.
            scenarios: as `countries`, from the scenario list.
            values: as `countries`; every request rates all of them.

        Raises:
            ValuelensError: an unknown name (with close matches) or a scenario with no vignette.
        """
        tax = self.taxonomy
        chosen = _in_order(tax.resolve_many("value", name_list(values)), tax.value_names)
        picked = [
            self.scenarios.get(s)
            for s in _in_order(self.scenarios.resolve_many(scenarios), self.scenarios.names)
        ]
        chosen_countries = _in_order(
            tax.resolve_many("country", name_list(countries)), tax.country_names
        )
        for scenario in picked:
            if not scenario.vignette:
                raise ValuelensError(f"scenario {scenario.name!r} has no vignette to show a model")
        return [
            self._request(country, scenario.name, scenario.vignette, chosen, variant)
            for country in chosen_countries
            for scenario in picked
            for variant in self.variants
        ]

    def _request(
        self, country: str, scenario: str, vignette: str, values: Sequence[str], variant: int
    ) -> Request:
        listed = [self._values.get(v, {"name": v, "definition": "", "type": ""}) for v in values]
        context = _context(country, scenario, vignette, listed)
        context["variant"] = STATED_VARIANTS[variant].as_context()
        prompt = self.templates.render(TASK_NAME, variant_template(variant), context)
        meta = {
            "task": TASK_NAME,
            "country": country,
            "scenario": scenario,
            "variant": variant,
            "values": list(values),
        }
        return user_request(
            prompt,
            temperature=self.temperature,
            max_tokens=64 + 24 * len(values),
            seed=self.seed,
            metadata=meta,
            json_schema=stated_schema(values),
        )

    def parse(self, result: ResultLike) -> list[ValueAnswer]:
        """One `ValueAnswer` per value asked about; a failed request gives status `error`."""
        meta = metadata(result)
        asked = [str(v) for v in meta.get("values", self.names.canonical)]
        names = ValueNames(tuple(asked), self.names.aliases)
        text, error = answer_text(result)
        if text is None:
            reason = error or "no response"
            return [ValueAnswer(v, float("nan"), float("nan"), "error", reason) for v in asked]
        return parse_compass_response(text, names)

    def answers(self, results: Iterable[ResultLike], *, model: str) -> pd.DataFrame:
        """The tidy answer table (`LLM_COLUMNS`) of a batch of results."""
        rows = []
        for result in results:
            meta = metadata(result)
            cell = (
                model,
                str(meta.get("country", "")),
                str(meta.get("scenario", "")),
                int(meta.get("variant", 0)),
            )
            rows += [
                (*cell, a.value, a.likert, a.likert_paper, a.parse_status, a.raw)
                for a in self.parse(result)
            ]
        table = pd.DataFrame.from_records(rows, columns=list(LLM_COLUMNS))
        return table.astype({"variant": "int64", "likert": "float64", "likert_paper": "float64"})


def compass_task(
    *,
    variants: str | int | Iterable[int] | None = None,
    templates: TemplateSet | None = None,
    temperature: float = 0.2,
    seed: int | None = 0,
    taxonomy: Taxonomy | None = None,
    scenarios: ScenarioSet | None = None,
    aliases: str | Path | Mapping[str, str] | None = None,
) -> CompassTask:
    """Configure the compass task; options are checked here, before any request is built.

    Args:
        variants: prompt variants (ids 0-7, "0,2", "all"); default all eight.
        templates: a loaded template set with the compass files
            (`load_templates(folder, tasks=["compass"])`); default: the built-in templates.
        temperature: sampling temperature.
        seed: sampling seed, where the backend honours one.
        taxonomy: countries and values (default: the built-in taxonomy).
        scenarios: the scenario list (default: the four built-in scenarios).
        aliases: extra value-name aliases for reading replies.
    """
    tax = taxonomy or load_taxonomy()
    return CompassTask(
        templates=task_templates(templates, TASK_NAME, "compass"),
        taxonomy=tax,
        scenarios=scenarios or load_scenarios(),
        names=value_names(tax, aliases),
        variants=select_variants(variants if variants is not None else "all", "stated"),
        temperature=temperature,
        seed=seed,
    )
