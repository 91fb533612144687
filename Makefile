# Set-up, run and test. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JS_STAMP := tests/js/node_modules/.installed
PYTEST_ARGS ?=

.PHONY: run test test-js bench soak node screenshots conformance chromium servers icu clean

$(STAMP): requirements.txt requirements-dev.txt | icu
	$(PYTHON) -c 'import sys; sys.exit("Python 3.10 or newer is needed") if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(STAMP)
	$(BIN)/python wsgi.py

test: $(STAMP) chromium servers node $(JS_STAMP)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# The page's protocol module (chat/static/chat-client.js) under Node's test runner, against
# live servers; `make test` runs them too, through tests/test_js_client.py. Their one
# package (ws: Node 20 has no WebSocket) is pinned in tests/js/package-lock.json.
$(JS_STAMP): tests/js/package.json tests/js/package-lock.json | node
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-js: $(STAMP) node $(JS_STAMP)
	CHAT_PYTHON=$(BIN)/python node --test tests/js/

# PyICU (the look-alike names of UTS #39) builds against the system's ICU.
icu:
	@if ! pkg-config --exists icu-uc icu-i18n 2>/dev/null || ! command -v g++ >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libicu-dev pkg-config g++; \
	  else \
	    echo "the server needs ICU to build PyICU: run 'sudo apt-get install libicu-dev pkg-config g++'" >&2; exit 1; \
	  fi; \
	fi

# The browser tests drive Debian's Chromium; Playwright cannot download one here.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "make test needs Chromium: run 'sudo apt-get install chromium' and try again" >&2; exit 1; \
	  fi; }

# The scale-out tests start their own Redis and PostgreSQL servers from Debian's packages,
# and tests/live/test_nginx.py its own nginx (Debian's is /usr/sbin/nginx, often off PATH).
PG_BIN = $(firstword $(wildcard /usr/lib/postgresql/*/bin/postgres))
NGINX_BIN = $(firstword $(wildcard /usr/sbin/nginx) $(shell command -v nginx))
servers:
	@if ! command -v redis-server >/dev/null 2>&1 || [ -z "$(PG_BIN)" ] || [ -z "$(NGINX_BIN)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server postgresql nginx; \
	  else \
	    echo "make test needs redis-server, PostgreSQL and nginx: run 'sudo apt-get install redis-server postgresql nginx'" >&2; exit 1; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache var tests/js/node_modules

# The README's pictures of the page; Chinese text and emoji need Debian's Noto fonts.
screenshots: $(STAMP) chromium
	@fc-list | grep -q "Noto Sans CJK" && fc-list | grep -q "Noto Color Emoji" || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-cjk fonts-noto-color-emoji; \
	  else \
	    echo "make screenshots needs fonts: run 'sudo apt-get install fonts-noto-cjk fonts-noto-color-emoji'" >&2; exit 1; \
	  fi; }
	$(BIN)/python docs/screenshots.py

# The benchmark: the server beside two baselines, driven by bench/load.js (Node, no packages).
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

# The load generator is Node (no packages): make bench runs it, and tests/test_bench.py checks it.
# The client module's tests (tests/js) need npm as well, for their one package.
node:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm; \
	  else \
	    echo "make test and make bench need Node.js and npm: run 'sudo apt-get install nodejs npm' and try again" >&2; exit 1; \
	  fi; \
	fi

bench: node servers $(BENCH_STAMP)
	$(BIN)/python bench/run.py

# Ten minutes of churn against one server: its RSS, open files and greenlets must come back,
# and no acknowledged message be lost. SOAK_SECONDS=60 make soak tries it short.
soak: $(STAMP)
	$(BIN)/python bench/soak.py

# RFC 6455 conformance: Autobahn|Testsuite runs on Python 2.7 only (pyenv has one here).
PYTHON27 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/2.7*/bin/python2.7) $(shell command -v python2.7))
AUTOBAHN := var/autobahn
AUTOBAHN_STAMP := $(AUTOBAHN)/.installed

$(AUTOBAHN_STAMP): conformance/requirements-py27.txt
	@test -n "$(PYTHON27)" || { echo "make conformance needs Python 2.7 (set PYTHON27=/path/to/python2.7)" >&2; exit 1; }
	$(PYTHON27) -m pip install --quiet --disable-pip-version-check --target $(AUTOBAHN) -r conformance/requirements-py27.txt
	touch $@

conformance: $(STAMP) $(AUTOBAHN_STAMP)
	$(BIN)/python conformance/run.py $(PYTHON27) $(AUTOBAHN)
