# The README's commands. `make test` is what CI runs.
.PHONY: run test lint build fuzz

# Each fuzz target runs for FUZZTIME; a failing input is left in the
# package's testdata/fuzz, where `go test` replays it from then on.
FUZZTIME ?= 10s

run:
	go run ./cmd/ledgerless serve

# The process-level tests (e2e) run after the others, alone: their dozen
# processes would starve the timing-sensitive tests of other packages.
test:
	go test -race -count=1 -timeout 30m $$(go list ./... | grep -v /e2e$$)
	go test -race -count=1 -timeout 30m ./e2e

fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -c6-); do \
			echo "fuzz $$dir $$target ($(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $$dir; \
		done; \
	done

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

build:
	CGO_ENABLED=0 go build -o bin/ledgerless ./cmd/ledgerless
