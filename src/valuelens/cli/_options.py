"""The options every command that runs a model shares, defined once: same names, same help.

Each is an `Annotated` alias; a command picks its own default in its signature
(`temperature: TemperatureOpt = 0.2`), and typer prints it after the help text.

Metavars are short words (`SPEC`, `URL`, `N`) and flags have none, so `--help` does not show
Python types such as `<list[str]>` or `<bool>` next to the names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

MODEL_HELP = "Model: embedded | embedded:PATH.gguf | openai:NAME | anthropic:NAME."
CONCURRENCY_HELP = "Requests in flight at once."

ModelOpt = Annotated[str, typer.Option("--model", "-m", metavar="SPEC", help=MODEL_HELP)]
BaseUrlOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--base-url",
        metavar="URL",
        help="API root of an OpenAI- or Anthropic-compatible server; repeat to spread the load.",
        show_default=False,
    ),
]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", metavar="N", help=CONCURRENCY_HELP)]
AutoConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        metavar="N",
        help=CONCURRENCY_HELP,
        show_default="2 on the embedded model, 8 otherwise",
    ),
]
"""`--concurrency` for a command whose default depends on the model (quickstart)."""
RpmOpt = Annotated[
    float | None,
    typer.Option(
        "--rpm",
        metavar="N",
        help="Requests per minute at most (retries count).",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Time limit for one attempt at a request.",
        show_default="120; none for the embedded model",
    ),
]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        metavar="FILE",
        help="SQLite cache of requests and answers (default: with the output); a rerun sends "
        "only what it lacks.",
        show_default=False,
    ),
]
TaxonomyOpt = Annotated[
    Path | None,
    typer.Option(
        "--taxonomy",
        metavar="FILE",
        help="YAML/JSON file that extends the built-in countries, topics and values.",
        show_default=False,
    ),
]
TemplatesOpt = Annotated[
    Path | None,
    typer.Option(
        "--templates",
        metavar="DIR",
        help="Folder with your own prompt templates (default: the built-in prompts).",
        show_default=False,
    ),
]
SeedOpt = Annotated[
    int,
    typer.Option("--seed", metavar="N", help="Seed for sampling, random draws and the bootstrap."),
]
TemperatureOpt = Annotated[
    float, typer.Option("--temperature", metavar="T", help="Sampling temperature.")
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait",
        metavar="",
        help="If another process is writing the run directory, wait for it instead of failing.",
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", metavar="", help="Print requests, tokens and cost; send nothing."),
]
