"""Hypothesis strategies that damage real input files, and the check every importer must pass.

A seed is a small slice of a real file (the authors' data or a built-in file). The strategies
damage it the ways real files get damaged or the ways an attacker would: at the table level
(truncated, swapped, renamed or missing columns, duplicate rows, ragged rows, odd cells: empty,
NaN, huge, a list, markup, control characters), at the tree level for YAML/JSON (a node replaced
by a value of the wrong type, a key removed, deep nesting, alias expansion), and at the byte
level (truncation, random bytes, BOM, CRLF, latin-1 or UTF-16, an empty file).

`check_import` is the property: the importer returns, or raises a `ValuelensError` whose message
is one short line. Any other exception fails the test (and hypothesis shrinks the input).
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from hypothesis import strategies as st

from valuelens._errors import ValuelensError

T = TypeVar("T")

# Longest error message accepted as "one clear line" (names and cells are cut, not echoed whole).
MAX_MESSAGE_CHARS = 1500
HUGE = 50_000

CASES: Counter[str] = Counter()
"""Fuzz cases run per importer in this session (printed in the terminal summary)."""

RESULTS: Counter[str] = Counter()
"""Outcomes per importer: `<importer>: result` or `<importer>: error`."""


def check_import(importer: str, call: Callable[[], T]) -> T | None:
    """Run one import: it returns, or raises a one-line `ValuelensError`; nothing else passes."""
    CASES[importer] += 1
    try:
        result = call()
    except ValuelensError as exc:
        RESULTS[f"{importer}: error"] += 1
        assert_one_line(str(exc))
        return None
    RESULTS[f"{importer}: result"] += 1
    return result


def assert_one_line(message: str) -> None:
    """A message a user can read: not empty, one line, not a dump of the input."""
    assert message.strip(), "empty error message"
    assert "\n" not in message.strip() and "\r" not in message.strip(), (
        f"error message spans several lines: {message[:300]!r}"
    )
    assert len(message) <= MAX_MESSAGE_CHARS, (
        f"error message of {len(message)} characters: {message[:300]!r}..."
    )


# ---------------------------------------------------------------------------------------------
# Odd values


_ODD_TEXT = [
    "",
    " ",
    "nan",
    "NaN",
    "None",
    "null",
    "N/A",
    "inf",
    "-inf",
    "1e309",
    "-1",
    "0",
    "3.5",
    "99999999999999999999999",
    "[1, 2]",
    "['a', ['b']]",
    "{'action': [",
    '{"a": {"b": {"c": ',
    "[red]markup[/red]",
    "[/v1/projects/p-1]",
    "a\nb",
    "a\r\nb",
    '"',
    "'",
    "\x00",
    "\x1b[31m",
    "\ufeff",
    "\u202e",
    "Ünïcödé ✓ 你好",
    "Option 1",
    "positive",
    "negative",
    "True",
    "False",
]

# Replies a parser must survive: nesting past the recursion limit, a huge cell, a fenced bomb.
_CELL_ATTACKS = [
    "[" * 5000 + "]" * 5000,
    '{"a": ' * 3000 + "1" + "}" * 3000,
    "```json\n" + "[" * 5000 + "\n```",
    "{" * 5000,
    "x" * HUGE,
    "{'action': '" + "Option 1 " * 5000 + "'}",
]

odd_text: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(_ODD_TEXT),
    st.text(max_size=40),
    st.text(alphabet="[]{}()'\",:;\\ \n", max_size=30),
    st.sampled_from(["x" * HUGE, "Honest " * (HUGE // 7), "[" * 5000]),
)
"""A cell or a scalar that a file should not hold."""

odd_scalar: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
)

odd_node: st.SearchStrategy[Any] = st.one_of(
    odd_scalar,
    st.lists(odd_scalar, max_size=3),
    st.dictionaries(st.sampled_from(["name", "label", "type", "x", ""]), odd_scalar, max_size=3),
    st.just([None]),
    st.just({"name": None}),
    st.just({"name": ["a", "b"]}),
    st.just([["nested"]]),
    st.just({"name": {"name": "x"}}),
)
"""A YAML/JSON node of the wrong type or shape."""


# ---------------------------------------------------------------------------------------------
# Tables


def read_rows(text: str) -> list[list[str]]:
    """A CSV's rows as lists of cells."""
    return list(csv.reader(io.StringIO(text)))


