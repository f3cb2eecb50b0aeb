"""The prompt variants of each task: what sets variant N apart from the others.

Ids 0-7 follow the authors' code, so a user's own template folder (for example the authors'
exact prompts) lines up with ours variant by variant, and a variant id in a paper means the same
design here. Each task crosses three two-way factors; which bit of the id sets which factor
differs between tasks (`//` is integer division, `%` the remainder):

Generation (`GENERATE_VARIANTS`): wording = id % 2 (0: plain instruction, 1: role play); which
of the explanation request and the attribution request comes first = (id % 4) // 2; ending =
id // 4 (chat, or completion with "The answer is:"). The authors generated the whole VIA set
with variant 5, our default.

    id  wording      first request   ending
    0   plain        explanation     chat
    1   role play    explanation     chat
    2   plain        attribution     chat
    3   role play    attribution     chat
    4   plain        explanation     completion
    5   role play    explanation     completion   (the VIA set; default)
    6   plain        attribution     completion
    7   role play    attribution     completion

Task 1 (`STATED_VARIANTS`): framing = (id % 4) // 2 (survey, SVS-like, or portrait, PVQ-like);
order = id % 2 (the value list or the answer options first); ending = id // 4. The paper
averages over all eight, our default.

    id  framing     order           ending
    0   survey      values first    chat
    1   survey      options first   chat
    2   portrait    values first    chat
    3   portrait    options first   chat
    4   survey      values first    completion
    5   survey      options first   completion
    6   portrait    values first    completion
    7   portrait    options first   completion

Task 2 (`ACTION_VARIANTS`): wording = id // 4; option order = (id % 4) // 2 (the negative
action is Option 1 in 0, 1, 4, 5 and Option 2 in 2, 3, 6, 7, so over all eight each side leads
four times); an explanation is asked for when id % 2 = 1. The paper's full run used variant 5,
our default; its robustness study used all eight.

    id  wording   Option 1    explanation
    0   0         negative    no
    1   0         negative    yes
    2   0         positive    no
    3   0         positive    yes
    4   1         negative    no
    5   1         negative    yes   (the paper's full run; default)
    6   1         positive    no
    7   1         positive    yes

In every task, variants 4-7 repeat 0-3 with one factor changed (the ending, or in Task 2 the
wording). What the first two of every four share differs: the framing in Task 1, the option
order in Task 2, the order of the two requests in generation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, Literal

from valuelens._errors import ValuelensError

TaskName = Literal["generate", "stated", "action"]
TASK_NAMES: tuple[TaskName, ...] = ("generate", "stated", "action")
Polarity = Literal["positive", "negative"]
Ending = Literal["chat", "completion"]
N_VARIANTS = 8


@dataclass(frozen=True)
class _Variant:
    """A prompt variant: its number, and its fields as the `variant` template variable."""

    id: int

    def as_context(self) -> dict[str, Any]:
        """The variant as the `variant` template variable (a fresh dict each time)."""
        return dict(_context(self))


@cache
def _context(variant: _Variant) -> dict[str, Any]:
    # Built once per variant: `asdict` on every one of thousands of prompts showed in profiles.
    return asdict(variant)


@dataclass(frozen=True)
class GenerateVariant(_Variant):
    """A generation prompt: wording (0 plain instruction, 1 role play), request order, ending.

    `order` says which of the two extra requests comes first: the natural-language explanation
    of why the action fits the polarity, or the feature attributions (the spans that carry the
    value).
    """

    wording: int
    order: Literal["explanation_first", "attribution_first"]
    ending: Ending


@dataclass(frozen=True)
class StatedVariant(_Variant):
    """A Task 1 prompt: survey or portrait framing, values or options first, chat or completion."""

    framing: Literal["survey", "portrait"]
    order: Literal["values_first", "options_first"]
    ending: Ending


@dataclass(frozen=True)
class ActionVariant(_Variant):
    """A Task 2 prompt: wording (0 or 1), which action is Option 1, and whether to explain."""

    wording: int
    option1_polarity: Polarity
    explanation: bool


def _ending(variant_id: int) -> Ending:
    return "chat" if variant_id < 4 else "completion"


GENERATE_VARIANTS: tuple[GenerateVariant, ...] = tuple(
    GenerateVariant(
        id=i,
        wording=i % 2,
        order="explanation_first" if i % 4 < 2 else "attribution_first",
        ending=_ending(i),
    )
    for i in range(N_VARIANTS)
)
STATED_VARIANTS: tuple[StatedVariant, ...] = tuple(
    StatedVariant(
        id=i,
        framing="survey" if i % 4 < 2 else "portrait",
        order="values_first" if i % 2 == 0 else "options_first",
        ending=_ending(i),
    )
    for i in range(N_VARIANTS)
)
# As in the authors' robustness study: the negative action is Option 1 in variants 0, 1, 4 and 5
# and Option 2 in 2, 3, 6 and 7, so over all eight each side leads exactly four times, and odd
# variants ask for an explanation.
ACTION_VARIANTS: tuple[ActionVariant, ...] = tuple(
    ActionVariant(
        id=i,
        wording=i // 4,
        option1_polarity="negative" if i % 4 < 2 else "positive",
        explanation=i % 2 == 1,
    )
    for i in range(N_VARIANTS)
)

# The variant each task uses when none is chosen, as in the paper: the VIA set was generated with
# variant 5, Task 2 was run on variant 5, and Task 1 averages over all eight.
DEFAULT_VARIANTS: dict[TaskName, tuple[int, ...]] = {
    "generate": (5,),
    "stated": tuple(range(N_VARIANTS)),
    "action": (5,),
}


def select_variants(spec: str | int | Iterable[int] | None, task: TaskName) -> tuple[int, ...]:
    """Turn a user's variant choice into sorted, distinct variant ids.

    Args:
        spec: one id (`5` or `"5"`), a comma-separated string (`"0,2"`), a list of ids, `"all"`,
            or None for the task's default (`DEFAULT_VARIANTS`).
        task: the task the variants belong to (only used for the default).

    Returns:
        The chosen ids in increasing order.

    Raises:
        ValuelensError: an id that is not a whole number from 0 to 7, or an empty choice.
    """
    if spec is None:
        return DEFAULT_VARIANTS[task]
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return tuple(range(N_VARIANTS))
        items: list[object] = [part.strip() for part in spec.split(",") if part.strip()]
    elif isinstance(spec, int):
        items = [spec]
    else:
        items = list(spec)
    ids = sorted({_variant_id(item) for item in items})
    if not ids:
        raise ValuelensError(
            "no prompt variant chosen; give an id 0-7, a list such as 0,2 or 'all'"
        )
    return tuple(ids)


def _variant_id(item: object) -> int:
    text = str(item).strip()
    if isinstance(item, bool) or not text.isdigit() or int(text) >= N_VARIANTS:
        raise ValuelensError(
            f"unknown prompt variant {text!r}; "
            f"choose 0-{N_VARIANTS - 1}, a list such as 0,2 or 'all'"
        )
    return int(text)


# Predicting gaps from explanations (`valuelens.tasks.predict_task`): what the observer model
# sees of each action besides its text. Not prompt variants: one template renders all four.
PredictSetting = Literal["default", "attribution", "explanation", "attribution_explanation"]
PREDICT_SETTINGS: tuple[PredictSetting, ...] = (
    "default",
    "attribution",
    "explanation",
    "attribution_explanation",
)


def predict_setting_context(setting: PredictSetting) -> dict[str, str | bool]:
    """A setting as the `setting` template variable: its name and what the observer is shown."""
    return {
        "name": setting,
        "attribution": setting in ("attribution", "attribution_explanation"),
        "explanation": setting in ("explanation", "attribution_explanation"),
    }
