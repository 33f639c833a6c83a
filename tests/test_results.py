"""Recorded numbers: written whole and atomically, with their meta data, and bad input named."""
import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import vaebook as vb
from vaebook.results import ResultsError, results_dir


def test_a_run_replaces_the_previous_one_as_a_whole():
    vb.record("ch", a=1.0, stale=2.0)
    vb.record("ch", a=3.0, b=np.float32(2.5))
    assert vb.read_results("ch") == {"a": 3.0, "b": 2.5}  # no key of the earlier run survives
    blob = json.loads((results_dir() / "ch.json").read_text())
    assert blob["meta"]["profile"] == "fast" and blob["meta"]["chapter"] == "ch"  # meta data in the same file
    assert sorted(p.name for p in results_dir().iterdir()) == ["ch.json"]


def _table():
    return vb.reproduction_table([
        vb.row("AUROC", 0.41, paper=0.46, reference=0.5, unit="AUROC", estimator="bits/dim (ELBO)", claim="below 0.5"),
        vb.row("KL", 0.2, unit="nats", estimator="analytic", claim="small")], model="MLP", data="subset")


def test_a_table_is_stored_as_tidy_rows():
    vb.record("ch", table=_table(), a=1.0)
    rows = vb.read_record("ch")["table"]
    assert [(r["quantity"], r["paper"], r["ours"], r["expect"]) for r in rows] == [("AUROC", 0.46, 0.41, "<"),
                                                                                 ("KL", None, 0.2, "")]
    assert all(set(r) == set(vb.tables.COLUMNS) for r in rows) and rows[0]["profile"] == "fast"


def test_an_untidy_table_is_refused_and_nothing_is_written():
    vb.record("ch", table=_table(), a=1.0)
    with pytest.raises(ResultsError, match=r"row 0 of the reproduction table lacks the column\(s\) \['unit'"):
        vb.record("ch", table=pd.DataFrame({"quantity": ["AUROC"], "paper": [0.46], "ours": [0.41]}), a=2.0)
    bad = _table()
    bad.loc[0, "ours"] = np.nan
    with pytest.raises(ResultsError, match=r"row 0 \('AUROC'\) has ours=None, not a finite number"):
        vb.record("ch", table=bad, a=2.0)
    assert vb.read_results("ch") == {"a": 1.0}


@pytest.mark.parametrize("paper, ours, reference, expect, unit, status", [
    (0.46, 0.49, 0.5, None, "AUROC", "within tolerance"),    # |0.03| ≤ 0.05 on an AUROC, on the paper's side
    (0.46, 0.51, 0.5, None, "AUROC", "against the paper"),   # close, but on the other side of chance
    (0.46, 0.30, 0.5, None, "AUROC", "same direction"),
    (0.46, 0.70, 0.5, None, "AUROC", "against the paper"),
    (1.00, 0.923, 0.5, None, "AUROC", "same direction"),     # 0.077 off: not within 0.05 (was: 10 % of 1.00)
    (1647.8, 1800.0, None, None, "nats", "within tolerance"),  # 9 % of a large number
    (1647.8, 2000.0, None, None, "nats", "outside tolerance"),  # no reference: no side to take
    (0.30, 0.32, None, None, "bits/dim", "within tolerance"),  # 7 %
    (0.30, 0.34, None, None, "bits/dim", "outside tolerance"),  # 13 %: relative, not 0.05 absolute
    (None, 0.43, 0.5, ">", "fraction", "no paper number"),    # a direction only: a claim, not a status
    (None, 0.61, None, None, "AUROC", "no paper number"),
])
def test_status_follows_one_rule_per_kind_of_quantity(paper, ours, reference, expect, unit, status):
    r = vb.row("q", ours, paper=paper, reference=reference, expect=expect, unit=unit, estimator="e", claim="c")
    assert vb.tables.status(r) == status