def write_rows(rows: list[list[str]]) -> str:
    """Rows back to CSV text (minimal quoting, '\\n' line ends)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _width(rows: list[list[str]]) -> int:
    return max((len(r) for r in rows), default=0)


@st.composite
def _row_op(draw: st.DrawFn, rows: list[list[str]]) -> list[list[str]]:
    rows = [list(r) for r in rows]
    width = _width(rows)
    kind = draw(
        st.sampled_from(
            [
                "cell",
                "cell",
                "cell",
                "keep_rows",
                "drop_column",
                "swap_columns",
                "swap_headers",
                "rename_header",
                "duplicate_row",
                "shuffle",
                "ragged",
                "blank_row",
                "drop_header",
            ]
        )
    )
    if not rows or width == 0:
        return [[draw(odd_text)]]
    column = draw(st.integers(0, width - 1))
    row = draw(st.integers(0, len(rows) - 1))
    if kind == "cell":
        target = rows[row]
        while len(target) <= column:
            target.append("")
        target[column] = draw(odd_text)
    elif kind == "keep_rows":
        rows = rows[: draw(st.integers(0, len(rows)))]
    elif kind == "drop_column":
        rows = [r[:column] + r[column + 1 :] for r in rows]
    elif kind in {"swap_columns", "swap_headers"}:
        other = draw(st.integers(0, width - 1))
        targets = rows if kind == "swap_columns" else rows[:1]
        for r in targets:
            if max(column, other) < len(r):
                r[column], r[other] = r[other], r[column]
    elif kind == "rename_header":
        if column < len(rows[0]):
            rows[0][column] = draw(odd_text)
    elif kind == "duplicate_row":
        rows.insert(row, list(rows[row]))
    elif kind == "shuffle":
        rows = [rows[0], *draw(st.permutations(rows[1:]))]
    elif kind == "ragged":
        rows[row] = rows[row][: draw(st.integers(0, len(rows[row])))] + draw(
            st.lists(odd_text, max_size=3)
        )
    elif kind == "blank_row":
        rows.insert(row, [])
    elif kind == "drop_header":
        rows = rows[1:]
    return rows


@st.composite
def mutated_csv_text(draw: st.DrawFn, seed: str, max_ops: int = 3) -> str:
    """The seed CSV after a few table-level mutations (possibly none)."""
    rows = read_rows(seed)
    for _ in range(draw(st.integers(0, max_ops))):
        rows = draw(_row_op(rows))
    return write_rows(rows)


@st.composite
def mutated_column(draw: st.DrawFn, seed: str, column: str) -> bytes:
    """The seed CSV with a few cells of one column damaged (the cells a parser reads: replies).

    A cell is replaced, cut short, or gets odd text before or after its own.
    """
    rows = read_rows(seed)
    index = rows[0].index(column)
    for _ in range(draw(st.integers(1, 3))):
        row = rows[draw(st.integers(1, len(rows) - 1))]
        cell = row[index]
        how = draw(st.sampled_from(["replace", "prefix", "suffix", "cut"]))
        if how == "cut":
            row[index] = cell[: draw(st.integers(0, len(cell)))]
        else:
            junk = draw(st.one_of(st.sampled_from(_CELL_ATTACKS), odd_text))
            row[index] = {"replace": junk, "prefix": junk + cell, "suffix": cell + junk}[how]
    return write_rows(rows).encode("utf-8")


def damaged_csv(seed: str, column: str) -> st.SearchStrategy[bytes]:
    """Either damage anywhere in the table, or damage in the cells of `column`."""
    return st.one_of(mutated_csv(seed), mutated_column(seed, column))


# ---------------------------------------------------------------------------------------------
# Bytes


@st.composite
def encoded(draw: st.DrawFn, text: str, max_ops: int = 2) -> bytes:
    """Text as bytes, re-encoded or damaged at the byte level (possibly not at all)."""
    encoding = draw(st.sampled_from([*["utf-8"] * 6, "utf-8-sig", "latin-1", "utf-16", "crlf"]))
    if encoding == "crlf":
        data = text.replace("\n", "\r\n").encode("utf-8")
    elif encoding == "latin-1":
        data = ("é" + text).encode("latin-1", errors="replace")
    else:
        data = text.encode(encoding, errors="surrogatepass")
    for _ in range(draw(st.sampled_from([0, 0, 0, *range(1, max_ops + 1)]))):
        data = draw(_byte_op(data))
    return data


@st.composite
def _byte_op(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "insert", "overwrite", "delete", "empty", "cr"]))
    position = draw(st.integers(0, len(data)))
    if kind == "truncate":
        return data[:position]
    if kind == "insert":
        return data[:position] + draw(st.binary(min_size=1, max_size=16)) + data[position:]
    if kind == "overwrite":
        junk = draw(st.binary(min_size=1, max_size=16))
        return data[:position] + junk + data[position + len(junk) :]
    if kind == "delete":
        return data[:position] + data[position + draw(st.integers(1, 64)) :]
    if kind == "cr":
        return data.replace(b"\n", b"\r")
    return b""


def mutated_csv(seed: str) -> st.SearchStrategy[bytes]:
    """A damaged copy of a CSV seed, as the bytes of a file."""
    return mutated_csv_text(seed).flatmap(encoded)


# ---------------------------------------------------------------------------------------------
# YAML / JSON trees


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def deep(depth: int, kind: str) -> Any:
    """A list or mapping nested `depth` levels (built without recursion)."""
    node: Any = "x"
    for _ in range(depth):
        node = [node] if kind == "list" else {"name": node}
    return node


@st.composite
def _tree_op(draw: st.DrawFn, tree: Any) -> Any:
    paths = _paths(tree)
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "duplicate", "nest"]))
    if not path:
        return copy.deepcopy(draw(odd_node)) if kind != "wrap" else [tree]
    parent = _get(tree, path[:-1])
    key = path[-1]
    if kind == "replace":  # a copy: `st.just` hands out one shared object
        parent[key] = copy.deepcopy(draw(odd_node))
    elif kind == "delete":
        del parent[key]
    elif kind == "wrap":
        parent[key] = [parent[key]]
    elif kind == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif kind == "nest":
        parent[key] = deep(
            draw(st.sampled_from([3, 30, 200])), draw(st.sampled_from(["list", "map"]))
        )
    return tree


def _dump(tree: Any, style: str) -> str:
    if style == "json":
        return json.dumps(tree, ensure_ascii=False)
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)


_TEXT_ATTACKS = {
    # Nesting deeper than any parser's recursion limit.
    "deep_list": "values: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep_map": "countries: " + "{a: " * 3000 + "x" + "}" * 3000 + "\n",
    "deep_json": '{"topics": ' + "[" * 100_000 + "]" * 100_000 + "}",
    # Alias expansion: nine references per level, 9**7 names if expanded.
    "aliases": "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else ', '.join(['x'] * 9)}]\n"
        for i in range(8)
    )
    + "countries: *l7\nvalues: *l7\ntopics: *l7\nscenarios: *l7\naliases: *l7\n",
    "null_items": '{"countries": [null]}',
    "list_value": "values: [[Honest, Wealth]]\n",
    "tabs": "values:\n\t- Honest\n",
    "not_mapping": "- a\n- b\n",
    "scalar": "42",
    "empty": "",
    "comment_only": "# nothing here\n",
    "python_tag": "values: !!python/object/apply:os.system ['true']\n",
    "binary": "!!binary AAAA\n",
    "timestamp_keys": "2024-01-01: x\n",
    "non_string_keys": "{1: a, [2]: b}\n",
}


@st.composite
def mutated_tree_text(draw: st.DrawFn, seed: Any, style: str = "yaml") -> str:
    """A damaged YAML/JSON document built from a parsed seed (possibly unchanged)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(sorted(_TEXT_ATTACKS.values())))
    tree = copy.deepcopy(seed)
    for _ in range(draw(st.integers(0, 3))):
        tree = draw(_tree_op(tree))
    try:
        return _dump(tree, style)
    except (ValueError, RecursionError):  # a value the dumper cannot write
        return _dump(seed, style)


