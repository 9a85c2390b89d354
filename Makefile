# Two commands do all the set-up on a fresh machine (each creates .venv if it is missing):
#   make start   install, then train a small model on tiny Shakespeare and print generated text
#   make test    install, then run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Downloaded corpora stay inside the project (git-ignored); a folder of local copies beside the
# project, if there is one, serves as the mirror (see README: "Corpora").
export TEXTGEN_DATA_DIR ?= $(CURDIR)/data/cache
export TEXTGEN_CORPUS_MIRROR ?= $(firstword $(wildcard $(CURDIR)/../shared/corpora))

.PHONY: start test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test]'
	touch $(STAMP)

start: $(STAMP)
	$(BIN)/textgen train shakespeare --max-minutes 2 --epochs 4 --sample-len 100 --dropout 0.1 \
		--display-length 80 --save-path models/shakespeare-quick
	$(BIN)/textgen generate models/shakespeare-quick --length 300 --temperatures 0.25,0.5,0.75

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) models .pytest_cache