def test_a_number_of_another_quantity_is_not_comparable_and_needs_a_paper_number():
    r = vb.row("q", 40.0, paper=12.3, unit="nats", estimator="e", claim="c", comparable="another dataset")
    assert vb.tables.status(r) == "not comparable"
    with pytest.raises(ValueError, match="comparable=.* explains a paper number"):
        vb.row("q", 40.0, unit="nats", estimator="e", claim="c", comparable="another dataset")


def test_a_shown_table_has_no_index_no_nan_and_notes_in_the_caption():
    html = vb.tables.show(_table()).to_html()
    assert "nan" not in html.lower() and "—" in html and "model: MLP" in html and "<caption" in html
    assert "row_heading" not in html  # no index column


def test_bad_values_are_named_and_nothing_is_written():
    vb.record("ch", a=1.0)
    with pytest.raises(ResultsError, match=r"recorded value c=nan is not finite"):
        vb.record("ch", a=2.0, c=float("nan"))
    with pytest.raises(ResultsError, match=r"recorded value label='ten' is not a number"):
        vb.record("ch", a=2.0, label="ten")
    assert vb.read_results("ch") == {"a": 1.0}  # the earlier file stands, whole


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/b", "", ".hidden", "x/../../y"])
def test_a_chapter_name_cannot_leave_the_results_folder(name):
    with pytest.raises(ResultsError, match="is not a plain file name"):
        vb.record(name, a=1.0)
    assert not results_dir().exists() or not any(results_dir().parent.rglob("escape*"))


def test_a_corrupt_results_file_is_reported_with_its_path():
    results_dir().mkdir(parents=True)
    (results_dir() / "ch.json").write_text('{"values": {"a": 1')
    with pytest.raises(ResultsError, match=r"the results file .*ch\.json is corrupt"):
        vb.read_results("ch")


WRITER = """
import sys, vaebook as vb
who = int(sys.argv[1])
for run in range(25):
    vb.record("ch", **{f"k{i}": who * 1000 + run for i in range(150)})
"""


def test_two_processes_recording_at_once_lose_no_key():
    """Each run writes 150 keys; readers in between always see one whole run, never a mix or fewer keys."""
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(who)]) for who in (1, 2)]
    seen = 0
    while any(p.poll() is None for p in procs):
        values = vb.read_results("ch")
        if values:
            assert len(values) == 150 and len(set(values.values())) == 1, "a torn or merged file"
            seen += 1
        time.sleep(0.005)
    assert all(p.returncode == 0 for p in procs) and seen > 0
    final = vb.read_results("ch")
    assert len(final) == 150 and len(set(final.values())) == 1


def test_a_dry_run_is_written_into_the_meta_data_and_the_table_caption(monkeypatch):
    monkeypatch.setenv("VAEBOOK_MAX_EPOCHS", "2")
    table = vb.reproduction_table([vb.row("q", 1.0, paper=1.0, unit="u", estimator="e", claim="c")], model="m", data="d")
    monkeypatch.setenv("VAEBOOK_MAX_STEPS", "3")
    with pytest.warns(UserWarning, match="DRY RUN.*2 epoch.*at 3 .*none of them is a result"):
        vb.set_profile("full")
    vb.record("dry", table=table, x=1.0)
    assert vb.read_record("dry")["meta"]["max_epochs"] == 2 and vb.read_record("dry")["meta"]["max_steps"] == 3
    assert "DRY RUN" in vb.tables.show(table).caption
    monkeypatch.delenv("VAEBOOK_MAX_EPOCHS")
    monkeypatch.delenv("VAEBOOK_MAX_STEPS")
    vb.record("dry", table=table, x=1.0)  # the run's settings were read once, where it started: still a dry run
    assert vb.read_record("dry")["meta"]["max_epochs"] == 2
    vb.set_profile("full")  # a new run reads the environment again
    vb.record("dry", table=table, x=1.0)
    assert vb.read_record("dry")["meta"]["max_epochs"] is None and vb.read_record("dry")["meta"]["max_steps"] is None
    assert "DRY RUN" not in vb.tables.show(table).caption


