# mcas-sentinel: `make run` runs the connector on the local default stack,
# `make test` runs every test. Both install what they need (Azurite from npm,
# Go modules through the module proxy) on a fresh machine.

GO      ?= go
BIN     := bin/handler
AZURITE := tools/azurite/node_modules/.bin/azurite-table
# The tree-sitter Bicep grammar the infra tests parse the templates with.
INFRA_TOOLS := infra/tools/node_modules/.package-lock.json
GOFILES := $(shell find handler internal schema cmd -name '*.go' -o -name '*.json' 2>/dev/null) go.mod go.sum

export GOFLAGS ?= -mod=readonly
# go.mod's toolchain line (go1.26.10) fixes standard-library vulnerabilities
# that govulncheck finds reachable in go1.26.8; `auto` fetches it through the
# module proxy even where the image sets GOTOOLCHAIN=local, and keeps a newer Go.
export GOTOOLCHAIN := auto
TOOLS_MOD := tools/go/go.mod
FUZZTIME  ?= 5
DURATION  ?= 1h
# The Go vulnerability database make test checks against, pinned so a run is
# reproducible; bump it to pick up new advisories (make vulncheck uses the live one).
export VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018

.PHONY: all build test test-race test-e2e run clean vet fmt-check tools lint staticcheck fuzz soak bench vulncheck vulncheck-offline

all: build

build: $(BIN)

# The path host.json's customHandler.description.defaultExecutablePath names.
$(BIN): $(GOFILES)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./handler

bin/localrun: $(GOFILES)
	$(GO) build -o $@ ./cmd/localrun

$(AZURITE): tools/azurite/package.json tools/azurite/package-lock.json
	cd tools/azurite && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(INFRA_TOOLS): infra/tools/package.json infra/tools/package-lock.json
	cd infra/tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

tools: $(AZURITE) $(INFRA_TOOLS)

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool -modfile=$(TOOLS_MOD) staticcheck ./...

lint: vet staticcheck

# Every fuzz target for FUZZTIME seconds each; a real hunt: make fuzz FUZZTIME=10m
fuzz:
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

test: tools build fmt-check lint vulncheck-offline fuzz
	$(MAKE) --no-print-directory -j2 test-race test-e2e

# Every package but internal/e2e, under the race detector.
test-race: tools
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/internal/e2e$$')

# The end-to-end tests, beside test-race: they mostly wait (paced calls, run
# budgets, leases left by killed processes). Their test binary is built
# without -race: it hosts the stand-ins, which under the detector took half
# of make test, and which get race coverage from their own packages and from
# internal/bench, soak and localrun. The handler processes the concurrency
# tests start are built with -race all the same (see internal/e2e).
test-e2e: tools build
	$(GO) test -count=1 -timeout 20m ./internal/e2e

# Not in make test. make soak DURATION=2m SOAK_FLAGS="-seed 42 -kill-every 30s -v"
soak: $(AZURITE) build
	$(GO) run ./cmd/soak -duration $(DURATION) $(SOAK_FLAGS)

# Throughput against the API rate limit, CPU and memory per 100k activities
# against a baseline program, and readiness, on the local stack (about 40 min;
# results in docs/benchmarks.md). Not part of make test.
# make bench BENCH_FLAGS=-quick   |   BENCH_FLAGS="-sizes 10k,100k -reps 5"
bench: $(AZURITE)
	$(GO) run ./cmd/bench $(BENCH_FLAGS)

# govulncheck against vuln.go.dev (needs that network), or offline (in make
# test): a database built from the golang.org/x/vulndb module, fetched through
# the module proxy.
vulncheck:
	VULNDB_VERSION= GO=$(GO) scripts/vulncheck.sh
vulncheck-offline:
	GO=$(GO) scripts/vulncheck.sh --offline

# make run VOLUME=20000 RATE=5 SCHEDULE="0 * * * * *" LOOKBACK=48h RPM=30 VERBOSE=1
# The built program, not go run: go run exits 1 when Ctrl-C stops it, even
# though localrun treats the interrupt as a clean stop.
run: $(AZURITE) build bin/localrun
	bin/localrun $(if $(VOLUME),-volume=$(VOLUME)) $(if $(RATE),-rate=$(RATE)) \
		$(if $(SCHEDULE),-schedule="$(SCHEDULE)") $(if $(LOOKBACK),-lookback=$(LOOKBACK)) \
		$(if $(RPM),-rpm=$(RPM)) $(if $(VERBOSE),-v)

clean:
	rm -rf bin .local
