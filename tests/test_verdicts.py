"""The claims and their seed record: stated once, current, and consistent with the chapters' known failures.

These run without a book build: the claims are read from each chapter's claims cell
(:func:`vaebook.claims.from_notebook`), the verdicts from the committed seed runs (``vaebook/bundle/seeds.json``).
"""
import json
import re
from pathlib import Path

import pytest

import vaebook as vb
from vaebook import claims as vc

ROOT = Path(__file__).resolve().parents[1]
from scripts import chapters  # noqa: E402

CHAPTERS = [c.path for c in chapters.with_claims()]  # chapters.yml


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_the_seed_runs_are_of_the_current_code(notebook):
    """A chapter whose code changed since `make seeds` shows verdicts of other code: re-run its seeds."""
    assert (why := vc.stale(notebook.stem, notebook)) is None, why


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_known_failures_fail_or_are_undecided_and_nothing_else_fails(notebook):
    for v in vc.verdicts(notebook.stem, vc.from_notebook(notebook)):
        if v.claim.known_failure:
            assert v.state != "holds", (f"{notebook.stem}: {v.claim.id} holds in every seed: it is no known failure "
                                        f"any more; remove its known_failure")
        else:
            assert v.state != "fails", (f"{notebook.stem}: {v.claim.id} fails in every seed, with no reason given: "
                                        f"fix it, or say why with known_failure: {v.claim.text}")


