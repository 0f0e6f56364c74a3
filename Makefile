# Two commands do all the set-up: `make run` and `make test`. Both build .venv when missing or
# when pyproject.toml / constraints.txt changed, and are quick the second time.
#
# Settings come from make's command line only: `make run SECTIONS="2.3 3.1" QUICK=1 SEED=3
# OUT=/tmp/r`. A variable of the same name in the environment is ignored (an exported
# OUT=$HOME must never become `make clean`'s target). Values reach the shell single-quoted, so
# none is run as a command, and are checked first: QUICK is 1/yes/true (on) or 0/no/false or
# empty (off), SEED a whole number, and `make clean` deletes OUT only inside this checkout.
SETTINGS := PYTHON OUT SECTIONS QUICK BASELINE SEED PYTEST_ARGS
$(foreach v,$(SETTINGS),$(if $(findstring environment,$(origin $(v))),$(eval undefine $(v))))

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

# $(call quote,TEXT): TEXT as one single-quoted shell word (a ' in it becomes '\'').
quote = '$(subst ','\'',$(1))'

QUICK_ON := 1 yes true Yes True YES TRUE
QUICK_OFF := 0 no false No False NO FALSE
quick_flag = $(if $(filter-out $(QUICK_ON) $(QUICK_OFF),$(QUICK))$(word 2,$(QUICK)),$(error \
  QUICK=$(QUICK): use 1, yes or true for a quick run; 0, no, false or nothing for a full one),$(if \
  $(filter $(QUICK_ON),$(QUICK)),--quick))

no_digits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst \
  7,,$(subst 8,,$(subst 9,,$(1)))))))))))
seed_flag = $(if $(strip $(SEED)),$(if $(word 2,$(SEED))$(call no_digits,$(SEED)),$(error \
  SEED=$(SEED): a seed is a whole number in 0..4294967295),--seed $(call quote,$(SEED))))

out_arg = $(if $(strip $(OUT)),--out $(call quote,$(OUT)),$(error OUT is empty: name a folder))

# `make clean` deletes OUT only when it lies inside this checkout (after resolving `..` and
# symbolic links), is neither the checkout nor .git, and holds no file git tracks.
ROOT := $(realpath $(CURDIR))
OUT_PATHS = $(abspath $(OUT)) $(realpath $(OUT))
clean_refusal = $(strip \
  $(if $(filter-out 1,$(words $(OUT)))$(word 2,$(ROOT)),OUT and the checkout's path must be \
    single words,$(if $(filter-out $(ROOT)/%,$(OUT_PATHS)),it is not inside this checkout \
    ($(ROOT)),$(if $(filter $(ROOT)/.git $(ROOT)/.git/%,$(OUT_PATHS)),it is git's folder,$(if \
    $(shell git ls-files -- $(call quote,$(OUT)) 2>/dev/null | head -n 1),it holds files git \
    tracks)))))
check_clean_out = $(if $(clean_refusal),$(error make clean: refusing to delete OUT=$(OUT): \
  $(clean_refusal)))

.PHONY: run test bench data venv lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(call quote,$(PYTHON)) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,notebooks]'
	touch $(STAMP)

data:
	@sh tools/ensure-fashion-mnist.sh

# The runner stops at Ctrl-C or SIGTERM (exit status 130 / 143), with an index that says so.
run: $(STAMP) data
	$(PY) -m experiments $(foreach s,$(SECTIONS),$(call quote,$(s))) $(out_arg) $(quick_flag) $(seed_flag)

# The tests run on every core (pytest-xdist; a test file's tests stay in one worker, so its
# fixtures run once). The numerical tests run twice: with the CPU's own kernels, then with XLA
# limited to SSE4.2 kernels, so that a tolerance that holds for one CPU's kernels only fails on
# any machine. PYTEST_ARGS are pytest's own words (e.g. PYTEST_ARGS="-k 'index and not slow'").
test: $(STAMP) data
	$(PY) -m pytest -n auto --dist loadfile $(PYTEST_ARGS)
	XLA_FLAGS="$$XLA_FLAGS --xla_cpu_max_isa=SSE4_2" $(PY) -m pytest -q -m numerical -n auto --dist loadfile $(PYTEST_ARGS)

# jaxhw vs the d2l-style loops and PyTorch, each in its own process -> $(OUT)/bench.json, bench.png.
# BASELINE=<git rev> times that commit's jaxhw in the same rounds (docs/bench.md).
# PyTorch is measured when the optional extra is installed: $(PY) -m pip install -c constraints.txt -e '.[bench]'
bench: $(STAMP) data
	$(PY) -m experiments.bench $(out_arg) $(quick_flag) $(if $(BASELINE),--baseline $(call quote,$(BASELINE)))

lint: $(STAMP)
	$(PY) -m ruff check jaxhw experiments tests

clean:
	$(check_clean_out)
	rm -rf -- $(VENV) $(call quote,$(OUT)) .pytest_cache
