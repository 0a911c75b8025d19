# fupin — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test test-only lint format tools system deps browser messages bench serve clean

## demo: install, migrate the embedded SQLite database, load a demo county, serve on :8000
## with a background-job worker (`fupin db_worker`) beside the server; Ctrl-C stops both
## (the worker is also stopped by the shell's EXIT trap however the server ends).
demo: deps
	$(RUN) fupin migrate --no-input
	$(RUN) fupin demo --if-empty
	@echo "fupin is at http://$(HOST):$(PORT)/  (Ctrl-C stops it and its job worker)"
	@$(RUN) fupin db_worker --no-reload --no-startup-delay --verbosity 0 & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(RUN) fupin runserver $(HOST):$(PORT)

## test: install everything, lint, type-check, run the whole suite (browser test included)
test: deps browser lint test-only

test-only: deps
	$(RUN) pytest -q $(PYTEST_ARGS)

lint: deps
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy fupin engine

format: deps
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

tools:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv

deps: tools system
	$(UV) sync --frozen --quiet

## The system libraries WeasyPrint draws PDFs with (Pango, HarfBuzz's subsetter), from Debian.
PDF_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
system:
	@ldconfig -p | grep -q 'libpangoft2-1.0.so.0' && ldconfig -p | grep -q 'libharfbuzz-subset.so.0' || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_LIBS) >/dev/null; \
	  else echo "missing $(PDF_LIBS) and this is not root: printed booklets (PDF) will not work"; fi; }

## Debian's Chromium for the browser tests; Playwright never downloads a browser here.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and this is not root: the browser test will be skipped"; fi; }

## messages: extract new strings into the zh-Hans catalogue (msgids are English), compile it
messages: deps
	cd fupin && $(RUN) django-admin makemessages -l zh_Hans --no-obsolete
	cd fupin && $(RUN) django-admin compilemessages -l zh_Hans

bench: deps
	$(RUN) python -m benchmarks

serve: deps
	$(RUN) fupin runserver $(HOST):$(PORT)

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
