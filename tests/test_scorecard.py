"""The scorecard collects every recorded chapter's table, whatever the chapters are."""
import json
from pathlib import Path

import pytest

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


def test_claim_seeds_shows_each_claim_with_its_count_and_verdict(tmp_path):
    path = tmp_path / "seeds.json"
    rows = [{"claim": "a holds", "held": 3, "runs": 3, "seeds_held": [0, 1, 2], "known_failure": False},
            {"claim": "b wobbles", "held": 2, "runs": 3, "seeds_held": [0, 2], "known_failure": False},
            {"claim": "c is known to fail", "held": 0, "runs": 3, "seeds_held": [], "known_failure": True}]
    path.write_text(json.dumps({"profile": "fast", "runs": 3, "chapters": {"07_novel_examples": rows},
                                "ran": {"07_novel_examples": {"commit": "abc1234", "date": "2026-11-22"}}}))
    html = vb.scorecard.claim_seeds("07_novel_examples", path).to_html()
    assert "2 of 3 seeds" in html and "fragile" in html and "robust" in html and "known failure" in html
    assert "abc1234" in html and "2026-11-22" in html
    assert "not been run over several seeds" in vb.scorecard.claim_seeds("01_ood_puzzle", path).data
    assert "07_novel_examples" in vb.scorecard.claim_seeds(None, path).to_html()


def test_the_committed_seed_counts_are_of_the_current_claims():
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from test_claims import CLAIMS

    if not vb.scorecard.SEEDS_FILE.exists():
        pytest.skip("no seed counts yet: make seeds")
    blob = json.loads(vb.scorecard.SEEDS_FILE.read_text())
    for chapter, rows in blob["chapters"].items():
        stale = {r["claim"] for r in rows} - {claim for claim, _ in CLAIMS[chapter]}
        assert not stale, f"{chapter}: seed counts of claims that no longer exist (run make seeds): {stale}"
        assert all(0 <= r["held"] <= r["runs"] == blob["runs"] for r in rows)


def test_claim_seeds_names_the_commit_each_chapter_ran_on(tmp_path):
    path = tmp_path / "seeds.json"
    row = {"claim": "a holds", "held": 3, "runs": 3, "seeds_held": [0, 1, 2], "known_failure": False}
    path.write_text(json.dumps({"profile": "fast", "runs": 3, "chapters": {"06_x": [row], "07_y": [row]},
                                "ran": {"06_x": {"commit": "new1234", "date": "2026-11-23"},
                                        "07_y": {"commit": "old1234", "date": "2026-11-22"}}}))
    caption = vb.scorecard.claim_seeds(None, path).to_html()
    assert "commit new1234 on 2026-11-23 (chapter 6)" in caption and "commit old1234 on 2026-11-22 (chapter 7)" in caption
    assert "old1234" not in vb.scorecard.claim_seeds("06_x", path).to_html()
