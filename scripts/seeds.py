"""The seed runs behind every verdict: each chapter in the fast profile with several seeds, values committed.

    python -m scripts.seeds [--runs 3] [--out _build/seeds] [notebooks ...]      (make seeds [CHAPTERS=...])

Runs the chapters through ``scripts/run_full.py`` (one job per chapter and seed, profile ``fast``), then writes
each chapter's recorded values and reproduction-table numbers, one set per seed, to ``vaebook/bundle/seeds.json``
with the fingerprint of the code that made them (:func:`vaebook.claims.fingerprint`), the commit and the date.
A claim can be decided by a variant of its chapter, the chapter run with other parameters (``Claim.variant``,
``"decoder=conv"``): each variant the claims name is run the same way, its jobs under ``<out>/variant-<name>``, and
recorded as ``<stem>:<variant>`` (:func:`vaebook.claims.record_name`). The verdicts of the chapters'
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

from vaebook.claims import (SEEDS_FILE, canonical_variant, fingerprint, from_notebook, record_name,  # noqa: E402
                            variant_parameters, variants, verdict)
from vaebook.files import atomic_path  # noqa: E402
from vaebook.results import read_file  # noqa: E402


def gather(out: Path, chapter: str, runs: int) -> tuple[list[dict], list[dict], set[str], list[dict], set]:
    """Seeds 0 … runs − 1 of ``chapter`` that ran: each one's recorded values and reproduction-table numbers
    (quantity -> ours), their commits, each one's parameters but its seed (the experiment they all ran), and the code
    fingerprints they ran with (None for a job from before jobs recorded it). Jobs of other seeds under ``out`` are
    ignored."""
    values, tables, commits, parameters, ran_with = [], [], set(), [], set()
    for seed in range(runs):
        path = out / "jobs" / chapter / f"seed{seed}" / "job.json"
        results = path.parent / "results" / f"{chapter}.json"
        if not path.exists() or json.loads(path.read_text())["status"] != "ok" or not results.exists():
            continue
        blob = read_file(results)
        values.append(blob["values"])
        tables.append({r["quantity"]: r["ours"] for r in blob.get("table") or []})
        job = json.loads(path.read_text())
        commits.add(job.get("commit"))
        ran_with.add(job.get("fingerprint"))
        parameters.append({k: v for k, v in blob["meta"].get("parameters", {}).items() if k != "seed"})
    return values, tables, commits, parameters, ran_with


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: every chapter")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=2, help="jobs at a time (one thread each on 2 cores, as make book)")
    ap.add_argument("--out", default=str(ROOT / "_build" / "seeds"))
    ap.add_argument("--cache", default=str(ROOT / "_build" / "models"), help="the book's model cache (seed 0)")
    ap.add_argument("--write", default=str(SEEDS_FILE), help="where the committed record goes")
    ap.add_argument("--gather-only", action="store_true", help="gather the jobs already under --out; run nothing")
    ap.add_argument("--variant", action="append", help="only this variant of the chapters (\"decoder=conv\"; \"\": the "
                    "chapters as written); default: the chapters as written and every variant their claims name")
    args = ap.parse_args(argv)
    notebooks = [Path(nb).resolve() for nb in args.notebooks] or [c.path for c in chapters.with_claims()]
    out = Path(args.out).resolve()
    before = {nb: fingerprint(nb) for nb in notebooks}  # the code the runs use: an edit during them is caught below
    asked = None if args.variant is None else [canonical_variant(v) if v else "" for v in args.variant]
    plan = [(nb, v) for nb in notebooks for v in ["", *variants(nb)] if asked is None or v in asked]
    if unknown := sorted(set(asked or []) - {v for _, v in plan}):
        print(f"no claim of {', '.join(nb.stem for nb in notebooks)} names the variant(s) {unknown}: nothing to run for "
              f"them (a claim names its variant by its `variant` field)", file=sys.stderr)
        return 1
    rc = 0
    for variant in dict.fromkeys(v for _, v in plan):  # one run_full per variant, its chapters in parallel
        jobs_out, group = out / _slug(variant), [str(nb) for nb, v in plan if v == variant]
        parameters = [a for k, value in variant_parameters(variant).items() for a in ("-p", k, json.dumps(value))] \
            if variant else []
        if not args.gather_only:
            rc = run_full.main([*group, "--out", str(jobs_out), "--profile", "fast", "--runs", str(args.runs),
                                "--cache", str(Path(args.cache).resolve()), "--parallel", str(args.parallel),
                                *parameters]) or rc
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    old = json.loads(Path(args.write).read_text()) if Path(args.write).exists() else {}
    record = dict(old.get("chapters", {})) if old.get("format") == 2 else {}
    for nb, variant in plan:
        name = record_name(nb.stem, variant)
        values, tables, commits, parameters, ran_with = gather(out / _slug(variant), nb.stem, args.runs)
        if len(values) < args.runs:
            print(f"{name}: only {len(values)} of {args.runs} seeds ran; its record is not replaced", file=sys.stderr)
            rc = rc or 1
            continue
        if fingerprint(nb) != before[nb]:
            print(f"{name}: its code (or the library's) changed while its seeds ran; its record is not replaced: "
                  f"run make seeds CHAPTERS={nb.stem} again", file=sys.stderr)
            rc = rc or 1
            continue
        if not args.gather_only and ran_with != {before[nb]}:
            print(f"{name}: its jobs ran with other code than the chapter's now ({sorted(map(str, ran_with))}); its record "
                  f"is not replaced", file=sys.stderr)
            rc = rc or 1
            continue
        wanted = variant_parameters(variant) if variant else {}
        if any(p != parameters[0] for p in parameters) or any(parameters[0].get(k) != v for k, v in wanted.items()):
            print(f"{name}: its seeds ran with other parameters than each other or than its variant's ({parameters}); "
                  f"its record is not replaced", file=sys.stderr)
            rc = rc or 1
            continue
        record[name] = {"fingerprint": before[nb], "profile": "fast", "parameters": parameters[0],
                        "commit": commits.pop() if len(commits) == 1 and None not in commits else head,
                        "date": datetime.date.today().isoformat(), "values": values, "tables": tables,
                        # --gather-only stamps today's fingerprint on older runs: the one they ran with, when known
                        **({"ran_with": sorted(ran_with, key=str)} if ran_with != {before[nb]} else {})}
        for c in from_notebook(nb):  # the chapter's claims as they stand now (a claims cell can change after a run)
            if c.variant == variant:
                v = verdict(c, values)
                print(f"{name}: {v.state:9} {v.held}/{len(v.margins)}  {c.id}: {c.text}")
    with atomic_path(args.write) as tmp:
        tmp.write_text(json.dumps({"format": 2, "chapters": dict(sorted(record.items()))}, indent=1,
                                  ensure_ascii=False) + "\n")
    print(f"wrote {args.write}")
    return rc


def _slug(variant: str) -> str:
    """The jobs' folder of a variant under --out: the chapters as written directly, a variant in its own."""
    return "" if not variant else "variant-" + "".join(ch if ch.isalnum() else "_" for ch in variant)


if __name__ == "__main__":
    sys.exit(main())
