"""nbval's job: a re-run of each chapter reproduces its stored reference execution (``tests/reference``).

The references are written by ``scripts/nbval_reference.py``. ``make test`` re-runs each under
``pytest --nbval-lax`` as the second run of the chapter's smoke test (``test_notebooks.py``), in the cache of its first. These tests make sure that check means something: every chapter has a reference, its
code is the chapter's current code, it stores numbers to compare, and an altered number makes nbval fail.
"""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"
from conftest import NBVAL_RTOL, nbval_run, numbers_close  # noqa: E402
from scripts import chapters  # noqa: E402

CHAPTERS = [c.path for c in chapters.with_claims()]  # chapters.yml
CHECK = "# NBVAL_CHECK_OUTPUT\n"  # the marker line, alone: "# NBVAL_CHECK_OUTPUT: ..." is silently not checked


def _code(nb):
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_a_current_reference_with_numbers_to_compare(chapter):
    ref_path = REFERENCE / chapter.name
    assert ref_path.exists(), f"no reference for {chapter.stem}: run python -m scripts.nbval_reference {chapter.stem}"
    ref = nbformat.read(ref_path, as_version=4)
    ref_code = [c.source for c in ref.cells if "injected-parameters" not in c.metadata.get("tags", [])
                and not c.source.startswith(CHECK)]
    assert ref_code == _code(nbformat.read(chapter, as_version=4)), (
        f"the reference of {chapter.stem} runs other code than the chapter: run python -m scripts.nbval_reference "
        f"{chapter.stem} and commit tests/reference/{chapter.name}")
    checked = [c for c in ref.cells if c.source.startswith(CHECK)]
    assert len(checked) == 1, "one checked cell per reference"
    text = "".join(o.get("text", "") for o in checked[0].outputs)
    assert sum(ch.isdigit() for ch in text) >= 3, "the checked cell stores no numbers: nbval would compare nothing"
    injected = [c for c in ref.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'profile = "smoke"' in injected[0].source


@pytest.mark.notebooks
def test_nbval_fails_when_a_stored_number_differs_beyond_the_tolerance_and_only_then(tmp_path):
    """The check is not vacuous: the same reference with one stored number moved far fails, naming the cell; moved
    by less than the tolerance (as another CPU's rounding moves it), it passes."""
    ref = nbformat.read(REFERENCE / "02_topology_mismatch.ipynb", as_version=4)
    (cell,) = [c for c in ref.cells if c.source.startswith(CHECK)]
    text = cell.outputs[0]["text"]
    number = list(re.finditer(r"-?\d+\.\d+", text))[-1]  # the last decimal number
    value = float(number.group())

    def run_with(stored):
        cell.outputs[0]["text"] = text[:number.start()] + f"{stored:.6g}" + text[number.end():]
        nbformat.write(ref, tmp_path / "altered.ipynb")
        return nbval_run(tmp_path / "altered.ipynb", tmp_path)

    far = run_with(value * 1.5 + 1)
    assert far.returncode != 0 and "NBVAL_CHECK_OUTPUT" in far.stdout, far.stdout[-2000:]
    near = run_with(value * (1 + NBVAL_RTOL / 4))  # within the tolerance: the re-run reproduces it
    assert near.returncode == 0, near.stdout[-2000:]


def test_nbval_compares_numbers_to_a_tolerance_larger_than_rounding():
    """Another CPU's rounding moves the last digits: such a re-run reproduces the stored execution; text that
    differs, or a number moved by more than the tolerance, does not."""
    stored = "       quantity    ours\n  AUROC MNIST  0.412345\n  NLL, uni    1647.82\n"
    assert numbers_close(stored, "       quantity    ours\n  AUROC MNIST  0.412351\n  NLL, uni    1647.9\n")
    assert not numbers_close(stored, stored.replace("0.412345", "0.43"))        # an AUROC moved by 0.018
    assert not numbers_close(stored, stored.replace("1647.82", "1690"))         # 2.5 %
    assert not numbers_close(stored, stored.replace("AUROC MNIST", "AUROC KMNIST"))
