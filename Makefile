# Two commands do all the set-up on a fresh machine: `make run-pipeline` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run-pipeline test lint format status list-providers bench download-artifacts clean
WORKFLOWS := $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run-pipeline: $(VENV)/.runtime  ## Run the pipeline (offline demo when no credentials are set)
	$(BIN)/python pipelines/run_pipeline.py $(ARGS)

test: $(VENV)/.dev  ## Run the whole test suite
	$(BIN)/python -m pytest $(ARGS)

lint: $(VENV)/.dev  ## ruff check + ruff format --check + workflow checks (zizmor, schema)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/zizmor --offline $(WORKFLOWS)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOWS)

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

status: $(VENV)/.runtime  ## The last runs as a table
	$(BIN)/python pipelines/run_pipeline.py --status

list-providers: $(VENV)/.runtime
	$(BIN)/python pipelines/run_pipeline.py --list-providers

bench: $(VENV)/.dev  ## Replay benchmark (10k, 100k, 1M synthetic Shopify records)
	$(BIN)/python bench/bench_replay.py $(ARGS)

download-artifacts: $(VENV)/.runtime  ## Merge the last runs' GitHub artifacts into data/ (ARGS="--runs 3")
	$(BIN)/python pipelines/run_pipeline.py download-artifacts $(ARGS)

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
