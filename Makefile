# make run   — create .venv if needed, install, open the app on the embedded digits
# make test  — the same set-up plus test extras, then every test (unit, AppTest, browser)
# make bench — speed comparisons, printed as ratios and written to benchmarks/RESULTS.md

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.app-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

run: $(VENV)/.app-installed
	$(PY) -m streamlit run dashboard/app.py --server.port $(PORT)

test: $(VENV)/.test-installed
	$(PY) -m pytest

bench: $(VENV)/.test-installed
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache
