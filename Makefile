# The two commands of the README:
#   make lab    JupyterLab with the extension (the local backend works with no batch system)
#   make test   installs everything the tests need (Python, npm, Debian packages, daemons) and
#               runs every suite: lint, pytest (real SLURM/SGE/Saturn emulator), jest, Galata.
# Install steps are skipped when their inputs have not changed (stamp files in .venv/).

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PYTHON ?= python3
export PATH := $(BIN):$(PATH)
export JUPYTER_PLATFORM_DIRS := 1
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test install system-deps testbeds lint pytest jest ui-test bench clean

lab: install
	$(BIN)/jupyter lab $(ALLOW_ROOT)

test: install system-deps testbeds lint pytest jest ui-test

install: $(VENV)/.installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Python packages, node packages (through the build hook) and the built labextension.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml package.json yarn.lock
	$(BIN)/python -m pip install -q hatchling hatch-nodejs-version hatch-jupyter-builder editables "jupyterlab>=4.4,<5"
	# A stale copy left by an earlier build would be packed twice (hatchling refuses that).
	rm -f dask_cluster_launcher/labextension/install.json
	$(BIN)/python -m pip install -q --no-build-isolation -e ".[test,lint]"
	$(BIN)/jupyter labextension develop . --overwrite
	touch $@

system-deps:
	bash testbeds/install.sh

# One SLURM and one Grid Engine for the whole run (pytest and the UI tests share them), and a
# Dask Gateway on loopback for the UI tests (pytest starts its own).
testbeds: system-deps install
	bash testbeds/start-slurm.sh
	bash testbeds/start-sge.sh
	bash testbeds/start-pbs.sh
	bash testbeds/start-lsf.sh
	bash testbeds/start-htcondor.sh
	bash testbeds/start-gateway.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/jlpm lint:check

pytest: install testbeds
	$(BIN)/python -m pytest

jest: install
	$(BIN)/jlpm test

ui-tests/node_modules/.installed: ui-tests/package.json ui-tests/yarn.lock
	cd ui-tests && $(BIN)/jlpm install
	touch $@

ui-test: install testbeds ui-tests/node_modules/.installed
	cd ui-tests && CI=1 $(BIN)/jlpm playwright test

bench: install testbeds
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) node_modules ui-tests/node_modules lib dask_cluster_launcher/labextension
