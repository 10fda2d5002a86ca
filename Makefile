# gort: every dependency the tests need is installed by these targets into a
# cache outside the checkout (GORT_CACHE), never by hand.
SHELL := /bin/bash
GORT_CACHE ?= $(HOME)/.cache/gort
export GORT_CACHE
GO ?= go
ORT_VERSION := 1.30.0
export GORT_ORT_LIB ?= $(GORT_CACHE)/onnxruntime-$(ORT_VERSION)/libonnxruntime.so.1
ONNX_NODE ?= $(firstword $(wildcard ../shared/conformance/onnx-node) $(GORT_CACHE)/onnx-node-1.23.0)
# Absolute, because go test runs each package in its own folder.
export GORT_ONNX_NODE := $(abspath $(ONNX_NODE))

.PHONY: all build test demo ort proto testdata conformance bench fuzz clean-cache interop

all: build

build:
	$(GO) build -o bin/gort ./cmd/gort

# The ONNX Runtime CPU library, from the onnxruntime-node npm package.
ort: $(GORT_ORT_LIB)
$(GORT_ORT_LIB):
	scripts/fetch-ort.sh $(ORT_VERSION) "$(dir $(GORT_ORT_LIB))"

# Regenerate onnx/onnxpb from the .proto files of the pinned onnx wheel.
proto:
	scripts/gen-proto.sh

# The ONNX backend node tests: ../shared when present, else generated from
# the pinned onnx Python package into the cache.
testdata:
	@if [ -d "$(ONNX_NODE)" ]; then echo "testdata: $(ONNX_NODE)"; else scripts/gen-node-tests.sh "$(GORT_CACHE)/onnx-node-1.23.0"; fi

test: ort testdata
	CGO_ENABLED=1 $(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test ./...
	$(GO) test -race -run 'Concurrent|Subgraph|Cancel' ./runtime/ ./runtime/ort/
	$(MAKE) interop

demo: build ort
	bin/gort demo

# gort against PyTorch, transformers/optimum exports and onnxruntime (Python):
# a pinned virtualenv cached under GORT_CACHE, pytest, conformance/INTEROP.md.
interop:
	scripts/interop.sh

# gort vs ONNX Runtime on built-in models (bench/RESULTS.md).
bench: build ort
	scripts/bench.sh

# Every fuzz target for FUZZTIME each (a bounded run; corpora also run in make test).
fuzz:
	scripts/fuzz.sh

# Per-op report for both providers from one run. Expected failures make the
# run exit 1; the report is what this target is for (go test checks the list).
conformance: build ort testdata
	-bin/gort conformance --report conformance/REPORT.md "$(ONNX_NODE)" > /dev/null
	@test -s conformance/REPORT.md && tail -n +5 conformance/REPORT.md | head -4
