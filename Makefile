# Every target builds .venv first; nothing else needs to be installed by hand.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: install test lint format typecheck demo bench perf quality clean

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

# Model quality on differently generated histories (docs/model-quality.md): each preset
# is generated, trained on with the defaults, and its report's head printed.
QUALITY_PRESETS := default:8000 terminals:10000 mixed:15000
quality: install
	@for spec in $(QUALITY_PRESETS); do \
	  preset=$${spec%%:*}; cards=$${spec##*:}; \
	  data=data/quality_$$preset.parquet; model=models/quality_$$preset; \
	  [ -f $$data ] || $(BIN)/fraud generate --preset $$preset --cards $$cards --out $$data; \
	  $(BIN)/fraud train --data $$data --out $$model > /dev/null; \
	  echo "== $$preset ($$cards cards): $$model/report.md"; \
	  sed -n '1,/^## Ensemble choice/p' $$model/report.md | sed '$$d'; \
	done

clean:
	rm -rf $(VENV) models data docs/features.md
