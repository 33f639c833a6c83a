"""The book's chapters, read from ``chapters.yml``: the one place that says what each chapter is to the build.

    from scripts.chapters import CHAPTERS, build_order, full_order

:data:`CHAPTERS` lists every chapter in the book's order, each a :class:`Chapter`. The build
(``scripts/execute_book.py``), the seed runs (``scripts/seeds.py``), paper scale (``scripts/run_full.py``), the
nbval references and the tests all take their chapters from here, and the table of contents is written from it:

    python -m scripts.chapters --toc     # write _toc.yml (make book does)
    python -m scripts.chapters --check   # exit 1 if _toc.yml is not what the manifest gives

A test checks that the ``notebooks/`` folder agrees with it. A malformed manifest is refused with the entry and the
field named.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "chapters.yml"
TOC = ROOT / "_toc.yml"


@dataclass(frozen=True)
class Chapter:
    stem: str              # notebooks/<stem>.ipynb
    fast_s: float          # seconds in the fast build (chapters.yml says which build)
    full_dry_s: float      # seconds in the full profile's dry run
    paper_runs: int        # runs at paper scale
    runs_why: str          # why that many
    claims: bool = True    # it has claims, seed runs and an nbval reference
    after: tuple[str, ...] = ()  # chapters whose models it re-uses
    part: str = "Chapters"  # its part of the table of contents
    tiny_full: dict = field(default_factory=dict, hash=False)  # parameters that make its full profile tiny

    @property
    def path(self) -> Path:
        return ROOT / "notebooks" / f"{self.stem}.ipynb"


def _read(path: Path) -> dict:
    try:
        manifest = yaml.safe_load(path.read_text())
        manifest["chapters"]
        return manifest
    except (OSError, yaml.YAMLError, TypeError, KeyError) as e:
        raise ValueError(f"{path}: cannot read the chapter manifest, a YAML mapping with a list 'chapters' ({e})") from e


def load(path: Path = MANIFEST, manifest: dict | None = None) -> list[Chapter]:
    """The chapters of the manifest at ``path``, checked: known fields of the right types, unique stems, an existing
    notebook for each, and ``after`` naming earlier chapters only."""
    try:
        entries = (manifest or _read(path))["chapters"]
    except (OSError, yaml.YAMLError, TypeError, KeyError) as e:
        raise ValueError(f"{path}: cannot read the chapter manifest, a YAML mapping with a list 'chapters' ({e})") from e
    types = {f.name: f.type for f in fields(Chapter)}
    chapters: list[Chapter] = []
    for k, entry in enumerate(entries if isinstance(entries, list) else [entries]):
        where = f"{path}, chapter {k + 1} ({entry.get('stem', '?') if isinstance(entry, dict) else entry!r})"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: an entry is a mapping of {', '.join(types)}")
        if unknown := set(entry) - set(types):
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; the fields are {', '.join(types)}")
        for name, kind, check in [("stem", "str", lambda v: isinstance(v, str) and v),
                                  ("fast_s", "float", lambda v: isinstance(v, (int, float)) and v >= 0),
                                  ("full_dry_s", "float", lambda v: isinstance(v, (int, float)) and v >= 0),
                                  ("paper_runs", "int", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
                                  ("runs_why", "str", lambda v: isinstance(v, str) and v)]:
            if name not in entry or not check(entry[name]):
                raise ValueError(f"{where}: '{name}' must be a {'non-empty ' if kind == 'str' else 'non-negative '}"
                                 f"{kind}, not {entry.get(name)!r}")
        if not isinstance(entry.get("tiny_full"), dict) or not all(isinstance(k, str) for k in entry["tiny_full"]):
            raise ValueError(f"{where}: 'tiny_full' must be a mapping of the chapter's parameters to the tiny values "
                             f"that make test runs its full profile with, not {entry.get('tiny_full')!r}")
        if not isinstance(entry.get("part", ""), str):
            raise ValueError(f"{where}: 'part' is a caption of the table of contents, not {entry['part']!r}")
        if not isinstance(entry.get("claims", True), bool):
            raise ValueError(f"{where}: 'claims' is true or false, not {entry['claims']!r}")
        after = entry.get("after", [])
        earlier = {c.stem for c in chapters}
        if not isinstance(after, list) or not set(after) <= earlier:
            raise ValueError(f"{where}: 'after' lists chapters above it in the manifest ({', '.join(sorted(earlier))}), "
                             f"not {after!r}")
        chapter = Chapter(**{**entry, "after": tuple(after)})
        if chapter.stem in earlier:
            raise ValueError(f"{where}: the stem {chapter.stem} is listed twice")
        if not chapter.path.exists():
            raise ValueError(f"{where}: no notebook {chapter.path.relative_to(ROOT)}; add it, or remove the entry")
        chapters.append(chapter)
    return chapters


def budget(path: Path = MANIFEST, manifest: dict | None = None) -> dict[str, float]:
    """The fast book's budget: ``book_s`` for all notebooks, ``chapter_s`` for each, on the reference machine."""
    try:
        value = (manifest or _read(path))["budget"]
        if not all(isinstance(value[k], (int, float)) and value[k] > 0 for k in ("book_s", "chapter_s")):
            raise ValueError
        return {"book_s": float(value["book_s"]), "chapter_s": float(value["chapter_s"])}
    except (OSError, yaml.YAMLError, TypeError, KeyError, ValueError) as e:
        raise ValueError(f"{path}: 'budget' must give book_s and chapter_s, positive seconds ({e!r})") from e


