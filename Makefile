# Two commands do all set-up on a fresh machine (Python >= 3.11, pip, make):
#   make demo   -- the main job (reproduces the source papers' results, quick mode)
#   make test   -- the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[all,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/benign reproduce all --quick --out demo-output

test: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[all,bench]"
	$(BIN)/python benchmarks/solvers.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
