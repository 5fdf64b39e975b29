# Build entry points. Everything generated goes to build/ and .venv/ (both git-ignored).
#   make venv        .venv with the pinned host packages (requirements.txt)
#   make wasi-deps   numpy and Pillow cross-compiled for wasm32-wasi -> build/wasi/site-packages
#   make test        the test suite (README's test command)
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Host tools the recipes call (ninja, cython, componentize-py) come from the venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
W := build/wasi
SITE := $(W)/site-packages

.PHONY: all venv wasi-deps test clean
all: wasi-deps

venv: $(VENV)/.done
$(VENV)/.done: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

# --- numpy and Pillow for wasm32-wasi (recipes in wasi/) --------------------------------
$(W)/.toolchain: wasi/toolchain.sh wasi/fetch.py wasi/pyconfig.py wasi/sources.lock
	wasi/toolchain.sh
	touch $@

$(W)/.numpy: $(W)/.toolchain $(VENV)/.done wasi/bin/wasm-cc $(wildcard wasi/numpy/* wasi/numpy/*/*)
	wasi/numpy/build.sh
	touch $@

$(W)/.pillow: $(W)/.toolchain $(VENV)/.done wasi/bin/wasm-cc $(wildcard wasi/pillow/* wasi/pillow/*/*)
	wasi/pillow/build.sh
	touch $@

wasi-deps: $(W)/.numpy $(W)/.pillow

test: venv wasi-deps
	$(PY) -m pytest -q tests

clean:
	rm -rf build
