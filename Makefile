# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps re-run the install when pyproject.toml changes. The demo and the tests run on the
# simulator, an extra (`pip install fleetpatch` alone installs the tool without it).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sim]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,sim]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python -m fleetpatch.demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src

# The HTML report test renders the page in headless Chromium, Debian's package. Install it
# when we can (root with apt, as on CI); otherwise that one test skips and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian) for the HTML report test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	      || echo "note: could not install chromium; the HTML rendering test will skip"; \
	  else echo "note: chromium not found; the HTML rendering test will skip"; fi; }

unit: $(VENV)/.installed-dev chromium
	$(BIN)/pytest -n 4

test: lint typecheck unit

# The measurements of docs/benchmarks.md (and docs/scale.md), all under AWS's rate limits
# (~27 minutes in all).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/simulator.py
	$(BIN)/python bench/inventory.py
	$(BIN)/python bench/rollout.py
	$(BIN)/python bench/workflow.py
	$(BIN)/python bench/shards.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
