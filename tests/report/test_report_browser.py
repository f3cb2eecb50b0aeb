"""The report in a real browser: headless Chromium over the DevTools protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.report_cdp import Browser, save_artifact
from valuelens.report._html import render_report

SECTIONS = (
    "overview",
    "comparison",
    "by-scenario",
    "heatmaps",
    "rankings",
    "misalignment",
    "robustness",
    "items",
    "compass",
    "about",
)


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory,
    item_run: Path,
    plain_run: Path,
    compass_runs: list[Path],
) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    return render_report([item_run, plain_run, *compass_runs], out)


@pytest.fixture(scope="module")
def opened(browser: Browser, report: Path) -> Browser:
    browser.viewport(1280, 900)
    browser.open(report.as_uri())
    return browser


def _js(browser: Browser, body: str) -> object:
    return browser.eval(f"(() => {{ {body} }})()")


def test_page_initialises_without_console_errors(opened: Browser) -> None:
    assert opened.eval("document.documentElement.getAttribute('data-report-ready')") == "1"
    assert opened.errors() == []


def test_page_loads_nothing_but_itself(opened: Browser, report: Path) -> None:
    urls = opened.requested_urls()
    assert urls, "the navigation itself should be recorded"
    assert all(u == report.as_uri() or u.startswith("data:") for u in urls), urls


def test_main_sections_render_with_visible_charts(opened: Browser) -> None:
    heights = _js(
        opened,
        f"""
        return {json.dumps(SECTIONS)}.map(id => {{
            const el = document.getElementById(id);
            return el ? el.getBoundingClientRect().height : -1; }});""",
    )
    assert all(h > 100 for h in heights), dict(zip(SECTIONS, heights, strict=True))
    visible_cells = _js(
        opened,
        """
        return [...document.querySelectorAll('#heatmaps .cells rect')]
            .filter(r => r.getBoundingClientRect().width > 0).length;""",
    )
    assert visible_cells == 3 * 3 * 56  # stated, chosen, distance for 3 countries of run A
    bars = _js(
        opened,
        """return [...document.querySelectorAll('#by-scenario figure rect')]
        .filter(r => r.getBoundingClientRect().width > 0).length;""",
    )
    assert bars == 3 + 2


def test_payloads_do_not_execute_and_show_as_text(opened: Browser) -> None:
    assert opened.eval("typeof window.__pwned") == "undefined"
    assert "PWNED" not in opened.eval("document.title")
    assert opened.eval("document.querySelectorAll('img').length") == 0
    scripts = _js(opened, "return [...document.scripts].map(s => s.type || 'js');")
    assert scripts.count("js") == 1, scripts  # only our own inline script
    assert opened.eval("document.title").startswith("Value-action gap report")
    # The first pair carries a payload; its action text must show the markup literally.
    first = opened.eval("document.querySelector('#items .item .action-text').textContent")
    assert "<script>window.__pwned=1;document.title='PWNED'</script>" in first
    # Open every raw response of the visible page, then check again.
    _js(opened, "document.querySelectorAll('#items details').forEach(d => d.open = true);")
    raws = _js(
        opened, "return [...document.querySelectorAll('#items pre.raw')].map(p => p.textContent);"
    )
    assert any("<script>window.__pwned=1" in r for r in raws)
    assert opened.eval("typeof window.__pwned") == "undefined"
    assert opened.eval("document.querySelectorAll('img').length") == 0


def test_run_label_markup_is_text(opened: Browser) -> None:
    labels = _js(
        opened,
        "return [...document.querySelectorAll('.run-switch button')].map(b => b.textContent);",
    )
    assert labels == ["model <b>A</b>", "model B"]
    assert opened.eval("document.querySelectorAll('.run-switch b').length") == 0


def test_item_browser_filters_and_pages(opened: Browser) -> None:
    status = lambda: opened.eval("document.querySelector('#items [data-role=status]').textContent")  # noqa: E731
    assert status().startswith("1–20 of 336 pairs")
    _js(
        opened,
        """const b = document.querySelector('#items .browser');
        const box = b.querySelector('[data-filter=misaligned]'); box.checked = true;
        box.dispatchEvent(new Event('change'));""",
    )
    misaligned = _js(opened, "return document.querySelectorAll('#items .item.misaligned').length;")
    items = _js(opened, "return document.querySelectorAll('#items .item').length;")
    assert items == misaligned > 0
    _js(
        opened,
        """const b = document.querySelector('#items .browser');
        const s = b.querySelector('[data-filter=country]'); s.value = '1';
        s.dispatchEvent(new Event('change'));
        const v = b.querySelector('[data-filter=value]'); v.value = '0';
        v.dispatchEvent(new Event('change'));""",
    )
    scenarios = _js(
        opened,
        "return [...document.querySelectorAll('#items .item-scenario')].map(e => e.textContent);",
    )
    assert scenarios and all(s.startswith("India · ") for s in scenarios)
    assert len(scenarios) <= 2
    _js(
        opened,
        """const b = document.querySelector('#items .browser');
        for (const n of ['country', 'value']) { const s = b.querySelector(`[data-filter=${n}]`);
            s.value = ''; s.dispatchEvent(new Event('change')); }
        const box = b.querySelector('[data-filter=misaligned]'); box.checked = false;
        box.dispatchEvent(new Event('change'));
        b.querySelector('[data-page=next]').click();""",
    )
    assert status().startswith("21–40 of 336 pairs · page 2 of 17")


def test_run_switch_shows_the_other_run(opened: Browser) -> None:
    _js(opened, "document.querySelectorAll('.run-switch button')[1].click();")
    visible = _js(
        opened,
        """return [...document.querySelectorAll('#overview .run-panel')]
        .filter(p => !p.hidden).map(p => p.querySelector('.run-heading').textContent.trim());""",
    )
    assert len(visible) == 1 and visible[0].startswith("model B")
    rows = _js(
        opened,
        """return [...document.querySelectorAll('#heatmaps .cells')]
        .filter(g => g.getBoundingClientRect().height > 0).length;""",
    )
    assert rows == 3
    _js(opened, "document.querySelectorAll('.run-switch button')[0].click();")
    assert opened.errors() == []


@pytest.mark.slow
def test_screenshots_desktop_and_phone(opened: Browser, tmp_path: Path) -> None:
    desktop = opened.screenshot(tmp_path / "report-desktop.png")
    assert desktop.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and desktop.stat().st_size > 50_000
    opened.viewport(390, 844, mobile=True, scale=2)
    opened.eval("window.scrollTo(0, 0)")
    overflow = _js(opened, "return document.documentElement.scrollWidth - window.innerWidth;")
    assert overflow <= 1, "the page itself must not scroll sideways on a phone"
    phone = opened.screenshot(tmp_path / "report-phone.png", max_height=6000)
    for shot in (desktop, phone):
        save_artifact(shot)
    opened.viewport(1280, 900)
    assert opened.errors() == []
