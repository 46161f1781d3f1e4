# The README's commands. Everything runs from the project's own virtualenv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency, transitive ones included, pinned with hashes (`make lock` writes it from requirements.txt).
LOCK := requirements.lock

.PHONY: run admin test prerequisites lint typecheck format check-migrations fuzz bench soak clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	touch $(STAMP)

venv: $(STAMP)

## make lock: re-pin requirements.lock after editing requirements.txt (uv, the version pinned there)
lock: | $(BIN)/python
	$(BIN)/pip install --quiet "$$(grep -E '^uv==' requirements.txt)"
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
		--custom-compile-command "make lock" --output-file $(LOCK) requirements.txt

## make run: the whole stack in the foreground on the embedded default (Ctrl-C stops it)
run: $(STAMP)
	DJANGO_SETTINGS_MODULE=project.settings_debug $(BIN)/python -m devtools.devstack

## make admin: create a superuser for /admin/ (Django's tables live on the `admin` database alias)
admin: $(STAMP)
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-project.settings_debug} \
		$(BIN)/python manage.py createsuperuser --database admin $(ADMIN_ARGS)

## make test: the programs the suite needs (installed from Debian's packages when missing), lint, type check,
## migration check, then the whole suite against MariaDB and Redis
test: $(STAMP) prerequisites lint typecheck check-migrations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make fuzz: schemathesis against a real Gunicorn for FUZZ_SECONDS (default 600; `make test` runs it for 60)
fuzz: $(STAMP)
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} $(BIN)/python -m pytest tests/api/test_fuzz.py -s $(PYTEST_ARGS)

prerequisites: $(STAMP)
	$(BIN)/python -m devtools.prerequisites

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy on corelib/ and apps/, configured leniently in pyproject.toml
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-migrations: $(STAMP)
	LOG_DIR=$${TMPDIR:-/tmp}/miniprogram-check-logs DJANGO_SETTINGS_MODULE=project.settings_debug \
		$(BIN)/python manage.py makemigrations --check --dry-run

## make bench: load-test the service beside its ceiling and peers; writes bench/results/<date>.md and .png
## (make bench QUICK=1: a smoke run under two minutes, written as <date>-quick.md;
##  make bench MEMORY=1: only the memory case, the whole stack idle then 10 min under mixed load, ~13 min,
##  written as <date>-memory.md)
bench: $(STAMP)
	$(if $(MEMORY),,$(BIN)/pip install --quiet -r bench/requirements.txt)
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,) $(if $(MEMORY),--memory-only,)

## make soak: the whole stack on a private MariaDB and Redis under mixed load, a HUP every minute and one
## Redis restart; writes bench/results/soak-<date>.md and .png (make soak SOAK_SECONDS=120: the CI run)
SOAK_SECONDS ?= 600
soak: $(STAMP)
	$(BIN)/pip install --quiet "$$(grep -o '^matplotlib==[^ ]*' bench/requirements.txt)"
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS)

clean:
	rm -rf $(VENV) var logs pids socks static
