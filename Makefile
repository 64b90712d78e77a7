# Mailroom: `make run` for the demo, `make test` for the suite.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install clean

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

test: install
	@$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var
