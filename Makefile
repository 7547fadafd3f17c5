# The two commands of the README:
#   make book   build the Jupyter Book, executing every chapter   -> _build/html
#   make test   unit tests, nbval over every chapter notebook, then the site rendered
#               from the committed outputs and checked in Chromium (tests/browser)
# Each creates .venv when it is missing and installs what it needs into it; the book
# also needs npm (its JavaScript is installed from js/package-lock.json) and the browser
# test Debian's chromium: both are installed with apt-get when missing and run as root.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# PyTorch is installed first and on its own so that pip never picks a newer build
# than the one asked for. GPU users may set e.g. TORCH_PACKAGES="torch torchvision".
TORCH_PACKAGES ?= torch==2.14.1 torchvision==0.29.1
# force: execute every notebook while building; off: render the stored outputs
# (CI uses off right after nbval has executed every notebook, see .ci/run).
EXECUTE ?= force
PYTEST_ARGS ?=
NBVAL_ARGS ?=
# The repository the published site's launch buttons (Binder, Colab) open the chapters
# from: `make book MVK_REPO_URL=https://github.com/<you>/mvk-tutorial MVK_REPO_BRANCH=main`
# (or the same variables in the environment). Written into the build's copy of _config.yml.
MVK_REPO_URL ?= https://github.com/mvk-tutorial/mvk-tutorial
MVK_REPO_BRANCH ?= main

# Kernels ("python3" runs `python` from PATH) must use the project environment.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export TQDM_DISABLE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help book test unit nbval browser site-deps browser-deps api student key grade execute clean

help:
	@echo "make book     build the book (executes the notebooks; EXECUTE=off renders stored outputs)"
	@echo "make test     unit tests + nbval over book/ + the site checked in Chromium"
	@echo "make browser  render the site (EXECUTE=off) and check it in Chromium"
	@echo "make key      write the instructor key (prose-exercise solutions) to exercises/key"
	@echo "make student  write student copies of the exercise notebooks to exercises/"
	@echo "make execute  re-execute every chapter in place (refresh the committed outputs)"

$(VENV)/.stamp-torch:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_PACKAGES)
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-torch pyproject.toml
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.stamp-book: $(VENV)/.stamp-torch pyproject.toml
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $@

# npm installs the site's JavaScript (MathJax, require.js, the widget manager);
# mvk_tutorial.site_assets copies it into _build/html (the site works offline).
site-deps:
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	    && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; } \
	    || { echo "make book needs npm (Node.js): install it" >&2; exit 1; }
	test -f js/node_modules/.package-lock.json -a js/node_modules/.package-lock.json -nt js/package-lock.json \
	    || npm ci --prefix js --ignore-scripts --no-audit --no-fund

browser-deps:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	    && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
	    || echo "no chromium and it cannot be installed here: tests/browser will say why it skips" >&2

book: $(VENV)/.stamp-book site-deps
	@mkdir -p _build
	sed -e 's/^\(  execute_notebooks:\).*/\1 $(EXECUTE)/' \
	    -e 's|^\(  url:\).*|\1 $(MVK_REPO_URL)|' -e 's|^\(  branch:\).*|\1 $(MVK_REPO_BRANCH)|' \
	    _config.yml > _build/_config.build.yml
	@start=$$(date +%s); \
	$(VENV)/bin/jupyter-book build . -W -n --keep-going --config _build/_config.build.yml; \
	status=$$?; echo "book build (EXECUTE=$(EXECUTE)): $$(( $$(date +%s) - start )) s"; exit $$status

# Unit tests, every chapter executed by nbval, then the site (rendered from the outputs
# nbval has just checked, EXECUTE=off) in a real browser with the network blocked.
test: unit nbval browser

unit: $(VENV)/.stamp-book
	$(PY) -m pytest tests/ --ignore=tests/browser $(PYTEST_ARGS)

browser: $(VENV)/.stamp-book browser-deps
	$(MAKE) book EXECUTE=off
	MVK_SITE_DIR=_build/html MVK_REPO_URL=$(MVK_REPO_URL) MVK_REPO_BRANCH=$(MVK_REPO_BRANCH) \
	    $(PY) -m pytest tests/browser $(PYTEST_ARGS)

nbval: $(VENV)/.stamp-book
	$(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg book/ $(NBVAL_ARGS)

student: $(VENV)/.stamp-test
	$(VENV)/bin/mvk exercises build exercises --book book

key: $(VENV)/.stamp-test
	$(VENV)/bin/mvk exercises key exercises/key --book book

# Grade a folder of submissions (one sub-folder per student): make grade SUBMISSIONS=dir
SUBMISSIONS ?= submissions
grade: $(VENV)/.stamp-test
	$(VENV)/bin/mvk exercises grade $(SUBMISSIONS) --out $(SUBMISSIONS)/report.csv

execute: $(VENV)/.stamp-test
	$(VENV)/bin/mvk book execute book/*.ipynb

clean:
	rm -rf _build exercises js/node_modules
