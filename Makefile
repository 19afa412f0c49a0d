# The two commands of the README: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FITPIPE_HOME ?= $(CURDIR)/.fitpipe

.PHONY: demo test check lint install system-deps db bench clean

$(BIN)/fitpipe: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/fitpipe

install: system-deps $(BIN)/fitpipe

system-deps:
	./scripts/install-system-deps.sh

## make demo: local PostgreSQL+TimescaleDB, a synthetic cohort ingested, API and dashboard served
demo: install
	$(BIN)/fitpipe demo

## make test: every test (unit, integration on a real PostgreSQL+TimescaleDB, browser, monitoring)
test: install
	$(BIN)/pytest -q

lint: $(BIN)/fitpipe
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: lint test

bench: install
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/adherence.py
	$(BIN)/python bench/imputation.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/minute_layer.py

clean:
	-$(BIN)/fitpipe db stop
	rm -rf $(VENV) .fitpipe .pytest_cache
