"""The notebook API: each stage of the command line as a function that returns pandas objects.

| function | command | returns |
| --- | --- | --- |
| `evaluate` | `valuelens evaluate` | `EvaluateOutcome` (`.summary`, `.tables`, `.result`) |
| `compass` | `valuelens compass run` (+ `score`) | `CompassOutcome` (`.answers`, `.summary`, `.tables`) |
| `compass_score` | `valuelens compass score` | `CompassResult` (`.summary`, `.tables`) |
| `predict` | `valuelens predict run` | `PredictOutcome` (`.summary`, `.tables`) |
| `score` | `valuelens score` | `ValueActionResult` (`.summary`, `.tables`) |
| `compare` | `valuelens compare` | `ComparisonFrames` (`.leaderboard`, `.by_axis`, ...) |
| `report` | `valuelens report` | the path of the HTML file |

The stages that send requests run to the end before they return; inside a running event loop
(Jupyter) they run in a worker thread, so they work in a notebook cell as in a script.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypedDict, TypeVar

import pandas as pd

from valuelens.data import Duplicates, load_choices, load_stated
from valuelens.metrics import ValueActionResult, score_value_action, variant_scores
from valuelens.report import write_run
from valuelens.taxonomy import Taxonomy, load_taxonomy

if TYPE_CHECKING:
    from valuelens.metrics._compass import CompassResult
    from valuelens.pipeline import Completeness, EvaluateOutcome
    from valuelens.pipeline._session import SessionSettings
    from valuelens.report._compare import Comparison

P = ParamSpec("P")
R = TypeVar("R")
PathLike = str | Path
Names = str | Sequence[str] | None
"""Countries, topics, values, ...: a comma-separated string, a list of names, or None (all)."""


def score(
    stated: str | Path,
    actions: str | Path,
    *,
    out: str | Path | None = None,
    paper_compat: bool = False,
    taxonomy: Taxonomy | None = None,
    model: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    sample: bool | None = None,
    duplicates: Duplicates = "error",
    wait: bool = False,
) -> ValueActionResult:
    """Score the value-action gap from Task 1 answers and Task 2 choices on disk.

    Args:
        stated: Task 1 responses (the authors' raw format or a tidy long table).
        actions: Task 2 choices (columns country, topic, value, choice or t2_chosen_polarity),
            or the authors' prompt-robustness file (`evaluation_0` ... `evaluation_7`).
        out: when given, write the run directory there (summary.json, tables as Parquet and CSV).
        paper_compat: follow the authors' rules (strict JSON; in a full-grid Task 2 file a pair
            without a choice counts as positive).
        taxonomy: the axes to resolve names against (default: the built-in taxonomy).
        model: the model's name to record in the summary; default: from the Task 1 file's
            name (`gpt-4o-mini_t1.csv` -> `gpt-4o-mini`), with `model_source: "file name"`.
        n_resamples: bootstrap resamples over scenarios for the confidence intervals.
        seed: bootstrap seed.
        sample: whether the Task 2 file is a sample of pairs. A sample's scope is its own
            pairs, in either mode: pairs outside it are not part of the run (paper mode does
            not count them as positive). None (default) decides from the file: the authors'
            robustness layout is a sample, any other file covers the full grid (where paper
            mode keeps the paper's rule, which reproduces the published numbers).
        duplicates: what to do with repeated rows in either file: `error` (default), keep the
            `first` or the `last`, or count repeats as extra `variants`.
        wait: when another process holds the run directory, wait for it instead of failing.

    Example:
        >>> result = score("gpt-4o-mini_t1.csv", "choices.csv", paper_compat=True)  # doctest: +SKIP
        >>> round(result.summary["alignment_rate"], 3)  # doctest: +SKIP
        0.564
    """
    taxonomy = taxonomy or load_taxonomy()
    stated_long = load_stated(
        stated, taxonomy=taxonomy, paper_compat=paper_compat, duplicates=duplicates
    )
    choices = load_choices(actions, taxonomy=taxonomy, duplicates=duplicates)
    layout = str(choices.attrs.get("layout", "long"))
    is_sample = layout == "robustness" if sample is None else sample
    scope: Literal["grid", "sample"] = "sample" if is_sample else "grid"
    result = score_value_action(
        stated_long,
        choices,
        taxonomy,
        paper_compat=paper_compat,
        action_scope=scope,
        n_resamples=n_resamples,
        seed=seed,
    )
    name, source = (model, "given") if model else (model_from_file_name(stated), "file name")
    result.summary = {
        "model": name,
        "model_source": source,
        "label": name,
        **result.summary,
        **_input_facts(choices, layout, scope, duplicates),
    }
    result.tables["variants"] = variant_scores(
        stated_long, choices, taxonomy, paper_compat=paper_compat, action_scope=scope
    )
    result.tables["choices"] = choices
    if out is not None:
        write_run(out, result.summary, result.tables, wait=wait)
    return result


class _InputFacts(TypedDict):
    """What the summary records about the Task 2 file."""

    action_scope: str
    actions_layout: str
    n_pairs_in_actions_file: int
    parse_status_action: dict[str, int]
    duplicates: str


def _input_facts(choices: pd.DataFrame, layout: str, scope: str, duplicates: str) -> _InputFacts:
    """What the summary records about the Task 2 file: layout, scope, parse statuses."""
    statuses = choices["parse_status"].value_counts()
    return {
        "action_scope": scope,
        "actions_layout": layout,
        "n_pairs_in_actions_file": len(choices.drop_duplicates(["country", "topic", "value"])),
        "parse_status_action": {str(k): int(v) for k, v in statuses.items()},
        "duplicates": duplicates,
    }


_AUTHORS_TASK1_FILE = re.compile(r"^(?P<model>.+?)_t1(?!\d)")
"""The authors' file names: `<model>_t1.csv`, `<model>_t1t2_joined.csv`, ..."""


def model_from_file_name(path: PathLike) -> str:
    """The model a Task 1 file is named after: `gpt-4o-mini_t1.csv` -> `gpt-4o-mini`.

    A name that does not follow the authors' `<model>_t1...` pattern gives its stem.
    """
    stem = Path(path).stem
    match = _AUTHORS_TASK1_FILE.match(stem)
    return match["model"] if match else stem


def evaluate(
    out: PathLike,
    *,
    model: str = "embedded",
    base_urls: Sequence[str] = (),
    via: PathLike | None = None,
    generate: Literal["auto", "always", "never"] = "auto",
    countries: Names = None,
    topics: Names = None,
    values: Names = None,
    tasks: Sequence[Literal["stated", "action"]] = ("stated", "action"),
    stated_variants: str = "all",
    action_variants: str = "5",
    scoring: Literal["generate", "logprob"] = "generate",
    temperature: float = 0.2,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    timeout_s: float | None = None,
    templates: PathLike | None = None,
    store: PathLike | None = None,
    taxonomy: PathLike | None = None,
    seed: int = 0,
    report: bool = True,
    progress: bool = True,
    wait: bool = False,
) -> EvaluateOutcome:
    """Evaluate a model: Task 1, Task 2, the value-action gap and a report, written to `out`.

    Rerunning with the same arguments resumes: finished requests come from the cache.

    Args:
        out: the run directory (summary.json, tables, cache, report.html).
        model: `embedded`, `embedded:PATH.gguf`, `openai:NAME` or `anthropic:NAME`.
        base_urls: API roots of OpenAI- or Anthropic-compatible servers (several spread the load).
        via: a VIA file (default: the cached official release).
        generate: `auto` generates the actions with `model` when no VIA file is available,
            `always` generates them even then, `never` requires a VIA file.
        countries: names or a comma-separated string (None: all); likewise `topics`, `values`.
        topics: see `countries`.
        values: see `countries`.
        tasks: which tasks to run; the gap needs both.
        stated_variants: Task 1 prompt variants (`all`: the paper's eight).
        action_variants: Task 2 prompt variants: one id (the paper used 5), a list, or `all`.
        scoring: `generate` (JSON answers) or `logprob` (option probabilities).
        temperature: sampling temperature (0.2 in the paper).
        concurrency: requests in flight at once.
        requests_per_minute: optional rate limit.
        timeout_s: time limit of one attempt (default 120 s; none for the embedded model).
        templates: a folder with your own prompt templates.
        store: the SQLite cache (default: the shared store, see `valuelens cache info`).
        taxonomy: a YAML/JSON file that extends the built-in countries, topics and values.
        seed: sampling and bootstrap seed.
        report: also write `out/report.html`.
        progress: show progress bars.
        wait: when another process is writing `out`, wait for it instead of failing.

    Returns:
        The outcome: `summary` (the headline numbers), `tables` (name -> DataFrame, e.g.
        `pairs`, `responses_action`), `result` (None when only one task ran), `completeness`.

    Example:
        >>> outcome = evaluate("runs/4o-mini", model="openai:gpt-4o-mini",
        ...                    countries="Canada", topics="Health")  # doctest: +SKIP
        >>> outcome.summary["alignment_rate"]  # doctest: +SKIP
        >>> outcome.tables["pairs"].head()  # doctest: +SKIP
    """
    from valuelens.pipeline import EvaluateConfig
    from valuelens.pipeline import evaluate as run_evaluation

    settings = _session(
        model, base_urls, concurrency, requests_per_minute, timeout_s, store, progress
    )
    config = EvaluateConfig(
        out=Path(out),
        **dataclasses.asdict(settings),
        via=_path(via),
        generate=generate,
        countries=_names(countries),
        topics=_names(topics),
        values=_names(values),
        tasks=tuple(tasks),
        stated_variants=stated_variants,
        action_variants=action_variants,
        scoring=scoring,
        temperature=temperature,
        templates=_path(templates),
        taxonomy=_path(taxonomy),
        seed=seed,
        report=report,
        wait=wait,
    )
    return _outside_event_loop(run_evaluation, config)


@dataclass
class CompassOutcome:
    """A model's ValueCompass ratings and, when a survey was given, their scores.

    Attributes:
        out: the directory with the answers (`answers`, `replies`, the cache).
        answers: one row per rating (country, scenario, value, variant, likert, parse_status).
        completeness: how many requests failed for good.
        result: the scores against the survey (None without `humans`).
    """

    out: Path
    answers: pd.DataFrame
    completeness: Completeness
    result: CompassResult | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """The headline numbers of the scores (empty without a survey)."""
        return self.result.summary if self.result is not None else {}

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The answers and every table of the scores, by name."""
        scored = self.result.tables if self.result is not None else {}
        return {"answers": self.answers, **scored}


def compass(
    out: PathLike,
    *,
    model: str = "embedded",
    humans: PathLike | None = None,
    score_out: PathLike | None = None,
    countries: Names = None,
    scenarios: Names = None,
    values: Names = None,
    variants: str = "all",
    name: str | None = None,
    paper_compat: bool = False,
    base_urls: Sequence[str] = (),
    temperature: float = 0.2,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    timeout_s: float | None = None,
    store: PathLike | None = None,
    taxonomy: PathLike | None = None,
    templates: PathLike | None = None,
    scenario_file: PathLike | None = None,
    aliases: PathLike | None = None,
    seed: int = 0,
    n_resamples: int = 1000,
    progress: bool = True,
    wait: bool = False,
) -> CompassOutcome:
    """Ask a model to rate every value as the AI in each scenario and country (ValueCompass).

    The ratings are written to `out` (rerunning resumes from its cache). With `humans`, they
    are also scored against people's survey answers, as `valuelens compass score` does.

    Args:
        out: the directory for the answers and the cache.
        model: `embedded`, `embedded:PATH.gguf`, `openai:NAME` or `anthropic:NAME`.
        humans: survey answers (a folder of the authors' `human_S*.csv`, one such file, or a
            tidy table); None: collect only.
        score_out: where to write the scored run directory (default: not written).
        countries: names or a comma-separated string (None: all); likewise `scenarios`, `values`.
        scenarios: see `countries`.
        values: see `countries`.
        variants: prompt variants 0-7 (e.g. `"0,2"`) or `all`.
        name: the model name to record (default: the backend's model).
        paper_compat: score as the paper did (the authors' parsing, neutral humans = disagree).
        base_urls: API roots of OpenAI- or Anthropic-compatible servers.
        temperature: sampling temperature.
        concurrency: requests in flight at once.
        requests_per_minute: optional rate limit.
        timeout_s: time limit of one attempt (default 120 s; none for the embedded model).
        store: the SQLite cache (default: the shared store, see `valuelens cache info`).
        taxonomy: a YAML/JSON file that extends the countries and values.
        templates: a folder with your own `compass/variant_N.jinja` prompts (the others stay
            built-in).
        scenario_file: a YAML file with extra or replacement scenarios.
        aliases: a YAML file with extra value-name aliases (for the survey).
        seed: sampling and bootstrap seed.
        n_resamples: bootstrap resamples over cells.
        progress: show progress bars.
        wait: when another process is writing `out`, wait for it instead of failing.

    Example:
        >>> run = compass("runs/compass-4o", model="openai:gpt-4o-mini", countries="Canada",
        ...               humans="results/human_eval")  # doctest: +SKIP
        >>> run.summary["alignment_rate"]  # doctest: +SKIP
        >>> run.answers.groupby("value")["likert"].mean()  # doctest: +SKIP
    """
    from valuelens.pipeline import collect_compass_answers

    settings = _session(
        model, base_urls, concurrency, requests_per_minute, timeout_s, store, progress
    )
    answers = _outside_event_loop(
        collect_compass_answers,
        settings,
        Path(out),
        countries=_names(countries),
        scenarios=_names(scenarios),
        values=_names(values),
        variants=variants,
        temperature=temperature,
        seed=seed,
        taxonomy=_path(taxonomy),
        scenario_file=_path(scenario_file),
        model=name,
        templates=_path(templates),
        wait=wait,
    )
    assert isinstance(answers, pd.DataFrame)  # not a dry run
    outcome = CompassOutcome(Path(out), answers, answers.attrs["completeness"])
    if humans is not None:
        outcome.result = compass_score(
            humans,
            Path(out) / "answers.parquet",
            out=score_out,
            paper_compat=paper_compat,
            model=name,
            taxonomy=taxonomy,
            scenario_file=scenario_file,
            aliases=aliases,
            n_resamples=n_resamples,
            seed=seed,
        )
    return outcome


def compass_score(
    humans: PathLike,
    answers: PathLike,
    *,
    out: PathLike | None = None,
    paper_compat: bool = False,
    model: str | None = None,
    taxonomy: PathLike | None = None,
    scenario_file: PathLike | None = None,
    aliases: PathLike | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> CompassResult:
    """Score one model's value ratings against people's survey answers (ValueCompass).

    Args:
        humans: survey answers: a folder of the authors' `human_S*.csv` files, one such file,
            or a tidy table (participant, country, scenario, value, answer).
        answers: the model's ratings: a folder of the authors' `value_eval_*.csv` files or a
            tidy table such as `answers.parquet` from `compass`.
        out: when given, write the run directory there (for `report` and `compare`).
        paper_compat: the authors' answer parsing; neutral human means count as disagree.
        model: the model to score when `answers` holds several, and the name to record.
        taxonomy: a YAML/JSON file that extends the countries and values.
        scenario_file: a YAML file with extra or replacement scenarios.
        aliases: a YAML file with extra value-name aliases.
        n_resamples: bootstrap resamples over cells.
        seed: bootstrap seed.

    Example:
        >>> result = compass_score("results/human_eval", "results/value_eval",
        ...                        model="gpt-4o", paper_compat=True)  # doctest: +SKIP
        >>> result.tables["cells"].head()  # doctest: +SKIP
    """
    from valuelens.pipeline import score_compass

    result: CompassResult = score_compass(
        Path(humans),
        Path(answers),
        out=_path(out),
        paper_compat=paper_compat,
        model=model,
        taxonomy=_path(taxonomy),
        scenario_file=_path(scenario_file),
        aliases=_path(aliases),
        n_resamples=n_resamples,
        seed=seed,
    )
    return result


@dataclass
class PredictOutcome:
    """An observer model's predictions of a target's choices, and their scores.

    Attributes:
        out: the run directory written.
        summary: settings, parse statuses, completeness and `scores`
            ({target: {setting: {f1, accuracy, n, ...}}}).
        tables: `items`, `examples`, `predictions` (one row per item and setting) and `scores`
            (one row per target and setting).
    """

    out: Path
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


_PREDICT_TABLES = ("items", "examples", "predictions", "scores")


def predict(
    run: PathLike,
    out: PathLike,
    *,
    model: str = "embedded",
    settings: str = "all",
    shots: int = 10,
    max_pairs: int | None = None,
    base_urls: Sequence[str] = (),
    templates: PathLike | None = None,
    temperature: float = 0.0,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    timeout_s: float | None = None,
    store: PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
    wait: bool = False,
) -> PredictOutcome:
    """Ask an observer model which of a run's actions the target chose, and score it.

    Args:
        run: the directory of an `evaluate` run that ran Task 2 (the target).
        out: the run directory to write (with its cache; rerunning resumes).
        model: the observer: `embedded`, `openai:NAME`, `anthropic:NAME`, ...
        settings: `default`, `attribution`, `explanation`, `attribution_explanation`
            (comma-separated) or `all`.
        shots: few-shot pairs (both actions of each are shown; the authors used 10).
        max_pairs: test pairs to draw (two items each); None: all the others.
        base_urls: API roots of OpenAI- or Anthropic-compatible servers.
        templates: a folder with `predict/observer.jinja` (your wording).
        temperature: sampling temperature.
        concurrency: requests in flight at once.
        requests_per_minute: optional rate limit.
        timeout_s: time limit of one attempt (default 120 s; none for the embedded model).
        store: the SQLite cache (default: the shared store, see `valuelens cache info`).
        seed: seed for drawing examples and items, and for sampling.
        progress: show progress bars.
        wait: when another process is writing `out`, wait for it instead of failing.

    Example:
        >>> outcome = predict("runs/4o-mini", "runs/predict-4o", model="openai:gpt-4o")  # doctest: +SKIP
        >>> outcome.tables["scores"][["setting", "f1", "accuracy"]]  # doctest: +SKIP
    """
    from valuelens.pipeline import run_predictions

    observer = _session(
        model, base_urls, concurrency, requests_per_minute, timeout_s, store, progress
    )
    summary = _outside_event_loop(
        run_predictions,
        Path(run),
        observer,
        Path(out),
        settings=settings,
        shots=shots,
        seed=seed,
        max_pairs=max_pairs,
        temperature=temperature,
        templates=_path(templates),
        wait=wait,
    )
    assert isinstance(summary, dict)  # not a dry run
    tables = {name: pd.read_parquet(Path(out) / f"{name}.parquet") for name in _PREDICT_TABLES}
    return PredictOutcome(Path(out), summary, tables)


def report(
    runs: PathLike | Sequence[PathLike],
    out: PathLike = "report.html",
    *,
    figures: PathLike | None = None,
    title: str | None = None,
    all_pairs: bool = False,
) -> Path:
    """Write one self-contained HTML report for one or more run directories.

    Args:
        runs: directories written by `score`, `evaluate`, `compass_score` (or the CLI).
        out: the HTML file to write.
        figures: when given, also write every figure there as PNG and SVG.
        title: the page title (default: the runs' names).
        all_pairs: compare value-action runs each on its own pairs instead of on the pairs
            that every run scored.

    Returns:
        The path of the HTML file.

    Example:
        >>> report(["runs/4o-mini", "runs/gemma"], "report.html")  # doctest: +SKIP
        PosixPath('report.html')
    """
    from valuelens.report import render_report

    return render_report(
        [Path(p) for p in _paths(runs)],
        Path(out),
        figures_dir=_path(figures),
        title=title,
        all_pairs=all_pairs,
    )


@dataclass(frozen=True)
class ComparisonFrames:
    """A comparison of runs as DataFrames, with the `Comparison` it came from.

    Attributes:
        comparison: every detail (leaderboard entries, paired tests, dropped pairs, ...).
        leaderboard: one row per run, best first (rank, label, alignment_rate, ci_low, ...).
        by_axis: `"<axis>/<measure>"` (e.g. `"country/alignment_rate"`) -> one row per
            country, topic or scenario, one column per run, then `spread`.
        paired: each run tested against the leader, one row per (run, measure).
    """

    comparison: Comparison
    leaderboard: pd.DataFrame
    by_axis: dict[str, pd.DataFrame]
    paired: pd.DataFrame

    @property
    def warnings(self) -> list[str]:
        """Why the runs' numbers may not be directly comparable, one sentence each."""
        return self.comparison.warnings


def compare(
    runs: Sequence[PathLike],
    *,
    sort: Literal["alignment_rate", "distance", "accuracy"] = "alignment_rate",
    all_pairs: bool = False,
    n_resamples: int = 1000,
    n_permutations: int = 10000,
    seed: int = 0,
) -> ComparisonFrames:
    """Rank runs of one kind and tabulate their measures by country and topic (or scenario).

    Value-action runs are compared on the pairs that every one of them scored (unless
    `all_pairs`), and each is tested against the leader with a paired test.

    Args:
        runs: run directories, all value-action or all ValueCompass.
        sort: the measure to rank by.
        all_pairs: use each run's own pairs (its summary) instead of the common pairs.
        n_resamples: bootstrap resamples of the paired tests.
        n_permutations: permutations of the paired tests' p-values.
        seed: seed of the paired tests.

    Example:
        >>> frames = compare(["runs/4o-mini", "runs/gemma"])  # doctest: +SKIP
        >>> frames.leaderboard[["rank", "label", "alignment_rate"]]  # doctest: +SKIP
        >>> frames.by_axis["country/alignment_rate"]  # doctest: +SKIP
    """
    from valuelens.report._compare import axis_frame, compare_runs, leaderboard_frame, paired_frame
    from valuelens.report._load import load_runs

    comparison = compare_runs(
        load_runs([Path(p) for p in _paths(runs)]),
        sort,
        all_pairs=all_pairs,
        n_resamples=n_resamples,
        n_permutations=n_permutations,
        seed=seed,
    )
    return ComparisonFrames(
        comparison=comparison,
        leaderboard=leaderboard_frame(comparison),
        by_axis={f"{t.axis}/{t.key}": axis_frame(t) for t in comparison.axes},
        paired=paired_frame(comparison),
    )


def _outside_event_loop(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call `function`, in a worker thread when this thread runs an event loop (Jupyter).

    The pipeline drives its requests with `asyncio.run`, which cannot start inside a
    running loop; a worker thread has none.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="valuelens") as pool:
        return pool.submit(function, *args, **kwargs).result()


def _session(
    model: str,
    base_urls: Sequence[str],
    concurrency: int,
    requests_per_minute: float | None,
    timeout_s: float | None,
    store: PathLike | None,
    progress: bool,
) -> SessionSettings:
    """The session settings of a stage's keyword arguments (the public API keeps them flat)."""
    from valuelens.pipeline._session import SessionSettings

    return SessionSettings(
        model=model,
        base_urls=tuple(base_urls),
        concurrency=concurrency,
        requests_per_minute=requests_per_minute,
        timeout_s=timeout_s,
        store=_path(store),
        progress=progress,
    )


def _names(names: Names) -> str | None:
    """Names as the pipeline takes them: one comma-separated string, or None for all."""
    if names is None or isinstance(names, str):
        return names
    return ",".join(names)


def _path(path: PathLike | None) -> Path | None:
    return None if path is None else Path(path)


def _paths(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    return [paths] if isinstance(paths, str | Path) else list(paths)
