# The two commands of the README:
#   make book   build the Jupyter Book, executing every chapter   -> _build/html
#   make test   unit tests, then nbval over every chapter notebook
# Each creates .venv when it is missing and installs what it needs into it.
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

# Kernels ("python3" runs `python` from PATH) must use the project environment.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export TQDM_DISABLE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help book test unit nbval student execute clean

help:
	@echo "make book     build the book (executes the notebooks; EXECUTE=off renders stored outputs)"
	@echo "make test     unit tests + nbval over book/"
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

book: $(VENV)/.stamp-book
	@mkdir -p _build
	sed 's/^\(  execute_notebooks:\).*/\1 $(EXECUTE)/' _config.yml > _build/_config.build.yml
	$(VENV)/bin/jupyter-book build . -W -n --keep-going --config _build/_config.build.yml

test: unit nbval

unit: $(VENV)/.stamp-test
	$(PY) -m pytest tests/ $(PYTEST_ARGS)

nbval: $(VENV)/.stamp-test
	$(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg book/ $(NBVAL_ARGS)

student: $(VENV)/.stamp-test
	$(VENV)/bin/mvk exercises build exercises --book book

execute: $(VENV)/.stamp-test
	$(VENV)/bin/mvk book execute book/*.ipynb

clean:
	rm -rf _build exercises
