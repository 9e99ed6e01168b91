# Two commands for a new machine:  `make run` (install + start, embedded) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck distributed bench browser clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Atiende needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@touch $(STAMP)

install: $(STAMP)

## Embedded default: all four services in one process, SQLite under var/, in-process bus.
run: install
	$(VENV)/bin/atiende run

## The whole test suite (integration tests need PostgreSQL and RabbitMQ: see README).
test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .

## Static types of shared/ and services/ (configuration: [tool.mypy] in pyproject.toml).
typecheck: install
	$(VENV)/bin/mypy

## RabbitMQ + PostgreSQL deployment on this machine: four processes (env from deploy/atiende.env.example).
distributed: install
	bash deploy/run-distributed.sh

## Debian's Chromium for the console's browser tests (tests/test_console_browser.py).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null | head -1)"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "make browser: /usr/bin/chromium is missing; install it as root: apt-get install -y chromium" >&2; exit 1; fi

bench: install
	$(PY) bench/pipeline.py

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
