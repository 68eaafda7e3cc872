# Two-command quick start: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
# Open MPI (ULFM) beside the mpich wheel: both wheels bring an mpiexec, so it gets its own venv
OMPI       ?= .venv-ompi
OMPI_STAMP := $(OMPI)/.installed-ulfm

.PHONY: demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(OMPI_STAMP): pyproject.toml
	$(PYTHON) -m venv $(OMPI)
	$(OMPI)/bin/python -m pip install --quiet --upgrade pip
	$(OMPI)/bin/python -m pip install --quiet -e ".[ulfm]"
	touch $(OMPI_STAMP)

demo: $(STAMP)
	$(PY) -m gradcode demo

test: $(STAMP) $(OMPI_STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy  # the public API as typed code calls it: [tool.mypy] in pyproject.toml
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_decode.py
	$(PY) benchmarks/bench_accuracy.py
	$(PY) benchmarks/bench_runtime.py
	$(PY) benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) $(OMPI) build dist .pytest_cache .ruff_cache .mypy_cache
