# Two commands do all the set-up on a fresh machine: `make run-pipeline` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: install run-pipeline test docs lint secrets-baseline lock format status list-providers bench download-artifacts compact clean
.PHONY: test-orchestrators test-airflow test-dagster test-prefect test-temporal dbt dbt-postgres
WORKFLOWS := $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs verify every file's sha256 against the hashed locks (see `make lock`). uv installs
# them several times faster than pip: it is installed first (pinned, hash-checked, from
# requirements-uv.lock); where uv cannot be installed or run, pip installs the same locks.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes
UV_INSTALL  := $(BIN)/uv pip install --quiet --require-hashes --python $(BIN)/python
install_locks = { $(PIP_INSTALL) -r requirements-uv.lock && $(UV_INSTALL) $(1); } || \
	{ echo "uv unavailable: installing with pip"; $(PIP_INSTALL) $(1); }

# The optional extras (requirements.txt's `# extra: NAME` pins), each with its lock.
EXTRAS ?=
KNOWN_EXTRAS := $(patsubst requirements-extra-%.lock,%,$(wildcard requirements-extra-*.lock))
UNKNOWN_EXTRAS = $(filter-out $(KNOWN_EXTRAS),$(EXTRAS))

$(VENV)/.runtime: requirements.lock requirements-uv.lock | $(BIN)/python
	$(call install_locks,-r requirements.lock)
	touch $@

$(VENV)/.dev: requirements.lock requirements-dev.lock requirements-uv.lock | $(BIN)/python
	$(call install_locks,-r requirements-dev.lock)
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime  ## Install the core, plus optional extras: make install EXTRAS="aws delta"
	$(if $(UNKNOWN_EXTRAS),$(error EXTRAS: no extra named $(UNKNOWN_EXTRAS) (known: $(KNOWN_EXTRAS))))
	$(if $(EXTRAS),$(call install_locks,$(foreach x,$(EXTRAS),-r requirements-extra-$(x).lock)))

run-pipeline: $(VENV)/.runtime  ## Run the pipeline (offline demo when no credentials are set)
	$(BIN)/python pipelines/run_pipeline.py $(ARGS)

test: $(VENV)/.dev  ## Run the whole test suite
	$(BIN)/python -m pytest $(ARGS)

docs: $(VENV)/.dev  ## Build the documentation site (docs/, mkdocs.yml) into site/; strict, offline
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Each orchestrator's adapter tests run in a venv of its own (.venv-<name>), installed from its
# pinned requirements-<name>.txt and .lock; the steps they run use the project's venv.
ORCHESTRATORS := airflow dagster prefect temporal

.venv-%/.installed: requirements-%.txt requirements-%.lock
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	echo '*' > .venv-$*/.gitignore
	.venv-$*/bin/python -m pip install --quiet --disable-pip-version-check \
		-c requirements-$*.lock -r requirements-$*.txt
	touch $@
.PRECIOUS: .venv-%/.installed  # a pattern rule's target would otherwise be deleted after use

$(addprefix test-,$(ORCHESTRATORS)): test-%: .venv-%/.installed $(VENV)/.runtime
	ORCHESTRATOR_TESTS=$* .venv-$*/bin/python -m pytest tests/orchestration/$* \
		--confcutdir=tests/orchestration -p no:cacheprovider $(ARGS)

test-orchestrators: $(addprefix test-,$(ORCHESTRATORS))  ## Adapter tests: Airflow, Dagster, Prefect, Temporal

# dbt (docs/dbt.md) runs in a venv of its own, .venv-dbt, installed from requirements-dbt.lock
# (every package pinned with its sha256; --no-deps since the lock holds them all). Regenerate
# the lock after changing requirements-dbt.txt with: .venv/bin/uv pip compile --generate-hashes
# --python-version 3.11.5 -o requirements-dbt.lock requirements-dbt.txt
.venv-dbt/.installed: requirements-dbt.lock
	rm -rf .venv-dbt
	$(PYTHON) -m venv .venv-dbt
	echo '*' > .venv-dbt/.gitignore
	.venv-dbt/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps -r requirements-dbt.lock
	.venv-dbt/bin/python -m pip check --disable-pip-version-check
	touch $@

# The offline demo lake dbt reads unless DBT_LAKE names another (a folder with _manifests/).
DBT_DEMO := .cache/dbt-lake
DBT_LAKE ?= $(DBT_DEMO)/demo
$(DBT_DEMO)/demo/_manifests: | $(VENV)/.runtime
	$(BIN)/python pipelines/run_pipeline.py --offline --datasets products,orders --data-dir $(DBT_DEMO)

