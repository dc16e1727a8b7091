# Every target builds .venv first; nothing else needs to be installed by hand.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: install test lint format typecheck demo bench perf clean

install: $(VENV)/.installed docs/features.md

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[dev]' 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@$(BIN)/python -c 'import app, ensemble, features, xgboost, treelite, tl2cgen' 
	touch $@

docs/features.md: $(VENV)/.installed features/definitions.py features/catalogue.py
	$(BIN)/fraud features --out $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

demo: install
	$(BIN)/fraud demo

bench: install
	$(PIP) -e '.[dev,bench]' 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(BIN)/python loadtest/bench_inference.py
	$(BIN)/python loadtest/bench_replay.py
	$(BIN)/python loadtest/bench_api.py

perf: install
	$(PIP) -e '.[dev,perf]' 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(BIN)/python loadtest/run_perf.py

clean:
	rm -rf $(VENV) models data docs/features.md
