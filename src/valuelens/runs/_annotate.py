"""The `annotation` run kind: VIA quality control (`valuelens annotate sheet|judge|import`).

One kind, three stages (`stage`):

* `sheet`: a reproducible sample of VIA items and the blank sheet(s) to fill (`sheet*.csv`).
* `judge`: a judge model's verdicts on the sample (`judge` table), its ratings in the long
  layout (`ratings`) and the sheet pre-filled with them (`sheet.csv`).
* `import`: people's filled sheets read back: `ratings`, majority `votes`, the `quality` table
  (rates and agreement per group and criterion), `flagged` disagreements, the generation
  `variants` side by side and, with a judge run, `judge_agreement`.

`headline` holds the overall row of each criterion: {criterion: {rate, kappa, method, alpha,
n_items, n_raters, n_disagree}}.
"""

from __future__ import annotations

from typing import Literal

from valuelens.models._base import JsonObject
from valuelens.runs._summary import RunSummary, register_summary_model

ANNOTATION = "annotation"
"""The run kind of every `valuelens annotate` command."""


class AnnotationSummary(RunSummary):
    """What an `annotate` command recorded about its sample, its annotators and their scores."""

    kind: Literal["annotation"] = "annotation"
    stage: Literal["sheet", "judge", "import"] | None = None
    via: str | None = None
    """The VIA file the items were sampled from."""
    sheets: list[str] | None = None
    """The sheets written (stage sheet and judge) or read (stage import)."""
    sampling: JsonObject | None = None
    """{per, n, seed}: how the items were drawn."""
    n_items: int | None = None
    criteria: list[str] | None = None
    annotators: list[str] | None = None
    headline: dict[str, JsonObject] | None = None
    n_flagged: int | None = None
    """Items with at least one criterion on which the annotators disagreed."""
    judge: str | None = None
    """The judge run compared with the people (stage import), or the judge model (judge)."""
    judge_headline: dict[str, JsonObject] | None = None
    """{criterion: {kappa, accuracy, n}}: the judge against the people's majority."""
    published_kappa: float | None = None
    """The paper's Cohen's kappa for the chosen generation prompt, for context."""
    backend: JsonObject | None = None
    parse_status: dict[str, int] | None = None
    temperature: float | None = None
    templates: str | None = None


register_summary_model(ANNOTATION, AnnotationSummary)
