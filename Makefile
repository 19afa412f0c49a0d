# The two commands of the README: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FITPIPE_HOME ?= $(CURDIR)/.fitpipe

.PHONY: demo test check lint lint-imports typecheck install system-deps control-plane db bench clean lock

# Python packages come from the hashed lock (requirements/dev.txt: runtime + test); fitpipe itself is
# installed editable on top, built by the locked setuptools. Regenerate the locks with `make lock`.
$(BIN)/fitpipe: pyproject.toml setup.py requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(BIN)/fitpipe

## make lock: regenerate requirements/*.txt from pyproject.toml (uv; pass ARGS=--upgrade to update)
lock:
	./scripts/lock-dependencies.sh $(ARGS)

install: system-deps $(BIN)/fitpipe

system-deps:
	./scripts/install-system-deps.sh

## make demo: local PostgreSQL+TimescaleDB, a synthetic cohort ingested, API and dashboard served
demo: install
	$(BIN)/fitpipe demo

## The Kubernetes control plane of the cluster tests, built once from the Go module proxy into
## ~/.cache/fitpipe/control-plane (the first build takes a while; see docs/kubernetes.md).
control-plane: $(BIN)/fitpipe
	@if command -v go >/dev/null; then PYTHON=$(BIN)/python ./scripts/control-plane.sh build; \
	else echo "Go is not installed: the cluster tests will skip"; fi

## make test: every test (unit, integration on a real PostgreSQL+TimescaleDB, browser, monitoring,
## and on a real Kubernetes control plane)
test: install control-plane
	$(BIN)/pytest -q

lint: $(BIN)/fitpipe lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make lint-imports: the floors of docs/architecture.md (import-linter contracts in pyproject.toml)
lint-imports: $(BIN)/fitpipe
	$(BIN)/lint-imports --no-cache

## make typecheck: mypy over the installed packages (strict on the core `fitpipe` and on `fitpipe_dashboard`),
## tests/ and bench/ (see [tool.mypy])
typecheck: $(BIN)/fitpipe
	$(BIN)/mypy

## make check: every check CI runs (ruff, the import contracts, mypy, the whole test suite)
check: lint typecheck test

bench: install
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements/bench.txt
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/parse_takeout.py
	$(BIN)/python bench/map_google_health.py
	$(BIN)/python bench/fitabase_stream.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/adherence.py
	$(BIN)/python bench/imputation.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/minute_layer.py
	@if command -v go >/dev/null; then $(BIN)/python bench/control_plane.py; else echo "bench/control_plane.py needs Go"; fi

clean:
	-$(BIN)/fitpipe db stop
	rm -rf $(VENV) .fitpipe .pytest_cache
