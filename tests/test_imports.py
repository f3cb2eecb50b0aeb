"""Cheap imports: `import valuelens` and `valuelens --help` must not load the heavy stack.

Each check runs in a fresh interpreter (this test process has long since imported pandas) and
looks at `sys.modules`, which is what costs the seconds; nothing here measures time.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from typing import Any

import pytest

import valuelens

HEAVY = ("pandas", "numpy", "pyarrow", "matplotlib", "openai", "anthropic", "xllamacpp")


def _run(code: str) -> dict[str, Any]:
    """Run `code` in a new interpreter; it must print one JSON object as its last line."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


LOADED = f"[m for m in {HEAVY!r} if m in sys.modules]"
"""An expression, for the child process: the heavy modules it has imported."""


def test_import_valuelens_loads_no_heavy_module() -> None:
    found = _run(f"import json, sys, valuelens; print(json.dumps({LOADED}))")
    assert found == []


def test_the_honest_check_from_the_brief() -> None:
    code = "import valuelens, sys; assert 'pandas' not in sys.modules"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_exception_is_available_without_importing_anything_heavy() -> None:
    code = (
        "import json, sys, valuelens\n"
        "assert issubclass(valuelens.ValuelensError, Exception)\n"
        f"print(json.dumps({LOADED}))"
    )
    assert _run(code) == []


def test_public_names_resolve_to_their_definitions() -> None:
    from valuelens import _api
    from valuelens._errors import ValuelensError
    from valuelens.data import load_choices, load_stated
    from valuelens.taxonomy import load_taxonomy

    stages = ("compare", "compass", "compass_score", "evaluate", "predict", "report", "score")
    expected = {
        "ValuelensError": ValuelensError,
        "load_choices": load_choices,
        "load_stated": load_stated,
        "load_taxonomy": load_taxonomy,
        **{name: getattr(_api, name) for name in stages},
    }
    assert sorted(valuelens.__all__) == sorted(expected) == valuelens.__all__
    for name, obj in expected.items():
        assert getattr(valuelens, name) is obj
    assert set(valuelens.__all__) <= set(dir(valuelens))


def test_star_import_and_unknown_names() -> None:
    namespace: dict[str, Any] = {}
    exec("from valuelens import *", namespace)
    assert set(valuelens.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = valuelens.no_such_name  # type: ignore[attr-defined]


def test_report_stays_the_function_when_the_report_subpackage_is_imported() -> None:
    # The subpackage `valuelens.report` is imported first, as any stage does; the import
    # system would otherwise bind it over the function of the same name.
    code = (
        "import json, valuelens\n"
        "from valuelens.report import render_report\n"
        "import valuelens.report._compare\n"
        "from valuelens import report\n"
        "print(json.dumps({'callable': callable(valuelens.report),\n"
        "                  'same': report is valuelens.report,\n"
        "                  'module': valuelens.report.__module__}))"
    )
    assert _run(code) == {"callable": True, "same": True, "module": "valuelens._api"}


def test_first_use_imports_the_stage_it_needs() -> None:
    code = f"import json, sys, valuelens\nvaluelens.load_stated\nprint(json.dumps({LOADED}))"
    assert "pandas" in _run(code)


@functools.cache
def _cli(*args: str) -> dict[str, Any]:
    """Run the console entry point with `args`; report exit code, output and heavy modules."""
    code = (
        "import contextlib, io, json, sys\n"
        f"sys.argv = ['valuelens', *{args!r}]\n"
        "from valuelens.cli import main\n"
        "out = io.StringIO()\n"
        "code = 0\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exc:\n"
        "        code = exc.code or 0\n"
        f"print(json.dumps({{'code': code, 'out': out.getvalue(), 'heavy': {LOADED}}}))"
    )
    return _run(code)


@pytest.mark.parametrize("args", [("--help",), ("version",)])
def test_cli_startup_commands_work(args: tuple[str, ...]) -> None:
    result = _cli(*args)
    assert result["code"] == 0
    assert ("compass" in result["out"]) if args == ("--help",) else result["out"].strip()


@pytest.mark.parametrize("args", [("--help",), ("version",)])
def test_cli_startup_commands_load_no_heavy_module(args: tuple[str, ...]) -> None:
    assert _cli(*args)["heavy"] == []
