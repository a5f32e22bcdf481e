# Wiredesk: `make up` runs the whole thing locally, `make test` runs the tests. Both set up what they
# need on a fresh machine and are safe to run twice.

SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export WIREDESK_DATA_DIR ?= $(CURDIR)/.data
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: up down test bench venv es-start es-stop airflow-start airflow-stop replay-start replay-stop \
        system-deps lock clean status

## venv: the virtualenv with every pinned package (requirements.lock) and Wiredesk itself
venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

## system-deps: Java/Maven for the local Elasticsearch, Chromium for the browser test (Debian packages)
system-deps:
	@missing=""; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v setpriv >/dev/null || missing="$$missing util-linux"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (install them, e.g. with apt-get)"; exit 1; fi; \
	fi

## es-start: the local Elasticsearch (nothing when WIREDESK_ES_URL points at a cluster)
es-start: venv
	@if [ -n "$$WIREDESK_ES_URL" ]; then $(BIN)/wiredesk es status; else $(BIN)/wiredesk es start; fi

es-stop: venv
	$(BIN)/wiredesk es stop

replay-start: venv
	@scripts/replay.sh start

replay-stop:
	@scripts/replay.sh stop

airflow-start: venv
	@VENV_BIN=$(BIN) scripts/airflow.sh start

airflow-stop:
	@VENV_BIN=$(BIN) scripts/airflow.sh stop

## up: Elasticsearch, the demo replay wire, Airflow standalone with the DAGs and the Wiredesk pages
up: venv system-deps es-start replay-start
	@$(BIN)/wiredesk index setup
	@VENV_BIN=$(BIN) scripts/airflow.sh start
	@VENV_BIN=$(BIN) scripts/airflow.sh setup
	@echo "Wiredesk search page: Airflow UI > Browse > Wiredesk Search   (stop everything: make down)"

## down: stop what `make up` started
down:
	-@VENV_BIN=$(BIN) scripts/airflow.sh stop
	-@scripts/replay.sh stop
	-@if [ -z "$$WIREDESK_ES_URL" ] && [ -x $(BIN)/wiredesk ]; then $(BIN)/wiredesk es stop; fi

## test: everything the tests need (venv, Elasticsearch, Chromium), then the whole suite
test: venv system-deps es-start
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: throughput and quality benchmarks (not part of `make test`)
bench: venv system-deps es-start
	@mkdir -p benchmarks/results
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

## lock: re-resolve requirements.in into requirements.lock (after changing a dependency)
lock:
	$(BIN)/uv pip compile -q --python-version 3.11 requirements.in -o requirements.lock

status: venv
	-@$(BIN)/wiredesk es status
	-@VENV_BIN=$(BIN) scripts/airflow.sh status
	-@scripts/replay.sh status

clean: down
	rm -rf $(VENV)