def _row(**change):
    return {**{c: None for c in vb.tables.COLUMNS}, "quantity": "AUROC", "ours": 0.4, "runs": 1, "unit": "AUROC",
            **change}


@pytest.mark.parametrize("blob, message", [
    ({"meta": {}, "values": {"auc": "0.9; DROP"}}, r"value 'auc' is '0.9; DROP', not a finite number"),
    ({"meta": {}, "values": {"auc": True}}, r"value 'auc' is True, not a finite number"),
    ({"meta": None, "values": {}}, r"it needs a 'meta' object and a 'values' object"),
    ([1, 2], r"it needs a 'meta' object"),
    ({"meta": {}, "values": {}, "table": "rows"}, r"its table is a str, not a list of rows"),
    ({"meta": {}, "values": {}, "table": [[1]]}, r"row 0 of its table is a list, not an object"),
    ({"meta": {}, "values": {}, "table": [{"quantity": "AUROC", "ours": 0.4}]}, r"row 0 of its table lacks the column"),
    ({"meta": {}, "values": {}, "table": [_row(paper="about 0.5")]}, r"row 0 of its table \('AUROC'\) has paper='about 0.5'"),
    ({"meta": {}, "values": {}, "table": [_row(ours=None)]}, r"has ours=None"),
    ({"meta": {}, "values": {}, "table": [_row(unit=3)]}, r"has unit=3: numbers must be numbers, text text"),
    ({"meta": {}, "values": {}, "claims": "x"}, r"its claims are a str, not a list"),
    ({"meta": {}, "values": {}, "claims": [{"id": "a", "text": "t", "reads": "x", "op": ">", "than": 0.5}]},
     r"claim 0 is not a claim \(KeyError: 'source'\)"),
    ({"meta": {}, "values": {}, "claims": [{"id": "a b", "text": "t", "reads": "x", "op": ">", "than": 0.5,
                                           "source": {"post_hoc": False}}]}, r"claim 0 is not a claim .*not a plain name"),
    ({"meta": {"changed": ["seed"]}, "values": {}}, r"its meta data's 'changed' is of type list, not dict"),
    ({"meta": {"profile": 3}, "values": {}}, r"its meta data's 'profile' is of type int, not str"),
])
def test_a_malformed_results_file_is_named_with_what_is_wrong(blob, message):
    results_dir().mkdir(parents=True)
    (results_dir() / "ch.json").write_text(json.dumps(blob))
    with pytest.raises(ResultsError, match=r"the results file .*ch\.json is corrupt \(.*" + message):
        vb.read_record("ch")


def test_a_results_file_nested_too_deeply_is_named():
    results_dir().mkdir(parents=True)
    (results_dir() / "ch.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ResultsError, match=r"the results file .*ch\.json is corrupt \(it is nested too deeply"):
        vb.read_results("ch")


def test_a_well_formed_file_with_a_table_reads_back():
    vb.record("ch", table=_table(), a=1.0)
    assert vb.read_record("ch")["table"][1]["paper"] is None


def test_a_results_file_that_cannot_be_written_names_the_file_and_the_cause(monkeypatch):
    import errno
    from pathlib import Path

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError, match=r"could not write the results file .*ch\.json: no space left on device: .* needed"
                                      r".*set VAEBOOK_RESULTS to another folder"):
        vb.record("ch", a=1.0)


def test_a_table_writes_counts_without_decimals_and_measured_values_with_them():
    """vb.tables.present: a column of whole numbers (one of them 2 or more) is a count, "1,600"; a measured column
    keeps its decimals even where one value rounds to a whole number, "3,745.00" (the book checks rely on this)."""
    import pandas as pd

    html = vb.tables.present(pd.DataFrame({"steps": [1600.0, 800.0], "NLL": [3744.998, 2663.76]}), digits=2).to_html()
    assert "1,600<" in html and "1,600.00" not in html and "3,745.00" in html and "2,663.76" in html
