"""How fragile is each claim? Every chapter in the fast profile with several seeds, and each claim counted.

    python scripts/seeds.py [--runs 3] [--out _build/seeds] [notebooks ...]      (make seeds)

Runs the chapters through ``scripts/run_full.py`` (one job per chapter and seed, profile ``fast``), then checks
every claim of ``tests/test_claims.py`` on each seed's recorded numbers and writes how many seeds it holds in to
``vaebook/bundle/seeds.json``, with the commit and date it ran on. The chapters show those counts beside their
claims (:func:`vaebook.scorecard.claim_seeds`). Too slow for CI (about 10 minutes per seed on 2 cores), so the
summary is committed; seed 0 is the book's own build and is loaded from its model cache.
"""
from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
import run_full  # noqa: E402
from test_claims import CLAIMS, KNOWN_FAILURES  # noqa: E402

from vaebook.files import atomic_path  # noqa: E402
from vaebook.results import read_file  # noqa: E402
from vaebook.scorecard import SEEDS_FILE  # noqa: E402


def count(out: Path, only: set[str] | None = None) -> dict:
    """Each claim of every chapter that ran (of ``only``, if given): in how many of its seeds it holds."""
    chapters = {}
    for chapter, claims in CLAIMS.items():
        if only is not None and chapter not in only:
            continue
        values = {}
        for path in sorted(out.glob(f"jobs/{chapter}/seed*/job.json")):
            report = json.loads(path.read_text())
            results = path.parent / "results" / f"{chapter}.json"
            if report["status"] == "ok" and results.exists():
                values[report["seed"]] = read_file(results)["values"]
        if not values:
            continue
        rows = []
        for claim, check in claims:
            held = []
            for seed, r in sorted(values.items()):
                try:
                    held.append(bool(check(r)))
                except KeyError:  # the run did not record what the claim reads: it does not hold
                    held.append(False)
            rows.append({"claim": claim, "held": sum(held), "runs": len(held),
                         "seeds_held": [s for s, h in zip(sorted(values), held) if h],
                         "known_failure": (chapter, claim) in KNOWN_FAILURES})
        chapters[chapter] = rows
    return chapters


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: every chapter that carries claims")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=2, help="jobs at a time (one thread each on 2 cores, as make book)")
    ap.add_argument("--out", default=str(ROOT / "_build" / "seeds"))
    ap.add_argument("--cache", default=str(ROOT / "_build" / "models"), help="the book's model cache (seed 0)")
    ap.add_argument("--write", default=str(SEEDS_FILE), help="where the committed summary goes")
    ap.add_argument("--count-only", action="store_true", help="count the jobs already under --out; run nothing")
    ap.add_argument("--commit", help="the commit the jobs ran on (default: their reports', else this checkout's)")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or [str(ROOT / "notebooks" / f"{c}.ipynb") for c in CLAIMS]
    out = Path(args.out).resolve()
    rc = 0 if args.count_only else run_full.main([*notebooks, "--out", str(out), "--profile", "fast", "--runs",
                                                  str(args.runs), "--cache", str(Path(args.cache).resolve()),
                                                  "--parallel", str(args.parallel)])
    chapters = count(out, {Path(nb).stem for nb in notebooks})  # old jobs of other chapters under --out: not counted
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "vaebook", "notebooks"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    here = head + ("+local changes" if dirty and not args.count_only else "")

    def ran(chapter: str) -> dict:
        reported = {json.loads(p.read_text()).get("commit") for p in out.glob(f"jobs/{chapter}/seed*/job.json")}
        commit = args.commit or (reported.pop() if len(reported) == 1 and None not in reported else here)
        return {"commit": commit, "date": datetime.date.today().isoformat()}

    # Chapters run now replace their old counts; the others keep theirs, with the commit and date they ran on.
    old = json.loads(Path(args.write).read_text()) if Path(args.write).exists() else {}
    if old.get("runs") != args.runs or old.get("profile") != "fast":
        old = {}
    summary = {"profile": "fast", "runs": args.runs,
               "chapters": {**old.get("chapters", {}), **chapters},
               "ran": {**old.get("ran", {}), **{c: ran(c) for c in chapters}}}
    with atomic_path(args.write) as tmp:
        tmp.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    for chapter, rows in chapters.items():
        for row in rows:
            print(f"{chapter}: {row['held']}/{row['runs']}  {row['claim']}")
    print(f"wrote {args.write}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
