# The README's commands. `make test` is what CI runs.
.PHONY: run test lint build bench

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

# The benchmarks: go test -bench of the election policy and the record
# encoding, then `ledgerless bench`, which writes both to BENCHMARKS.md.
# Scale it with BENCH_FLAGS, e.g. BENCH_FLAGS="--brokers 1000 --rounds 1".
bench: build
	@micro=$$(mktemp); trap 'rm -f $$micro' EXIT; \
	go test -run '^$$' -bench . -benchmem ./election ./store | tee $$micro && \
	bin/ledgerless bench --micro $$micro $(BENCH_FLAGS)
