# Two commands do all the set-up: `make run` and `make test`. Both build .venv when missing or
# when pyproject.toml / constraints.txt changed, and are quick the second time.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= results
SECTIONS ?= all
QUICK ?=
BASELINE ?=
SEED ?=
PYTEST_ARGS ?=

.PHONY: run test bench data venv lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,notebooks]'
	touch $(STAMP)

data:
	@sh tools/ensure-fashion-mnist.sh

run: $(STAMP) data
	$(PY) -m experiments $(SECTIONS) --out $(OUT) $(if $(QUICK),--quick,) $(if $(SEED),--seed $(SEED),)

# The tests run on every core (pytest-xdist; a test file's tests stay in one worker, so its
# fixtures run once). The numerical tests run twice: with the CPU's own kernels, then with XLA
# limited to SSE4.2 kernels, so that a tolerance that holds for one CPU's kernels only fails on
# any machine.
test: $(STAMP) data
	$(PY) -m pytest -n auto --dist loadfile $(PYTEST_ARGS)
	XLA_FLAGS="$$XLA_FLAGS --xla_cpu_max_isa=SSE4_2" $(PY) -m pytest -q -m numerical -n auto --dist loadfile $(PYTEST_ARGS)

# jaxhw vs the d2l-style loops and PyTorch, each in its own process -> $(OUT)/bench.json, bench.png.
# BASELINE=<git rev> times that commit's jaxhw in the same rounds (docs/bench.md).
# PyTorch is measured when the optional extra is installed: $(PY) -m pip install -c constraints.txt -e '.[bench]'
bench: $(STAMP) data
	$(PY) -m experiments.bench --out $(OUT) $(if $(QUICK),--quick,) $(if $(BASELINE),--baseline $(BASELINE),)

lint: $(STAMP)
	$(PY) -m ruff check jaxhw experiments tests

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
