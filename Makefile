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

.PHONY: all build test run clean vet fmt-check tools

all: build

build: $(BIN)

# The path host.json's customHandler.description.defaultExecutablePath names.
$(BIN): $(GOFILES)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./handler

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

test: tools build fmt-check vet
	$(GO) test -race -count=1 -timeout 15m ./...

# make run VOLUME=20000 RATE=5 SCHEDULE="0 * * * * *" LOOKBACK=48h RPM=30 VERBOSE=1
run: $(AZURITE) build
	$(GO) run ./cmd/localrun $(if $(VOLUME),-volume=$(VOLUME)) $(if $(RATE),-rate=$(RATE)) \
		$(if $(SCHEDULE),-schedule="$(SCHEDULE)") $(if $(LOOKBACK),-lookback=$(LOOKBACK)) \
		$(if $(RPM),-rpm=$(RPM)) $(if $(VERBOSE),-v)

clean:
	rm -rf bin .local
