# The two commands: `make run` serves the app, `make test` passes every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
PORT ?= 5000
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test lint serve worker bench system-packages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-app: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.installed-app

# The web server and, beside it, the task queue's worker (SMS, reminders, clean-ups): one
# command; the worker stops with the server.
run: $(VENV)/.installed-app
	$(FLASK) init-db
	$(FLASK) seed-demo --if-empty
	$(BIN)/python -m services.worker run-beside $(FLASK) run --host 127.0.0.1 --port $(PORT)

# Production: migrate, then gunicorn with several workers (gunicorn.conf.py, docs/deploy.md).
# Needs SECRET_KEY; set DATABASE_URL (PostgreSQL) and REDIS_URL for several workers.
# The task queue worker runs as its own service: `make worker` (docs/deploy/binhai-worker.service).
serve: $(VENV)/.installed-app
	$(FLASK) init-db
	APP_ENV=production PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py

worker: $(VENV)/.installed-app
	APP_ENV=production $(FLASK) worker

# The district-scale benchmark (bench/): SQLite and 20,000 persons by default, e.g.
# make bench BENCH_ARGS="--persons 1000000 --db postgresql"; `python -m bench --help` lists the options.
bench: $(VENV)/.installed-app
	$(BIN)/python -m bench $(BENCH_ARGS)

system-packages:
	./scripts/install-system-packages.sh

# The browser tests' tools from the npm registry (axe-core), exactly as package-lock.json pins them.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# Every test runs twice, on SQLite (TEST_DATABASE_URL emptied, whatever the environment says) and
# on PostgreSQL (TEST_DATABASE_URL), the two side by side (scripts/test-both-databases.sh).
test: system-packages $(VENV)/.installed-dev node_modules/.installed lint
	./scripts/test-both-databases.sh "$(TEST_DATABASE_URL)"

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
