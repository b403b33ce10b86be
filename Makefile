# Two commands on a fresh machine:
#   make run    start the demo app (SQLite, in-process marketplace simulator, dev signing key)
#   make test   run the whole test suite (installs Chromium for the browser tests when root)
# and the CLI from the venv they make, no venv active: .venv/bin/flask --app wsgi users token EMAIL
PYTHON ?= python3
VENV := .venv
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test venv clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
	scripts/compile-translations

run: venv
	$(VENV)/bin/flask --app wsgi run --host $(HOST) --port $(PORT)

test: venv
	scripts/test $(ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
