# The README's commands. Everything runs in a virtual environment ($(VENV), default .venv),
# created from requirements.txt on first use; only Python 3.11 is needed beforehand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# nbgrader shells out to alembic: the environment's bin/ must come first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup demo test lint lab release selfcheck clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

## demo: release the course, autograde three example students, print the grade table
demo: setup
	$(BIN)/python -m autograder demo

## test: lint, unit tests, and the self-check of every chapter on real nbgrader
test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check autograder tests benchmarks nbgrader_config.py

## lab: open the course in JupyterLab (student versions are in exercises/ after `make release`)
lab: setup
	$(BIN)/jupyter lab

release: setup
	$(BIN)/python -m autograder release

selfcheck: setup
	$(BIN)/python -m autograder selfcheck

clean:
	rm -rf release submitted autograded feedback exercises .demo gradebook.db
