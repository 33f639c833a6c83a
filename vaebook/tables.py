"""One tidy reproduction table per chapter: one row per number compared with a paper.

Every chapter builds its table with :func:`reproduction_table` from :func:`row`\\ s, shows it with
:func:`show`, and records it with :func:`vaebook.record`; the scorecard page reads every chapter's recorded
table without knowing the chapter. The columns are fixed (:data:`COLUMNS`):

* ``quantity``, ``unit``, ``estimator``: what was measured, in what unit, and how (e.g. ``bits/dim (ELBO)``);
* ``paper``: the paper's number (empty where the paper states only a direction), ``ours``: this run's;
* ``claim``: the paper's statement the row tests; ``reference`` and ``expect``: the direction the paper
  reports, as "ours should be ``expect`` (``>`` or ``<``) ``reference``" (e.g. AUROC ``<`` 0.5);
* ``profile``, ``runs``, ``model``, ``data``: how ours was made.

:func:`status` compares a row with its paper, by one rule for the whole book (:data:`TOLERANCE_RULE`).

Used in: every chapter's reproduction table, the scorecard.
"""
from __future__ import annotations

import math

import pandas as pd

from . import claims as _claims
from .profiles import current_profile, dry_run_note, run_parameters

__all__ = ["COLUMNS", "TOLERANCE_RULE", "row", "reproduction_table", "status", "show", "present", "number_text"]

# A table's notes go under it, in small type (reproduction tables, the chapters' seed counts).
CAPTION_STYLE = {"selector": "caption", "props": "caption-side: bottom; font-size: 0.85em; text-align: left"}
COLUMNS = ("quantity", "paper", "ours", "unit", "estimator", "claim", "reference", "expect",
           "profile", "runs", "model", "data", "comparable", "repeats")
# Within tolerance: |ours − paper| at most ABSOLUTE for quantities on a fixed scale (AUROCs, fractions), at most
# RELATIVE · |paper| for everything else (nats, bits/dim, ratios, distances). Fixed before this scorecard was
# recounted; stated on the scorecard page from these constants.
ABSOLUTE, RELATIVE = 0.05, 0.10
FIXED_SCALE = ("AUROC", "fraction")
TOLERANCE_RULE = (f"within tolerance: |ours − paper| ≤ {ABSOLUTE:g} for AUROCs and fractions, ≤ {RELATIVE:.0%} of "
                  f"|paper| for every other quantity, and on the paper's side of the reference it compares with "
                  f"(chance for an AUROC), where there is one; same direction: outside tolerance but on the paper's "
                  f"side; against the paper: on the other side; outside tolerance: off by more, where the paper "
                  f"gives no reference to take a side of")
STATUSES = ("within tolerance", "same direction", "against the paper", "outside tolerance", "not comparable",
            "no paper number")
COUNTED = STATUSES[:4]  # the statuses a headline counts: rows with a comparable paper number


def row(quantity: str, ours: float, *, unit: str, estimator: str, claim: str, paper: float | None = None,
        reference: float | None = None, expect: str | None = None, comparable: str = "", repeats: str = "",
        **how) -> dict:
    """One compared number. ``expect`` defaults to the side of ``reference`` the paper's number is on.
    ``comparable`` says why the paper's number is *not* comparable with ours (another likelihood, another
    dataset): such a row is shown but not counted. ``repeats`` names the chapter whose row this one repeats:
    the scorecard counts it there only. ``how`` may override the table's ``model`` or ``data`` for this row."""
    if expect is None and paper is not None and reference is not None and paper != reference:
        expect = ">" if paper > reference else "<"
    if expect not in (None, ">", "<"):
        raise ValueError(f"row({quantity!r}): expect must be '>' or '<', got {expect!r}")
    if expect is not None and reference is None:
        raise ValueError(f"row({quantity!r}): expect={expect!r} needs the reference it compares with")
    unknown = set(how) - {"model", "data"}
    if unknown:
        raise ValueError(f"row({quantity!r}): unknown column(s) {sorted(unknown)}; use {list(COLUMNS)}")
    if comparable and paper is None:
        raise ValueError(f"row({quantity!r}): comparable={comparable!r} explains a paper number, but the row has none")
    return {"quantity": quantity, "paper": _float(paper), "ours": _float(ours), "unit": unit, "estimator": estimator,
            "claim": claim, "reference": _float(reference), "expect": expect or "", "comparable": comparable,
            "repeats": repeats, **how}


def _float(v) -> float:
    return math.nan if v is None else float(v)


def reproduction_table(rows: list[dict], *, model: str, data: str, runs: int = 1,
                       profile: str | None = None) -> pd.DataFrame:
    """The chapter's table: its ``rows`` with the columns that say how ours was made filled in."""
    if not rows:
        raise ValueError("reproduction_table: no rows")
    filled = [{"profile": profile or current_profile(), "runs": runs, "model": model, "data": data, **r} for r in rows]
    return pd.DataFrame(filled, columns=list(COLUMNS))


