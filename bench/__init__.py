"""Benchmarks, each run as ``python -m bench.<name>`` from the repository's root (``make bench``); their results are in
bench/RESULTS.md and bench/results/."""