_MANIFEST = _read(MANIFEST)  # read once: the chapters and the budget come from the same text
CHAPTERS = load(MANIFEST, _MANIFEST)
BY_STEM = {c.stem: c for c in CHAPTERS}
BUDGET = budget(MANIFEST, _MANIFEST)


def toc(path: Path = MANIFEST, manifest: dict | None = None) -> str:
    """The text of ``_toc.yml``: the manifest's ``toc`` (root, and each part's caption and the pages that are not
    chapters, ``before`` and ``after`` them) with each chapter in the part it names (default "Chapters"), in the
    manifest's order. A chapter naming a part ``toc`` lacks, a part with no page, pages not given as a list, and
    parts that would put the chapters out of the manifest's order are refused."""
    manifest = manifest or _read(path)
    chapters = load(path, manifest)
    try:
        frame = manifest["toc"]
        captions = [p["caption"] for p in frame["parts"]]
        root = frame["root"]
    except (TypeError, KeyError) as e:
        raise ValueError(f"{path}: 'toc' must give root and parts, each part a caption ({e!r})") from e
    if unknown := sorted({c.part for c in chapters} - set(captions)):
        raise ValueError(f"{path}: chapters name the part(s) {unknown}, which 'toc' does not have ({captions})")
    ordered = [c for caption in captions for c in chapters if c.part == caption]
    if ordered != chapters:
        raise ValueError(f"{path}: the parts put the chapters in another order than the manifest's: "
                         f"{[c.stem for c in ordered]}; list them in the order of their parts")
    lines = ["# Written by `python -m scripts.chapters --toc` from chapters.yml (make book runs it): edit that file.",
             "format: jb-book", f"root: {root}", "parts:"]
    for part in frame["parts"]:
        if not all(isinstance(part.get(k, []), list) and all(isinstance(f, str) for f in part.get(k, []))
                   for k in ("before", "after")):
            raise ValueError(f"{path}: the part {part['caption']!r} of 'toc': 'before' and 'after' are lists of pages")
        files = [*part.get("before", []), *(f"notebooks/{c.stem}" for c in chapters if c.part == part["caption"]),
                 *part.get("after", [])]
        if not files:
            raise ValueError(f"{path}: the part {part['caption']!r} of 'toc' has no page")
        lines += [f"  - caption: {part['caption']}", "    chapters:", *(f"      - file: {f}" for f in files)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = toc()
    if "--check" in argv:
        if TOC.read_text() != text:
            print(f"{TOC.name} is not what chapters.yml gives: run python -m scripts.chapters --toc")
            return 1
        return 0
    if "--toc" in argv and (not TOC.exists() or TOC.read_text() != text):
        TOC.write_text(text)
    return 0


def with_claims() -> list[Chapter]:
    """The chapters that state claims (every one but the data chapter)."""
    return [c for c in CHAPTERS if c.claims]


def build_order(chapters: list[Chapter] = CHAPTERS) -> list[Chapter]:
    """The order the fast build starts chapters in: the longest critical path first (a chapter's own seconds plus
    the longest chain of chapters waiting for it), then the longest chapter. With two lanes, the chapters that others
    wait for start early, and the long ones do not end up alone at the end."""
    waiting = {c.stem: [d for d in chapters if c.stem in d.after] for c in chapters}

    def path(c: Chapter) -> float:
        return c.fast_s + max((path(d) for d in waiting[c.stem]), default=0.0)

    return sorted(chapters, key=lambda c: (-path(c), -c.fast_s, c.stem))


def full_order(chapters: list[Chapter] = CHAPTERS) -> list[Chapter]:
    """The order paper-scale jobs start in: the longest dry run first, so that a few jobs at a time end together."""
    return sorted(chapters, key=lambda c: (-c.full_dry_s, c.stem))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
