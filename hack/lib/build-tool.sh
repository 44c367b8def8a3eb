# shellcheck shell=bash
# Sourced by hack/build-tools.sh and hack/build-release-tools.sh: builds a Go
# tool from a tools module into ${BIN}, skipping the build while a stamp beside
# the binary still matches a hash of its inputs. The caller sets ROOT and BIN,
# and may set GO_BUILD_FLAGS (for example -trimpath) and GO_GCFLAGS (passed
# as -gcflags, one argument however many flags it holds).

# UNOPTIMISED_GCFLAGS: for tools whose speed nothing measures. Compiled without
# optimisation (-N -l) they behave the same and a cold build takes about a third
# less CPU; -dwarf=false, as the -s -w link drops the debug information anyway.
UNOPTIMISED_GCFLAGS="all=-N -l -dwarf=false"

# inputs_hash MODULE_DIR EXTRA... prints a hash of everything that determines
# an output: the tools module's go.mod and go.sum, the extras (package and
# ldflags), the Go version and the target platform.
inputs_hash() {
  local moddir="$1"; shift
  {
    cat "${moddir}/go.mod" "${moddir}/go.sum"
    printf '%s\n' "$@" ${GO_GCFLAGS:+"${GO_GCFLAGS}"}
    go version
    go env CGO_ENABLED GOOS GOARCH
  } | sha256sum | cut -d' ' -f1
}

# build_tool NAME MODULE_DIR PACKAGE LDFLAGS
build_tool() {
  local name="$1" moddir="$2" pkg="$3" ldflags="$4"
  local out="${BIN}/${name}" stamp="${BIN}/.${name}.stamp"
  local hash
  hash="$(inputs_hash "${moddir}" "${pkg}" "${ldflags}")"
  if [[ -x "${out}" && -f "${stamp}" && "$(cat "${stamp}")" == "${hash}" ]]; then
    echo "==> ${name}: up to date"
    return
  fi
  echo "==> ${name}: building ${pkg} (in ${moddir#"${ROOT}"/})"
  local start=${SECONDS}
  rm -f "${stamp}"
  local gcflags=()
  [[ -n "${GO_GCFLAGS:-}" ]] && gcflags=(-gcflags "${GO_GCFLAGS}")
  # shellcheck disable=SC2086 # GO_BUILD_FLAGS is a list of flags
  (cd "${moddir}" && go build ${GO_BUILD_FLAGS:-} "${gcflags[@]}" -ldflags "${ldflags}" -o "${out}.tmp" "${pkg}") || {
    echo "ERROR: building ${name} failed" >&2
    rm -f "${out}.tmp"
    exit 1
  }
  mv -f "${out}.tmp" "${out}"
  echo "${hash}" > "${stamp}"
  echo "    ${name}: built in $((SECONDS - start))s"
}
