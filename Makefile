# Two commands do everything on a fresh machine (Python 3.11 and the package registry):
#   make book   set up .venv and build the whole book (fast profile) into _build/html
#   make test   set up .venv and run every test (unit, smoke notebooks, the fast book's claims)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What the built pages serve themselves (MathJax, package.json), from the npm registry: the book works offline.
NODE_STAMP := node_modules/.installed
# Full datasets beside the repo (development and CI); the book itself never needs them.
SHARED_DATA := $(wildcard ../shared/datasets)
export VAEBOOK_DATA ?= $(if $(SHARED_DATA),$(abspath $(SHARED_DATA)),)
BOOK_ENV := VAEBOOK_PROFILE=fast VAEBOOK_PROGRESS=0 VAEBOOK_STATIC_WIDGETS=1 VAEBOOK_CACHE=$(CURDIR)/_build/models \
            VAEBOOK_RESULTS=$(CURDIR)/_build/results
# OpenMP threads sleep instead of spinning while they wait: on a CPU shared with other work, spinning threads
# made training ten times slower (bench/cpu_contention.py). Read when torch loads, so set for every process.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: book test unit notebooks nbval claims full full-dry seeds bench stress clean setup
setup: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	MPLBACKEND=agg $(BIN)/python -c "import matplotlib.pyplot"  # build the font cache once, not inside a page
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Notebooks are executed two at a time, one thread each, into Jupyter Book's cache; the build then renders.
book: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m scripts.chapters --toc  # the table of contents, from chapters.yml
	$(BOOK_ENV) $(BIN)/python -m scripts.execute_book
	$(BOOK_ENV) $(BIN)/jupyter-book build . --builder html --all
	@echo "book: open _build/html/index.html"

unit: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not notebooks and not book"

notebooks: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m notebooks

claims: $(STAMP)
	$(BIN)/python -m pytest -q -m book

# Each chapter re-run (smoke profile, fresh cache) must reproduce its stored reference execution (tests/reference,
# written by scripts/nbval_reference.py): nbval compares the reproduction-table numbers. `make test` runs the same
# comparison as the second run of each chapter's smoke test (tests/test_notebooks.py), in the cache of its first;
# this target re-runs every reference on its own, from an empty cache.
NBVAL_DIR := $(CURDIR)/_build/nbval
nbval: $(STAMP)
	rm -rf $(NBVAL_DIR)
	VAEBOOK_CACHE=$(NBVAL_DIR)/models VAEBOOK_RESULTS=$(NBVAL_DIR)/results VAEBOOK_PROGRESS=0 OMP_NUM_THREADS=1 \
	  MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --nbval-lax \
	  --nbval-current-env tests/reference

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not book" --durations=10
	$(MAKE) book
	$(BIN)/python -m pytest -q -m book

# Paper scale: every chapter in the full profile for the paper's number of runs, one job per (chapter, seed) through
# submitit (local processes; --cluster slurm for a cluster), gathered into _build/full/summary.md (mean ± std).
full: $(STAMP)
	$(BIN)/python -m scripts.run_full --out _build/full

# The full profile on this CPU with only its counts of repetitions cut (one epoch of 20 minibatches per model;
# importance samples, sampler and optimiser steps, bootstrap resamples at 2), one seed: every chapter's
# paper-scale data, nets and metrics, its time and peak memory, and what paper scale costs (README).
full-dry: $(STAMP)
	$(BIN)/python -m scripts.run_full --out _build/full-dry --max-epochs 1 --max-batches 20 --max-steps 2 --runs 1 --parallel 2

# The seed runs behind every claim's verdict: each chapter (or CHAPTERS="07_novel_examples ..."), fast profile,
# seeds 0-2 (seed 0 loads the book's models); writes their values to vaebook/bundle/seeds.json with the code's
# fingerprint (a test fails when a chapter's code changed since), and the same for every variant its claims name
# (the chapter run with other parameters, recorded apart: CONTRIBUTING.md). An hour or more for all: not in CI.
seeds: $(STAMP)
	$(BIN)/python -m scripts.seeds --runs 3 $(foreach c,$(CHAPTERS),notebooks/$(c).ipynb)

# Every benchmark writes its results file under bench/results/, with the commit, the machine and torch's version.
bench: $(STAMP)
	$(BIN)/python -m bench.train_throughput --json bench/results/train_throughput.json
	$(BIN)/python -m bench.denormals --json bench/results/denormals.json
	$(BIN)/python -m bench.cpu_contention --json bench/results/cpu_contention.json
	$(BIN)/python -m bench.machine_speed --json bench/results/machine_speed.json
	$(BIN)/python -m bench.quadratic_memory --json bench/results/quadratic_memory.json
	$(BIN)/python -m bench.gpu_step --steps 10 --device cpu --out bench/results/gpu_step_cpu.json
	$(BIN)/python -m bench.bootstrap_speed --json bench/results/bootstrap.json
	$(BIN)/python -m bench.pae_scores --json bench/results/pae_scores.json
	$(BIN)/python -m bench.pae_decoder --json bench/results/pae_decoder.json
	$(BIN)/python -m bench.notebook_code --json bench/results/notebook_code.json

# Kernel hangs: every smoke notebook 30 times in a row, counting cells whose reply came late.
stress: $(STAMP)
	$(BIN)/python -m scripts.stress_kernels --rounds 30

clean:
	rm -rf _build

# Paper scale on one GPU in one short run (issue 31): the rows that go against the paper, trained and scored at the
# paper's scale, most informative first, within PAPER_BUDGET seconds (vaebook/paper_scale.py). Needs python3 with
# torch, numpy, pandas, scipy and scikit-learn (no venv, no Jupyter) and the official Fashion-MNIST, MNIST and
# EMNIST-Letters files under VAEBOOK_DATA. Commit the results file under vaebook/bundle/paper_scale/ (one file a run).
PAPER_BUDGET ?= 420
PAPER_OUT ?= _build/paper_scale.json
.PHONY: paper-gpu
paper-gpu:
	VAEBOOK_PROGRESS=0 PYTHONUNBUFFERED=1 python3 -m bench.gpu_step --stacked --steps 20 --repeats 2 --device cuda
	VAEBOOK_PROGRESS=0 PYTHONUNBUFFERED=1 python3 -m vaebook.paper_scale --budget-s $(PAPER_BUDGET) --out $(PAPER_OUT) \
	  --device cuda --graphs
