# Two commands for a fresh machine: `make run` (the whole system on the sample logs) and
# `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run analyze test lint unit bench samples clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --editable .  # the `loglens` command
	touch $@

run: $(VENV)/.installed
	$(PY) -m loglens demo logs/

analyze: $(VENV)/.installed
	$(PY) processor.py logs/

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: $(VENV)/.installed
	$(PY) -m pytest -q

test: lint unit

samples: $(VENV)/.installed
	$(PY) -m loglens.synth samples logs/

bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt
	$(PY) benchmarks/bench_accuracy.py
	$(PY) benchmarks/bench_formats.py
	$(PY) benchmarks/bench_anomalies.py
	$(PY) -m benchmarks.bench_parse
	$(PY) -m benchmarks.bench_templates
	$(PY) benchmarks/bench_throughput.py
	$(PY) benchmarks/bench_upload.py
	$(PY) benchmarks/bench_chaos.py
	$(PY) benchmarks/bench_api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
