# Two entry points: `make test` and `make demo`. Both build .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/tracker demo

# LISTINGS=path/to/arxiv-listings-2025.jsonl.gz benchmarks the full file; default: the bundled sample.
LISTINGS ?=
bench: $(STAMP)
	$(BIN)/python bench/classify.py $(LISTINGS)
	$(BIN)/python bench/poll.py $(if $(LISTINGS),--listings $(LISTINGS))

clean:
	rm -rf $(VENV) out data .pytest_cache
