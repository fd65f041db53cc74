# smartlead-etl. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
export CGO_ENABLED := 1
BIN := smartlead-etl
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: help build demo test bench lint fuzz deps

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

deps: ## download Go modules (from the module proxy)
	$(GO) mod download

build: deps ## build ./smartlead-etl
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) .

demo: build ## run the whole pipeline against the built-in simulated API
	./$(BIN) demo

lint: ## gofmt check and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# go test -json through internal/testsummary: the usual package lines,
# plus the browser tests skipped on a machine without Chromium (go test
# alone hides a passing package's skips). lint has run all of go vet, so
# go test does not run its subset again (-vet=off).
# The longest packages first: go test starts packages in the order named
# (./... names each once), so the long pole does not start last.
TESTPKGS := ./pipeline/ ./load/ ./...
test: deps lint ## gofmt, vet, and every test with the race detector
	@$(GO) build -o /dev/null ./internal/testsummary
	set -o pipefail; $(GO) test -race -vet=off -timeout 15m -json $(TESTPKGS) | $(GO) run ./internal/testsummary

FUZZTIME ?= 10s
fuzz: ## run each decoder fuzz target briefly (FUZZTIME=10s each)
	@# Go 1.26's fuzz coordinator can miss its own -fuzztime deadline and
	@# fail a target with a bare "context deadline exceeded" (go.dev/issue/75804,
	@# fixed in Go 1.27): that alone, with no failing input written, is not a finding.
	@for f in $$($(GO) test -list 'Fuzz.*' ./transform | grep ^Fuzz); do \
	  echo "fuzz $$f for $(FUZZTIME)"; \
	  out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./transform 2>&1); rc=$$?; echo "$$out"; \
	  if [ $$rc -ne 0 ]; then \
	    if echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
	      echo "fuzz $$f: the fuzz coordinator missed its deadline (go.dev/issue/75804); no failing input was found"; \
	    else exit 1; fi; \
	  fi; done

bench: ## benchmarks: virtual-time crawl and nightly runs, 30 nights of storage, 1M-lead load vs read_json, dashboard generation, webhook receiver under load
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 150m ./extract/... ./pipeline/ ./load/ ./transform/ ./dashboard/ ./webhook/
