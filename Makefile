# `make run` serves the demo hub; `make test` runs linters, type checks and the test suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
CHECKED := hub schemas connectors tests bench

# The console's message catalogues, compiled from their .po files at build time.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard hub/console/translations/*/LC_MESSAGES/messages.po))

.PHONY: run test lint typecheck pytest bench clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# (Babel comes with flask-babel, installed by the run and test targets listed before these.)
%.mo: %.po | $(BIN)/python
	$(BIN)/pybabel compile --statistics -i $< -o $@

# After changing the console's messages: extract them and update the catalogues.
translations: | $(VENV)/.run-installed
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l --add-location=file \
		--sort-output -o hub/console/translations/messages.pot .
	$(BIN)/pybabel update -i hub/console/translations/messages.pot -d hub/console/translations --ignore-obsolete

# The simulated land, finance and permitting systems and their connectors run beside the hub
# (hub-connector demo), so the demo hub fills itself; they stop with it.
run: $(VENV)/.run-installed $(CATALOGUES)
	export HUB_PUBLIC_URL=$${HUB_PUBLIC_URL:-http://$(HOST):$(PORT)}; \
	$(BIN)/hub init --demo && \
	{ HUB_CONNECTOR_HUB_URL=http://$(HOST):$(PORT) $(BIN)/hub-connector demo & \
	trap 'kill $$! 2>/dev/null' EXIT; \
	$(BIN)/hub serve --host $(HOST) --port $(PORT); }

lint: $(VENV)/.test-installed
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

pytest: $(VENV)/.test-installed $(CATALOGUES)
	$(BIN)/python -m pytest -n auto

test: lint typecheck pytest

bench: $(VENV)/.test-installed
	$(BIN)/python -m bench.publish
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.sync
	$(BIN)/python -m bench.supervision
	$(BIN)/python -m bench.growth
	$(BIN)/python -m bench.scaleout
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) instance .mypy_cache .ruff_cache .pytest_cache $(CATALOGUES)
