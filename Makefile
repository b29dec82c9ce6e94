# Branch Sync: the two commands a newcomer needs are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: venv services demo test soak bench screenshots lint clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# MySQL/MariaDB and RabbitMQ at the configured URLs, or started (docker compose) if they do not answer.
services: venv
	$(PY) -m devtools.services

# The Head Office window and three branch windows, with the seed's sample sales.
demo: services
	$(PY) -m devtools.demo

lint: venv
	$(PY) -m ruff check .

# Everything, against the real services: unit, integration, fault and GUI tests.
test: services lint
	$(PY) -m pytest

# Longer fault runs than `make test` affords: the random-fault state machine with
# new scenarios every run (SYNC_SOAK_EXAMPLES of them, 40 steps each), then the
# chosen fault scenarios SOAK_ROUNDS times over.
SOAK_ROUNDS ?= 5
soak: services
	SYNC_SOAK=1 $(PY) -m pytest -q tests/test_chaos.py
	for i in $$(seq $(SOAK_ROUNDS)); do $(PY) -m pytest -q tests/test_faults.py tests/test_head_office.py tests/test_histories.py || exit 1; done

bench: services
	$(PY) -m bench

screenshots: services
	$(PY) -m devtools.screenshots

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
