# Two-command quick start: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
# Open MPI (ULFM) beside the mpich wheel: both wheels bring an mpiexec, so it gets its own venv
OMPI       ?= .venv-ompi
OMPI_STAMP := $(OMPI)/.installed-ulfm

# sshd for the multi-host MPI tests (tests/test_multihost.py): the system's openssh-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench clean sshd

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

sshd:
	@command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openssh-server >/dev/null; }

test: $(STAMP) $(OMPI_STAMP) sshd
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
