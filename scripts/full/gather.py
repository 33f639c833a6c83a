"""Every job's reproduction table merged into ``summary.json`` and ``summary.md``: per row the mean and standard
deviation over the seeds that ran, and the jobs that failed or never reported, by name."""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

from vaebook.files import atomic_path

from scripts.full.cost import cost
from scripts.full.report import summary_markdown


def gather(out: Path) -> dict:
    """Merge every job under ``out`` into ``summary.json`` / ``summary.md``; name failed and missing jobs."""
    from vaebook.results import read_file

    planned = [j["name"] for j in json.loads((out / "jobs.json").read_text())] if (out / "jobs.json").exists() else []
    reports = {}
    for path in sorted(out.glob("jobs/*/seed*/job.json")):
        report = json.loads(path.read_text())
        if not planned or report["job"] in planned:  # not a job of an earlier plan
            reports[report["job"]] = {**report, "folder": str(path.parent)}
    missing = [name for name in planned if name not in reports]
    failed = [f"{r['job']}: {r['error'].splitlines()[0] if r['error'] else 'failed'}"
              for r in reports.values() if r["status"] != "ok"]
    failed += [f"{name}: no report (the job was killed, timed out, or never ran)" for name in missing]
    chapters: dict[str, dict] = defaultdict(lambda: {"seeds": [], "rows": {}, "values": {}, "meta": {}, "trained": {}})
    for report in reports.values():
        if report["status"] != "ok":
            continue
        for path in sorted(Path(report["folder"], "results").glob("*.json")):
            blob = read_file(path)
            chapter = chapters[path.stem]
            chapter["meta"] = chapter["meta"] or blob["meta"]
            chapter["seeds"].append(report["seed"])
            for row in blob.get("table") or []:
                key = " | ".join(str(row.get(c)) for c in ("quantity", "estimator", "model", "data"))
                chapter["rows"].setdefault(key, {**row, "ours_runs": []})["ours_runs"].append(row["ours"])
            for name, value in blob["values"].items():
                chapter["values"].setdefault(name, []).append(value)
        log = Path(report["folder"], "training.jsonl")
        trained = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        chapters[report["notebook"]]["trained"][report["seed"]] = trained
    summary = {"out": str(out), "jobs": sorted(reports.values(), key=lambda r: r["job"]), "failed": failed,
               "chapters": {}}
    for name, chapter in sorted(chapters.items()):
        rows = []
        for row in chapter["rows"].values():
            runs = row.pop("ours_runs")
            rows.append({**row, "ours": _mean(runs), "ours_std": _std(runs), "runs": len(runs)})
        summary["chapters"][name] = {
            "seeds": sorted(chapter["seeds"]), "profile": chapter["meta"].get("profile"),
            "max_epochs": chapter["meta"].get("max_epochs"), "max_steps": chapter["meta"].get("max_steps"),
            "max_batches": chapter["meta"].get("max_batches"), "changed": chapter["meta"].get("changed") or {},
            "rows": rows,
            "values": {k: {"mean": _mean(v), "std": _std(v), "runs": len(v)} for k, v in chapter["values"].items()},
            "cost": cost(chapter["trained"])}
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(summary_markdown(summary))
    return summary


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs)


def _std(xs: list[float]) -> float:
    """The sample standard deviation (n − 1); 0 for a single run."""
    return statistics.stdev(xs) if len(xs) > 1 else 0.0
