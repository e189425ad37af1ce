# Two commands for a fresh clone: `make run` (the demo city) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test bench lint schema clean-db serve-prod

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

## The demo city on embedded defaults: SQLite, in-memory channel layer, eager tasks; server,
## scheduler and simulator side by side. DATABASE_URL / REDIS_URL are honoured when set.
run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(MANAGE) migrate --noinput
	DEBUG=$${DEBUG:-true} $(MANAGE) seed_demo --if-empty --history-days 30
	DEBUG=$${DEBUG:-true} $(MANAGE) run_city --host $(HOST) --port $(PORT)

## The whole suite; uses DATABASE_URL and REDIS_URL when set (CI sets both). One pytest-xdist
## worker per core (TEST_WORKERS=0 runs it in this process, e.g. to use a debugger).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## ruff, then the layer contracts in .importlinter (which app may import which).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

schema: $(STAMP)
	DEBUG=true $(MANAGE) spectacular --validate --fail-on-warn --file var/openapi.yaml

bench: $(STAMP)
	$(BIN)/python -m bench

clean-db:
	rm -f var/wuxi_parking.sqlite3 var/wuxi_parking.sqlite3-wal var/wuxi_parking.sqlite3-shm

## Production on this machine: migrate, collectstatic, WORKERS daphne workers (ports PORT, PORT+1, …),
## a Celery worker and beat, against DATABASE_URL / REDIS_URL (default: local PostgreSQL and Redis).
## Ctrl-C stops them all. See docs/deploy.md.
WORKERS ?= 2
serve-prod: $(STAMP)
	$(BIN)/python deploy/serve_prod.py --workers $(WORKERS) --host $(HOST) --port $(PORT)
