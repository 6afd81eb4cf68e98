# One place for set-up: `make demo` runs the offline demo, `make test` runs the whole suite.
# Both create the isolated environment in .venv/ on first use (Python 3.11+ and pip are all it needs;
# `make test` also installs the Azurite storage emulator from npm into .azurite/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AZURITE_VERSION ?= 3

.PHONY: demo test lint docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[all]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed-all

.azurite/node_modules/.bin/azurite-blob:
	npm install --silent --no-audit --no-fund --prefix .azurite azurite@$(AZURITE_VERSION)

demo: $(VENV)/.installed-all
	$(BIN)/vegdask run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: $(VENV)/.installed-test .azurite/node_modules/.bin/azurite-blob lint
	VEGDASK_AZURITE="$(CURDIR)/.azurite/node_modules/.bin/azurite-blob" $(BIN)/python -m pytest

docs: $(VENV)/.installed-test
	$(BIN)/mkdocs build --strict --site-dir build/site

bench: $(VENV)/.installed-test
	$(BIN)/asv machine --yes > /dev/null
	VEGDASK_AZURITE="$(CURDIR)/.azurite/node_modules/.bin/azurite-blob" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/asv run --python=same --show-stderr $(BENCH)

clean:
	rm -rf $(VENV) .azurite build .asv
