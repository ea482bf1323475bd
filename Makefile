# Syncline: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers for `make test`: most test time is waiting (subprocesses, servers,
# databases, the scale-out minutes), so more workers than cores; `TEST_WORKERS=0` runs serially
TEST_WORKERS ?= 4

.PHONY: help venv test test-integrations lint demo dashboard bench bench-quick sandbox clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install Syncline with its test tools

test: $(STAMP)  ## run lint, types and the test suite
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -m "not venv" -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-integrations: $(STAMP)  ## the Dagster and Airflow tests (each builds a venv of its own: minutes)
	$(BIN)/pytest -m venv $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and mypy only
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

demo: $(STAMP)  ## build the sample warehouse, start the sandbox, run the syncs
	$(BIN)/python -m syncline.demo

dashboard: $(STAMP)  ## after `make demo`: the demo project in the dashboard (127.0.0.1:8000)
	$(BIN)/python -m syncline.demo.dashboard

sandbox: $(STAMP)  ## run the CleverTap sandbox on 127.0.0.1:8899 (demo account)
	$(BIN)/syncline sandbox --host 127.0.0.1 --port 8899 --account DEMO-ACC-0001:demo-passcode:eu1

bench: $(STAMP)  ## run the benchmarks and write bench/RESULTS.md
	$(BIN)/python -m bench

bench-quick: $(STAMP)  ## run the benchmark harness at a tiny size (checks it still works)
	$(BIN)/python -m bench --quick

clean:  ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
