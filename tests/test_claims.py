"""Checks of the built fast book: each chapter's claims against its verdict over seeds, and the HTML.

Run after ``make book`` (``make test`` does). A chapter declares its claims once, in its claims cell
(:mod:`vaebook.claims`); the book's run records them with its numbers. The verdict of each claim comes from the
committed seed runs (``make seeds``), by the one rule of :data:`vaebook.claims.RULE`. This build's run is one more
draw: it fails a test only when it lands on the other side of a decided verdict by more than the claim's noise
(a different CPU's rounding, or the thread count, moves a number within that noise). The seed record itself is
checked in ``tests/test_verdicts.py``.
"""
import json
import os
import re
from pathlib import Path

import pytest

from vaebook import claims as vc

from scripts import chapters  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# The build to check: the book's own (_build), or another one made, say, with ATEN_CPU_CAPABILITY=default.
BUILD = Path(os.environ.get("VAEBOOK_BUILD_CHECKED", ROOT / "_build"))
RESULTS = BUILD / "results"
HTML = BUILD / "html"
CHAPTERS = [c.path for c in chapters.with_claims()]  # chapters.yml
pytestmark = pytest.mark.book


def _record(chapter):
    path = RESULTS / f"{chapter}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the book first (make book)")
    blob = json.loads(path.read_text())
    assert blob["meta"]["profile"] == "fast", "claims are checked on the fast build"
    assert not any(blob["meta"].get(cap) for cap in ("max_epochs", "max_batches", "max_steps")), \
        f"{chapter} was a dry run (training or step counts capped): its numbers are no result"
    assert not blob["meta"].get("changed"), (f"{chapter} ran with parameters other than its own "
                                             f"({blob['meta']['changed']}): its numbers check nothing of the chapter")
    return blob


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_the_build_agrees_with_every_decided_verdict(notebook):
    blob = _record(notebook.stem)
    recorded = [vc.Claim.from_dict(c) for c in blob.get("claims") or []]
    assert recorded == vc.from_notebook(notebook), f"{notebook.stem}: the build recorded other claims than the chapter declares"
    problems = [why for v in vc.verdicts(notebook.stem, recorded)
                if (why := vc.contradiction(v, v.claim.margin(blob["values"])))]
    assert not problems, "\n".join(problems)


