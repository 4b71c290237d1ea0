# make lab   set up (once) and open the course in JupyterLab
# make test  set up (or update) the same environment and run every test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(wildcard notebooks/*.ipynb solutions/*.ipynb exercises/*.ipynb)

.PHONY: lab test install exercises bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "echo-lab needs Python 3.10 or newer; this is " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(BIN)/jupyter trust $(NOTEBOOKS)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00-index.ipynb

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

exercises: install
	$(BIN)/python tools/exercises.py

bench: install
	$(BIN)/python -m echo_lab bench

clean:
	rm -rf $(VENV) .pytest_cache
