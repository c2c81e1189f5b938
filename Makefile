# balance — common tasks. `make demo` and `make test` are the two set-up
# commands; everything else is optional.

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
export CGO_ENABLED := 1

.PHONY: all build demo run test test-short vet fmt-check bench hooks docker clean soak

all: build

## build: the proxy and the mock upstream
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/balance ./cmd/balance
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/mockgemini ./cmd/mockgemini

## demo: run balance against the bundled mock upstream (no keys needed)
demo: build
	./examples/demo.sh

## run: serve balance.hcl for real (keys from the environment, see the file)
run: build
	./$(BIN)/balance -config balance.hcl

## test: vet plus every test with the race detector (needs MariaDB on 127.0.0.1:3306; .ci/run starts it)
test: vet fmt-check
	$(GO) test -race -count=1 -timeout 30m ./...

## test-short: the quick tests only
test-short:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## bench: micro-benchmarks plus the load benchmark (mock direct vs through balance)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./engine/... ./hcl/... ./hooks/... ./store/... ./cmd/bench
	$(GO) run ./cmd/bench

## hooks: build the example WASM hooks under examples/hooks
hooks:
	$(GO) run ./cmd/buildhooks examples/hooks

## docker: a multi-arch image (needs a Docker engine with buildx)
docker:
	docker buildx build --platform linux/amd64,linux/arm64 -t balance:$(VERSION) .

clean:
	rm -rf $(BIN)

## soak: balance under faults, reloads, a MySQL outage and cancellations, then
## asserts nothing leaked, was lost or cut silently (not part of `make test`;
## needs MariaDB on 127.0.0.1:3306). DURATION=2m for a short run.
DURATION ?= 10m
soak: build
	$(GO) run ./cmd/soak -duration $(DURATION) -balance $(BIN)/balance
