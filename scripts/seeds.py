"""The seed runs behind every verdict: each chapter in the fast profile with several seeds, values committed.

    python -m scripts.seeds [--runs 3] [--out _build/seeds] [notebooks ...]      (make seeds [CHAPTERS=...])

Runs the chapters through ``scripts/run_full.py`` (one job per chapter and seed, profile ``fast``), then writes
each chapter's recorded values and reproduction-table numbers, one set per seed, to ``vaebook/bundle/seeds.json``
with the fingerprint of the code that made them (:func:`vaebook.claims.fingerprint`), the commit and the date. The verdicts of the chapters'
claims are computed from these values wherever they are shown or tested (:mod:`vaebook.claims`); a test fails
when a chapter's code no longer matches its fingerprint. Seed 0 is the book's own build and is loaded from its
model cache. About 10 minutes per seed on 2 cores, so the record is committed, not made in CI.
"""
from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from scripts import chapters  # noqa: E402
from scripts import run_full  # noqa: E402

from vaebook.claims import SEEDS_FILE, fingerprint, from_notebook, verdict  # noqa: E402
from vaebook.files import atomic_path  # noqa: E402
from vaebook.results import read_file  # noqa: E402


def gather(out: Path, chapter: str, runs: int) -> tuple[list[dict], list[dict], set[str], list[dict]]:
    """Seeds 0 … runs − 1 of ``chapter`` that ran: each one's recorded values and reproduction-table numbers
    (quantity -> ours), their commits, and each one's parameters but its seed (the experiment they all ran). Jobs of
    other seeds under ``out`` are ignored."""
    values, tables, commits, parameters = [], [], set(), []
    for seed in range(runs):
        path = out / "jobs" / chapter / f"seed{seed}" / "job.json"
        results = path.parent / "results" / f"{chapter}.json"
        if not path.exists() or json.loads(path.read_text())["status"] != "ok" or not results.exists():
            continue
        blob = read_file(results)
        values.append(blob["values"])
        tables.append({r["quantity"]: r["ours"] for r in blob.get("table") or []})
        commits.add(json.loads(path.read_text()).get("commit"))
        parameters.append({k: v for k, v in blob["meta"].get("parameters", {}).items() if k != "seed"})
    return values, tables, commits, parameters


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: every chapter")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=2, help="jobs at a time (one thread each on 2 cores, as make book)")
    ap.add_argument("--out", default=str(ROOT / "_build" / "seeds"))
    ap.add_argument("--cache", default=str(ROOT / "_build" / "models"), help="the book's model cache (seed 0)")
    ap.add_argument("--write", default=str(SEEDS_FILE), help="where the committed record goes")
    ap.add_argument("--gather-only", action="store_true", help="gather the jobs already under --out; run nothing")
    args = ap.parse_args(argv)
    notebooks = [Path(nb).resolve() for nb in args.notebooks] or [c.path for c in chapters.with_claims()]
    out = Path(args.out).resolve()
    before = {nb: fingerprint(nb) for nb in notebooks}  # the code the runs use: an edit during them is caught below
    rc = 0 if args.gather_only else run_full.main([*map(str, notebooks), "--out", str(out), "--profile", "fast",
                                                   "--runs", str(args.runs), "--cache", str(Path(args.cache).resolve()),
                                                   "--parallel", str(args.parallel)])
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    old = json.loads(Path(args.write).read_text()) if Path(args.write).exists() else {}
    record = dict(old.get("chapters", {})) if old.get("format") == 2 else {}
    for nb in notebooks:
        values, tables, commits, parameters = gather(out, nb.stem, args.runs)
        if len(values) < args.runs:
            print(f"{nb.stem}: only {len(values)} of {args.runs} seeds ran; its record is not replaced", file=sys.stderr)
            rc = rc or 1
            continue
        if fingerprint(nb) != before[nb]:
            print(f"{nb.stem}: its code (or the library's) changed while its seeds ran; its record is not replaced: "
                  f"run make seeds CHAPTERS={nb.stem} again", file=sys.stderr)
            rc = rc or 1
            continue
        if any(p != parameters[0] for p in parameters):
            print(f"{nb.stem}: its seeds ran with other parameters than each other ({parameters}); its record is not "
                  f"replaced", file=sys.stderr)
            rc = rc or 1
            continue
        record[nb.stem] = {"fingerprint": before[nb], "profile": "fast", "parameters": parameters[0],
                             "commit": commits.pop() if len(commits) == 1 and None not in commits else head,
                             "date": datetime.date.today().isoformat(), "values": values, "tables": tables}
        for c in from_notebook(nb):  # the chapter's claims as they stand now (a claims cell can change after a run)
            v = verdict(c, values)
            print(f"{nb.stem}: {v.state:9} {v.held}/{len(v.margins)}  {c.id}: {c.text}")
    with atomic_path(args.write) as tmp:
        tmp.write_text(json.dumps({"format": 2, "chapters": dict(sorted(record.items()))}, indent=1,
                                  ensure_ascii=False) + "\n")
    print(f"wrote {args.write}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
