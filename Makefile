# The README's two commands are `make demo` and `make test`; both set everything up first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lighter-installed

.PHONY: setup test demo lint format docs bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# An unpinned torch would pull whatever is newest: pin torch==2.13.0 when torch is missing (README: which build that is).
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

test: setup
	$(PY) -m pytest tests -n auto --dist loadfile -m "not serial"
	$(PY) -m pytest tests -m serial

demo: setup
	$(VENV)/bin/lighter fit projects/digits/experiments/digits.yaml

lint: setup
	$(PY) -m ruff check src tests benchmarks projects
	$(PY) -m ruff format --check src tests benchmarks projects

format: setup
	$(PY) -m ruff format src tests benchmarks projects
	$(PY) -m ruff check --fix src tests benchmarks projects

docs: setup
	$(VENV)/bin/mkdocs build --strict

bench: setup
	$(PY) benchmarks/config_resolution.py
	$(PY) benchmarks/step_overhead.py
	$(PY) benchmarks/predict_memory.py
	$(PY) benchmarks/predict_writing.py

clean:
	rm -rf $(VENV) site .pytest_cache
