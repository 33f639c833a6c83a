"""The scorecard collects every recorded chapter's table, whatever the chapters are."""
import json

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
    _chapter(tmp_path, "02_b", "Two", [_row("z", 0.7), _row("x again", 0.48, paper=0.46, reference=0.5, repeats="01_a")])
    card = scorecard.collect(notebooks=tmp_path / "nbs")
    assert list(card.quantity) == ["x", "y", "z"] and list(card.title) == ["One", "One", "Two"]  # the repeat: once
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


def test_claims_are_listed_with_their_verdict_and_the_origin_of_their_threshold(tmp_path):
    claims = [vb.Claim("a", "a holds", reads="x", op=">", than=0.5, source=vb.Paper("Table 1")),
              vb.Claim("b", "b is ours", reads="x", op=">", than=0.1, source=vb.Ours(post_hoc=True))]
    vb.record("07_x", claims=claims, x=0.9)
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps({"format": 2, "chapters": {"07_x": {"values": [{"x": 0.9}, {"x": 0.91}, {"x": 0.89}]}}}))
    card = scorecard.claims(seeds=seeds, paper_scale_path=tmp_path / "none")
    assert list(card.threshold) == ["the paper's", "ours, post hoc"] and list(card.verdict) == ["holds", "holds"]
    assert list(card["seeds holding"]) == ["3 of 3", "3 of 3"] and list(card["at the paper's scale"]) == ["—", "—"]
    # runs at the paper's scale are counted in their own column, never mixed with the seeds
    run = {"format": 1, "paper_scale": True, "provenance": {"device": "cpu", "smoke": False, "date": "2026-12-07"},
           "experiments": {"e": {"status": "done", "runs": 3, "epochs": {"m": 200},
                                 "values": {"07_x": {"x": {"value": 0.3, "per_run": [0.3, 0.31, 0.29]}}}}}}
    (tmp_path / "scale").mkdir()
    (tmp_path / "scale" / "run.json").write_text(json.dumps(run))
    card = scorecard.claims(seeds=seeds, paper_scale_path=tmp_path / "scale")
    assert list(card.verdict) == ["holds", "holds"] and list(card["at the paper's scale"]) == ["fails (0 of 3 runs)",
                                                                                                "holds (3 of 3 runs)"]
    assert scorecard.paper_scale_summary(card).startswith("2 claims of 07_x were also measured at the paper's scale")
    assert ("1 holds, 1 fails there; 1 with the paper's threshold, 1 with ours" in scorecard.paper_scale_summary(card))
    assert scorecard.paper_scale_summary(card.iloc[:1]).startswith("1 claim of 07_x was also measured")
    assert scorecard.paper_scale_summary(scorecard.claims(seeds=seeds, paper_scale_path=tmp_path / "none")).startswith(
        "No claim has been measured at the paper's scale yet")


def _run_with(monkeypatch, parameters):
    """This process's run as a chapter's with these parameters, none of them changed from the chapter's own."""
    from vaebook import profiles

    monkeypatch.setattr(profiles, "run_parameters", lambda: {"parameters": dict(parameters), "changed": {}})
    monkeypatch.setattr(vb.results, "run_parameters", profiles.run_parameters)
    monkeypatch.setattr(vb.tables, "run_parameters", profiles.run_parameters)


def _seeds(path, values, parameters, profile=None):
    record = {"profile": profile or vb.current_profile(), "parameters": parameters, "values": [],
              "tables": [{"x": v} for v in values]}
    path.write_text(json.dumps({"format": 2, "chapters": {"01_a": record}}))
    return path


def test_a_status_is_that_of_the_mean_over_seeds_where_the_chapter_ran_over_seeds(tmp_path, monkeypatch):
    """One build's rounding can move a number across a tolerance; the mean over the committed seeds does not. The
    seeds' mean is quoted only for a run of the experiment they ran: same profile, same parameters (seed aside)."""
    _run_with(monkeypatch, {"n": 10, "seed": 0})
    _chapter(tmp_path, "01_a", "One", [_row("x", 0.60, paper=0.46, reference=0.5)])
    seeds = _seeds(tmp_path / "seeds.json", (0.44, 0.45, 0.47), {"n": 10})
    card = scorecard.collect(notebooks=tmp_path / "nbs", seeds_file=seeds)
    assert card.status[0] == "within tolerance" and card["seeds mean"][0] == pytest.approx(0.4533, abs=1e-3)
    assert "0.453 (3)" in scorecard.to_html(card)
    assert scorecard.collect(notebooks=tmp_path / "nbs", seeds_file=tmp_path / "none.json").status[0] == "against the paper"
    for other in (_seeds(tmp_path / "other.json", (0.44, 0.45, 0.47), {"n": 20}),  # other parameters
                  _seeds(tmp_path / "other.json", (0.44, 0.45, 0.47), {"n": 10}, profile="full")):
        card = scorecard.collect(notebooks=tmp_path / "nbs", seeds_file=other)
        assert card.status[0] == "against the paper" and card["seeds"][0] == 0
    card = scorecard.collect(notebooks=tmp_path / "nbs", seeds_file=_seeds(tmp_path / "zero.json", (0.0, 0.0, 0.0), {"n": 10}))
    assert "0.000 (3)" in scorecard.to_html(card)  # a mean of zero is a mean


