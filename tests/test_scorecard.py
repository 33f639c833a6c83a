"""The scorecard collects every recorded chapter's table, whatever the chapters are."""
import json

import vaebook as vb
from vaebook import scorecard


def _chapter(tmp_path, stem, title, rows):
    (tmp_path / "nbs").mkdir(exist_ok=True)
    cells = [{"cell_type": "markdown", "source": f"# {title}\n\nText.", "metadata": {}}]
    (tmp_path / "nbs" / f"{stem}.ipynb").write_text(json.dumps({"cells": cells}))
    vb.record(stem, table=vb.reproduction_table(rows, model="m", data="d"), n=1.0)


def _row(q, ours, **kw):
    return vb.row(q, ours, unit="AUROC", estimator="e", claim="c", **kw)


def test_every_recorded_row_appears_with_its_status_and_link(tmp_path):
    _chapter(tmp_path, "01_a", "One", [_row("x", 0.48, paper=0.46, reference=0.5), _row("y", 0.9, paper=0.46, reference=0.5)])
    _chapter(tmp_path, "02_b", "Two", [_row("z", 0.7)])
    card = scorecard.collect(notebooks=tmp_path / "nbs")
    assert list(card.quantity) == ["x", "y", "z"] and list(card.title) == ["One", "One", "Two"]
    assert list(card.status) == ["within tolerance", "against the paper", "no paper number"]
    assert card.link[0] == "../notebooks/01_a.html#reproduction-table"
    counts = scorecard.summary(card).set_index("chapter")
    assert counts.loc["One", "within tolerance"] == 1 and counts.loc["all chapters"].sum() == 3
    # a chapter added later appears without editing anything
    _chapter(tmp_path, "09_c", "Nine", [_row("w", 0.3, paper=0.2, reference=0.5)])
    card = scorecard.collect(notebooks=tmp_path / "nbs")
    assert list(card.title)[-1] == "Nine" and card.status.iloc[-1] == "same direction"
    page = scorecard.to_html(card)
    assert page.count("<tr>") == 5 and "nan" not in page.lower() and 'href="../notebooks/09_c.html#reproduction-table"' in page
