# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 3000
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export BENTOML_DO_NOT_TRACK := true

.PHONY: install bundle run test lint browser postgres evaluate bench clean

# torch goes first and pinned: pip takes the CPU wheel from this machine's disk; a bare
# `torch` would pull a multi-GB CUDA build from the registry.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

bundle: install
	$(VENV)/bin/recallguard build --if-missing

run: bundle
	$(VENV)/bin/recallguard serve --port $(PORT)

# The reviewer page is tested in Debian's Chromium (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The review-queue tests also run on a real PostgreSQL: Debian's server programs, which the
# tests start in a temp folder as the unprivileged `postgres` user when run as root, and stop
# (tests/databases.py). Only the programs are needed: the system cluster that the package may
# start is stopped again.
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null && \
	  { $$SUDO service postgresql stop >/dev/null 2>&1 || true; }; }

test: install browser postgres
	RECALLGUARD_REQUIRE_POSTGRES=1 $(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Held-out evaluation report (JSON + Markdown + plots) of the served bundle vs three baselines.
evaluate: bundle
	$(VENV)/bin/recallguard evaluate --out reports/eval-latest

# Throughput/latency benchmark, one run and one table (benchmarks/results/throughput.json):
# plain SentenceTransformer.encode vs the pipeline in process, the CLI, and HTTP.
# `make bench BENCH_ARGS=--quick` for a short development run.
bench: bundle
	$(PY) benchmarks/throughput.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
