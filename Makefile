# One place for set-up: `make demo` runs the offline demo, `make test` runs the whole suite.
# Both create the isolated environment in .venv/ on first use (Python 3.11+ and pip are all it needs;
# `make test` also installs the Azurite storage emulator from npm into .azurite/ and, where apt-get
# can, Chromium for the report's browser test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AZURITE_VERSION ?= 3

.PHONY: demo test lint docs bench clean chromium

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

# The report's browser test drives the system's Chromium (Playwright's own download is not used).
# Installed with apt-get when missing and possible; elsewhere that test skips and says how.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
	echo "chromium not installed (apt-get install chromium): the browser test will skip"

demo: $(VENV)/.installed-all
	$(BIN)/vegdask run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: $(VENV)/.installed-test .azurite/node_modules/.bin/azurite-blob chromium lint
	VEGDASK_AZURITE="$(CURDIR)/.azurite/node_modules/.bin/azurite-blob" $(BIN)/python -m pytest

docs: $(VENV)/.installed-test
	$(BIN)/mkdocs build --strict --site-dir build/site

bench: $(VENV)/.installed-test
	$(BIN)/asv machine --yes > /dev/null
	VEGDASK_AZURITE="$(CURDIR)/.azurite/node_modules/.bin/azurite-blob" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/asv run --python=same --show-stderr $(BENCH)

clean:
	rm -rf $(VENV) .azurite build .asv