def status(r, ours: float | None = None) -> str:
    """``within tolerance``, ``same direction``, ``against the paper``, ``outside tolerance``, ``not comparable`` or
    ``no paper number`` for one row, by :data:`TOLERANCE_RULE`; ``ours`` replaces the row's own number (the
    scorecard passes the mean over seeds)."""
    paper, ours = r["paper"], r["ours"] if ours is None else ours
    reference, expect = r["reference"], r["expect"]
    if paper is None or _missing(paper):
        return "no paper number"
    if r.get("comparable"):
        return "not comparable"
    has_direction = expect and reference is not None and not _missing(reference)
    agrees = (ours > reference if expect == ">" else ours < reference) if has_direction else True
    fixed = str(r["unit"]).startswith(FIXED_SCALE)
    if agrees and abs(ours - paper) <= (ABSOLUTE if fixed else RELATIVE * abs(paper)):
        return "within tolerance"
    if not has_direction:
        return "outside tolerance"
    return "same direction" if agrees else "against the paper"


def _missing(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def show(table: pd.DataFrame, digits: int = 3, chapter: str | None = None):
    """The table as a reader sees it: the compared columns, numbers rounded, "—" where the paper gives none,
    no index, and how ours was made (profile, runs, model, data) in the caption when it is the same for all rows.

    With ``chapter``, each row also gives its mean over the chapter's seed runs (``make seeds``), and its status is
    that of the mean, as on the scorecard: one run's number can fall on either side of a reference by seed noise.
    Only a run with the seed runs' profile and parameters is compared with them (:func:`vaebook.claims.seeds_describe`);
    any other run (a dry run, a parameter set by papermill or edited in the cell, another profile) keeps its own
    statuses. Whether the seed runs are of the current code is checked by the tests, not here (`make test`)."""
    t = table.copy()
    means = [None] * len(t)
    if chapter is not None and _claims.seeds_describe(chapter, current_profile(), run_parameters()["parameters"],
                                                      capped=dry_run_note() is not None):
        means = [_claims.seed_mean(chapter, q) for q in t["quantity"]]
    t["status"] = [status(r, m[0] if m else None) for r, m in zip(t.to_dict("records"), means)]
    t["paper"] = [number_text(v, digits) for v in t["paper"]]
    t["ours"] = [number_text(v, digits) for v in t["ours"]]
    shown = ["quantity", "paper", "ours", "unit", "estimator", "claim", "status"]
    notes = []
    if any(means):
        t["mean over seeds"] = [f"{number_text(m[0], digits)} ({m[1]})" if m else "—" for m in means]
        shown.insert(3, "mean over seeds")
        notes.append("ours: this run; mean over seeds: the seed runs' (how many in brackets); status: of that mean "
                     "where there is one, else of this run")
    if (dry := dry_run_note()) is not None:
        notes.append(f"{dry}: not a result")
    if changed := run_parameters().get("changed"):
        notes.append("parameters changed from the chapter's own: " + ", ".join(f"{k} = {v!r}" for k, v in changed.items()))
    for col in ("profile", "runs", "model", "data"):
        values = t[col].astype(str).unique()
        if len(values) == 1:
            notes.append(f"{col}: {values[0]}")
        else:
            shown.append(col)
    return (t[shown].style.hide(axis="index")
            .set_caption("; ".join(notes))
            .set_table_styles([CAPTION_STYLE,
                               {"selector": "td, th", "props": "font-size: 0.85em; padding: 2px 6px"}]))


def present(table: pd.DataFrame, digits: int = 3, index: bool = False):
    """Any results table as a reader sees it: ``digits`` decimals, thousands separated, "—" for a missing value,
    yes/no for a true/false column, counts without decimals (a column of whole numbers of which one is 2 or more:
    a mean of equal step counts is "1,600", not "1,600.000"), and no index column unless the index carries the row
    labels (``index=True``, e.g. a pivot table)."""
    styled = table.style.format(precision=digits, thousands=",", na_rep="—")
    for column in table.columns:
        values = table[column].dropna()
        if len(values) and (pd.api.types.is_bool_dtype(values) or all(isinstance(v, bool) for v in values)):
            styled = styled.format(lambda v: "yes" if v else "no", subset=[column], na_rep="—")
        elif pd.api.types.is_float_dtype(values) and len(values) and (values == values.round()).all() \
                and values.abs().max() >= 2:
            styled = styled.format("{:,.0f}", subset=[column], na_rep="—")
    return styled if index else styled.hide(axis="index")


def number_text(v, digits: int = 3) -> str:
    """A number for a reader: thousands separated, three decimals below 100 (AUROCs, bits/dim)."""
    if v is None or _missing(v):
        return "—"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 100 else f"{v:.{digits}f}"
