# shellcheck shell=bash
# Sourced by hack/build-tools.sh and bench/run.sh. The Flux release the project
# is tested with is written once, as render.DefaultFluxVersion in
# pkg/render/bootstrap.go (the plugin's --version default); the scripts read it
# from there instead of keeping a copy.

# flux_version ROOT prints DefaultFluxVersion from ROOT/pkg/render/bootstrap.go,
# or fails with an error naming the file if it is not there exactly once.
flux_version() {
  local file="$1/pkg/render/bootstrap.go" version
  version="$(sed -n -E 's/^[[:space:]]*DefaultFluxVersion[[:space:]]*(string[[:space:]]*)?=[[:space:]]*"(v[0-9][^"]*)".*$/\2/p' "${file}" 2>/dev/null || true)"
  if [[ -z "${version}" || "${version}" == *$'\n'* ]]; then
    echo "ERROR: cannot read the Flux version from ${file}: want one line like" \
      "'DefaultFluxVersion = \"vX.Y.Z\"' (hack/lib/flux-version.sh reads it)" >&2
    return 1
  fi
  printf '%s\n' "${version}"
}
