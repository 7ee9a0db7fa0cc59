# The two commands (README): `make run` runs the main job, `make test` runs the tests. Both set up first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup system-packages run test lint bench clean

setup: $(VENV)/.installed ops/node/node_modules/.installed system-packages

# Debian packages: promtool (checks the alert rules). Root installs directly, others through sudo.
system-packages:
	@command -v promtool >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing Debian's prometheus package (promtool)"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

$(VENV)/.installed: pyproject.toml
	@command -v $(PY) >/dev/null || { echo "make: $(PY) not found: install Python 3.11 (or run make PY=python3.12)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

ops/node/node_modules/.installed: ops/node/package.json ops/node/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm not found: install Node.js 20 with npm (apt-get install nodejs npm)"; exit 1; }
	npm ci --prefix ops/node --no-audit --no-fund --loglevel=error
	@touch $@

run: setup
	$(BIN)/pulsearb up

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	for b in bridge detect archive execute collector; do $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) ops/node/node_modules .pulsearb
