# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit validate package bench clean chromium

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

# Offline checks of what deploy/ ships to AWS: cfn-lint on the CloudFormation templates,
# asl-validator (npm, pinned in tools/asl/package-lock.json) on every state machine.
ASL := tools/asl/node_modules/.bin/asl-validator
TEMPLATES := deploy/template.yaml deploy/target-role.yaml

# The stamp re-runs `npm ci` only when the lock changes.
tools/asl/node_modules/.installed: tools/asl/package-lock.json tools/asl/package.json
	cd tools/asl && npm ci --no-audit --no-fund --loglevel=error
	touch $@

validate: $(VENV)/.installed-dev tools/asl/node_modules/.installed
	$(BIN)/cfn-lint $(TEMPLATES)
	$(ASL) $(foreach f,$(wildcard src/fleetpatch/workflow/*.asl.json),--json-path $(f))

# The Lambda artifact of deploy/template.yaml (docs/deploy.md): fleetpatch, its runtime
# dependencies for the functions' runtime (never the simulator's), and CONFIG as
# fleetpatch.toml; fails past Lambda's size limits, and prints the sizes.
package: $(VENV)/.installed
	@test -n "$(CONFIG)" || { echo "error: make package CONFIG=path/to/fleetpatch.toml"; exit 2; }
	$(BIN)/python tools/lambda_package.py --config "$(CONFIG)" --out build/fleetpatch-lambda.zip

test: validate lint typecheck unit

# The measurements of docs/benchmarks.md (and docs/scale.md), all under AWS's rate limits
# (~27 minutes in all).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/simulator.py
	$(BIN)/python bench/inventory.py
	$(BIN)/python bench/rollout.py
	$(BIN)/python bench/workflow.py
	$(BIN)/python bench/shards.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build tools/asl/node_modules
