"""Execute the book's notebooks, several at a time, into Jupyter Book's execution cache.

    python scripts/execute_book.py [--jobs N] [--threads T]

``jupyter-book build`` executes notebooks one at a time (``execute_notebooks: cache``). This script fills the
same jupyter-cache (``_build/.jupyter_cache``) first: each notebook whose code changed since its last cached
run is executed with nbclient in its own folder, ``--jobs`` at a time, each kernel with ``--threads``
OpenMP threads (default: the usable CPUs shared out between the jobs), longest chapters first. The build
that follows then finds every notebook in the cache and only renders. On this 2-core machine two
notebooks with one thread each take less time than one with two threads (README, "Build times").

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
import os
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from vaebook import runtime  # noqa: E402

# The order notebooks start in, two at a time: longest critical path first (a chapter's own time plus that of the
# chapters waiting for it), then the longest. Chapters 5 and 1 go first because chapter 8 waits for both. Simulated
# with the clean-clone times of 9a9ae64 (bench/RESULTS.md; s: 5 143, 1 131, 7 199, 4 170, 8 124, 3 155, 6 147, 2 43,
# 0 4), the two lanes end at about 590 s, against 616 s for the order before (5, 4, 3, 6, 7, 1, 2, 8, 0), which
# started chapter 8 last.
ORDER = ("05_", "01_", "07_", "04_", "08_", "03_", "06_", "02_", "00_")
# A notebook that re-uses the models other chapters train starts after them (else both would train them).
AFTER = {"08_ood_benchmark": ("01_ood_puzzle", "05_probabilistic_autoencoder")}
# Pages built from the chapters' recorded results: run after the chapters, never taken from the cache.
SUMMARIES = ("book/scorecard.ipynb",)


def _execute(path: str, timeout: int):
    """Run one notebook in its folder (in a worker process); returns the executed notebook and the result."""
    import kernel_replies
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    kernel_replies.install()

    nb = nbformat.read(path, as_version=4)
    t = time.monotonic()
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False)
    return nb, result.exc_string, time.monotonic() - t


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
    paths = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"),
                   key=lambda p: next((i for i, o in enumerate(ORDER) if p.name.startswith(o)), len(ORDER)))
    todo = []
    for p in paths:
        if _cached(cache, p):
            print(f"{p.stem}: cached", flush=True)
        else:
            todo.append(p)
    print(f"executing {len(todo)} notebook(s), {args.jobs} at a time, {threads} thread(s) each", flush=True)
    t0, failed, done = time.monotonic(), [], {p.stem for p in paths} - {p.stem for p in todo}
    with cf.ProcessPoolExecutor(args.jobs) as pool:
        running = {}
        while todo or running:
            for p in [p for p in todo if set(AFTER.get(p.stem, ())) <= done or not running][: args.jobs - len(running)]:
                todo.remove(p)  # ready (or nothing else runs: a dependency that failed does not block it)
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
                cache.cache_notebook_bundle(CacheBundleIn(nb, str(p), data={"execution_seconds": seconds}),
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
        write_times(cache, paths, ROOT / "_build" / "chapter-times.md", threads, args.jobs)
    print(f"executed in {time.monotonic() - t0:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


def write_times(cache, paths: list[Path], out: Path, threads: int, jobs: int) -> None:
    """The measured execution time of every chapter in this build, as the table the book's intro includes."""
    import nbformat

    rows = []
    for p in sorted(paths):
        record = cache.match_cache_notebook(nbformat.read(p, as_version=4))
        seconds = (record.data or {}).get("execution_seconds")
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nbformat.read(p, as_version=4).cells
                      if c.cell_type == "markdown" and c.source.startswith("# ")), p.stem)
        rows.append(f"| {title} | {'—' if seconds is None else f'{seconds:.0f} s'} |")
    total = sum((cache.match_cache_notebook(nbformat.read(p, as_version=4)).data or {}).get("execution_seconds", 0)
                for p in paths)
    out.write_text("| chapter | seconds in this build |\n| --- | --- |\n" + "\n".join(rows) + "\n\n"
                   f"In all {total / 60:.1f} minutes of notebook time, {jobs} notebooks at a time with {threads} "
                   f"thread(s) each, on {runtime.usable_cpus()} CPU core(s).\n")


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
