# Every target builds .venv first; nothing else needs to be installed by hand.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: install system-packages tools test lint format typecheck console console-test demo bench perf quality audit lock clean

install: $(VENV)/.installed docs/features.md

# Versions come from requirements.lock (`make lock` writes it from pyproject.toml); the
# venv's own build tools are brought up to date first.
LOCK := -c requirements.lock

# The feature kernel (native/: Rust, PyO3) is built from source by maturin (from the lock)
# with cargo, its crates pinned by native/Cargo.lock; a machine without cargo stops here
# with the reason, never with a slower path.
# rustup puts cargo in ~/.cargo/bin, which a shell that read no profile may lack on its PATH.
export PATH := $(PATH):$(HOME)/.cargo/bin
KERNEL_SOURCES := native/Cargo.toml native/Cargo.lock native/pyproject.toml native/fraud_kernel.pyi $(wildcard native/src/*.rs)
KERNEL_WHEELS := var/wheels

$(VENV)/.installed: pyproject.toml requirements.lock $(KERNEL_SOURCES)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@command -v cargo > /dev/null || { echo "make install: cargo is missing. The feature kernel (native/) is Rust, built here from source: install the Rust toolchain (https://rustup.rs, or your system's cargo and rustc >= 1.85), then run make install again." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel
	$(PIP) $(LOCK) maturin
	rm -rf $(KERNEL_WHEELS)
	$(BIN)/maturin build --release --locked --manifest-path native/Cargo.toml --interpreter $(BIN)/python --out $(KERNEL_WHEELS)
	$(PIP) --force-reinstall --no-deps $(KERNEL_WHEELS)/fraud_kernel-*.whl
	$(PIP) $(LOCK) -e '.[dev]' 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	@$(BIN)/python -c 'import app, ensemble, features, xgboost, treelite, tl2cgen, fraud_kernel' 
	touch $@

docs/features.md: $(VENV)/.installed features/definitions.py features/catalogue.py
	$(BIN)/fraud features --out $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd native && cargo fmt --check && cargo clippy --release --locked --quiet -- -D warnings

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

# The Debian programs the tests drive, installed when missing: haproxy (the rolling-update
# drill) and chromium (the console's browser test, tests/e2e/test_console.py).
system-packages:
	bash scripts/debian-packages.sh

# demo and test check the machine first (scripts/prerequisites.sh), naming everything
# missing at once; the steps after it run in a sub-make, so the check comes first even
# under make -j.
PREREQUISITES = PYTHON=$(PYTHON) bash scripts/prerequisites.sh

test:
	@$(PREREQUISITES) test
	$(MAKE) lint typecheck system-packages tools console-test console
	cd native && cargo test --release --locked --quiet
	$(BIN)/pytest

# The operations console (frontend/): its production build in frontend/dist, served by the
# API at /dashboard/, and its component tests. Both generate the API's types from the
# OpenAPI document with .venv's Python first (hence install). Skipped, saying so, in a
# checkout without frontend/.
console: install
	@if [ -f frontend/package.json ]; then \
	  cd frontend && npm ci && npm run build; \
	else \
	  echo "make console: no frontend/package.json, nothing to build"; \
	fi

console-test: install
	@if [ -f frontend/package.json ]; then \
	  cd frontend && npm ci && npm test; \
	else \
	  echo "make console-test: no frontend/package.json, no console tests to run"; \
	fi

# Tools the deployment tests run (tests/unit/deploy), built once into var/bin (gitignored):
# kustomize renders k8s/ (Go, pinned: newer releases need a newer Go than the machines');
# promtool checks and unit-tests the alert rules (Debian's package, unpacked; no root
# unless the package lists are missing, when it runs apt-get update first).
KUSTOMIZE_VERSION := v5.7.1
KUSTOMIZE := var/bin/.kustomize-$(KUSTOMIZE_VERSION)
tools: $(KUSTOMIZE) var/bin/promtool

$(KUSTOMIZE):
	mkdir -p var/bin
	GOBIN=$(CURDIR)/var/bin GOTOOLCHAIN=local go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	touch $@

var/bin/promtool:
	mkdir -p var/bin var/apt
	rm -f var/apt/prometheus_*.deb
	cd var/apt && { apt-get download prometheus || { apt-get update -qq && apt-get download prometheus; }; }
	dpkg-deb --fsys-tarfile var/apt/prometheus_*.deb | tar -xO ./usr/bin/promtool > $@.partial
	chmod +x $@.partial && mv $@.partial $@
	rm -f var/apt/prometheus_*.deb

demo:
	@$(PREREQUISITES) demo
	$(MAKE) console
	$(BIN)/fraud demo

bench: install
	$(PIP) $(LOCK) -e '.[dev,bench]' 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(BIN)/python loadtest/bench_inference.py
	$(BIN)/python loadtest/bench_replay.py
	$(BIN)/python -m loadtest.bench_api

# Pin every dependency (all extras) for Linux x86_64 and Python 3.11, the build machines'.
# fraud-kernel is built from native/ at the same commit (tool.uv.sources), never locked.
lock:
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-emit-package fraud-kernel --quiet \
	  -o requirements.lock

# Known vulnerabilities in the locked versions (pip-audit); says plainly when its data
# is not reachable from the machine (exit status 2).
audit: install
	$(BIN)/python scripts/audit.py

perf: install
	$(PIP) $(LOCK) -e '.[dev,perf]' 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
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
	rm -rf $(VENV) models data docs/features.md $(KERNEL_WHEELS) native/target
