# The two commands that do everything on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: all demo demo-stop test lint services venv bench fuzz soak clean

all: test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,demo]'
	touch $@

venv: $(VENV)/.installed

services:
	bash scripts/services.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: venv services lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# the sample city on services of its own (embedded PostgreSQL, its own mosquitto) unless
# DATABASE_URL / MQTT_URL are set; DEMO_SECONDS sets the run length (180 by default)
demo: venv
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || bash scripts/services.sh
	$(PY) -m demo

bench: venv services
	for b in bench/*.py; do $(PY) $$b || exit 1; done

# the long runs: 100,000 hostile inputs over every decoder and loader (SEED=... for another
# order), and the fault soak (SOAK_S seconds, 180 by default; 1800 for the half hour)
fuzz: venv
	$(PY) scripts/fuzz.py --cases 100000 $(if $(SEED),--seed $(SEED))

soak: venv services
	SFG_SOAK_S=$(or $(SOAK_S),180) $(VENV)/bin/pytest -m soak -s tests/e2e/test_soak.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

demo-stop: venv
	$(PY) -m demo stop
