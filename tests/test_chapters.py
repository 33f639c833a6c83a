"""The chapter manifest (chapters.yml, scripts/chapters.py): the one list of chapters that the build, the seed runs,
paper scale and the tests read. It must agree with the notebooks folder and the table of contents, and refuse a
malformed entry by name."""
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
from scripts import chapters  # noqa: E402


def test_the_manifest_lists_every_notebook_once():
    assert [c.path for c in chapters.CHAPTERS] == sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_table_of_contents_is_written_from_the_manifest():
    assert chapters.main(["--check"]) == 0, "run python -m scripts.chapters --toc"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert [f for f in files if f.startswith("notebooks/")] == [f"notebooks/{c.stem}" for c in chapters.CHAPTERS]
    assert all((ROOT / f).with_suffix(".ipynb").exists() or (ROOT / f).with_suffix(".md").exists() for f in files)


@pytest.mark.parametrize("parts, named", [
    ([{"caption": "Chapters"}], "name the part(s) ['Conclusion', 'Getting started']"),
    ([{"caption": "Chapters"}, {"caption": "Getting started"}, {"caption": "Conclusion"}], "in another order"),
    ([{"caption": "Getting started"}, {"caption": "Chapters"}, {"caption": "Conclusion"}, {"caption": "Empty"}],
     "'Empty' of 'toc' has no page"),
    ([{"caption": "Getting started", "before": "book/notation"}, {"caption": "Chapters"}, {"caption": "Conclusion"}],
     "'before' and 'after' are lists of pages"),
])
def test_a_table_of_contents_the_manifest_cannot_give_is_refused(parts, named):
    manifest = yaml.safe_load(chapters.MANIFEST.read_text())
    manifest["toc"]["parts"] = parts
    with pytest.raises(ValueError) as e:
        chapters.toc(manifest=manifest)
    assert named in str(e.value)


def test_every_chapter_with_claims_has_its_reference_and_seeds():
    seeds = json.loads((ROOT / "vaebook" / "bundle" / "seeds.json").read_text())
    for c in chapters.CHAPTERS:
        assert (ROOT / "tests" / "reference" / f"{c.stem}.ipynb").exists() == c.claims, c.stem
        assert (c.stem in json.dumps(seeds)) or not c.claims, f"{c.stem} has no seed runs: make seeds CHAPTERS={c.stem}"


def test_chapters_that_reuse_models_start_after_the_chapters_that_train_them():
    order = [c.stem for c in chapters.build_order()]
    for c in chapters.CHAPTERS:
        for before in c.after:
            assert order.index(before) < order.index(c.stem)
    # the longest critical path first: a chapter another waits for counts that chapter's time too
    toy = [chapters.Chapter("a", 10, 0, 1, "x"), chapters.Chapter("b", 8, 0, 1, "x"),
           chapters.Chapter("c", 5, 0, 1, "x", after=("b",))]
    assert [c.stem for c in chapters.build_order(toy)] == ["b", "a", "c"]


@pytest.mark.parametrize("entry, named", [
    ({"stem": "00_data", "fast_s": 1, "full_dry_s": 1, "paper_runs": 0, "runs_why": "x"}, "'paper_runs'"),
    ({"stem": "00_data", "fast_s": "slow", "full_dry_s": 1, "paper_runs": 1, "runs_why": "x"}, "'fast_s'"),
    ({"stem": "00_data", "fast_s": 1, "full_dry_s": 1, "paper_runs": 1, "runs_why": "x", "seeds": 3}, "unknown field(s) seeds"),
    ({"stem": "00_data", "fast_s": 1, "full_dry_s": 1, "paper_runs": 1, "runs_why": "x", "tiny_full": {},
      "after": ["01_ood_puzzle"]}, "'after' lists chapters above it"),
    ({"stem": "99_nothing", "fast_s": 1, "full_dry_s": 1, "paper_runs": 1, "runs_why": "x", "tiny_full": {}},
     "no notebook notebooks/99_nothing"),
    ({"stem": "00_data", "fast_s": 1, "full_dry_s": 1, "paper_runs": 1, "runs_why": "x"}, "'tiny_full' must be a mapping"),
])
def test_a_malformed_entry_is_refused_by_name(tmp_path, entry, named):
    path = tmp_path / "chapters.yml"
    path.write_text(yaml.safe_dump({"chapters": [entry]}))
    with pytest.raises(ValueError, match="chapter 1") as e:
        chapters.load(path)
    assert named in str(e.value) and str(path) in str(e.value)


def test_a_manifest_that_is_not_one_is_refused(tmp_path):
    path = tmp_path / "chapters.yml"
    path.write_text("- just a list\n")
    with pytest.raises(ValueError, match="cannot read the chapter manifest"):
        chapters.load(path)


def test_the_build_writes_each_chapters_time_and_the_time_scaled_to_the_reference_machine(tmp_path):
    from scripts import execute_book
    from bench import machine_speed

    slow = 2 * machine_speed.REFERENCE_SECONDS  # a machine at half the reference speed

    class Cache:  # jupyter-cache's answer for each notebook: its execution seconds, or no record (edited meanwhile)
        def match_cache_notebook(self, nb):
            code = "".join(c.source for c in nb.cells if c.cell_type == "code")
            if "13_fake" in code:
                raise KeyError("no record")
            return type("Record", (), {"data": {"execution_seconds": 100.0, "reference_epoch_s": slow}})()

    paths = []
    for stem in ("01_fake", "13_fake"):
        nb = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": f"# Title {stem}"},
                        {"cell_type": "code", "id": "b", "metadata": {}, "source": f"x = '{stem}'", "outputs": [],
                         "execution_count": None}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        (path := tmp_path / f"{stem}.ipynb").write_text(json.dumps(nb))
        paths.append(path)
    execute_book.write_times(Cache(), paths, tmp_path, threads=1, jobs=2, speed=[slow, slow])
    record = json.loads((tmp_path / "book-times.json").read_text())
    assert record["chapters"]["01_fake"] == {"title": "Title 01_fake", "seconds": 100.0, "reference_epoch_s": slow,
                                             "reference_seconds": 50.0}
    assert record["chapters"]["13_fake"]["seconds"] is None and record["total_reference_seconds"] == 50.0
    table = (tmp_path / "chapter-times.md").read_text()
    assert "| Title 01_fake | 100 s | 50 s |" in table and "| Title 13_fake | — | — |" in table
    # the book's budget is on the build's wall-clock time (lanes at once), not on the sum of the chapters' times
    assert "the whole book" not in record["over_budget"]
    execute_book.write_times(Cache(), paths, tmp_path, threads=1, jobs=2, speed=[slow], wall=1300.0)
    assert json.loads((tmp_path / "book-times.json").read_text())["over_budget"] == ["the whole book"]  # 650 s scaled
    with pytest.raises(ValueError, match="positive time"):
        machine_speed.reference_time(10.0, 0.0)


def test_the_budget_is_the_briefs_ten_minutes_and_three_per_chapter():
    assert chapters.BUDGET == {"book_s": 600.0, "chapter_s": 180.0}