def _sources():
    """Every place a claim could be written a second time: notebook cells (but claims cells), library, tests, scripts."""
    for nb in [*CHAPTERS, *(ROOT / "book").glob("*.ipynb")]:
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if vc.CLAIMS_TAG not in cell.get("metadata", {}).get("tags", []):
                yield f"{nb.name} cell {i}", "".join(cell["source"])
    for folder in ("vaebook", "tests", "scripts", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name not in ("claims.py", "test_verdicts.py"):
                yield str(path.relative_to(ROOT)), path.read_text()


def test_every_claim_is_declared_in_one_place():
    texts = {}
    for notebook in CHAPTERS:
        for c in vc.from_notebook(notebook):
            assert c.text not in texts, f"the claim {c.text!r} is declared in {texts[c.text]} and in {notebook.stem}"
            texts[c.text] = notebook.stem
    for where, source in _sources():
        if not where.startswith("tests"):  # unit tests build claims of their own
            assert not re.search(r"\bClaim\(", source), f"{where} declares a claim outside a chapter's claims cell"
        assert "KNOWN_FAILURES" not in source, f"{where} lists known failures outside the claims"
        for text in texts:
            assert text not in source, f"{where} repeats the claim {text!r} of {texts[text]}"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_declares_claims_with_their_threshold_sources(notebook):
    declared = vc.from_notebook(notebook)
    assert declared, f"{notebook.stem} declares no claims"
    for c in declared:
        assert c.known_failure == "" or not re.search(r"\d\.\d", c.known_failure), \
            f"{c.id}: a known failure gives its reason in words; its numbers are in the chapter's tables"


def _c(**kw):
    return vc.Claim(**{"id": "c", "text": "x above one half", "reads": "x", "op": ">", "than": 0.5,
                       "source": vc.Ours(post_hoc=False), **kw})


@pytest.mark.parametrize("xs,state", [
    ([0.8, 0.82, 0.79], "holds"),      # clear of the threshold in every seed
    ([0.2, 0.22, 0.19], "fails"),
    ([0.52, 0.47, 0.6], "undecided"),  # both sides
    ([0.51, 0.7, 0.9], "undecided"),   # one side, but within the seeds' spread
    ([0.503, 0.504, 0.503], "undecided"),  # one side, but within rounding (the 1 % floor)
    ([0.8, 0.8], "undecided"),         # too few seeds
])
def test_the_rule_decides_only_clear_of_noise(xs, state):
    assert vc.verdict(_c(), [{"x": x} for x in xs]).state == state


def test_a_threshold_can_be_another_value_times_a_factor_plus_an_offset():
    c = _c(than="y", times=2.0, plus=-1.0)
    assert c.margin({"x": 5.0, "y": 2.0}) == pytest.approx(2.0)
    assert _c(op="<").margin({"x": 0.4}) == pytest.approx(0.1)
    assert c.margin({"x": 5.0}) is None  # not measured
    assert vc.Claim.from_dict(c.to_dict()) == c


def test_one_more_run_contradicts_a_verdict_only_outside_the_seeds_prediction_interval():
    tight = vc.verdict(_c(), [{"x": x} for x in (0.8, 0.82, 0.79)])
    assert tight.state == "holds"
    assert vc.contradiction(tight, 0.01) is None               # near the threshold, but on the verdict's side
    assert "prediction interval" in vc.contradiction(tight, -0.01)  # 20 noises from the seeds: a bug, not a draw
    wide = vc.verdict(_c(), [{"x": x} for x in (0.8, 0.95, 1.1)])
    assert wide.state == "holds"
    assert vc.contradiction(wide, -0.5) is None                # the other side, but such seeds allow it
    assert vc.contradiction(vc.verdict(_c(), [{"x": 0.52}, {"x": 0.47}, {"x": 0.6}]), -0.3) is None  # undecided


def test_a_count_is_never_decided_by_a_step_below_its_resolution():
    counts = [{"x": 32.0, "y": 31.0}] * 3  # 32 latents against 31 in every seed: one latent is one step
    assert vc.verdict(_c(than="y", resolution=1.0), counts).state == "undecided"
    assert vc.verdict(_c(than="y", resolution=1.0), [{"x": 32.0, "y": 20.0}] * 3).state == "holds"


def test_a_yes_no_is_decided_when_its_seeds_agree():
    # 0 or 1 against 0.5: the margin is ±0.5 in every seed, so a resolution of 1 could never decide it (the rule
    # gave "undecided: it fails in all 3 seeds" for a classifier that stopped in none of them)
    flag = _c(than=0.5)
    assert vc.verdict(flag, [{"x": 0.0}] * 3).state == "fails"
    assert vc.verdict(flag, [{"x": 1.0}] * 3).state == "holds"
    assert vc.verdict(flag, [{"x": 1.0}, {"x": 0.0}, {"x": 1.0}]).state == "undecided"


def test_bad_claims_are_refused_with_their_name():
    with pytest.raises(ValueError, match="op must be"):
        _c(op=">=")
    with pytest.raises(ValueError, match="source must be"):
        _c(source="paper")
    with pytest.raises(vb.ResultsError, match="claim 'c' reads \\['x'\\]"):
        vb.record("ch", claims=[_c()], y=1.0)
    vb.record("ch", claims=[_c(optional=True)], y=1.0)  # a profile may leave an optional claim's value out
    assert vb.read_record("ch")["claims"][0]["id"] == "c"


def test_the_fingerprint_follows_code_not_words(tmp_path):
    nb = json.loads(CHAPTERS[0].read_text())
    path = tmp_path / "ch.ipynb"

    def fp(cells):
        path.write_text(json.dumps({**nb, "cells": cells}))
        return vc.fingerprint(path)

    code = {"cell_type": "code", "metadata": {}, "source": "x = 1\nvb.glue('a', 'words')\n"}
    base = fp([code])
    assert fp([code, {"cell_type": "markdown", "metadata": {}, "source": "prose"}]) == base
    assert fp([{**code, "source": "x = 1\nvb.glue('a', 'other words')\n"}]) == base
    assert fp([{**code, "source": "x = 1\nvb.glue('a', 'words')\nvb.glue_parameters('ch', 'epochs')\n"}]) == base
    assert fp([code, {"cell_type": "code", "metadata": {"tags": ["claims"]}, "source": "CLAIMS = []"}]) == base
    assert fp([{**code, "source": "x = 2\n"}]) != base


def test_several_claims_cells_declare_one_list(tmp_path):
    # a long list of claims is split into cells in page order; the declaration ends at the verdicts ("V = ...")
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "d = 3\n"},
             {"cell_type": "code", "metadata": {"tags": ["claims"]},
              "source": "CLAIMS = [vb.Claim('a', 'first', reads='x', op='>', than=0, source=vb.Ours(post_hoc=False))]"},
             {"cell_type": "markdown", "metadata": {}, "source": "prose"},
             {"cell_type": "code", "metadata": {"tags": ["claims"]},
              "source": "CLAIMS += [vb.Claim('b', f'second at {d}', reads='y', op='<', than=1, source=vb.Paper('T1'))]\n"
                        "V = undefined_in_a_declaration\n"}]
    path = tmp_path / "ch.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert [(c.id, c.text) for c in vc.from_notebook(path)] == [("a", "first"), ("b", "second at 3")]


def test_a_stale_or_corrupt_seed_record_says_what_to_run(tmp_path):
    path = tmp_path / "seeds.json"
    assert "no seed runs" in vc.stale("07_novel_examples", CHAPTERS[6], path)
    path.write_text(json.dumps({"format": 2, "chapters": {"07_novel_examples": {"fingerprint": "old", "values": []}}}))
    assert "make seeds CHAPTERS=07_novel_examples" in vc.stale("07_novel_examples", CHAPTERS[6], path)
    path.write_text("[1, 2")
    with pytest.raises(ValueError, match="seed record .* is corrupt"):
        vc.seed_record("07_novel_examples", path)


