"""Every notebook runs top to bottom in the smoke profile, and has the cells every chapter needs."""
import itertools
import json
import re
from pathlib import Path

import nbformat
import pytest

import vaebook as vb

ROOT = Path(__file__).resolve().parents[1]
from conftest import nbval_run, numbers_close  # noqa: E402
from scripts import chapters  # noqa: E402
from scripts import colab_cell  # noqa: E402
from scripts import kernels  # noqa: E402
from scripts import workarounds  # noqa: E402
NOTEBOOKS = [c.path for c in chapters.CHAPTERS]  # chapters.yml


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == colab_cell.cell_source(), "run python -m scripts.colab_cell"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "profile = None" in params[0].source
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs before committing"
    names = {line.split("=")[0].strip() for line in params[0].source.splitlines() if "=" in line and not line.startswith("#")}
    named = []  # a parameter's name where the reader wants its value: "`iw_samples` samples" (glue the value instead)
    for cell in (c for c in nb.cells if c.cell_type == "markdown"):
        prose = re.sub(r"```.*?```", "", cell.source, flags=re.S)
        named += [prose[max(0, m.start() - 20):m.end() + 20] for m in re.finditer(r"`(\w+)`", prose)
                  if m.group(1) in names and not re.search(r"(?i)\bset $", prose[max(0, m.start() - 4):m.start()])
                  and not re.match(r" (=|in the parameters)", prose[m.end():])]
    assert not named, f"parameter names where their values belong (glue them): {named}"
    src = "\n".join(c.source for c in code)
    assert "import vaebook as vb" in src and "vb.set_profile(profile)" in src
    assert "pick(None" not in src, "a profile value is a parameter (vb.param), so that papermill can set it"
    names = re.findall(r"^([a-z_]+) = ", params[0].source, flags=re.M)
    first = next(c.source for c in code if "vb.set_profile(profile)" in c.source)
    imports = re.findall(r"^(?:import|from) (\w+)", first, flags=re.M)
    assert imports[0] == "vaebook", "import vaebook first: its OpenMP settings must be in place before torch loads"
    # the set-up: the code cells after the parameters cell, before the first text (a long one is split in two)
    at = nb.cells.index(params[0]) + 1
    setup = list(itertools.takewhile(lambda c: c.cell_type == "code", nb.cells[at:]))
    checked = "\n".join(c.source for c in setup)
    assert first in checked, "vb.set_profile(profile) opens the set-up, right after the parameters cell"
    for name in set(names) - {"profile"}:  # every parameter is checked in the set-up, by the one helper
        assert f'{name} = vb.param("{name}", {name}, ' in checked, f"parameter {name} is not checked with vb.param"
    if chapters.BY_STEM[path.stem].claims:
        assert f'vb.record("{path.stem}"' in src, "a chapter records its key numbers"
        assert f'vb.tables.show(repro, chapter="{path.stem}")' in src, "its table shows each row's mean over its seeds"
        markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
        assert markdown[1].startswith("## What the paper did, and what this chapter runs\n"), "the scope table comes first"
        assert "| the paper's experiment | status here |" in markdown[1]
        captions = [c for c in code if "figure" in c.metadata.get("mystnb", {})]
        assert captions, "a chapter's figures have captions"
    glued = re.findall(r'\bvb\.glue\(\s*"([^"{]+)"', src) + [  # literal names, and each glue_parameters(prefix, ...)'s
        f"{prefix}_{name}" for prefix, names in re.findall(r'glue_parameters\(\s*"(\w+)",([^)]*)\)', src)
        for name in re.findall(r'"(\w+)"', names)]
    assert not (twice := sorted({n for n in glued if glued.count(n) > 1})), f"glued twice, the page shows one of them: {twice}"
    for c in code:  # plumbing is folded, not deleted: plots, tables' formatting, recording, widgets
        if "figure" in c.metadata.get("mystnb", {}) or "vb.record(" in c.source or "vb.widgets.explore(" in c.source:
            assert "hide-input" in c.metadata.get("tags", []), f"fold this cell with the hide-input tag:\n{c.source[:200]}"


