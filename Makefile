# One place for set-up: `make demo` runs the offline demo, `make test` runs the whole suite.
# Both create the isolated environment in .venv/ on first use (Python 3.11+ and pip are all it needs;
# `make test` also installs the Azurite storage emulator from npm into .azurite/ and, where apt-get
# can, Chromium for the report's browser test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
AZURITE_VERSION ?= 3
# The installer: uv (from PyPI, into .venv) installs the ~140 packages in seconds where pip takes
# over a minute; pip is the fallback when uv cannot be installed or fails. uv does not read pip's
# configuration: behind a private package index set UV_INDEX_URL, or use `make INSTALLER=pip ...`.
INSTALLER ?= uv

.PHONY: demo test lint docs bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# install REQUIREMENTS (pip install's arguments), with an up-to-date pip; uv is put into the
# venv with pip first (also into a .venv made before uv was used). uv does not compile bytecode (pip
# does): without it every process of the first run (of every run where bytecode is not written,
# PYTHONDONTWRITEBYTECODE) compiles its imports again, ~8 s of CPU in the demo. So compile, in
# parallel, all but the packages' own test suites (a third of the files, never imported by vegdask)
# and Azure's generated management SDK (15 %, imported only by dask-cloudprovider's AzureVMCluster).
# A file that does not compile is left to fail when imported, as pip leaves it.
define install
	if [ "$(INSTALLER)" = uv ] && \
	  { $(BIN)/python -m uv --version >/dev/null 2>&1 || $(PIP) install --quiet uv; } && \
	  $(BIN)/python -m uv pip install --quiet --python $(BIN)/python --upgrade-package pip pip $(1); \
	then \
	  $(BIN)/python -m compileall -q -j 0 -x '/tests/|/azure/mgmt/' $(VENV)/lib || true; \
	else \
	  [ "$(INSTALLER)" != uv ] || echo "installing with pip instead of uv (slower)"; \
	  $(PIP) install --quiet --upgrade pip && $(PIP) install --quiet $(1); \
	fi
endef

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(call install,-e ".[all]")
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(call install,-e ".[test]")
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
	$(BIN)/mypy

test: $(VENV)/.installed-test .azurite/node_modules/.bin/azurite-blob chromium lint
	VEGDASK_AZURITE="$(CURDIR)/.azurite/node_modules/.bin/azurite-blob" $(BIN)/python -m pytest

docs: $(VENV)/.installed-test
	$(BIN)/mkdocs build --strict --site-dir build/site

bench: $(VENV)/.installed-test .azurite/node_modules/.bin/azurite-blob
	$(BIN)/asv machine --yes > /dev/null
	VEGDASK_AZURITE="$(CURDIR)/.azurite/node_modules/.bin/azurite-blob" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/asv run --python=same --show-stderr $(BENCH)

clean:
	rm -rf $(VENV) .azurite build .asv
