"""The scorecard: every published number the chapters compare with, and every claim's verdict, on one page.

:func:`collect` reads every chapter's recorded reproduction table (:func:`vaebook.record`) from the results
folder, whatever the chapters are: a chapter added later appears without editing anything. Each row gets its
:func:`vaebook.tables.status` and a link to the section of the chapter that produced it; a row that repeats
another chapter's is left out. :func:`claims` lists every recorded claim with its verdict over seeds
(:mod:`vaebook.claims`), those with the papers' thresholds apart from those with ours.

Used in: ``book/scorecard.ipynb``.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from .results import book_root, read_file, results_dir
from . import claims as _claims
from .tables import STATUSES, number_text, status

__all__ = ["collect", "summary", "to_html", "claims"]

SECTION = "reproduction-table"  # the anchor of every chapter's "## Reproduction table"
COLOURS = {"within tolerance": "#1a7f37", "same direction": "#0969da", "against the paper": "#cf222e",
           "outside tolerance": "#cf222e", "not comparable": "#57606a", "no paper number": "#57606a"}


def collect(folder: Path | None = None, notebooks: Path | None = None, seeds_file: Path | None = None) -> pd.DataFrame:
    """One row per compared number of every recorded chapter, with its chapter, title, link and status. Where the
    chapter was run over seeds (``make seeds``) as this run was (:func:`vaebook.claims.seeds_describe`), the status
    is that of the seeds' mean, so that it does not change with one build's rounding; the row shows both."""
    folder = Path(folder) if folder is not None else results_dir()
    rows = []
    for path in sorted(folder.glob("*.json")):
        record, title = read_file(path), _title(path.stem, notebooks)
        meta = record["meta"]  # the seeds' means are quoted only for a run of the experiment they ran
        capped = any(meta.get(k) for k in ("max_epochs", "max_batches", "max_steps"))
        same = _claims.seeds_describe(path.stem, meta.get("profile"), meta.get("parameters", {}), capped=capped,
                                      path=seeds_file)
        changed = meta.get("changed")  # a run that is not the chapter as written says so, and is not counted
        label = ", ".join(([f"with {', '.join(f'{k} = {v!r}' for k, v in changed.items())}"] if changed else [])
                          + (["a dry run (capped)"] if capped else []))
        for r in record.get("table") or []:
            if r.get("repeats"):  # counted in the chapter it repeats
                continue
            r = {k: (float("nan") if v is None and k in ("paper", "reference") else v) for k, v in r.items()}
            mean, n = (_claims.seed_mean(path.stem, r["quantity"], seeds_file) if same else None) or (None, 0)
            if label:
                r["profile"] = f"{r['profile']}, {label}"
            rows.append({"chapter": path.stem, "title": title,
                         "link": f"../notebooks/{path.stem}.html#{SECTION}", **r,
                         "seeds mean": float("nan") if mean is None else mean, "seeds": n,
                         "status": status(r, mean), "written": record["meta"].get("written", ""),
                         "as written": not label})
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
    """Counts of each status per chapter, and in all, over the rows of chapters run as written (their profile's own
    parameters, uncapped): a row of a run with other parameters or of a dry run is shown, labelled, but not counted."""
    card = card[card["as written"]] if "as written" in card else card
    titles = list(dict.fromkeys(card["title"])) if len(card) else []
    counts = pd.crosstab(card["title"], card["status"]) if len(card) else pd.DataFrame()
    counts = counts.reindex(index=titles, columns=list(STATUSES), fill_value=0)  # chapter order
    counts.loc["all chapters"] = counts.sum()
    counts.index.name, counts.columns.name = "chapter", None
    return counts.reset_index()


def to_html(card: pd.DataFrame, digits: int = 3) -> str:
    """The scorecard as an HTML table: one row per number, each linked to the chapter section that produced it."""
    head = ["ch.", "quantity", "paper", "ours", "mean over seeds", "unit", "status", "profile"]
    out = ['<table class="scorecard">', "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in card.to_dict("records"):
        number = r["title"].split(".")[0] if r["title"][:1].isdigit() else r["title"]
        cells = [f'<span title="{html.escape(r["title"], quote=True)}">{html.escape(number)}</span>',
                 f'<a href="{html.escape(r["link"])}">{html.escape(r["quantity"])}</a>',
                 number_text(r["paper"], digits), number_text(r["ours"], digits),
                 number_text(r["seeds mean"], digits) + (f" ({int(r['seeds'])})" if r["seeds"] else ""),
                 html.escape(str(r["unit"])), f'<span style="color:{COLOURS[r["status"]]}">{r["status"]}</span>',
                 html.escape(str(r["profile"]))]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def claims(folder: Path | None = None, seeds: Path | None = None, paper_scale_path: Path | None = None) -> pd.DataFrame:
    """Every claim the chapters recorded, with its verdict over seeds, its verdict at the paper's scale where runs
    there measured it (:func:`vaebook.claims.paper_scale_verdicts`; a separate count, never mixed with the seeds'), and
    where its threshold comes from."""
    folder = Path(folder) if folder is not None else results_dir()
    rows = []
    for path in sorted(folder.glob("*.json")):
        recorded = [_claims.Claim.from_dict(c) for c in read_file(path).get("claims") or []]
        at_scale = _claims.paper_scale_verdicts(path.stem, recorded, paper_scale_path)
        for v in _claims.verdicts(path.stem, recorded, seeds):
            if v.claim.repeats:  # listed in the chapter it repeats
                continue
            source = v.claim.source
            rows.append({"chapter": path.stem, "claim": v.claim.text,
                         "threshold": ("the paper's" if isinstance(source, _claims.Paper) else
                                       "ours, post hoc" if source.post_hoc else "ours, a priori"),
                         "source": str(source), "verdict": v.state,
                         "seeds holding": f"{v.held} of {len(v.margins)}" if v.margins else "—",
                         "known failure": "yes" if v.claim.known_failure else "",
                         "at the paper's scale": (f"{p.state} ({p.held} of {len(p.margins)} runs)"
                                                  if (p := at_scale.get(v.claim.id)) else "—")})
    return pd.DataFrame(rows, columns=["chapter", "claim", "threshold", "source", "verdict", "seeds holding",
                                       "known failure", "at the paper's scale"])


def paper_scale_summary(card: pd.DataFrame) -> str:
    """The claims of :func:`claims` measured at the paper's scale, counted by verdict and by whose threshold they test,
    in a sentence for the page."""
    measured = card[card["at the paper's scale"] != "—"]
    if measured.empty:
        return ("No claim has been measured at the paper's scale yet: every verdict on this page is the fast "
                "profile's.")
    n, state = len(measured), measured["at the paper's scale"]
    counts = {s: int(state.str.startswith(s).sum()) for s in ("holds", "fails", "undecided")}
    words = {"holds": ("holds", "hold"), "fails": ("fails", "fail"), "undecided": ("is undecided", "are undecided")}
    verdicts = ", ".join(f"{k} {words[s][k != 1]}" for s, k in counts.items() if k)
    papers = int((measured.threshold == "the paper's").sum())
    return (f"{n} claim{'s' * (n != 1)} of {', '.join(sorted(measured.chapter.unique()))} "
            f"{'were' if n != 1 else 'was'} also measured at the paper's scale (the chapter's claims table says how), "
            f"by the same rule: {verdicts} there; {papers} with the paper's threshold, {n - papers} with ours. They are "
            "counted apart from the verdicts over the fast profile's seeds above.")
