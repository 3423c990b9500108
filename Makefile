# agentsim: set-up, run and test. Each target creates .venv from a Python >= 3.12 when missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# First interpreter on PATH that is Python >= 3.12 (pyenv's shims honour .python-version).
PYTHON ?= $(shell for p in python3.12 python3.13 python3.14 python3 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { echo $$p; break; }; done)
OUT ?= results/baseline
RUNS ?= 40

.PHONY: run viz test test-fast bench docs screenshots lint clean

$(PY):
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found on PATH" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dist,viz]'
	@touch $@

$(VENV)/.installed-dev: $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,dist,viz,explore,calibrate]'
	@touch $(VENV)/.installed $@

# One baseline run (results and figures), then baseline vs trusted release as a small paired
# Monte Carlo with its comparison figures.
run: $(VENV)/.installed
	$(VENV)/bin/agentsim run configs/baseline.yaml --out $(OUT) --overwrite
	rm -rf results/comparison
	$(VENV)/bin/agentsim compare configs/baseline.yaml configs/trusted_release.yaml \
		--runs $(RUNS) --out results/comparison
	$(VENV)/bin/agentsim plot results/comparison
	$(VENV)/bin/agentsim report results/comparison --out results/comparison/report.html

viz: $(VENV)/.installed
	$(VENV)/bin/agentsim viz configs/baseline.yaml

# The whole suite (slow multi-seed tests included; benchmarks are run by `make bench`).
test: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n 2 -m 'not benchmark and not screenshots'

# The fast default selection (tests marked slow are skipped).
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n 2

# The model (default run, pure-Mesa reference, scaling, memory), then batches and start-up.
bench: $(VENV)/.installed-dev
	$(PY) experiments/benchmarks/bench_model.py
	$(PY) experiments/benchmarks/bench_montecarlo.py

docs: $(VENV)/.installed
	$(PY) -m agentsim.docgen docs/parameters.md

# The user guide's screenshots (docs/images/*.png), taken by the browser tests in Chromium.
screenshots: $(VENV)/.installed-dev
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| { echo "error: make screenshots needs Chromium: apt-get install chromium" >&2; exit 2; }
	AGENTSIM_SCREENSHOTS_DIR=docs/images $(PY) -m pytest -q tests/test_screenshots.py -m screenshots

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
