# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test install lint bench bench-decoders clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) scripts/bootstrap.sh requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Server plus 8 simulated beds on virtual serial ports, embedded SQLite: http://127.0.0.1:8000/
demo: $(STAMP)
	$(VENV)/bin/spu-monitor demo $(ARGS)

## Whole test suite (installs what it needs: venv, dependencies, Debian's chromium and
## postgresql; the PostgreSQL tests start their own throwaway server on loopback).
test: $(STAMP) lint
	scripts/ensure-chromium.sh
	scripts/ensure-postgres.sh
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## Static checks: ruff on everything, mypy --strict on the product code.
lint: $(STAMP)
	$(VENV)/bin/ruff check monitor drivers simulators benchmarks tests
	$(VENV)/bin/mypy --strict monitor drivers simulators

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/throughput.py

## Decoder throughput per protocol, as multiples of the line rate (docs/performance.md).
bench-decoders: $(STAMP)
	$(VENV)/bin/python benchmarks/decoders.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
