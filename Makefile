# One task runner for the habits: setup, demo, test, lint, format, typecheck, bench.
# `make demo` and `make test` work on a fresh machine: they create .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.nbmodels-installed
# torch is pinned where it is installed (a CPU build); pyproject only asks for torch>=2.4.
TORCH  ?= torch==2.13.0

.PHONY: setup browser-deps postgres-deps go-deps demo demo-headless test test-fast test-notebooks lint format typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium drives JupyterLab in the browser tests (never `playwright install`).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/dev/null \
	  || echo "could not install chromium: browser tests will fail (install it with apt)"; }

# Debian's PostgreSQL server binaries (initdb, pg_ctl) for the team-registry tests: each run
# starts its own throwaway server in a temporary folder (tests/fixtures_postgres.py).
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the team-registry tests"; \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) >/dev/null \
	  || echo "could not install postgresql: the PostgreSQL registry tests will be skipped (install it with apt)"; }

# Debian's Go: the chat-template test renders each exported Ollama TEMPLATE with Go's own
# text/template (what Ollama runs), not with a Python imitation of it.
go-deps:
	@command -v go >/dev/null 2>&1 || { \
	  echo "installing Debian's golang-go for the Ollama template tests"; \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go) >/dev/null \
	  || echo "could not install go: the Go template tests will be skipped (install golang-go with apt)"; }

demo: setup
	$(BIN)/python -m nbmodels demo

demo-headless: setup
	$(BIN)/python -m nbmodels demo --headless

test: setup browser-deps postgres-deps go-deps
	$(BIN)/ruff check nbmodels tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest tests -q
	NBMODELS_DEMO=1 NBMODELS_HOME=$$(mktemp -d) HF_HOME=$$(mktemp -d) OLLAMA_MODELS=$$(mktemp -d) $(BIN)/python -m pytest -q --nbval-lax notebooks -p no:cacheprovider

test-fast: setup
	$(BIN)/python -m pytest tests -q -m "not slow and not browser"

test-notebooks: setup
	NBMODELS_DEMO=1 NBMODELS_HOME=$$(mktemp -d) HF_HOME=$$(mktemp -d) OLLAMA_MODELS=$$(mktemp -d) $(BIN)/python -m pytest -q --nbval-lax notebooks -p no:cacheprovider

lint: setup
	$(BIN)/ruff check nbmodels tests benchmarks
	$(BIN)/ruff format --check nbmodels tests benchmarks

format: setup
	$(BIN)/ruff format nbmodels tests benchmarks
	$(BIN)/ruff check --fix nbmodels tests benchmarks

typecheck: setup
	$(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache artifacts
