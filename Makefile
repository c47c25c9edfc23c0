# RegionWatch — the two set-up commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
RW     := $(VENV)/bin/regionwatch
STAMP_RUN  := $(VENV)/.stamp-run
STAMP_DEV  := $(VENV)/.stamp-dev
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW ?= ignore
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: run test lint bench demo clean install install-dev

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (python3.11) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"

# reinstall only when pyproject.toml changed since the last install
$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	@touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

run: $(STAMP_RUN)
	@mkdir -p data
	$(RW) run

test: $(STAMP_DEV)
	$(PY) -m pytest

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check regionwatch tasks flows tests bench
	$(VENV)/bin/mypy regionwatch flows tasks

demo: $(STAMP_RUN)
	$(RW) demo

bench: $(STAMP_DEV)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
