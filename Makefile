# Whistle: the two commands a new machine needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PY_SOURCES := whistle crypto tests bench migrations wsgi.py

.PHONY: run test lint typecheck pytest install translations catalog postgres browser-deps screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "python3 venv support is missing; installing it"; \
	  apt-get update -q && apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: set everything up (first time) and serve on http://127.0.0.1:5000
run: $(STAMP)
	$(BIN)/whistle init
	$(BIN)/whistle setup-link --base-url http://127.0.0.1:5000
	$(BIN)/gunicorn -c python:whistle.serving.gunicorn_conf --bind 127.0.0.1:5000 \
	  --workers 2 wsgi:app

## test: linters, type checks, the import rules and every test suite, on SQLite and PostgreSQL
test: $(STAMP) postgres browser-deps
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy
	$(BIN)/bandit -c pyproject.toml -r whistle crypto -q
	$(BIN)/lint-imports
	$(BIN)/python -m tests.audit_dependencies
	$(BIN)/python -m pytest -n 2 --dist worksteal -q

## browser-deps: Debian's chromium, axe-core (npm) and the Nu HTML Checker (npm vnu-jar, run by
## Debian's Java runtime) for the browser tests in tests/browser/, and poppler-utils' pdftoppm,
## which draws the case file PDF's first pages for a person to look at (and `make screenshots`).
## Without them those tests fail in CI and are skipped with a reason elsewhere.
AXE_VERSION := 4.14.1
AXE_STAMP := .cache/axe/.installed-$(AXE_VERSION)
VNU_VERSION := 26.9.27
VNU_STAMP := .cache/vnu/.installed-$(VNU_VERSION)

browser-deps: $(AXE_STAMP) $(VNU_STAMP)
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium for the browser tests"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	  || echo "chromium could not be installed"; }
	@command -v java >/dev/null || { echo "installing Debian's Java runtime for the Nu HTML Checker"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q default-jre-headless; } \
	  || echo "the Java runtime could not be installed"; }
	@command -v pdftoppm >/dev/null || { echo "installing poppler-utils to draw the case file PDF's pages"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q poppler-utils; } \
	  || echo "poppler-utils could not be installed"; }

$(AXE_STAMP):
	@command -v npm >/dev/null || { echo "installing npm to fetch axe-core"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; } || true; }
	@mkdir -p .cache/axe
	@if npm install --no-save --no-audit --no-fund --prefix .cache/axe axe-core@$(AXE_VERSION); \
	then touch $@; else echo "axe-core could not be fetched"; fi

# The jar ships inside the npm package (its postinstall script, which would fetch a Java
# runtime from elsewhere, is not run: Debian's is used).
$(VNU_STAMP):
	@command -v npm >/dev/null || { echo "installing npm to fetch the Nu HTML Checker"; \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; } || true; }
	@mkdir -p .cache/vnu
	@if npm install --no-save --no-audit --no-fund --ignore-scripts --prefix .cache/vnu vnu-jar@$(VNU_VERSION); \
	then touch $@; else echo "the Nu HTML Checker could not be fetched"; fi

## postgres: start the local PostgreSQL cluster if it is installed but down
postgres:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  if command -v pg_ctlcluster >/dev/null; then \
	    echo "starting local PostgreSQL"; \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start || true; \
	  fi; \
	fi

## catalog: re-extract translatable strings and update the Danish and English catalogs
catalog: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o whistle/translations/messages.pot --no-location --omit-header .
	$(BIN)/pybabel update -i whistle/translations/messages.pot -d whistle/translations --no-fuzzy-matching --omit-header
	$(BIN)/pybabel compile --use-fuzzy -d whistle/translations

# The catalogs carry no header (so they do not churn), which babel reads as "fuzzy"; no
# message is ever fuzzy (updates use --no-fuzzy-matching, and test_i18n refuses fuzzy ones).
translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d whistle/translations

## screenshots: the README's pictures (docs/screenshots/), shrunk from the browser tests' ones
screenshots: $(STAMP)
	$(BIN)/python -m tests.browser.screenshots_for_docs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
