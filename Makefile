# vlmjudge: two commands do all set-up on a fresh machine.
#   make demo   judge examples/pairs.jsonl with the demo model and print the verdicts
#   make test   the whole test suite
SHELL := /bin/bash
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR
VLMJUDGE_CACHE ?= $(HOME)/.cache/vlmjudge
export VLMJUDGE_CACHE
BIN := $(CARGO_TARGET_DIR)/release/vlmjudge
DEMO_MODEL = $(VLMJUDGE_CACHE)/models/SmolLM2-135M-Instruct.Q4_1.gguf
FIXTURES = $(VLMJUDGE_CACHE)/fixtures
export VLMJUDGE_DEMO_MODEL = $(DEMO_MODEL)

.PHONY: setup model build fixtures demo test bench clean-demo

setup:
	@scripts/setup-system.sh

model: setup
	@python3 scripts/fetch_demo_model.py >/dev/null

build: setup
	cargo build --release --locked

# Generated multimodal test models (seeded random weights; see `vlmjudge dev fixture`).
fixtures: model build
	$(BIN) dev fixture --kind tiny-vlm --out $(FIXTURES)/tiny-vlm
	$(BIN) dev fixture --kind smollm2-vision --out $(FIXTURES)/smollm2-vision

demo: model build
	@rm -f $(VLMJUDGE_CACHE)/demo/verdicts.jsonl $(VLMJUDGE_CACHE)/demo/image-verdicts.jsonl
	$(BIN) judge --model $(DEMO_MODEL) --pairs examples/pairs.jsonl --out $(VLMJUDGE_CACHE)/demo/verdicts.jsonl
	@$(BIN) show $(VLMJUDGE_CACHE)/demo/verdicts.jsonl --pairs examples/pairs.jsonl
	@echo
	@echo "Image pairs: the demo model with a generated (random) vision encoder, so only the plumbing is real:"
	@$(BIN) dev fixture --kind smollm2-vision --out $(FIXTURES)/smollm2-vision >/dev/null
	$(BIN) judge --model $(DEMO_MODEL) --mmproj $(FIXTURES)/smollm2-vision/mmproj.gguf --pairs examples/image_pairs.jsonl --out $(VLMJUDGE_CACHE)/demo/image-verdicts.jsonl
	@$(BIN) show $(VLMJUDGE_CACHE)/demo/image-verdicts.jsonl --pairs examples/image_pairs.jsonl

test: model
	cargo build --release --locked --benches
	cargo test --release --locked

bench: model
	cargo bench --locked --bench judge_throughput
	cargo bench --locked --bench image_throughput
