"""Where the fuzz suite's seeds come from, its profile name, and the failures still open.

Seeds are small slices of the authors' files (paths relative to the reference folder; read at
test time, never copied into the repo) and the built-in data files.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

PROFILE = "valuelens-fuzz"

VIA_RELEASE = "outputs/data_release/value_action_gap_full_data_generation.csv"
T1_RAW = "outputs/evaluation/gpt-4o-mini_t1.csv"
T2_LONG = "reconstructed/gpt-4o-mini_t1t2_joined.reconstructed.csv"
T2_WIDE = "src/outputs/task2_results_gpt_35_turbo.csv"
SURVEY = "valuecompass/results/human_eval/human_S2_Healthcare.csv"
LLM_ANSWERS = "valuecompass/results/llms_eval/gpt-4o-mini/value_eval_c0_s1_openai_gpt-4o-mini.csv"
LLM_HEALTHCARE = (
    "valuecompass/results/llms_eval/llama3-70b-8192/value_eval_c0_s2_groq_llama3-70b-8192.csv"
)
PREDICTIONS = "outputs/evaluation/explanations/chatgpt_explanation_outputs_default.csv"


def first_lines(path: Path, n_rows: int) -> str:
    """The header and the first `n_rows` records of a CSV, as text (records may span lines)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [row for _, row in zip(range(n_rows + 1), csv.reader(handle), strict=False)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def builtin_text(package: str, name: str) -> str:
    """A built-in data file's text."""
    return resources.files(package).joinpath(name).read_text("utf-8")
