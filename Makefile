# Entry points a person types. README names two of them: `make test` now,
# `make conformance` once the suites exist.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
GO ?= go

# Packages whose tests run under the race detector (everything but the
# model, which is single-threaded and whose exhaustive walk is CPU-bound).
RACE_PKGS = $(shell $(GO) list ./... | grep -v '/model$$')

.PHONY: test vet bench model

## test: vet, then every test; the model's tests print the cell count and the exhaustive-walk figures
test: vet
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -count=1 -v ./model/ | grep -vE '^(=== (RUN|PAUSE|CONT)|[[:space:]]*--- PASS)'
	$(GO) tool ginkgo version

vet:
	$(GO) mod download
	$(GO) vet ./...

## bench: the benchmarks whose figures README quotes
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## model: print the model's rule table as Markdown
model:
	$(GO) run ./cmd/kmsconform model
