# Herald: the two commands are `make run` and `make test`; both set up .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install when the dependency list changes.
INSTALLED := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: run test chromium lint format typecheck unit integration e2e infra synth openapi bench clean

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Herald needs Python 3.11 or newer" or 0)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

## run: start Herald locally on http://127.0.0.1:8000 (HERALD_PORT to change)
run: $(INSTALLED)
	$(BIN)/herald dev

## test: lint, type-check, then every test (unit, integration, e2e, infra)
test: lint chromium
	$(BIN)/pytest

## chromium: Debian's Chromium for the end-user page tests, installed when missing (as root,
## or through sudo); Playwright drives it, so no browser is downloaded from elsewhere.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends chromium; }

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: $(INSTALLED)
	$(BIN)/pytest tests/unit
integration: $(INSTALLED)
	$(BIN)/pytest tests/integration
e2e: $(INSTALLED)
	$(BIN)/pytest tests/e2e
infra: $(INSTALLED)
	$(BIN)/pytest tests/infra

## synth: write the CloudFormation template to cdk.out/ (no Docker needed)
synth: $(INSTALLED)
	$(BIN)/python app.py

## openapi: regenerate the committed OpenAPI document from the code
openapi: $(INSTALLED)
	$(BIN)/python -m local.openapi > docs/openapi.json

## bench: print the benchmark figures quoted in the README
##        (ONLY=imports: import times alone; BATCH_SIZE: the end-to-end batch, default 50000)
BATCH_SIZE ?= 50000
bench: $(INSTALLED)
	$(BIN)/python -m bench --batch-size $(BATCH_SIZE) $(ONLY)

clean:
	rm -rf $(VENV) cdk.out .mypy_cache .pytest_cache .ruff_cache