@pytest.mark.parametrize("record,message", [
    ({"values": [1, 2]}, "its values of run 1 are not a mapping of names to numbers"),
    ({"values": [{"auc": 0.5}, {"auc": "0.9; DROP"}]}, "its values of run 2 hold something other than a number under 'auc'"),
    ({"values": "runs"}, "its values are not a list of runs"),
    ({"tables": ["x"]}, "its tables of run 1 are not a mapping of names to numbers"),
    ([], "it is not a record of seed runs")])
def test_a_malformed_seed_record_is_named_with_its_file_its_chapter_and_the_fix(tmp_path, record, message):
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps({"format": 2, "chapters": {"07_novel_examples": record, "05_x:decoder=conv": {}}}))
    expected = rf"seed record .*seeds\.json is corrupt: the record of '07_novel_examples': {re.escape(message)}\. " \
               r"Restore the committed file \(`git checkout -- .*seeds\.json`\), or remove that record from it and run " \
               r"`make seeds CHAPTERS=07_novel_examples`"
    with pytest.raises(vc.SeedRecordError, match=expected):
        vc.seed_values("07_novel_examples", "auc", path=path)
    with pytest.raises(vc.SeedRecordError, match=expected):
        vc.check_seed_file(path)  # where a chapter's run starts: every record, whichever chapter runs
    path.write_text(json.dumps({"format": 2, "chapters": {"05_x:decoder=conv": {}}}))  # the fix it names: that record out
    vc.check_seed_file(path)
    path.write_text(json.dumps({"format": 2, "chapters": ["07_novel_examples"]}))
    with pytest.raises(vc.SeedRecordError, match="its chapters are not a mapping of records"):
        vc.check_seed_file(path)


def test_seed_values_quote_every_seed_or_their_span_and_name_a_missing_value(tmp_path):
    path = tmp_path / "seeds.json"
    assert vc.seed_values("07_novel_examples", "x", path=path) == "not yet run"
    runs = [{"x": 0.591, "share": 0.41}, {"x": 0.684, "share": 0.63}, {"x": 0.372, "share": 0.5}]
    path.write_text(json.dumps({"format": 2, "chapters": {"07_novel_examples": {"fingerprint": "f", "values": runs}}}))
    assert vc.seed_values("07_novel_examples", "x", path=path) == "0.59, 0.68, 0.37"
    assert vc.seed_values("07_novel_examples", "share", "{:.0%}", span=True, path=path) == "41% to 63%"
    with pytest.raises(KeyError, match="record no value 'y'"):
        vc.seed_values("07_novel_examples", "y", path=path)


def test_seed_series_gives_each_seeds_curve_in_order_and_names_a_missing_one(tmp_path):
    path = tmp_path / "seeds.json"
    assert vc.seed_series("06_distribution_matching", "trace_", path=path) == []
    runs = [{"trace_1600": 2.0, "trace_200": 1.0, "other": 9.0}, {"trace_200": 1.5, "trace_1600": 2.5, "trace_3200": 3.0}]
    path.write_text(json.dumps({"format": 2, "chapters": {"06_distribution_matching": {"fingerprint": "f", "values": runs}}}))
    assert vc.seed_series("06_distribution_matching", "trace_", path=path) == [  # in the order of x, not of the names
        [(200.0, 1.0), (1600.0, 2.0)], [(200.0, 1.5), (1600.0, 2.5), (3200.0, 3.0)]]
    with pytest.raises(KeyError, match="no value named 'curve_'"):
        vc.seed_series("06_distribution_matching", "curve_", path=path)
    path.write_text(json.dumps({"format": 2, "chapters": {"06_distribution_matching": {"values": [
        {"trace_100": 1.0, "trace_estimate": 2.0}]}}}))
    with pytest.raises(KeyError, match="'trace_estimate' begins with 'trace_' but is not a point of a curve"):
        vc.seed_series("06_distribution_matching", "trace_", path=path)
    path.write_text(json.dumps({"format": 2, "chapters": {"06_distribution_matching": {"values": [
        {"trace_100": 1.0}, {"other": 2.0}]}}}))
    with pytest.raises(KeyError, match="a seed run of 06_distribution_matching records no value named 'trace_'"):
        vc.seed_series("06_distribution_matching", "trace_", path=path)  # one run without the curve is named


def test_a_scope_status_says_in_part_only_where_a_claim_holds():
    from vaebook.claims import FAILS, HOLDS, UNDECIDED, Verdict, status

    def v(state):
        return Verdict(None, state, [])

    assert status([v(HOLDS), v(HOLDS)]) == "reproduced"
    assert status([v(HOLDS), v(FAILS), v(UNDECIDED)]) == "in part: of 3 claims, 1 holds, 1 fails, 1 is undecided"
    assert status([v(FAILS), v(UNDECIDED), v(UNDECIDED)]) == "not reproduced: of 3 claims, 1 fails, 2 are undecided"


