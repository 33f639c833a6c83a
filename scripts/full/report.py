"""The gathered jobs as Markdown (``summary.md``)."""
from __future__ import annotations

from scripts.full.cost import cost_table
from scripts.full.jobs import PAPER_RUNS


def summary_markdown(summary: dict) -> str:
    """The gathered jobs as Markdown: time and peak memory per job, then each chapter's rows as mean ± std."""
    profiles = sorted({r["profile"] for r in summary["jobs"]}) or ["—"]
    lines = [f"# Runs over seeds, {' and '.join(profiles)} profile", "",
             "| job | status | seconds | peak RSS (MB) | commit | caps: epochs, batches, steps |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['job']} | {r['status']} | {r['seconds']:.0f} | {r['peak_rss_mb']} | {r.get('commit', '—')} | "
              + ", ".join(str(r.get(c) or "—") for c in ("max_epochs", "max_batches", "max_steps")) + " |"
              for r in summary["jobs"]]
    if summary["failed"]:
        lines += ["", "**Failed:**", ""] + [f"- {f}" for f in summary["failed"]]
    for name, chapter in summary["chapters"].items():
        caps = [f"training at {e} epoch(s)" for e in [chapter["max_epochs"]] if e]
        caps += [f"epochs at {b} minibatches" for b in [chapter.get("max_batches")] if b]
        caps += [f"step counts at {s}" for s in [chapter.get("max_steps")] if s]
        cap = f"; **dry run, capped: {', '.join(caps)}; not a result**" if caps else ""
        if chapter.get("changed"):  # parameters set through -p or an edited cell: not the chapter as written
            cap += "; **other parameters than the chapter's own: " + ", ".join(
                f"{k} = {v!r}" for k, v in chapter["changed"].items()) + "**"
        lines += ["", f"## {name}", "", f"Profile {chapter['profile']}, seeds {chapter['seeds']}{cap}.", "",
                  "| quantity | paper | ours (mean ± std) | runs | estimator |", "| --- | --- | --- | --- | --- |"]
        for row in chapter["rows"]:
            paper = "—" if row.get("paper") is None else f"{row['paper']:.3g}"
            lines.append(f"| {row['quantity']} | {paper} | {row['ours']:.3g} ± {row['ours_std']:.2g} | {row['runs']} "
                         f"| {row.get('estimator') or '—'} |")
    if any(c.get("cost") for c in summary["chapters"].values()):
        lines += ["", "## What paper scale costs", ""] + cost_table(summary, PAPER_RUNS)
    return "\n".join(lines) + "\n"
