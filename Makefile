# Keel — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# make run BILLING=sandbox: billing against the offline Stripe sandbox on SANDBOX_PORT (docs/billing.md).
BILLING ?=
SANDBOX_PORT ?= 12111
# pytest-xdist workers for make test / test-fast (`auto`: one per CPU; 0 runs in one process).
TEST_WORKERS ?= auto

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast fuzz lint fmt bench loadtest migrate seed clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed ## Create the virtualenv and install Keel with its dev tools

migrate: install ## Apply database migrations (also creates the job schedules)
	$(PY) manage.py migrate --no-input

seed: migrate ## Load the demo users and organization (idempotent)
	$(PY) manage.py seed_demo

run: seed ## Set up and serve Keel (HTTP + WebSockets + job worker) on HOST:PORT (BILLING=sandbox: with the Stripe sandbox)
	$(PY) manage.py serve --host $(HOST) --port $(PORT) $(if $(BILLING),$(if $(filter sandbox,$(BILLING)),--billing-sandbox --sandbox-port $(SANDBOX_PORT),$(error BILLING=$(BILLING): the only value is BILLING=sandbox)))

test: install ## Set up and run the whole test suite
	$(PY) -m pytest -n $(TEST_WORKERS) --dist load $(PYTEST_ARGS)

test-fast: install ## Run the tests without browser and multi-process tests
	$(PY) -m pytest -n $(TEST_WORKERS) --dist load -m "not browser and not integration" $(PYTEST_ARGS)

FUZZ_EXAMPLES ?= 100
FUZZ_SEED ?= $(shell date +%s)
FUZZ_ROLES ?= user,owner,staff,anonymous
fuzz: install ## Schemathesis campaign: FUZZ_EXAMPLES cases per operation and role (random seed)
	@echo "make fuzz FUZZ_SEED=$(FUZZ_SEED) FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) reproduces this run"
	KEEL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) KEEL_FUZZ_SEED=$(FUZZ_SEED) KEEL_FUZZ_ROLES=$(FUZZ_ROLES) \
		$(PY) -m pytest tests/test_schemathesis.py -rP -n 2 $(PYTEST_ARGS)

lint: install ## ruff lint + format check, import layers (import-linter), types (mypy)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

fmt: install ## Format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: migrate ## Run the benchmarks and write docs/performance.md
	$(PY) manage.py bench --output docs/performance.md

# make loadtest: Keel over real HTTP (uvicorn, PostgreSQL, Redis) against a bare-Django ceiling.
# DATABASE_URL / REDIS_URL default to the local servers (started here when absent, as .ci/run
# does), in a database and Redis index of its own. Production settings with throwaway secrets.
LOADTEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/keel_loadtest
LOADTEST_REDIS_URL ?= redis://127.0.0.1:6379/2
LOADTEST_ARGS ?=
loadtest: install ## Load benchmark over HTTP vs a bare-Django ceiling → docs/performance.md
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
	@if [ -z "$$DATABASE_URL" ]; then bash .ci/services.sh start && \
		{ createdb -h 127.0.0.1 -U postgres keel_loadtest 2>/dev/null || true; }; fi
	DATABASE_URL=$${DATABASE_URL:-$(LOADTEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(LOADTEST_REDIS_URL)} \
	ENVIRONMENT=production DEBUG=false SECURE_SSL_REDIRECT=false KEEL_IGNORE_DOTENV=1 \
	SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))') \
	JWT_SECRET=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(48))') \
		$(PY) manage.py loadtest --output docs/performance.md $(LOADTEST_ARGS)

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var
