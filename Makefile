# The README's commands. `make test` is what CI runs.
.PHONY: run test lint build

run:
	go run ./cmd/ledgerless serve

# The process-level tests (e2e) run after the others, alone: their dozen
# processes would starve the timing-sensitive tests of other packages.
test:
	go test -race -count=1 -timeout 30m $$(go list ./... | grep -v /e2e$$)
	go test -race -count=1 -timeout 30m ./e2e

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

build:
	CGO_ENABLED=0 go build -o bin/ledgerless ./cmd/ledgerless
