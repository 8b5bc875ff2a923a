# Entry points a person types. README names two of them: `make conformance`
# (the main job) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
GO ?= go

# Packages whose tests run under the race detector (everything but the
# model, which is single-threaded and whose exhaustive walk is CPU-bound).
RACE_PKGS = $(shell $(GO) list ./... | grep -v '/model$$')

.PHONY: conformance browser test vet bench model gate-moto report plan planned fuzz mutants mutate clients

## conformance: every cell, scenario and constraint against the embedded emulator; results in reports/out/
conformance: browser
	$(GO) run ./cmd/kmsconform run --target emulator --report-dir reports/out

# browser installs Debian's chromium for the HTML report's screenshot when no
# Chromium is found and we are root, saying so first and how to skip it;
# elsewhere, or with KMSCONFORM_SKIP_BROWSER=1 (which run also reads), the
# report is written without the screenshot. A failed install is a note too.
browser:
	@if [ "$${KMSCONFORM_SKIP_BROWSER:-}" = 1 ]; then \
		echo "KMSCONFORM_SKIP_BROWSER=1: no chromium is installed and the HTML report gets no screenshot"; \
	elif { [ -n "$${KMSCONFORM_CHROMIUM:-}" ] || command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium (apt-get, with its dependencies) for the HTML report's screenshot."; \
		echo "To skip it: make $(or $(MAKECMDGOALS),conformance) KMSCONFORM_SKIP_BROWSER=1 (the report is then written without the screenshot)."; \
		{ DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >/dev/null; } || \
		echo "chromium could not be installed: the HTML report will have no screenshot"; \
	else echo "chromium is not installed (and this is not root): the HTML report will have no screenshot"; fi

## gate-moto: the same suites against moto (on the machine image), started on a free loopback port and stopped by PID;
## fails on any failing cell reports/expectations/moto.yml does not list
gate-moto: .bin/kmsconform
	@port=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	moto_server -H 127.0.0.1 -p $$port >/dev/null 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' EXIT; \
	for i in $$(seq 150); do curl -s -o /dev/null http://127.0.0.1:$$port/moto-api/ && break; sleep 0.2; done; \
	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test ./.bin/kmsconform run --target endpoint \
		--endpoint http://127.0.0.1:$$port --region us-east-1 --report-dir reports/out/moto \
		--expect reports/expectations/moto.yml

.bin/kmsconform: FORCE
	$(GO) build -o .bin/kmsconform ./cmd/kmsconform

FORCE:

## test: vet, then every test; the model's tests print the cell count and the exhaustive-walk figures; the last line says all passed
test: vet
	$(GO) test -race -count=1 -timeout 20m $(RACE_PKGS) || { echo "make test: FAILED (the race-detector tests above)"; exit 1; }
	$(GO) test -count=1 -v ./model/ | grep -vE '^(=== (RUN|PAUSE|CONT)|[[:space:]]*--- PASS)' || { echo "make test: FAILED (the model's tests above)"; exit 1; }
	$(GO) tool ginkgo version
	@echo "make test: all tests passed"

vet:
	$(GO) mod download
	$(GO) vet ./...

## clients: the real-client test alone (the JS SDK v3, boto3 and the AWS CLI against kmsconform serve;
## it runs npm ci for the pinned @aws-sdk/client-kms itself)
clients:
	$(GO) test -count=1 -run TestClients -v ./cmd/kmsconform/

## bench: the benchmarks whose figures README quotes
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## report: the Markdown summary of the last make conformance
report:
	$(GO) run ./cmd/kmsconform report render reports/out/compat.json --format md

## plan: the planned walks for a sandbox account (nothing runs)
plan:
	$(GO) run ./cmd/kmsconform plan --target aws --summary

## planned: the planned mode against the embedded emulator
planned:
	$(GO) run ./cmd/kmsconform run --planned --report-dir reports/out/planned

## fuzz: the rapid machine and the load test long, the printed program compiled, wire fuzzing for a minute each
fuzz:
	$(GO) test -count=1 -run 'TestModelVsTarget|TestLoad|TestShrunkProgram' ./fuzz/ -rapid.checks=2000 -load.ops=2000 -fuzz.compile -v
	$(GO) test -run '^$$' -fuzz FuzzWire -fuzztime 60s ./targets/emulator/
	$(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime 60s ./targets/xksproxy/

## mutants: the rapid machine and the conformance suite against every emulator mutant; the kill table
mutants:
	$(GO) run ./cmd/mutants

## mutate: every one-token mutant (negated or shifted comparison, && and || swapped, a dropped !, arithmetic, ++/--)
## of the emulator's behaviour code against the suites; the score and the survivors (cmd/mutate/equivalent.txt excluded)
mutate:
	$(GO) run ./cmd/mutate

## model: print the model's rule table as Markdown
model:
	$(GO) run ./cmd/kmsconform model
