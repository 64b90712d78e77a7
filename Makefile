# Mailroom: `make run` for the demo, `make test` for the suite, `make bench` for figures.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint fmt bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || "$$(scripts/find-python)" -m venv $(VENV)
	@echo "Installing Mailroom and its dependencies into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -m pip install --quiet '.[test]' 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -c "import django, wagtail, celery, anymail" || { echo "Installation failed; see the pip output above." >&2; exit 1; }
	@touch $(STAMP)

run: install
	@$(BIN)/python manage.py migrate --noinput -v0
	@$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Mailroom is starting: open http://127.0.0.1:8000/admin/ (login shown above)."
	@echo "  Mail lands in var/outbox/ as .eml files. Ctrl-C stops web, worker and scheduler."
	@echo ""
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

test: install lint
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite refuses to run on a lint or format error; `make fmt` fixes what can be fixed.
lint: install
	@$(BIN)/ruff check --quiet . && $(BIN)/ruff format --check --quiet . \
	  || { echo "Lint or format errors above; 'make fmt' fixes most of them." >&2; exit 1; }

fmt: install
	@$(BIN)/ruff check --fix --quiet . ; $(BIN)/ruff format --quiet .

# Real PostgreSQL and Redis; defaults match .ci/run. Prints one JSON line per figure.
bench: install
	@DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mailroom} \
	 REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(BIN)/python -m bench $(ONLY)

clean:
	rm -rf $(VENV) var
