# neobank_cfn — run `make help` for the targets. Everything installs into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASE_STAMP := $(VENV)/.installed-base
TEST_STAMP := $(VENV)/.installed-test
PIP_FLAGS := --quiet --disable-pip-version-check

.DEFAULT_GOAL := help
.PHONY: help templates test lint params-check docs fmt clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BASE_STAMP): setup.py constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -e .
	touch $@

$(TEST_STAMP): $(BASE_STAMP)
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -e '.[test]'
	touch $@

templates: $(BASE_STAMP) ## Write every template into templates/ (sets up .venv first)
	$(BIN)/neobank-cfn build --out templates

test: $(TEST_STAMP) ## Lint the code, then run every test (sets up .venv first)
	$(BIN)/ruff check neobank_cfn tests setup.py
	$(BIN)/ruff format --check neobank_cfn tests setup.py
	$(BIN)/python -m pytest

lint: templates ## cfn-lint every template in templates/ (0 errors, warnings, informational)
	$(BIN)/neobank-cfn lint templates

docs: $(BASE_STAMP) ## Regenerate the README's parameter table
	$(BIN)/neobank-cfn docs

params-check: $(BASE_STAMP) ## Check params/*.json against the root template
	$(BIN)/neobank-cfn params check params/*.json

fmt: $(TEST_STAMP) ## Format and auto-fix the code with ruff
	$(BIN)/ruff format neobank_cfn tests setup.py
	$(BIN)/ruff check --fix neobank_cfn tests setup.py

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info build
