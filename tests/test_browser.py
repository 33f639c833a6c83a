"""The built pages in a real browser, offline: every chapter's control switches the view with no kernel, and
every page renders its maths, logs no error and asks for nothing beyond the book's own files.

Needs Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it) and runs after
``make book`` (``make test`` does). Every request that is not a file of the built book is refused, as when a
reader opens ``_build/html`` from disk with no network.
"""
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.book,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium (.ci/run does)")]
PAGES = sorted((HTML / "notebooks").glob("0[1-9]_*.html"))
# Every page of the book (index.html only redirects to the intro; genindex.html has no content).
ALL_PAGES = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts
                   and p.relative_to(HTML).as_posix() not in ("index.html", "genindex.html"))

# Maths still shown as TeX once MathJax has typeset the page: a formula MathJax did not take (it did not load, or
# the page's text has delimiters it does not read), or one it could not parse. Code, and MathJax's output, are
# not prose.
RAW_TEX = r"""async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const untypeset = [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'));
  const failed = [...document.querySelectorAll('mjx-merror')];
  const prose = (document.querySelector('article') || document.body).cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, textarea, .math, mjx-container').forEach(e => e.remove());
  const delimiters = prose.textContent.match(/\$\$|\$\\[A-Za-z]+|\\[()[\]]|\\[A-Za-z]{2,}/g) || [];
  return [...untypeset.map(e => e.textContent), ...failed.map(e => e.textContent), ...delimiters]
    .map(t => t.trim().slice(0, 60));
}"""


def open_offline(browser, url: str):
    """A fresh page that may load only ``file:`` URLs; returns it, the requests that failed, the console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    failed, errors = [], []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (failed.append(route.request.url), route.abort()))
    page = context.new_page()
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})") if r.url.startswith("file:") else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, failed, errors


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_a_control_switches_the_view_offline(browser, path):
    page, _, errors = open_offline(browser, path.as_uri())
    widget = page.locator(".vb-explore")
    assert widget.count() == 1, f"{path.name}: no control drawn for the static page"
    view = widget.locator(".vb-view")
    before = view.inner_html()
    for control in widget.locator("input[type=range], select").all():
        if control.evaluate("el => el.tagName") == "SELECT":
            options = control.locator("option").count()
            current = int(control.input_value())
            control.select_option(str((current + 1) % options))
        else:
            control.focus()
            control.press("ArrowLeft" if control.input_value() == control.get_attribute("max") else "ArrowRight")
        after = view.inner_html()
        assert after != before and "undefined" not in after and ("<img" in after or "<pre" in after), \
            f"{path.name}: moving a control did not show another precomputed view"
        before = after
    assert not errors, f"{path.name}: JavaScript errors {errors}"
    page.context.close()


@pytest.mark.parametrize("path", ALL_PAGES, ids=lambda p: p.relative_to(HTML).with_suffix("").as_posix())
def test_pages_render_their_maths_offline_with_no_error_and_no_failed_request(browser, path):
    """MathJax is served with the book (_ext/offline_pages.py), no script is included twice (scripts/workarounds.py), and nothing (require.js
    and the widget manager for saved widget state, a CDN's MathJax) is asked for beyond the book's files."""
    page, failed, errors = open_offline(browser, path.as_uri())
    raw = page.evaluate(RAW_TEX)
    page.wait_for_load_state("networkidle")  # MathJax's fonts and extensions load after the page
    assert not raw, f"{path.name}: maths shown as TeX offline: {raw[:10]}"
    assert not failed, f"{path.name}: failed requests offline: {failed}"
    assert not errors, f"{path.name}: console errors: {errors}"
    page.context.close()


def test_search_quotes_the_pages_offline(browser):
    """Search from disk shows each hit with a quote of its page, not the title alone (a browser refuses the
    search page's fetch() of a file:// page; _ext/offline_pages.py serves the pages' text instead)."""
    page, failed, errors = open_offline(browser, (HTML / "search.html").as_uri() + "?q=vae")
    page.wait_for_function("() => /Search finished|did not match/.test("
                           "document.querySelector('#search-results p.search-summary')?.innerText)", timeout=20_000)
    page.wait_for_timeout(1000)  # each hit's quote is filled in after the list is drawn
    hits = page.evaluate("""() => [...document.querySelectorAll('#search-results ul.search > li')]
        .map(li => [li.querySelector('a').innerText, li.querySelector('p.context')?.innerText || ''])""")
    assert hits, "searching the book for 'vae' found nothing"
    bare = [title for title, quote in hits if not re.search(r"vae", quote, re.I)]
    assert not bare, f"search hits shown without a quote of their page: {bare}"
    assert not failed and not errors, f"search page offline: failed requests {failed}, console errors {errors}"
    page.context.close()


# The book's column is 672 px and figures are saved at 100 dpi: a figure no wider than vb.plot.PAGE_WIDTH is shown
# at >= 0.78 of its size. Below 0.7 its 10-pt labels fall under 10 px on the page (a 15-inch row of five panels was
# shown at 0.44).
LEGIBLE_SCALE = 0.7


@pytest.mark.parametrize("path", sorted((HTML / "notebooks").glob("[0-9][0-9]_*.html"))
                         + sorted((HTML / "book").glob("*.html")),
                         ids=lambda p: p.stem)
def test_figures_are_legible_and_tables_fit_the_column(browser, path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.as_uri())
    figures = page.evaluate("""() => [...document.querySelectorAll('article img')].filter(i => i.naturalWidth > 0)
        .map(i => [i.getAttribute('src').split('/').pop(), i.getBoundingClientRect().width / i.naturalWidth])""")
    small = [(src, round(scale, 2)) for src, scale in figures if scale < LEGIBLE_SCALE]
    assert not small, f"{path.name}: figures shrunk below {LEGIBLE_SCALE} of their size to fit the column " \
                      f"(make them at most vb.plot.PAGE_WIDTH inches wide): {small}"
    wide = page.evaluate("""() => [...document.querySelectorAll('article table')]
        .map(t => [t.scrollWidth, t.parentElement.clientWidth, t.innerText.slice(0, 60)])
        .filter(([w, column]) => w > column + 2)""")
    assert not wide, f"{path.name}: tables wider than the column (width, column, start): {wide}"
    page.close()
