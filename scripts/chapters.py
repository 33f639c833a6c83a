"""The book's chapters, read from ``chapters.yml``: the one place that says what each chapter is to the build.

    from scripts.chapters import CHAPTERS, build_order, full_order

:data:`CHAPTERS` lists every chapter in the book's order, each a :class:`Chapter`. The build
(``scripts/execute_book.py``), the seed runs (``scripts/seeds.py``), paper scale (``scripts/run_full.py``), the
nbval references and the tests all take their chapters from here; a test checks that ``_toc.yml`` and the
``notebooks/`` folder agree with it. A malformed manifest is refused with the entry and the field named.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "chapters.yml"


@dataclass(frozen=True)
class Chapter:
    stem: str              # notebooks/<stem>.ipynb
    fast_s: float          # seconds in the fast build (chapters.yml says which build)
    full_dry_s: float      # seconds in the full profile's dry run
    paper_runs: int        # runs at paper scale
    runs_why: str          # why that many
    claims: bool = True    # it has claims, seed runs and an nbval reference
    after: tuple[str, ...] = ()  # chapters whose models it re-uses

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
