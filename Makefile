# The README's commands. `make test` is what CI runs.
.PHONY: run test lint build images demo fuzz bench

BINARIES := ledgerless brokersim etcd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# Each fuzz target runs FUZZTIME: a count of executions, not a duration.
# A duration races Go 1.26's fuzz coordinator at its deadline and fails
# with a bare "context deadline exceeded" and no input (go.dev/issue/75804,
# fixed in Go 1.27); a count has no deadline. 3000 runs are 5 to 20 s here.
# A failing input is left in the package's testdata/fuzz, where `go test`
# replays it from then on.
FUZZTIME ?= 3000x

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

# Static binaries in bin/, as the images need them.
build:
	@mkdir -p bin
	@for b in $(BINARIES); do \
		echo "go build bin/$$b"; \
		CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/$$b ./cmd/$$b || exit 1; \
	done

# The demo's images from the binaries in bin/, FROM scratch: nothing is
# pulled, so this works where no registry can be reached. The build
# context is only the binary and deployments/rootfs/. (docker-compose up
# builds the same images from source with deployments/Dockerfile.)
images: build
	@for b in $(BINARIES); do \
		echo "docker build ledgerless/$$b:local"; \
		out=$$(tar -c deployments/Dockerfile.prebuilt deployments/rootfs bin/$$b | \
			docker build -q -f deployments/Dockerfile.prebuilt --target $$b -t ledgerless/$$b:local - 2>&1) || { echo "$$out"; exit 1; }; \
	done

demo: images
	docker-compose up

# The benchmarks: go test -bench of the election policy and the record
# encoding, then `ledgerless bench`, which writes both to BENCHMARKS.md.
# Scale it with BENCH_FLAGS, e.g. BENCH_FLAGS="--brokers 1000 --rounds 1".
bench: build
	@micro=$$(mktemp); trap 'rm -f $$micro' EXIT; \
	go test -run '^$$' -bench . -benchmem ./election ./store | tee $$micro && \
	bin/ledgerless bench --micro $$micro $(BENCH_FLAGS)
