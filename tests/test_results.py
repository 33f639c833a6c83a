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


def test_a_table_is_stored_as_tidy_rows():
    table = pd.DataFrame({"quantity": ["AUROC", "KL"], "paper": [0.46, np.nan], "ours": [0.41, 0.2]})
    vb.record("ch", table=table, a=1.0)
    rows = vb.read_record("ch")["table"]
    assert rows == [{"quantity": "AUROC", "paper": 0.46, "ours": 0.41}, {"quantity": "KL", "paper": None, "ours": 0.2}]


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
