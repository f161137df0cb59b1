# The two commands that do everything on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: all demo demo-stop test lint services venv bench clean

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

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

demo-stop: venv
	$(PY) -m demo stop
