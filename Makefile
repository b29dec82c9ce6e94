# Branch Sync: the two commands a newcomer needs are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: venv services demo test unit compat compat-clean wheel soak bench screenshots lint clean

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
	$(PY) -m mypy

# The tests that need no service (money, sale rules, protocol, config, the apply rule...),
# in seconds; the service URLs point nowhere, so a test that reached for one would fail.
unit: venv
	SYNC_TEST_DB_ROOT=mysql+pymysql://nobody@127.0.0.1:1 SYNC_TEST_AMQP=amqp://nobody:none@127.0.0.1:1/%2F \
		$(PY) -m pytest -q tests/unit

# Everything: the unit tier, then against the real services the integration, fault and GUI tests.
test: services lint unit
	$(PY) -m pytest --ignore=tests/unit

# The delivery, capture, fault, provision, TLS, day close, alert and catalogue tests against RabbitMQ 4.0 and MariaDB 11.8
# from Debian 13 (trixie), started from a debootstrap root in build/compat on their own
# ports (devtools/compat.py); the root is cached in /var/cache/branch-sync-compat.  Needs root.
compat: venv
	$(PY) -m devtools.compat

compat-clean:
	rm -rf build/compat

# dist/branch_sync-<version>-py3-none-any.whl, to install with pip or pipx (docs/DEPLOY.md).
wheel: venv
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist .

# Longer fault runs than `make test` affords: the random-fault state machine with
# new scenarios every run (SYNC_SOAK_EXAMPLES of them, 40 steps each), then the
# chosen fault scenarios SOAK_ROUNDS times over.
SOAK_ROUNDS ?= 5
soak: services
	SYNC_SOAK=1 $(PY) -m pytest -q tests/test_chaos.py
	SYNC_FUZZ_EXAMPLES=300 $(PY) -m pytest -q tests/test_poison.py
	for i in $$(seq $(SOAK_ROUNDS)); do $(PY) -m pytest -q tests/test_faults.py tests/test_head_office.py tests/test_histories.py || exit 1; done

bench: services
	$(PY) -m bench

screenshots: services
	$(PY) -m devtools.screenshots
	$(PY) -m devtools.day_close_screenshots

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