def test_a_run_with_other_parameters_or_a_dry_run_is_labelled_and_not_counted(tmp_path, monkeypatch):
    from vaebook import profiles

    monkeypatch.setattr(profiles, "run_parameters", lambda: {"parameters": {"seed": 1}, "changed": {"seed": 1}})
    monkeypatch.setattr(vb.results, "run_parameters", profiles.run_parameters)
    monkeypatch.setattr(vb.tables, "run_parameters", profiles.run_parameters)
    _chapter(tmp_path, "01_a", "One", [_row("x", 0.48, paper=0.46, reference=0.5)])
    card = scorecard.collect(notebooks=tmp_path / "nbs")
    assert card.profile[0].endswith("with seed = 1")
    assert scorecard.summary(card).iloc[-1].drop("chapter").sum() == 0  # shown, labelled, not counted
    table = vb.reproduction_table([_row("x", 0.48, paper=0.46, reference=0.5)], model="m", data="d")
    assert "parameters changed from the chapter's own: seed = 1" in vb.tables.show(table).to_html()
    for module in (profiles, vb.results, vb.tables):  # now the chapter as written
        monkeypatch.setattr(module, "run_parameters", lambda: {"parameters": {"seed": 0}, "changed": {}})
    monkeypatch.setenv("VAEBOOK_MAX_EPOCHS", "1")
    vb.set_profile(vb.current_profile())  # a dry run of the chapter as written
    _chapter(tmp_path, "01_a", "One", [_row("x", 0.48, paper=0.46, reference=0.5)])
    card = scorecard.collect(notebooks=tmp_path / "nbs")
    assert card.profile[0].endswith("a dry run (capped)") and not card["as written"][0]
    assert scorecard.summary(card).iloc[-1].drop("chapter").sum() == 0
    monkeypatch.delenv("VAEBOOK_MAX_EPOCHS")
    vb.set_profile(vb.current_profile())
    _chapter(tmp_path, "01_a", "One", [_row("x", 0.48, paper=0.46, reference=0.5)])
    card = scorecard.collect(notebooks=tmp_path / "nbs")  # the chapter as written: counted
    assert scorecard.summary(card).iloc[-1].drop("chapter").sum() == 1


def test_a_chapters_table_gives_each_row_its_seeds_mean_and_that_means_status(tmp_path, monkeypatch):
    """The chapter's own table follows the same rule as the scorecard: a run of the seeds' profile and parameters shows
    the seeds' mean beside its own number, with the mean's status; any other run keeps its own."""
    from vaebook import claims

    _run_with(monkeypatch, {"n": 10, "seed": 0})
    table = vb.reproduction_table([_row("x", 0.60, paper=0.46, reference=0.5), _row("y", 0.3, paper=0.2)], model="m", data="d")
    monkeypatch.setattr(claims, "SEEDS_FILE", _seeds(tmp_path / "seeds.json", (0.44, 0.45, 0.47), {"n": 10}))
    shown = vb.tables.show(table, chapter="01_a").data
    assert list(shown["status"]) == ["within tolerance", "outside tolerance"]  # x by its seeds' mean, y by this run
    assert list(shown["mean over seeds"]) == ["0.453 (3)", "—"] and list(shown["ours"]) == ["0.600", "0.300"]
    assert list(vb.tables.show(table).data["status"])[0] == "against the paper"  # without the chapter: this run alone
    _run_with(monkeypatch, {"n": 11, "seed": 0})  # a parameter edited by hand in the parameters cell
    assert "mean over seeds" not in vb.tables.show(table, chapter="01_a").data
    _run_with(monkeypatch, {"n": 10, "seed": 1})  # another seed of the same experiment
    assert "mean over seeds" in vb.tables.show(table, chapter="01_a").data
    monkeypatch.setenv("VAEBOOK_MAX_EPOCHS", "1")
    vb.set_profile(vb.current_profile())  # a dry run
    assert "mean over seeds" not in vb.tables.show(table, chapter="01_a").data
    monkeypatch.setattr(claims, "SEEDS_FILE", _seeds(tmp_path / "seeds.json", (0.44, 0.45, 0.47), {"n": 10}, profile="x"))
    monkeypatch.delenv("VAEBOOK_MAX_EPOCHS")
    vb.set_profile(vb.current_profile())
    assert "mean over seeds" not in vb.tables.show(table, chapter="01_a").data  # seeds of another profile
