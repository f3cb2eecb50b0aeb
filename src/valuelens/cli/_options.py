"""The options every command that runs a model shares, defined once: same names, same help.

Each is an `Annotated` alias; a command picks its own default in its signature
(`temperature: TemperatureOpt = 0.2`), and typer prints it after the help text.

Metavars are short words (`SPEC`, `URL`, `N`) and flags have none, so `--help` does not show
Python types such as `<list[str]>` or `<bool>` next to the names; `PlainHelpGroup` (the root
app's class) does the same for every option a command defines without a metavar.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperGroup, TyperOption

if TYPE_CHECKING:
    from valuelens.pipeline import SessionSettings

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
        help="SQLite cache of requests and answers (default: the shared store, see "
        "`valuelens cache info`); a rerun sends only what it lacks.",
        show_default=False,
    ),
]
ModelArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model-arg",
        "-M",
        metavar="KEY=VALUE",
        help="Sent with every request; repeatable. max_tokens=N (replaces every request's), "
        'top_p=P, stop=TEXT or stop=\'["A","B"]\', reasoning_effort=low|medium|high, '
        "timeout=SECONDS (not in the cache key), or any other field of the request body "
        "(values are JSON when they parse, else text).",
        show_default=False,
    ),
]
BatchOpt = Annotated[
    bool,
    typer.Option(
        "--batch",
        metavar="",
        help="Send the requests not in the cache through the provider's batch API (openai:, "
        "anthropic:): half the price, answers within 24 hours. Rerun the same command to "
        "collect a submitted batch; --dry-run shows the batch price.",
    ),
]
LanguagesDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--languages-dir",
        metavar="DIR",
        help="Your language packs (CODE.yaml) and translated templates (_lang/CODE/).",
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


class _PlainOption(TyperOption):
    """An option whose help shows a short uppercase metavar, or nothing for a flag."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        if self.is_flag or self.count:
            return ""
        if self.metavar is not None:
            return self.metavar
        return _metavar_for(self.name or "", self.display_type(ctx))


class _PlainArgument(TyperArgument):
    """An argument shown by its uppercase name only (`FILE`), without a `<path>` type."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None


def _metavar_for(name: str, display_type: str) -> str:
    """`N` for numbers, `PATH` for paths, the choices for a choice, else the name in capitals."""
    label = display_type.strip("<>").removeprefix("list[").removesuffix("]")
    if "|" in label:
        return label
    return {"int": "N", "float": "N", "path": "PATH"}.get(label, name.upper())


def _plain_params(command: click.Command, ctx: click.Context) -> None:
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option else [])]:
        if type(param) is TyperOption:
            param.__class__ = _PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = _PlainArgument
            param.metavar = param.metavar or (param.name or "").upper()
    for sub in getattr(command, "commands", {}).values():
        _plain_params(sub, ctx)


class PlainHelpGroup(TyperGroup):
    """The root group: every command's `--help` shows no Python types.

    typer (0.29) prints an option's annotation (`<bool>`, `<list[str]>`, `<path>`) next to it
    unless the option has a metavar, including on its own `--help` flag. Before parsing, this
    group gives every option and argument of the whole command tree (sub-apps too, and commands
    registered by plugins) a plain display: flags show nothing, values an uppercase metavar.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _plain_params(self, ctx)
        return super().parse_args(ctx, args)


def session_settings(
    model: str,
    base_url: list[str] | None,
    concurrency: int,
    rpm: float | None,
    timeout: float | None,
    store: Path | None,
    model_arg: list[str] | None = None,
    *,
    batch: bool = False,
) -> SessionSettings:
    """The shared connection options of a command, as the pipelines take them.

    Raises:
        ValuelensError: a `-M` item that is not KEY=VALUE, or a bad value for a known key.
    """
    from valuelens.models._args import ModelArgs
    from valuelens.pipeline import SessionSettings

    args = ModelArgs.parse(model_arg or ())
    return SessionSettings(
        model,
        tuple(base_url or ()),
        concurrency,
        rpm,
        timeout,
        store=store,
        model_args=args,
        batch=batch,
    )