def test_a_variants_claims_are_decided_by_its_own_seed_runs(tmp_path):
    """A claim with ``variant`` reads the seed runs of the chapter run with those parameters, never the chapter's own,
    and the book's run (the chapter as written) never contradicts it."""
    assert vc.variant_parameters("decoder=conv, ae_epochs=10") == {"decoder": "conv", "ae_epochs": 10}
    for bad in ("decoder", "=conv", "decoder=", "de coder=conv"):
        with pytest.raises(ValueError, match="name=value"):
            vc.variant_parameters(bad)
    with pytest.raises(ValueError, match="name=value"):
        _c(variant="conv")
    assert vc.record_name("05_x") == "05_x" and vc.record_name("05_x", "decoder=conv") == "05_x:decoder=conv"
    path = tmp_path / "seeds.json"
    own, conv = [{"x": 0.4}, {"x": 0.41}, {"x": 0.39}], [{"x": 0.8}, {"x": 0.81}, {"x": 0.79}]
    path.write_text(json.dumps({"format": 2, "chapters": {"05_x": {"values": own}, "05_x:decoder=conv": {"values": conv}}}))
    plain, variant = _c(), _c(id="conv", variant="decoder=conv")
    v_plain, v_variant = vc.verdicts("05_x", [plain, variant], path)
    assert (v_plain.state, v_variant.state) == (vc.FAILS, vc.HOLDS)  # x > 0.5: fails as written, holds in the variant
    assert vc.contradiction(v_variant, -0.3) is None and vc.contradiction(v_plain, 0.3) is not None
    assert vc.paper_scale_verdicts("05_x", [variant], tmp_path / "none") == {}


def test_a_variants_seed_runs_must_exist_be_current_and_have_its_parameters(tmp_path):
    notebook = ROOT / "notebooks" / "05_probabilistic_autoencoder.ipynb"
    variants = sorted({c.variant for c in vc.from_notebook(notebook) if c.variant})
    assert variants, "chapter 5 decides its decoder claims by a variant's seed runs"
    name, path = vc.record_name(notebook.stem, variants[0]), tmp_path / "seeds.json"
    current = {"fingerprint": vc.fingerprint(notebook), "values": []}
    path.write_text(json.dumps({"format": 2, "chapters": {notebook.stem: current}}))
    assert f"{name} has no seed runs" in vc.stale(notebook.stem, notebook, path)
    other = {**current, "parameters": {"decoder": "mlp"}}
    path.write_text(json.dumps({"format": 2, "chapters": {notebook.stem: current, name: other}}))
    assert "ran with other parameters" in vc.stale(notebook.stem, notebook, path)
    ok = {**current, "parameters": vc.variant_parameters(variants[0])}
    path.write_text(json.dumps({"format": 2, "chapters": {notebook.stem: current, name: ok}}))
    assert vc.stale(notebook.stem, notebook, path) is None


def test_the_claims_table_says_when_its_run_is_not_the_chapter_as_written(tmp_path, monkeypatch):
    """A run with other parameters (papermill's -p, an edited parameters cell) labels its margins; a variant's claim
    shows no margin of this run at all."""
    c, variant = _c(), _c(id="conv", variant="decoder=conv")
    monkeypatch.setattr(vb.profiles, "_PARAMETERS", {"n_test": (200, True)})
    html = vc.table("05_x", [c, variant], {"x": 0.6}, path=tmp_path / "none.json").to_html()
    assert "this run's margin</th>" in html and "another experiment (decoder=conv)" in html
    monkeypatch.setattr(vb.profiles, "_PARAMETERS", {"n_test": (40, False)})
    html = vc.table("05_x", [c], {"x": 0.6}, path=tmp_path / "none.json").to_html()
    assert "this run's margin (a run with n_test = 40)</th>" in html


def test_a_variant_has_one_spelling_and_its_own_run_shows_its_margins(tmp_path, monkeypatch):
    assert vc.canonical_variant(" decoder = conv , ae_epochs=10") == "decoder=conv,ae_epochs=10"
    with pytest.raises(ValueError, match="write its variant as 'decoder=conv'"):
        _c(variant="decoder = conv")
    variant = _c(id="conv", variant="decoder=conv")
    monkeypatch.setattr(vb.profiles, "_PARAMETERS", {"decoder": ("conv", False)})  # this run is the variant
    html = vc.table("05_x", [variant], {"x": 0.6}, path=tmp_path / "none.json").to_html()
    assert "this run's margin (a run with decoder = conv)</th>" in html and "another experiment" not in html
    assert "decided by the seed runs of the chapter run with its parameters (decoder=conv)" in html
