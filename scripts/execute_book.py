"""Execute the book's notebooks, several at a time, into Jupyter Book's execution cache.

    python -m scripts.execute_book [--jobs N] [--threads T]

``jupyter-book build`` executes notebooks one at a time (``execute_notebooks: cache``). This script fills the
same jupyter-cache (``_build/.jupyter_cache``) first: each notebook whose code changed since its last cached
run is executed with nbclient in its own folder, ``--jobs`` at a time, each kernel with ``--threads``
OpenMP threads (default: the usable CPUs shared out between the jobs), in the order of ``chapters.yml``'s
measured times, longest critical path first; a chapter that re-uses others' models starts after them. The build
that follows then finds every notebook in the cache and only renders. On this 2-core machine two
notebooks with one thread each take less time than one with two threads (bench/RESULTS.md, "Book and test times").

A notebook that fails stops the script with its traceback, and nothing of it is cached; the cell timeout is
``execute.timeout`` of ``_config.yml``, as in the build.

The pages that read what the chapters recorded (:data:`SUMMARIES`, the scorecard) are executed last and every
time, since their code does not change when the chapters' results do. jupyter-cache knows a notebook by its
code cells only; the library's code counts too (:func:`library_version`): after an edit to ``vaebook``, every
notebook is executed again (its trained models are still loaded from the model cache when they did not change).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
from scripts import chapters  # noqa: E402
from bench import machine_speed  # noqa: E402
from vaebook import runtime  # noqa: E402

# Pages built from the chapters' recorded results: run after the chapters, never taken from the cache.
SUMMARIES = ("book/scorecard.ipynb",)


def _execute(path: str, timeout: int):
    """Run one notebook in its folder (in a worker process); returns the executed notebook and the result."""
    import nbformat

    from scripts import kernels

    nb = nbformat.read(path, as_version=4)
    t = time.monotonic()
    error = kernels.in_place(nb, cwd=Path(path).parent, timeout=timeout)
    return nb, error, time.monotonic() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=min(2, runtime.usable_cpus()))
    ap.add_argument("--threads", type=int, default=None, help="OpenMP threads per notebook kernel")
    ap.add_argument("--cache", default=str(ROOT / "_build" / ".jupyter_cache"))
    args = ap.parse_args()
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    timeout = int(config["execute"]["timeout"])
    threads = args.threads or max(1, runtime.usable_cpus() // args.jobs)
    os.environ.update(runtime.environment(threads))  # inherited by every kernel
    cache = get_cache(args.cache)
    stamp = Path(args.cache) / "vaebook-library.txt"
    if (stamp.read_text() if stamp.exists() else None) != library_version() and cache.list_cache_records():
        print("the vaebook library changed since the cached executions (or is unknown): executing every notebook again",
              flush=True)
        cache.clear_cache()
        cache = get_cache(args.cache)
    # Longest critical path first (chapters.build_order); a chapter that re-uses others' models waits for them.
    paths = [c.path for c in chapters.build_order()]
    after = {c.stem: set(c.after) for c in chapters.CHAPTERS}
    todo = []
    for p in paths:
        if _cached(cache, p):
            print(f"{p.stem}: cached", flush=True)
        else:
            todo.append(p)
    print(f"executing {len(todo)} notebook(s), {args.jobs} at a time, {threads} thread(s) each", flush=True)
    # How fast this machine is (bench/machine_speed.py): kept with each chapter executed now, and measured again after.
    executed, speed = bool(todo), [_reference_epoch()] if todo else []
    t0, failed, done = time.monotonic(), [], {p.stem for p in paths} - {p.stem for p in todo}
    with cf.ProcessPoolExecutor(args.jobs) as pool:
        running = {}
        while todo or running:
            # ready: the chapters it waits for have ended (a failed one too: it does not block the others)
            for p in [p for p in todo if after[p.stem] <= done][: args.jobs - len(running)]:
                todo.remove(p)
                running[pool.submit(_execute, str(p), timeout)] = p
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for f in finished:
                p = running.pop(f)
                nb, error, seconds = f.result()
                done.add(p.stem)
                if error:
                    failed.append(p.stem)
                    print(f"{p.stem}: FAILED after {seconds:.0f} s\n{error}", file=sys.stderr, flush=True)
                    continue
                cache.cache_notebook_bundle(CacheBundleIn(nb, str(p), data={"execution_seconds": seconds,
                                                                           "reference_epoch_s": speed[0]}),
                                            check_validity=False, overwrite=True)
                print(f"{p.stem}: {seconds:.0f} s", flush=True)
    if not failed:
        for page in SUMMARIES:
            nb, error, seconds = _execute(str(ROOT / page), timeout)
            if error:
                failed.append(page)
                print(f"{page}: FAILED\n{error}", file=sys.stderr, flush=True)
            else:
                cache.cache_notebook_bundle(CacheBundleIn(nb, str(ROOT / page), data={"execution_seconds": seconds}),
                                            check_validity=False, overwrite=True)
                print(f"{page}: {seconds:.0f} s", flush=True)
    if not failed:
        stamp.write_text(library_version())
        if executed or not (ROOT / "_build" / "book-times.json").exists():
            speed.append(_reference_epoch())
            write_times(cache, paths, ROOT / "_build", threads, args.jobs, speed, wall=time.monotonic() - t0)
    print(f"executed in {time.monotonic() - t0:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


def write_times(cache, paths: list[Path], out: Path, threads: int, jobs: int, speed: list[float],
                wall: float | None = None) -> None:
    """The measured execution time of every chapter: ``book-times.json``, and ``chapter-times.md``, the table the
    book's intro includes. Each chapter's seconds are also scaled to the reference machine (``bench/machine_speed.py``)
    by the reference epoch measured when that chapter was executed (a chapter taken from the cache keeps the speed of
    the build that executed it); ``speed`` is this build's reference epochs, before and after its notebooks. The book's
