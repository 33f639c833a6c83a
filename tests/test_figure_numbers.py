"""The book's Sphinx extension that numbers figures by chapter (_ext/figure_numbers.py), on a two-chapter book."""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURE = ".. figure:: {image}\n\n   A caption.\n\n"


@pytest.mark.parametrize("with_extension", [True, False])
def test_each_chapter_numbers_its_figures_from_one(tmp_path, with_extension):
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    (src / "pixel.png").write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000 1f15c4890000000d49444154789c6360000000000005000"
        "1a5f645400000000049454e44ae426082".replace(" ", "")))
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\nnumfig = True\n"
                                 + ("extensions = ['figure_numbers']\n" if with_extension else ""))
    (src / "index.rst").write_text("Book\n====\n\n.. toctree::\n\n   notebooks/02_two\n   notebooks/03_three\n")
    for stem, n in (("02_two", 2), ("03_three", 3)):
        (src / "notebooks" / f"{stem}.rst").write_text(f"Chapter {n}\n=========\n\n" + FIGURE.format(image="../pixel.png") * 2)
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html", status=None,
                 warning=sys.stderr, freshenv=True)
    app.build()
    numbers = {stem: re.findall(r"Fig\. ([\d.]+)", (tmp_path / "out" / "notebooks" / f"{stem}.html").read_text())
               for stem in ("02_two", "03_three")}
    if with_extension:
        assert numbers == {"02_two": ["2.1", "2.2"], "03_three": ["3.1", "3.2"]}
    else:  # what Sphinx does alone: numbers across the book, which is what the extension is for
        assert numbers == {"02_two": ["1", "2"], "03_three": ["3", "4"]}
