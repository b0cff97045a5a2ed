# make run   — create .venv if needed, install, open the app on the embedded digits
# make test  — the same set-up plus test extras, then every test (unit, AppTest, browser)
# make bench — speed comparisons, printed as ratios and written to benchmarks/RESULTS.md
# make bench-cpu-wheel — a second venv with the CPU-only torch wheel, so `make bench` also
#                         measures memory as a hosted deployment would run

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
CPU_VENV ?= .venv-cpu
# The CPU-only torch a hosted deployment installs. Where pytorch.org is out of reach but a CPU
# wheel sits in a local pip index (our dev machines: `torch==2.13.0`), pass CPU_TORCH=...
CPU_TORCH ?= torch --index-url https://download.pytorch.org/whl/cpu

.PHONY: run test bench bench-cpu-wheel clean

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

# Lint and the import contracts first: seconds, and a broken layer says so before 7 minutes of tests.
test: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

bench: $(VENV)/.test-installed
	$(PY) -m benchmarks.run $(if $(wildcard $(CPU_VENV)/.installed),--cpu-wheel-python $(CPU_VENV)/bin/python)

# Only what the memory measurement runs: the app's requirements without torch/torchvision
# (torchvision from PyPI would pull the CUDA torch back in), plus Playwright to watch the page.
bench-cpu-wheel: $(CPU_VENV)/.installed

$(CPU_VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(CPU_VENV)
	$(CPU_VENV)/bin/python -m pip install --quiet $(CPU_TORCH)
	grep -v '^torch' requirements.txt > $(CPU_VENV)/requirements-without-torch.txt
	$(CPU_VENV)/bin/python -m pip install --quiet -r $(CPU_VENV)/requirements-without-torch.txt playwright
	touch $@

clean:
	rm -rf $(VENV) $(CPU_VENV) .pytest_cache