budget is on ``wall``, this build's wall-clock seconds of notebooks (all lanes at once), scaled by its own speed."""
    import nbformat

    per_chapter = {}
    for p in sorted(paths):  # the book's order
        nb = nbformat.read(p, as_version=4)
        try:
            data = cache.match_cache_notebook(nb).data or {}
        except KeyError:  # the notebook was edited while the build ran: its time is not this code's
            data = {}
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells
                      if c.cell_type == "markdown" and c.source.startswith("# ")), p.stem)
        seconds, epoch = data.get("execution_seconds"), data.get("reference_epoch_s")
        per_chapter[p.stem] = {"title": title, "seconds": seconds, "reference_epoch_s": epoch,
                               "reference_seconds": machine_speed.reference_time(seconds, epoch)
                               if seconds is not None and epoch else None}
    total = sum(c["seconds"] or 0 for c in per_chapter.values())
    total_reference = sum(c["reference_seconds"] or 0 for c in per_chapter.values())
    wall_reference = machine_speed.reference_time(wall, sum(speed) / len(speed)) if wall is not None and speed else None
    over = [stem for stem, c in per_chapter.items() if (c["reference_seconds"] or 0) > chapters.BUDGET["chapter_s"]]
    over += ["the whole book"] if (wall_reference or 0) > chapters.BUDGET["book_s"] else []
    record = {"chapters": per_chapter, "total_seconds": total, "total_reference_seconds": total_reference,
              "wall_seconds": wall, "wall_reference_seconds": wall_reference, "budget": chapters.BUDGET, "over_budget": over,
              "reference_epoch_s": speed, "reference_machine_s": machine_speed.REFERENCE_SECONDS,
              "jobs": jobs, "threads": threads, "cpus": runtime.usable_cpus()}
    (out / "book-times.json").write_text(json.dumps(record, indent=1) + "\n")
    shown = lambda value: "—" if value is None else f"{value:.0f} s"
    rows = [f"| {c['title']} | {shown(c['seconds'])} | {shown(c['reference_seconds'])} |" for c in per_chapter.values()]
    (out / "chapter-times.md").write_text(
        "| chapter | seconds in this build | scaled to the reference machine |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
        f"In all {total / 60:.1f} minutes of notebook time, {jobs} notebooks at a time with {threads} thread(s) each, on "
        f"{runtime.usable_cpus()} CPU core(s); {total_reference / 60:.1f} minutes scaled to the reference machine"
        + (f"; {wall / 60:.1f} minutes from the first notebook's start to the last one's end "
           f"({wall_reference / 60:.1f} scaled). " if wall_reference is not None else ". ") +
        f"This machine took {' and '.join(f'{e:.2f}' for e in speed)} s for the reference epoch (measured around the "
        f"notebooks), one epoch of chapter 1's VAE, which the reference machine takes in "
        f"{machine_speed.REFERENCE_SECONDS} s (`bench/machine_speed.py`). The budget (`chapters.yml`): "
        f"{chapters.BUDGET['book_s'] / 60:.0f} minutes in all and {chapters.BUDGET['chapter_s'] / 60:.0f} per chapter on "
        "the reference machine; " + (f"over it: {', '.join(record['over_budget'])}.\n" if record["over_budget"]
                                     else "this build is within it.\n"))


def _reference_epoch() -> float:
    """The reference epoch on this machine now (one fresh process, one thread)."""
    seconds = machine_speed.reference_epoch()
    print(f"reference epoch: {seconds:.2f} s (the reference machine: {machine_speed.REFERENCE_SECONDS} s)", flush=True)
    return seconds


def library_version() -> str:
    """A hash of all of the library's code, comments and docstrings excluded (as for the model cache's keys)."""
    from vaebook.cache import code_version

    return code_version(tuple(sorted(p.stem for p in (ROOT / "vaebook").glob("*.py"))))


def _cached(cache, path: Path) -> bool:
    import nbformat

    try:
        cache.match_cache_notebook(nbformat.read(path, as_version=4))
        return True
    except KeyError:
        return False


if __name__ == "__main__":
    sys.exit(main())
