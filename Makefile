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

demo: venv services
	$(PY) scripts/demo.py

bench: venv services
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

demo-stop:
	-kill -TERM -$$(cat var/demo/cloud-ingest.pid) 2>/dev/null; rm -f var/demo/cloud-ingest.pid