def mutated_tree(seed: Any, style: str = "yaml") -> st.SearchStrategy[bytes]:
    """A damaged YAML/JSON document as the bytes of a file."""
    return mutated_tree_text(seed, style).flatmap(lambda text: encoded(text, max_ops=1))


# ---------------------------------------------------------------------------------------------
# Template text


_JINJA_JUNK = [
    "{{",
    "}}",
    "{%",
    "{% if %}",
    "{% for x in %}",
    "{% endfor %}",
    "{{ undefined_name }}",
    "{{ value.nope.deeper }}",
    "{{ 1/0 }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ range(10**9)|list }}",
    "{% include 'missing.jinja' %}",
    "{% include 'stated/variant_0.jinja' %}",
    "{% extends 'action/variant_0.jinja' %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{# unclosed comment",
    "{% raw %}",
    "[red]{{ country }}[/red]",
]


@st.composite
def mutated_template(draw: st.DrawFn, seed: str) -> bytes:
    """A template with Jinja junk spliced in, cut short or re-encoded."""
    text = seed
    for _ in range(draw(st.integers(0, 2))):
        position = draw(st.integers(0, len(text)))
        junk = draw(st.one_of(st.sampled_from(_JINJA_JUNK), st.text(max_size=20)))
        text = text[:position] + junk + text[position:]
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return draw(encoded(text, max_ops=1))