# "yes" when the lake holds the orders dataset's committed tables (the order models build then).
DBT_ORDER_TABLES = $(foreach t,orders order_lines,$(abspath $(DBT_LAKE))/$(t)/_manifests/*.json \
	$(abspath $(DBT_LAKE))/$(t)/normalized/*/*/*.parquet)
DBT_HAS_ORDERS = ls $(DBT_ORDER_TABLES) >/dev/null 2>&1 && echo yes || echo no

# No network: no `dbt deps` (the project uses no packages), no usage statistics.
dbt: .venv-dbt/.installed $(DBT_LAKE)/_manifests  ## Build and test the dbt models on the demo lake (DBT_LAKE=path for another)
	cd dbt && DO_NOT_TRACK=1 DBT_SEND_ANONYMOUS_USAGE_STATS=false DBT_LAKE=$(abspath $(DBT_LAKE)) \
		DBT_LAKE_ORDERS=$$($(DBT_HAS_ORDERS)) \
		../.venv-dbt/bin/dbt build --profiles-dir . --target duckdb $(ARGS)

# The same models on the PostgreSQL sink: a throwaway server (tests/postgres_server.py, Debian's
# postgresql package), the lake loaded by the sink's own code, dbt build --target postgres.
dbt-postgres: .venv-dbt/.installed $(DBT_LAKE)/_manifests $(VENV)/.dev  ## The dbt models on the PostgreSQL sink, loaded from the demo lake (a throwaway server)
	PYTHONPATH=$(CURDIR) $(BIN)/python .ci/dbt_postgres.py $(abspath $(DBT_LAKE)) $(ARGS)

lint: $(VENV)/.dev  ## ruff, workflow checks (zizmor, schemas), secret scan (.secrets.baseline)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/zizmor --offline --persona auditor $(WORKFLOWS) .github/dependabot.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOWS)
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(BIN)/python .ci/scan_secrets.py

# requirements.txt and requirements-dev.txt hold the pins; .ci/lock.py writes the hashed locks
# (core, one per extra, dev, uv) that the Makefile and the workflows install. Run after changing
# a pin: uv resolves against PyPI, and tests/test_supply_chain.py fails while a lock disagrees.
lock: $(VENV)/.dev  ## Regenerate the hashed locks: requirements.lock, requirements-extra-*.lock, -dev, -uv
	$(BIN)/python .ci/lock.py $(BIN)/uv

# After reviewing that every new finding is a fake: list the findings of the tracked files
# as known (keeps their is_secret labels and the custom plugins of .ci/secret_plugins.py).
secrets-baseline: $(VENV)/.dev  ## Refresh .secrets.baseline (see docs/security.md)
	$(BIN)/detect-secrets scan --baseline .secrets.baseline

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

status: $(VENV)/.runtime  ## The last runs as a table
	$(BIN)/python pipelines/run_pipeline.py --status

list-providers: $(VENV)/.runtime
	$(BIN)/python pipelines/run_pipeline.py --list-providers

# dlt, for the benchmark's comparison (bench/README.md), in a venv of its own, .venv-dlt, installed
# from bench/requirements-dlt.lock (every package pinned with the sha256 of its PyPI file; --no-deps
# since the lock holds them all). Regenerate the lock after changing bench/requirements-dlt.txt
# with: .venv/bin/uv pip compile --generate-hashes --python-version 3.11.5
# -o bench/requirements-dlt.lock bench/requirements-dlt.txt
.venv-dlt/.installed: bench/requirements-dlt.lock
	rm -rf .venv-dlt
	$(PYTHON) -m venv .venv-dlt
	echo '*' > .venv-dlt/.gitignore
	.venv-dlt/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps -r bench/requirements-dlt.lock
	.venv-dlt/bin/python -m pip check --disable-pip-version-check
	touch $@

bench: $(VENV)/.runtime .venv-dlt/.installed  ## Issue 13's benchmark against dlt (ARGS="--sizes 10000 --repeat 1" for a quick one)
	DLT_PYTHON=$(CURDIR)/.venv-dlt/bin/python $(BIN)/python bench/bench_targets.py $(ARGS)

download-artifacts: $(VENV)/.runtime  ## Merge the last runs' GitHub artifacts into data/ (ARGS="--runs 3")
	$(BIN)/python pipelines/run_pipeline.py download-artifacts $(ARGS)

compact: $(VENV)/.runtime  ## Delta tables: optimize/compaction and vacuum (ARGS="--retention-hours 168")
	$(BIN)/python pipelines/run_pipeline.py compact $(ARGS)

clean:
	rm -rf $(VENV) $(addprefix .venv-,$(ORCHESTRATORS) dbt dlt) dbt/target dbt/logs .cache .pytest_cache .ruff_cache
