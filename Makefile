# Two commands for a newcomer: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
STAMP := $(VENV)/.installed

.PHONY: install run migrate demo test lint format openapi openapi-check bench sweep clean console-vendor

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/returns-service migrate

run: migrate
	$(BIN)/returns-service serve --host $(HOST) --port $(PORT)

demo: migrate
	$(BIN)/returns-service demo

sweep: migrate
	$(BIN)/returns-service sweep

PYTEST_ARGS ?=
# Test processes (pytest-xdist, tests handed out one by one): one per core of CI's two-core
# box. PYTEST_WORKERS=0 runs everything in the one pytest process (pdb, a profile).
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench
	$(BIN)/mypy src

format: $(STAMP)
	$(BIN)/ruff check --fix src tests migrations bench
	$(BIN)/ruff format src tests migrations bench

openapi: $(STAMP)
	$(BIN)/python -m returns_service.openapi_file write openapi/openapi.json

openapi-check: $(STAMP)
	$(BIN)/python -m returns_service.openapi_file check openapi/openapi.json

# BENCH=lifecycle, statistics or request_path runs one; left out, all three. The statistics
# bench needs PostgreSQL (STATISTICS_BENCH_ARGS=--database-url ...) and seeds 1M returns;
# the request path (README "Benchmark": the pgbench floor, the real server under wrk, lists
# at 1M, the sweep) needs PostgreSQL and wrk, takes BENCH_ARGS, and also takes minutes.
BENCH ?= all
STATISTICS_BENCH_ARGS ?=
LIFECYCLE_BENCH_ARGS ?=

bench: $(STAMP)
	if [ "$(BENCH)" = all ] || [ "$(BENCH)" = lifecycle ]; then $(BIN)/python -m bench.lifecycle $(LIFECYCLE_BENCH_ARGS); fi
	if [ "$(BENCH)" = all ] || [ "$(BENCH)" = statistics ]; then $(BIN)/python -m bench.statistics $(STATISTICS_BENCH_ARGS); fi
	if [ "$(BENCH)" = all ] || [ "$(BENCH)" = request_path ]; then $(BIN)/python -m bench $(BENCH_ARGS); fi

# Re-vendor the console's browser libraries from console/package-lock.json (needs node/npm).
console-vendor:
	console/vendor.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis returns.db*
