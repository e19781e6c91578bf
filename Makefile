# The README's commands. `make test` is what CI runs.
.PHONY: run test lint build

run:
	go run ./cmd/ledgerless serve

test:
	go test -race -count=1 -timeout 30m ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...

build:
	CGO_ENABLED=0 go build -o bin/ledgerless ./cmd/ledgerless
