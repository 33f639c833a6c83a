"""The scorecard: every published number the chapters compare with, on one page.

:func:`collect` reads every chapter's recorded reproduction table (:func:`vaebook.record`) from the results
folder, whatever the chapters are: a chapter added later appears without editing anything. Each row gets its
:func:`vaebook.tables.status` and a link to the section of the chapter that produced it.

Used in: ``book/scorecard.ipynb``.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from .results import book_root, read_file, results_dir
from .tables import CAPTION_STYLE, STATUSES, number_text, status

__all__ = ["collect", "summary", "to_html", "claim_seeds", "SEEDS_FILE"]

# How many seeds each claim holds in: written by `make seeds` (scripts/seeds.py), committed, shipped with vaebook.
SEEDS_FILE = Path(__file__).parent / "bundle" / "seeds.json"
SECTION = "reproduction-table"  # the anchor of every chapter's "## Reproduction table"
COLOURS = {"within tolerance": "#1a7f37", "same direction": "#0969da", "against the paper": "#cf222e",
           "no paper number": "#57606a"}


def collect(folder: Path | None = None, notebooks: Path | None = None) -> pd.DataFrame:
    """One row per compared number of every recorded chapter, with its chapter, title, link and status."""
    folder = Path(folder) if folder is not None else results_dir()
    rows = []
    for path in sorted(folder.glob("*.json")):
        record, title = read_file(path), _title(path.stem, notebooks)
        for r in record.get("table") or []:
            r = {k: (float("nan") if v is None and k in ("paper", "reference") else v) for k, v in r.items()}
            rows.append({"chapter": path.stem, "title": title,
                         "link": f"../notebooks/{path.stem}.html#{SECTION}", **r, "status": status(r),
                         "written": record["meta"].get("written", "")})
    return pd.DataFrame(rows)


def _title(stem: str, notebooks: Path | None) -> str:
    """The chapter's first heading, read from its notebook; the file name when there is none."""
    folder = notebooks if notebooks is not None else book_root() / "notebooks"
    try:
        cells = json.loads((folder / f"{stem}.ipynb").read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return stem
    for cell in cells:
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown" and source.startswith("# "):
            return source.splitlines()[0][2:].strip()
    return stem


def summary(card: pd.DataFrame) -> pd.DataFrame:
    """Counts of each status per chapter, and in all."""
    counts = pd.crosstab(card["title"], card["status"]).reindex(columns=list(STATUSES), fill_value=0)
    counts = counts.reindex(list(dict.fromkeys(card["title"])))  # chapter order
    counts.loc["all chapters"] = counts.sum()
    counts.index.name, counts.columns.name = "chapter", None
    return counts.reset_index()


def to_html(card: pd.DataFrame, digits: int = 3) -> str:
    """The scorecard as an HTML table: one row per number, each linked to the chapter section that produced it."""
    head = ["ch.", "quantity", "paper", "ours", "unit", "status", "profile (runs)"]
    out = ['<table class="scorecard">', "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in card.to_dict("records"):
        number = r["title"].split(".")[0] if r["title"][:1].isdigit() else r["title"]
        cells = [f'<span title="{html.escape(r["title"], quote=True)}">{html.escape(number)}</span>',
                 f'<a href="{html.escape(r["link"])}">{html.escape(r["quantity"])}</a>',
                 number_text(r["paper"], digits), number_text(r["ours"], digits), html.escape(str(r["unit"])),
                 f'<span style="color:{COLOURS[r["status"]]}">{r["status"]}</span>',
                 f'{html.escape(str(r["profile"]))} ({int(r["runs"])})']
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def claim_seeds(chapter: str | None = None, path: Path | None = None):
    """The claims with the number of seeds each held in (``make seeds``), as a table for the page: one chapter's,
    or every chapter's (``chapter=None``, the scorecard).

    Returns a styled table, or a sentence when the chapter has not been run over seeds yet. A claim that holds
    in only some seeds is *fragile*: its single-seed result in the page above could have gone the other way.
    """
    from IPython.display import Markdown

    path = Path(path) if path is not None else SEEDS_FILE
    blob = json.loads(path.read_text()) if path.exists() else {}
    chapters = blob.get("chapters", {})
    rows = [{"chapter": c, **r} for c, rs in chapters.items() for r in rs if chapter in (None, c)]
    if not rows:
        return Markdown("*These claims have not been run over several seeds yet (`make seeds`).*")

    def verdict(r):
        if r["known_failure"]:
            return "known failure" + ("" if r["held"] == 0 else " (held in some seeds)")
        return "robust" if r["held"] == r["runs"] else "fails" if r["held"] == 0 else "fragile"

    table = pd.DataFrame([{"chapter": r["chapter"], "claim": r["claim"], "holds in": f"{r['held']} of {r['runs']} seeds",
                           "verdict": verdict(r)} for r in rows])
    if chapter is not None:
        table = table.drop(columns="chapter")
    runs = {}
    for c in sorted({r["chapter"] for r in rows}):  # chapters re-run alone (seeds.py NOTEBOOK) carry their own commit
        ran = blob["ran"][c]
        runs.setdefault((ran["commit"], ran["date"]), []).append(c[:2].lstrip("0") or "0")
    where = "; ".join(f"commit {commit} on {date}"
                      + (f" (chapter{'s' * (len(cs) > 1)} {', '.join(cs)})" if len(runs) > 1 else "")
                      for (commit, date), cs in runs.items())
    caption = (f"{blob['profile']} profile, seeds 0–{blob['runs'] - 1}, run at {where} (make seeds); the chapters' "
               "pages are seed 0 of the current build.")
    return (table.style.hide(axis="index").set_caption(caption)
            .set_table_styles([CAPTION_STYLE]))
