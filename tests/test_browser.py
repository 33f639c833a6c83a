"""The built pages in a real browser, offline: every chapter's control switches the view with no kernel.

Needs Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it) and runs after
``make book`` (``make test`` does). Every request that is not a file of the built book is refused, as when a
reader opens ``_build/html`` from disk with no network.
"""
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.book,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium (.ci/run does)")]
PAGES = sorted((HTML / "notebooks").glob("0[1-9]_*.html"))
# The theme's own script (sphinx-thebe's configuration, declared twice on every page of Jupyter Book 1.0.4) throws
# this on every page, with or without our controls; any other script error fails the test.
THEME_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_a_control_switches_the_view_offline(browser, path):
    context = browser.new_context()
    refused = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (refused.append(route.request.url), route.abort()))
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: None if str(e) in THEME_ERRORS else errors.append(str(e)))
    page.goto(path.as_uri())
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
    context.close()


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
