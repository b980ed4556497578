# Two commands: `make run` (the demo) and `make test` (the whole suite).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: run test lint bench clean

# setuptools boxes a notice about editable installs ("Editable installation. Please be
# careful with folders ..."): information, not a problem of this project, so not shown.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Ports and paths come from the environment (make passes it on): FERRY_PORT=9000 make run
run: $(STAMP)
	$(BIN)/ferry demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider -n 2 --dist loadgroup; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
