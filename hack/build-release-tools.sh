#!/usr/bin/env bash
# Builds the release/distribution tools used by hack/test-dist.sh into _output/bin:
#   goreleaser              (github.com/goreleaser/goreleaser/v2, hack/tools/release)
#   krew                    (sigs.k8s.io/krew/cmd/krew, hack/tools/release)
#   validate-krew-manifest  (sigs.k8s.io/krew/cmd/validate-krew-manifest, hack/tools/release)
#
# Their versions are pinned by hack/tools/release/go.mod (`tool` directives). Each
# output is rebuilt only when its inputs change: a stamp file next to it records a hash
# of the tools module's go.mod/go.sum, the package, the build flags and the Go version,
# so a second run is instant. A cold build takes ~5-6 minutes on 2 cores (goreleaser is
# most of it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODDIR="${ROOT}/hack/tools/release"
BIN="${ROOT}/_output/bin"

# No ",direct": if the proxy cannot serve a module we want to fail fast, not hang on VCS.
export GOPROXY="${GOPROXY_OVERRIDE:-https://proxy.golang.org}"
# The tools module is never vendored; -mod=mod lets go build fill in go.sum gaps
# without failing.
export GOFLAGS="-mod=mod"
export GOTOOLCHAIN=local
# Static binaries; nothing here needs cgo.
export CGO_ENABLED=0

mkdir -p "${BIN}"

# shellcheck source=hack/lib/build-tool.sh
source "${ROOT}/hack/lib/build-tool.sh"
GO_BUILD_FLAGS="-trimpath"
# goreleaser and krew only package and install: compiled without optimisation
# (-N -l) they run the same and build in 194 s instead of 268 s from a cold
# cache (measured on this 2-core machine), the largest build of CI's dist phase.
GO_GCFLAGS="${UNOPTIMISED_GCFLAGS}"

# version_of MODULE prints the version of MODULE that the tools module selects.
version_of() {
  (cd "${MODDIR}" && go list -m -f '{{.Version}}' "$1")
}

for cmd in go sha256sum; do
  command -v "${cmd}" >/dev/null || { echo "ERROR: ${cmd} is required" >&2; exit 1; }
done

total_start=${SECONDS}
GORELEASER_VERSION="$(version_of github.com/goreleaser/goreleaser/v2)"
KREW_VERSION="$(version_of sigs.k8s.io/krew)"
# goreleaser reads its version from main.version (else it prints "(devel)");
# krew reads sigs.k8s.io/krew/internal/version.gitTag/gitCommit.
GORELEASER_LDFLAGS="-s -w -X main.version=${GORELEASER_VERSION} -X main.builtBy=hack/build-release-tools.sh"
KREW_LDFLAGS="-s -w -X sigs.k8s.io/krew/internal/version.gitTag=${KREW_VERSION} -X sigs.k8s.io/krew/internal/version.gitCommit=${KREW_VERSION}"

build_tool goreleaser             "${MODDIR}" github.com/goreleaser/goreleaser/v2         "${GORELEASER_LDFLAGS}"
build_tool krew                   "${MODDIR}" sigs.k8s.io/krew/cmd/krew                   "${KREW_LDFLAGS}"
build_tool validate-krew-manifest "${MODDIR}" sigs.k8s.io/krew/cmd/validate-krew-manifest "${KREW_LDFLAGS}"
echo "==> release tools ready in ${BIN#"${ROOT}"/} ($((SECONDS - total_start))s)"
