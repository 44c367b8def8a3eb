# kubectl-tenant: see README.md. `make test` and `make demo` work on a fresh
# machine: they build the local cluster's components first (hack/build-tools.sh).

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# The e2e suite starts a local cluster per test and waits for Flux; the race
# detector slows the test processes, not the cluster.
TEST_TIMEOUT ?= 40m
# The e2e tests spend most of their time waiting on Flux: four at a time on
# 2 cores took 114 s, one at a time 266 s.
TEST_PARALLEL ?= 4

.PHONY: all build tools test unit e2e fuzz dist-test bench lint demo clean

all: lint build test

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o kubectl-tenant ./cmd/kubectl-tenant

# Builds kube-apiserver, kube-controller-manager, etcd, source-controller and
# kustomize-controller from their Go modules into _output/bin, and unpacks the
# Flux install manifests; cached, so a second run is instant.
tools:
	hack/build-tools.sh

# Everything: unit, golden and end-to-end tests against the real local cluster,
# with the race detector.
test: tools
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -parallel $(TEST_PARALLEL) ./...

unit:
	$(GO) test -race -count=1 ./pkg/... ./cmd/... ./internal/crdwait/...

e2e: tools
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -parallel $(TEST_PARALLEL) -v ./internal/localcluster/... ./test/...

# Each fuzz target for FUZZTIME; crashers land in testdata/fuzz as regression seeds.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./pkg/render -run '^$$' -fuzz '^FuzzRenderTenant$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/render -run '^$$' -fuzz '^FuzzParseTenantList$$' -fuzztime $(FUZZTIME)

# Distribution, with the real tools: goreleaser check and a snapshot release
# of all six archives, krew's validator, krew install/uninstall through
# kubectl, plugin discovery and completion, plugins/ as a local krew index
# (index add, install, upgrade to a second snapshot), and go install from a
# clean GOPATH. DIST_PLATFORMS=host (CI's default) makes only this machine's
# archive and cross-compiles one platform of each other OS with go build.
DIST_PLATFORMS ?=
dist-test:
	DIST_PLATFORMS=$(DIST_PLATFORMS) hack/test-dist.sh

# Benchmarks against the local cluster; prints one table (see bench/RESULTS.md).
# BENCH_SCALE=small for a quick run.
bench: tools
	bench/run.sh

# vet checks the code as the release builds it (.goreleaser.yaml: CGO off,
# -trimpath), so the packages it compiles are the ones the snapshot, the e2e
# plugin build and dist-test's go install reuse, not one more configuration.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	CGO_ENABLED=0 $(GO) vet -trimpath ./...

# Starts a local cluster with Flux, bootstraps it, adds two tenants and prints
# them; KEEP=1 leaves it running and prints the KUBECONFIG to use.
demo: tools build
	$(GO) run ./hack/demo -plugin ./kubectl-tenant $(if $(KEEP),-keep,)

clean:
	rm -rf kubectl-tenant dist