@pytest.mark.parametrize("path", [c.path for c in chapters.with_claims()], ids=lambda p: p.stem)
def test_what_we_found_types_no_result(path):
    """Decimal numbers in "What we found" are pasted from the run (glue); a typed one must be a paper's value
    that stands in the chapter's code (its paper table)."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found = next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## What we found"))
    prose = re.sub(r"\{glue:text\}`[^`]*`", "", found)
    typed = [n for n in re.findall(r"(?<![\w.])\d+\.\d+", prose) if n not in code]
    assert not typed, f"numbers typed into 'What we found' that are in no paper table: {typed}"


# Every smoke cell takes under 3 s, so a cell that needs 30 s fails, naming the cell. The limit guards against
# genuinely slow cells, not hangs: the stalls CI saw earlier (a widget cell's reply sent by the kernel at once but
# read only when the cell timeout ran out) are missed wake-ups on the shell socket, which
# scripts/workarounds.py bounds to a second (bench/RESULTS.md, "Kernel stalls").
CELL_TIMEOUT_S = 30
# The models a chapter that re-uses others' trains itself: chapter 8 defines chapter 1's VAEs and chapter 5's PAEs and
# classifiers the same way, so after those chapters it trains only its own six (auxiliary negatives, class mixture,
# the 8-bit and background VAEs of the later fixes, two MNIST VAEs).
OWN_MODELS = {"08_ood_benchmark": 6}


@pytest.mark.notebooks
@pytest.mark.parametrize("path", [pytest.param(p, marks=[pytest.mark.timeout(900)] if chapters.BY_STEM[p.stem].after else [])
                                  for p in NOTEBOOKS], ids=lambda p: p.stem)  # chapter 8 runs chapters 1 and 5 first
def test_runs_in_smoke_profile_reproduces_its_reference_and_a_second_run_trains_nothing(path, tmp_path):
    """One fresh smoke execution of the chapter serves three checks.

    1. It runs top to bottom, pastes only numbers it glued, and records a tidy table.
    2. Its cache keys are derived from what defines each model, so they come out the same in a fresh kernel: a second
       run of the chapter finds every checkpoint of the first and writes none.
    3. That second run is nbval's: the chapter's stored reference execution (``tests/reference``), re-run in the
       first run's cache, must print the reproduction table's numbers to nbval's tolerance. So the models trained
       afresh here, scored by a run that loads them, reproduce the stored execution.

    A chapter that re-uses earlier chapters' models (chapters.yml: ``after``) runs after them, in their cache, as in
    the book's build: it must find their models by construction and train only its own.
    """
    for stem in chapters.BY_STEM[path.stem].after:
        _run(ROOT / "notebooks" / f"{stem}.ipynb", tmp_path, {})
    before = set((tmp_path / "models").glob("*.pt"))
    _run(path, tmp_path, {})
    if path.stem in OWN_MODELS:
        new = set((tmp_path / "models").glob("*.pt")) - before
        assert len(new) == OWN_MODELS[path.stem], f"{path.stem} trained {len(new)} models: {sorted(p.name for p in new)}"
    executed = nbformat.read(tmp_path / path.name, as_version=4)
    glued = {o.get("metadata", {}).get("scrapbook", {}).get("name") for c in executed.cells if c.cell_type == "code"
             for o in c.get("outputs", [])}
    pasted = {m for c in executed.cells if c.cell_type == "markdown" for m in re.findall(r"\{glue:text\}`([^`:]+)", c.source)}
    assert pasted <= glued, f"the text pastes numbers that the run did not glue: {sorted(pasted - glued)}"
    if not chapters.BY_STEM[path.stem].claims:
        return
    blob = json.loads((tmp_path / "results" / f"{path.stem}.json").read_text())
    assert blob["meta"]["profile"] == "smoke"
    assert blob["values"] and all(isinstance(v, float) for v in blob["values"].values())
    assert blob["table"] and all(set(row) == set(vb.tables.COLUMNS) for row in blob["table"]), "a tidy reproduction table"
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "models").glob("*.pt")}
    result = nbval_run(ROOT / "tests" / "reference" / path.name, tmp_path, f"--nbval-cell-timeout={CELL_TIMEOUT_S}")
    assert result.returncode == 0, f"nbval: the re-run does not reproduce tests/reference/{path.name}\n{result.stdout[-3000:]}"
    second = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "models").glob("*.pt")}
    assert first and second == first, f"retrained or new keys: {sorted(set(second.items()) ^ set(first.items()))}"
    # The kernel that trained and the kernel that loaded score alike: nbval compared the loading kernel's numbers with
    # the reference; the training kernel's reproduction table must agree with the loading kernel's.
    def table(blob):
        return {" | ".join(str(row.get(c)) for c in ("quantity", "estimator", "model", "data")): row["ours"]
                for row in blob["table"]}

    trained, loaded = table(blob), table(json.loads((tmp_path / "results" / f"{path.stem}.json").read_text()))
    moved = {k: (v, loaded.get(k)) for k, v in trained.items()
             if k not in loaded or not numbers_close(f"{v!r}", f"{loaded[k]!r}")}
    assert not moved, f"the run that trained and the run that loaded give other table rows: {moved}"


def _run(path, tmp_path, parameters):
    with pytest.MonkeyPatch.context() as mp:
        # Widgets as in the book build: every view of every sweep is drawn (the live path draws one of them).
        for k, v in {"VAEBOOK_CACHE": str(tmp_path / "models"), "VAEBOOK_RESULTS": str(tmp_path / "results"),
                     "VAEBOOK_PROGRESS": "0", "VAEBOOK_STATIC_WIDGETS": "1"}.items():
            mp.setenv(k, v)
        kernels.papermill(path, tmp_path / path.name, parameters={"profile": "smoke", **parameters}, cwd=path.parent,
                          timeout=CELL_TIMEOUT_S)


@pytest.mark.notebooks
@pytest.mark.parametrize("parameters,message", [({"latent_dim": 0}, "latent_dim = 0"), ({"epochs": 0}, "epochs = 0"),
                                                ({"n_train": "abc"}, "n_train = 'abc'"),
                                                ({"n_test": 1}, "an AUROC and a variance need test images")])
def test_a_bad_parameter_stops_the_chapter_before_anything_is_stored(tmp_path, parameters, message):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as e:
        _run(ROOT / "notebooks" / "01_ood_puzzle.ipynb", tmp_path, parameters)
    assert e.value.ename == "ParameterError" and message in e.value.evalue
    assert not (tmp_path / "models").exists() and not (tmp_path / "results").exists()


@pytest.mark.notebooks
def test_a_one_point_sweep_runs(tmp_path):
    _run(ROOT / "notebooks" / "01_ood_puzzle.ipynb", tmp_path, {"sweep_dims": [3]})
    assert "sweep_auc_bpd_d3" in json.loads((tmp_path / "results" / "01_ood_puzzle.json").read_text())["values"]


def test_a_failed_colab_install_says_what_to_do(monkeypatch, tmp_path):
    """The set-up cell turns pip's failure into a message naming the address and the fix, not a bare CalledProcessError."""
    import importlib.util

    monkeypatch.setattr(colab_cell, "repository", lambda: ((tmp_path / "no-such-repo").as_uri(), "main"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # as on a fresh Colab runtime
    with pytest.raises(RuntimeError, match=r"Could not install vaebook from file://.*no-such-repo \(branch main\)\. "
                                           r"pip said:(.|\n)*install vaebook yourself"):
        exec(colab_cell.cell_source(), {})


def test_replies_are_awaited_in_slices_until_the_callers_timeout(monkeypatch):
    """A poll that misses its wake-up returns at its timeout; in one-second slices the reply is read a slice later."""
    import asyncio
    import time
    from queue import Empty

    polls, answer_at = [], [3]

    async def fake(self, timeout=None):  # the message is there from the start, but the first waits miss it
        polls.append(timeout)
        if len(polls) < answer_at[0]:
            raise Empty
        return {"msg": "reply"}

    monkeypatch.setattr(workarounds, "_original_get_msg", fake)
    monkeypatch.setattr(workarounds, "SLICE_S", 0.01)
    assert asyncio.run(workarounds._get_msg_in_slices(None, timeout=60)) == {"msg": "reply"}
    assert polls == [0.01, 0.01, 0.01]
    answer_at[0] = 10 ** 9  # from now on every wait misses: Empty at the caller's timeout, not before
    t = time.monotonic()
    try:
        asyncio.run(workarounds._get_msg_in_slices(None, timeout=0.05))
    except Empty:
        pass
    else:
        raise AssertionError("expected Empty")
    assert 0.04 <= time.monotonic() - t < 1
