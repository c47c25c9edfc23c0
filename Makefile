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

.PHONY: run test lint wheel bench demo clean install install-dev

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

LINT_PATHS := regionwatch tasks flows web tests bench setup.py

# ruff (lint + format check), the library under mypy --strict, the rest under the project's mypy
lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy --strict regionwatch
	$(VENV)/bin/mypy flows tasks web

# wheel + sdist into dist/, then install the wheel into a fresh venv outside the checkout and
# run its console script from there (what a user of `pip install regionwatch` gets)
wheel: $(STAMP_DEV)
	rm -rf dist build
	PYTHONDONTWRITEBYTECODE= $(PY) -m build --outdir dist .
	env -u PYTHONPATH $(PY) tests/packaging/smoke_wheel.py dist

demo: $(STAMP_RUN)
	$(RW) demo

bench: $(STAMP_DEV)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build *.egg-info
