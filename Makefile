# The README's commands. Everything runs from the project's own virtualenv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format check-migrations bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

## make run: the whole stack in the foreground on the embedded default (Ctrl-C stops it)
run: $(STAMP)
	DJANGO_SETTINGS_MODULE=project.settings_debug $(BIN)/python -m corelib.devstack

## make test: lint, migration check, then the whole suite against MariaDB and Redis
test: $(STAMP) lint check-migrations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-migrations: $(STAMP)
	LOG_DIR=$${TMPDIR:-/tmp}/miniprogram-check-logs DJANGO_SETTINGS_MODULE=project.settings_debug \
		$(BIN)/python manage.py makemigrations --check --dry-run

## make bench: load-test the service beside its ceiling and peers; writes bench/results/<date>.md and .png
## (make bench QUICK=1: a smoke run under two minutes, written as <date>-quick.md)
bench: $(STAMP)
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) var logs pids socks static
