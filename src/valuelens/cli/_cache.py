"""`valuelens cache`: look into, trim, export and import the shared store of answers.

valuelens cache info
valuelens cache clear --model openai:gpt-4o-mini
valuelens cache export answers.jsonl.gz --run runs/gpt-4o-mini
valuelens cache import answers.jsonl.gz
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from valuelens._errors import ValuelensError
from valuelens.cli._console import console, escape, print_info, print_note

_StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        metavar="FILE",
        help="The store to work on (default: the shared one, in $VALUELENS_CACHE_DIR or the "
        "user cache folder).",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `cache` command group to the main app."""
    cache = typer.Typer(
        help="The shared store of requests and answers: every command looks there first, so "
        "nothing is paid for twice.",
        no_args_is_help=True,
    )
    app.add_typer(cache, name="cache")

    @cache.command()
    def info(store: _StoreOpt = None) -> None:
        """Where the store is, its size, and how many answers it holds per model."""
        show_info(_store_path(store))

    @cache.command()
    def clear(
        model: Annotated[
            str | None,
            typer.Option(
                metavar="NAME",
                help="Only this model's results: kind:name as `cache info` lists it, or the "
                "name alone.",
                show_default="every result",
            ),
        ] = None,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
        ] = False,
        store: _StoreOpt = None,
    ) -> None:
        """Remove stored results (all, or one model's); later runs send those requests again."""
        clear_store(_store_path(store), model, confirmed=yes)

    @cache.command("export")
    def export_(
        file: Annotated[
            Path,
            typer.Argument(help="File to write (JSON Lines; gzip-compressed if it ends in .gz)."),
        ],
        run: Annotated[
            Path | None,
            typer.Option(
                "--run",
                metavar="DIR",
                help="Only the answers this run directory used (its requests.json names its "
                "store and keys).",
                show_default="every answer",
            ),
        ] = None,
        store: _StoreOpt = None,
    ) -> None:
        """Write stored answers to a file, to share them or to archive a run with its answers."""
        export_answers(file, run=run, store=store)

    @cache.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="A file written by `valuelens cache export`.")],
        store: _StoreOpt = None,
    ) -> None:
        """Merge exported answers into the store; a different stored answer is never replaced."""
        import_answers(file, _store_path(store))


def _store_path(store: Path | None) -> Path:
    from valuelens.pipeline._session import default_store

    return store if store is not None else default_store()


def _size(path: Path) -> int:
    """Bytes of the store with its write-ahead log."""
    files = (path, path.with_name(path.name + "-wal"))
    return sum(f.stat().st_size for f in files if f.is_file())


def show_info(path: Path) -> None:
    """Print the store's path, size, and answers and failures per model and endpoint."""
    from valuelens.runner._store import Store

    show_via_cache()
    print_info(f"store: {path}")
    if not path.is_file():
        print_info("empty: nothing has been stored yet")
        return
    with Store(path, read_only=True) as opened:
        answers, failures = opened.counts()
        groups = opened.by_model()
    print_info(f"size: {_size(path) / 1_000_000:.1f} MB")
    print_info(f"answers: {answers:,}; failures (sent again by the next run): {failures:,}")
    if not groups:
        return
    table = Table(title="by model", title_justify="left")
    for name, justify in (("model", "left"), ("endpoint", "left"), ("answers", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("failures", justify="right")
    for group in groups:
        endpoint = escape(group.endpoint or "-")
        table.add_row(escape(group.model), endpoint, f"{group.answers:,}", f"{group.failures:,}")
    console.print(table)


def show_via_cache() -> None:
    """Print where the downloaded VIA release and the parsed VIA copies are, and their size."""
    from valuelens.data._download import default_via_path, via_cache_dir
    from valuelens.data._via_cache import describe, parsed_dir

    release = default_via_path()
    if release is None:
        folder = via_cache_dir()
        print_info(f"VIA release: not downloaded (`valuelens data download` puts it in {folder})")
    else:
        print_info(f"VIA release: {release} ({release.stat().st_size / 1_000_000:.1f} MB)")
    count, size = describe()
    if count:
        print_info(f"parsed VIA copies: {count} ({size / 1_000_000:.1f} MB) in {parsed_dir()}")


def clear_store(path: Path, model: str | None, *, confirmed: bool) -> None:
    """Remove the results of `model` (or all) from the store at `path`, after confirmation."""
    from valuelens.runner._store import Store

    if not path.is_file():
        print_info(f"nothing to clear: no store at {path}")
        return
    what = f"the results of {model}" if model else "every stored result"
    if not confirmed and not typer.confirm(f"Remove {what} from {path}?"):
        print_note("nothing removed")
        return
    with Store(path, read_only=False) as opened:
        removed = opened.delete(model=model)
    if removed == 0 and model is not None:
        print_note(f"no results of {model} in {path} (`valuelens cache info` lists the models)")
    print_info(f"removed {removed:,} results from {path}")


def export_answers(file: Path, *, run: Path | None, store: Path | None) -> None:
    """Write the answers of the store (or only those `run` used) to `file`."""
    from valuelens.runner._store import Store, export_records

    path, keys = _export_source(run, store)
    if not path.is_file():
        raise ValuelensError(f"no store at {path} to export from")
    with Store(path, read_only=True) as opened:
        records = opened.records(ok=True, keys=keys)
        written = export_records(records, file)
    missing = "" if keys is None else f" ({len(keys) - written:,} of the run's requests had none)"
    print_info(f"wrote {written:,} answers from {path} to {file}{missing}")


def _export_source(run: Path | None, store: Path | None) -> tuple[Path, list[str] | None]:
    """The store to export from and the keys to export (None: every key)."""
    from valuelens.pipeline._session import LEDGER_NAME, OLDER_CACHE_NAMES, read_ledger

    if run is None:
        return _store_path(store), None
    if not run.is_dir():
        raise ValuelensError(f"no run directory at {run}")
    ledger = read_ledger(run)
    if ledger is not None:
        return (store or Path(ledger.store)), ledger.keys
    for name in OLDER_CACHE_NAMES:  # an older run kept its own cache: all of it is the run's
        if (run / name).is_file():
            return run / name, None
    raise ValuelensError(
        f"{run} has no {LEDGER_NAME} (it records the keys of a run's requests); run it again "
        "with this version (cached answers are not paid for again) or export the whole store"
    )


def import_answers(file: Path, path: Path) -> None:
    """Merge the answers of `file` into the store at `path` and print what happened."""
    from valuelens.runner._store import Store, read_export

    with Store(path, read_only=False) as opened:
        counts = opened.merge(read_export(file))
    print_info(
        f"imported into {path}: {counts.added:,} added, {counts.unchanged:,} already there, "
        f"{counts.replaced_failures:,} stored failures replaced by answers"
    )
    if counts.conflicts:
        print_note(
            f"{counts.conflicts:,} answers differ from the stored ones for the same request; "
            "the stored answers were kept (clear them first to take the imported ones)",
            style="yellow",
        )
