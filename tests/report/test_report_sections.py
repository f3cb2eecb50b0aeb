"""Report sections registered from outside the report package, and runs of kinds it does not know."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import Markup

from support.report_cdp import Browser
from valuelens._errors import ValuelensError
from valuelens.report import (
    GenericRun,
    Section,
    SectionContext,
    register_section,
    render_fragment,
    render_report,
    unregister_section,
)
from valuelens.report._figures import Bars
from valuelens.report._load import load_run
from valuelens.runs import SUMMARY_MODELS, RunSummary, register_summary_model, write_run

PAYLOAD = "<script>window.__pwned=1</script>"
TOY_KIND = "toy-flags"


class ToyFlagsSummary(RunSummary):
    """Answers a toy checker flagged."""

    n_flagged: int = 0


FRAGMENT = """<p class="toy-lead">{{ n|int }} flagged answers</p>
<table class="data" data-testid="toy-flags"><tbody>
{% for row in rows %}<tr><td>{{ row.label }}</td><td>{{ row.text }}</td><td class="num">{{ row.share|pct }}</td></tr>
{% endfor %}</tbody></table>
"""


def _toy_section(template: Path) -> Callable[[SectionContext], Markup | None]:
    def build(ctx: SectionContext) -> Markup | None:
        runs = [r for r in ctx.runs if isinstance(r, GenericRun) and r.kind == TOY_KIND]
        if not runs:
            return None
        rows = []
        for run in runs:
            table = run.record.table("flags")
            for text, flagged in zip(table["text"], table["flagged"], strict=True):
                rows.append({"label": run.label, "text": text, "share": float(flagged)})
            ctx.figures.append(
                (ctx.folders[id(run)], Bars("toy_flags", "Flagged", ["a"], ["a"], [0.5], "share"))
            )
        n = sum(int(r.summary.get("n_flagged")) for r in runs)
        return render_fragment(template, rows=rows, n=n)

    return build


@pytest.fixture
def toy_kind() -> Iterator[None]:
    register_summary_model(TOY_KIND, ToyFlagsSummary)
    try:
        yield
    finally:
        SUMMARY_MODELS.pop(TOY_KIND, None)


@pytest.fixture
def toy_run(tmp_path: Path, toy_kind: None) -> Path:
    flags = pd.DataFrame({"text": [PAYLOAD, "plain answer"], "flagged": [1.0, 0.0]})
    summary = {"kind": TOY_KIND, "label": "toy <i>run</i>", "n_flagged": 1}
    return write_run(tmp_path / "toy", summary, {"flags": flags})


@pytest.fixture
def toy_section(tmp_path: Path) -> Iterator[str]:
    template = tmp_path / "templates" / "toy.html.j2"
    template.parent.mkdir()
    template.write_text(FRAGMENT)
    register_section(Section("toy-flags", "Toy <flags>", _toy_section(template), order=700))
    try:
        yield "toy-flags"
    finally:
        unregister_section("toy-flags")


def test_run_of_a_registered_kind_loads_as_a_generic_run(toy_run: Path) -> None:
    run = load_run(toy_run)
    assert isinstance(run, GenericRun)
    assert (run.kind, run.label, run.summary.get("n_flagged")) == (TOY_KIND, "toy <i>run</i>", 1)
    assert isinstance(run.summary, ToyFlagsSummary)
    assert list(run.record.table("flags")["text"]) == [PAYLOAD, "plain answer"]


def test_unregistered_kind_is_still_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "poem"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text('{"kind": "poem"}')
    with pytest.raises(ValuelensError, match=r"unknown run kind 'poem'.*register_summary_model"):
        load_run(run_dir)


def test_registered_section_renders_escaped_in_page_and_nav(
    toy_run: Path, toy_section: str, tmp_path: Path
) -> None:
    html = render_report([toy_run], tmp_path / "r.html", figures_dir=tmp_path / "fig").read_text()
    assert '<section id="toy-flags" class="section" data-section="registered">' in html
    assert "<h2>Toy &lt;flags&gt;</h2>" in html
    assert '<li><a href="#toy-flags">Toy &lt;flags&gt;</a></li>' in html
    # nav order: the registered section comes just before About
    assert html.index('href="#toy-flags"') < html.index('href="#about"')
    assert html.index('id="toy-flags"') < html.index('id="about"')
    assert '<p class="toy-lead">1 flagged answers</p>' in html
    assert PAYLOAD not in html  # the model text is escaped ...
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html  # ... and still shown
    assert "<td>toy &lt;i&gt;run&lt;/i&gt;</td>" in html
    assert '<td class="num">100%</td>' in html or "100.0%" in html
    # the section's figure is exported with the others (folder from the run's label)
    assert sorted(p.name for p in (tmp_path / "fig").rglob("toy_flags.*")) == [
        "toy_flags.png",
        "toy_flags.svg",
    ]


def test_title_and_subtitle_name_what_the_report_holds(toy_run: Path, tmp_path: Path) -> None:
    html = render_report([toy_run], tmp_path / "r.html").read_text()
    assert "<title>Toy flags report: toy &lt;i&gt;run&lt;/i&gt;</title>" in html
    assert "Toy flags runs: answers a toy checker flagged" in html
    assert "Value-action gap report" not in html


def test_compass_only_report_is_named_after_valuecompass(
    compass_runs: list[Path], tmp_path: Path
) -> None:
    html = render_report(compass_runs, tmp_path / "c.html").read_text()
    assert "<title>ValueCompass report: compass-one, compass-two</title>" in html
    assert "Value-action" not in html.split("</header>")[0]


def test_section_with_nothing_to_show_is_left_out(
    item_run: Path, toy_section: str, tmp_path: Path
) -> None:
    html = render_report([item_run], tmp_path / "r.html").read_text()
    assert 'id="toy-flags"' not in html and 'href="#toy-flags"' not in html
    assert "<title>Value-action gap report" in html


def test_sections_sort_by_order_then_registration(item_run: Path, tmp_path: Path) -> None:
    def body(text: str) -> Callable[[SectionContext], Markup]:
        return lambda ctx: render_fragment(tmp_path / "t.html.j2", text=text)

    (tmp_path / "t.html.j2").write_text("<p>{{ text }}</p>")
    register_section(Section("late", "Late", body("late"), order=900))
    register_section(Section("early", "Early", body("early"), order=600))
    register_section(Section("also-early", "Also early", body("also"), order=600))
    try:
        html = render_report([item_run], tmp_path / "r.html").read_text()
    finally:
        for key in ("late", "early", "also-early"):
            unregister_section(key)
    positions = [html.index(f'<section id="{k}"') for k in ("early", "also-early", "late")]
    assert positions == sorted(positions)
    assert html.index('id="compass"' if 'id="compass"' in html else 'id="items"') < positions[0]


def test_replacing_and_refusing_keys(tmp_path: Path, item_run: Path) -> None:
    register_section(Section("dup", "First", lambda ctx: Markup("<p>first</p>")))
    register_section(Section("dup", "Second", lambda ctx: Markup("<p>second</p>")))
    try:
        html = render_report([item_run], tmp_path / "r.html").read_text()
    finally:
        unregister_section("dup")
    assert "<p>second</p>" in html and "<p>first</p>" not in html
    for key in ("heatmaps", "about", "", "two words"):
        with pytest.raises(ValuelensError, match="report section key"):
            register_section(Section(key, "x", lambda ctx: None))


def test_render_fragment_uses_the_report_environment(tmp_path: Path) -> None:
    (tmp_path / "f.html.j2").write_text("{{ x }} {{ y|num }} {{ z|pct }}")
    out = render_fragment(tmp_path / "f.html.j2", x="<b>", y=0.12345, z=0.5)
    assert isinstance(out, Markup) and out.startswith("&lt;b&gt; ")
    with pytest.raises(Exception, match="'missing' is undefined"):
        (tmp_path / "g.html.j2").write_text("{{ missing }}")
        render_fragment(str(tmp_path / "g.html.j2"))
    with pytest.raises(ValuelensError, match="not found"):
        render_fragment(tmp_path / "nope.html.j2")
    # a fragment can import the report's chart macros by name
    (tmp_path / "m.html.j2").write_text('{% import "charts.html.j2" as ch %}ok')
    assert render_fragment(tmp_path / "m.html.j2") == "ok"


def test_registered_section_in_a_browser(
    toy_run: Path, toy_section: str, item_run: Path, tmp_path: Path, browser: Browser
) -> None:
    report = render_report([item_run, toy_run], tmp_path / "r.html")
    browser.viewport(1280, 900)
    browser.open(report.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-report-ready')") == "1"
    height = browser.eval("document.getElementById('toy-flags').getBoundingClientRect().height")
    assert height > 50
    cells = browser.eval(
        "[...document.querySelectorAll('[data-testid=toy-flags] td')].map(t => t.textContent)"
    )
    assert PAYLOAD in cells and "toy <i>run</i>" in cells
    assert browser.eval("typeof window.__pwned") == "undefined"
    link = browser.eval("document.querySelector('.nav-links a[href=\"#toy-flags\"]').textContent")
    assert link == "Toy <flags>"
    assert browser.errors() == []