def test_every_chapter_page_was_built_without_errors():
    pages = sorted((HTML / "notebooks").glob("*.html"))
    assert {p.stem for p in pages} >= {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for page in pages:
        text = page.read_text()
        assert 'class="output stderr' not in text, f"{page.name} shows stderr output (a warning or progress bar)"
        assert "Traceback (most recent call last)" not in text, f"{page.name} shows a traceback"
        reprs = re.findall(r"&lt;matplotlib\.[\w.]+ at 0x|Text\(\d", text)
        assert not reprs, f"{page.name} shows Python reprs as outputs: {reprs} (end the cell with ';')"
        assert str(ROOT) not in text, f"{page.name} shows a path of the build machine"
        assert not re.search(r"<td[^>]*>\s*nan\s*</td>", text, re.I), f"{page.name} shows NaN in a table (write '—')"
        found = re.sub(r"<[^>]+>", "", text[text.find('id="what-we-found"'):].split("requestKernel")[0])
        assert "**" not in found and "{glue" not in found, f"{page.name}: markup pasted as text in 'What we found'"


# What a reader should never meet in a page's text and printed outputs (its code aside): the build's machinery,
# development history, a printed dict, and numbers printed as a program prints them.
MACHINERY = [r"(?i)\bmake (test|seeds|book)\b", r"(?i)run at commit", r"(?i)from the cache", r"(?i)\bare cached\b",
             r"(?i)a rebuild", r"(?i)in this profile \(\w+=", r"=(False|True)\)", r"(?i)an earlier version",
             r"(?i)outside the book build", r"(?i)earlier builds?", r"\{'", r"\*\*",
             r"\b(D|d|K|N) = \d+\.0\b", r"\b\d+\.0 (latents|steps|epochs|images)\b",
             r"[−-]0(\.0+)? ?%", r"(?<!= )\b(True|False)\b"]  # "set colour = True" tells a reader what to do
# A count with decimals ("1,600.00") in the prose. Not looked for in tables: vb.tables.present writes a column of whole
# numbers without decimals (tests/test_results.py), and a measured mean that rounds to 3,745.00 is no count.
COUNT_WITH_DECIMALS = r"\b\d{1,3}(,\d{3})+\.0{2,}\b"


def _reader_text(page: Path, tables: bool = True) -> tuple[str, list[str]]:
    """The text of a built page as a reader reads it (prose and printed outputs; no code, scripts, styles or
    navigation; without ``tables``, no tables either), and the inline code that stands where a value belongs:
    "K = `inpaint_k`"."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(), "html.parser")
    article = soup.find("article") or soup
    for element in article.select("script, style, .cell_input, nav, .headerlink, .math" + ("" if tables else ", table")):
        element.decompose()
    for block in article.select("div.highlight, pre"):  # commands for the reader to type (printed outputs stay)
        if not block.find_parent(class_="cell_output"):
            block.decompose()
    for_values = []
    for code in article.select("code"):
        before = code.previous_sibling
        if isinstance(before, str) and re.search(r"[=≈] ?$", before) and not code.find_parent(class_="cell_output"):
            for_values.append(f"{before[-30:]}{code.get_text()}")
        if not code.find_parent(class_="cell_output"):
            code.decompose()  # inline code in prose: names of functions and parameters, not results
    return re.sub(r"\s+", " ", article.get_text(" ")), for_values


def test_the_pages_show_no_machinery_and_no_program_formatting():
    pages = sorted((HTML / "notebooks").glob("[0-9][0-9]_*.html")) + sorted((HTML / "book").glob("*.html"))
    assert pages, f"no pages under {HTML}: build the book first (make book)"
    found = []
    for page in pages:
        text, for_values = _reader_text(page)
        found += [f"{page.name}: {m.group(0)!r} in ...{text[max(0, m.start() - 60):m.end() + 40]}..."
                  for pattern in MACHINERY for m in re.finditer(pattern, text)]
        prose = _reader_text(page, tables=False)[0]
        found += [f"{page.name}: a count with decimals {m.group(0)!r} in ...{prose[max(0, m.start() - 60):m.end() + 40]}..."
                  for m in re.finditer(COUNT_WITH_DECIMALS, prose)]
        if page.name != "notation.html":  # that page maps the book's symbols to the code's names, "K = `k`"
            found += [f"{page.name}: a name where its value belongs: ...{v}" for v in for_values]
    assert not found, "\n".join(found)


def test_the_benchmark_reused_chapter_1_and_5_models_in_the_book_build():
    """Chapter 8 repeats chapters 1 and 5's settings so that the book trains their models once; a setting changed
    in one place only would make it train them again (slower, and not the models the other pages show)."""
    # its own six: the auxiliary-negative, class-mixture, 8-bit and background VAEs on Fashion-MNIST, the two on MNIST
    assert _record("08_ood_benchmark")["values"]["trained_here"] == 6, "chapter 8 trained models of chapter 1 or 5 again"


def test_data_page_shows_real_images():
    text = (HTML / "notebooks" / "00_data.html").read_text()
    assert len(re.findall(r"<img[^>]+\.png", text)) >= 2


def test_the_scorecard_lists_every_recorded_number_with_a_link():
    recorded = {p.stem: [r for r in json.loads(p.read_text()).get("table") or [] if not r.get("repeats")]
                for p in RESULTS.glob("*.json")}
    text = (HTML / "book" / "scorecard.html").read_text()
    table = text[text.index('<table class="scorecard">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 1 + sum(len(rows) for rows in recorded.values())  # the header, then every number
    for chapter, rows in recorded.items():
        if rows:
            assert f'href="../notebooks/{chapter}.html#reproduction-table"' in table, f"{chapter} is not on the scorecard"
        assert f'href="../notebooks/{chapter}.html#reproduction-table"' not in table or rows
    assert not re.search(r"<td[^>]*>\s*nan\s*</td>", table, re.I) and "{glue" not in text
