#!/usr/bin/env bash
# Builds the binaries and manifests used by the local cluster (internal/localcluster) into
# _output/bin and _output/flux-manifests:
#   kube-apiserver, kube-controller-manager, etcd, source-controller and
#   kustomize-controller, all from one tools module (hack/tools/cluster), so
#   the libraries they share compile once
#   flux-manifests/<version>/*.yaml          (from the flux-operator module zip)
#
# Usage: hack/build-tools.sh [NAME...] builds only the outputs named, by the names
# above; kubectl, which no cluster needs, is built only when named: from the same
# k8s.io/kubernetes release as kube-apiserver, for machines without one (.ci/run).
#
# Each output is rebuilt only when its inputs change: a stamp file next to it records a
# hash of the tools module's go.mod/go.sum, the package, the build flags and the Go
# version, so a second run is instant. Cold builds take ~15 minutes on 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${ROOT}/hack/tools/cluster"
OUT="${ROOT}/_output"
BIN="${OUT}/bin"

# shellcheck source=hack/lib/flux-version.sh
source "${ROOT}/hack/lib/flux-version.sh"

KUBE_VERSION="v1.37.2"
FLUX_VERSION="$(flux_version "${ROOT}")"
FLUX_OPERATOR_MODULE="github.com/controlplaneio-fluxcd/flux-operator@v0.59.0"

# No ",direct": if the proxy cannot serve a module we want to fail fast, not hang on VCS.
export GOPROXY="${GOPROXY_OVERRIDE:-https://proxy.golang.org}"
# The tools module is never vendored; -mod=mod lets go build fill in go.sum gaps of
# test-only dependencies without failing; no VCS stamping (the binaries are tools).
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local

# -s -w: no symbol table or DWARF (stack traces keep their function names),
# which makes the single-threaded links of these large binaries much shorter.
STRIP_LDFLAGS="-s -w"
KUBE_LDFLAGS="${STRIP_LDFLAGS} -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"

mkdir -p "${BIN}"

# shellcheck source=hack/lib/build-tool.sh
source "${ROOT}/hack/lib/build-tool.sh"

# TOOLS_UNOPTIMISED=1 (CI sets it; CI checks behaviour, not speed) builds the
# components with UNOPTIMISED_GCFLAGS. The stamps hash the flags, so `make bench`,
# which leaves it unset, gets optimised builds.
if [[ "${TOOLS_UNOPTIMISED:-}" == 1 ]]; then GO_GCFLAGS="${UNOPTIMISED_GCFLAGS}"; fi

# flux_manifests extracts config/data/flux/<version> from the flux-operator module zip.
# `go mod download` reports an error for that module (it needs a newer Go) but it still
# stores the zip in the module cache, so the error is ignored and the zip is checked.
flux_manifests() {
  local dest="${OUT}/flux-manifests/${FLUX_VERSION}"
  local stamp="${OUT}/flux-manifests/.${FLUX_VERSION}.stamp"
  local hash
  hash="$(printf '%s\n' "${FLUX_OPERATOR_MODULE}" "${FLUX_VERSION}" | sha256sum | cut -d' ' -f1)"
  if [[ -f "${dest}/source-controller.yaml" && -f "${stamp}" && "$(cat "${stamp}")" == "${hash}" ]]; then
    echo "==> flux-manifests ${FLUX_VERSION}: up to date"
    return
  fi
  echo "==> flux-manifests ${FLUX_VERSION}: extracting from ${FLUX_OPERATOR_MODULE}"
  local start=${SECONDS} json zip tmp
  # Run outside any module so the root go.mod is never consulted or modified.
  tmp="$(mktemp -d)"
  json="$(cd "${tmp}" && GOFLAGS= go mod download -json "${FLUX_OPERATOR_MODULE}" 2>/dev/null || true)"
  zip="$(printf '%s' "${json}" | sed -n 's/^[[:space:]]*"Zip": "\(.*\)",\{0,1\}$/\1/p')"
  if [[ -z "${zip}" || ! -f "${zip}" ]]; then
    echo "ERROR: could not download ${FLUX_OPERATOR_MODULE}:" >&2
    printf '%s\n' "${json}" >&2
    rm -rf "${tmp}"
    exit 1
  fi
  local prefix="${FLUX_OPERATOR_MODULE}/config/data/flux/${FLUX_VERSION}/"
  (cd "${tmp}" && unzip -q "${zip}" "${prefix}*") || {
    echo "ERROR: ${zip} has no ${prefix}" >&2
    rm -rf "${tmp}"
    exit 1
  }
  rm -rf "${dest}" "${stamp}"
  mkdir -p "${dest}"
  cp "${tmp}/${prefix}"*.yaml "${dest}/"
  chmod -R u+w "${tmp}" && rm -rf "${tmp}"
  echo "${hash}" > "${stamp}"
  echo "    flux-manifests: extracted $(ls "${dest}" | wc -l) files into ${dest#"${ROOT}"/} in $((SECONDS - start))s"
}

# build NAME builds one output.
build() {
  case "$1" in
    kube-apiserver | kube-controller-manager | kubectl)
      build_tool "$1" "${TOOLS}" "k8s.io/kubernetes/cmd/$1" "${KUBE_LDFLAGS}" ;;
    etcd) build_tool etcd "${TOOLS}" go.etcd.io/etcd/server/v3 "${STRIP_LDFLAGS}" ;;
    source-controller | kustomize-controller)
      build_tool "$1" "${TOOLS}" "github.com/fluxcd/$1" "${STRIP_LDFLAGS}" ;;
    flux-manifests) flux_manifests ;;
  esac
}

cluster_outputs=(kube-apiserver kube-controller-manager etcd source-controller kustomize-controller flux-manifests)
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${cluster_outputs[@]}")
for name in "${names[@]}"; do
  [[ " ${cluster_outputs[*]} kubectl " == *" ${name} "* ]] || {
    echo "ERROR: no output named '${name}': want any of ${cluster_outputs[*]} kubectl" >&2
    exit 2
  }
done
required=(go sha256sum)
[[ " ${names[*]} " == *" flux-manifests "* ]] && required+=(unzip)
for cmd in "${required[@]}"; do
  command -v "${cmd}" >/dev/null || { echo "ERROR: ${cmd} is required" >&2; exit 1; }
done

total_start=${SECONDS}
for name in "${names[@]}"; do
  build "${name}"
done
echo "==> tools ready in ${BIN#"${ROOT}"/} ($((SECONDS - total_start))s)"
