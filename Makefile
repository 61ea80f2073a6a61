# `make run` serves the demo hub; `make test` runs linters, type checks and the test suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
CHECKED := hub schemas connectors tests bench

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The simulated land, finance and permitting systems and their connectors run beside the hub
# (hub-connector demo), so the demo hub fills itself; they stop with it.
run: $(VENV)/.run-installed
	$(BIN)/hub init --demo
	HUB_CONNECTOR_HUB_URL=http://$(HOST):$(PORT) $(BIN)/hub-connector demo & \
	trap 'kill $$! 2>/dev/null' EXIT; \
	$(BIN)/hub serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

pytest: $(VENV)/.test-installed
	$(BIN)/python -m pytest -n auto

test: lint typecheck pytest

bench: $(VENV)/.test-installed
	$(BIN)/python -m bench.publish
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.sync

clean:
	rm -rf $(VENV) instance .mypy_cache .ruff_cache .pytest_cache
