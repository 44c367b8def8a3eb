#!/usr/bin/env bash
# Distribution test: builds the release archives the way a release does and installs
# them the way users do. Run by CI as `hack/test-dist.sh` from the repository root
# (any working directory works). Needs go, git, kubectl (>= 1.26), python3 (only its
# standard library: a local HTTP server), tar, unzip and sha256sum; no network besides
# the Go module proxy for the first build of the release tools.
#
#   a. hack/build-release-tools.sh: goreleaser, krew, validate-krew-manifest
#   b. goreleaser check; goreleaser release --snapshot --clean --skip=publish into dist/
#      (DIST_PLATFORMS=host: the host platform only, and one platform of each
#      other OS cross-compiled with go build, the same flags and no optimisation)
#   c. the archives hold the binary, LICENSE and kubectl_complete-tenant, and
#      checksums.txt lists each with its sha256
#   d. a krew manifest made from plugins/tenant.yaml, pointed at the snapshot
#      archives (served on 127.0.0.1) with their sha256s, passes validate-krew-manifest
#      including its install of every platform built; so do the committed template and
#      goreleaser's dist/krew/tenant.yaml (structure only: their URLs are not live)
#   e. krew install --manifest --archive into a temporary KREW_ROOT; kubectl plugin
#      list, kubectl tenant version / --help through kubectl; krew uninstall
#   f. kubectl's plugin completion through plugins/kubectl_complete-tenant
#   g. a copy of plugins/ as a local git index: krew index add, krew install
#      INDEX/tenant, then a second snapshot version committed to the index and
#      krew update + krew upgrade to it
#   h. go install ./cmd/kubectl-tenant into an empty GOPATH
#
# DIST_PLATFORMS=all (the default; `make dist-test`) builds and checks all six
# archives. DIST_PLATFORMS=host (the default when CI=true; `.ci/run`) builds the
# archive of this machine's platform only, which is all that the krew install,
# completion and index steps can run, and cross-compiles one platform of each
# other operating system (darwin_amd64, windows_amd64): the six-platform snapshot
# was most of a cold CI run, and a cold cross build takes two minutes.
#
# goreleaser runs in place, in snapshot mode: a snapshot needs no tag and tolerates a
# dirty work tree, so what is tested is exactly the checked-out files (a temporary
# `git clone` would silently drop uncommitted changes). The snapshot version is
# `<next patch>-next`, e.g. 0.0.1-next when the repository has no tags.
#
# Every check prints PASS or FAIL; the script goes on after a failed check where it
# can, stops at the first failed step that later steps need, and always ends with
# "dist: N passed, M failed" and a non-zero exit status if anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/lib/build-tool.sh
source "${ROOT}/hack/lib/build-tool.sh" # UNOPTIMISED_GCFLAGS
BIN="${ROOT}/_output/bin"
DIST="${ROOT}/dist"
cd "${ROOT}"

export GOPROXY="${GOPROXY_OVERRIDE:-https://proxy.golang.org}"
export GOTOOLCHAIN=local

PLUGIN=tenant
PLATFORMS=(linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64 windows_arm64)
HOST_PLATFORM="$(go env GOOS)_$(go env GOARCH)"
if [[ -z "${DIST_PLATFORMS:-}" ]]; then
  DIST_PLATFORMS=all
  [[ "${CI:-}" == true ]] && DIST_PLATFORMS=host
fi
case "${DIST_PLATFORMS}" in
  all) BUILT=("${PLATFORMS[@]}"); CROSS=() ;;
  host)
    # One go build for each other operating system: pure Go code differs by
    # OS (build tags, path and signal handling), hardly by architecture, and
    # each cross build costs two minutes of a cold machine.
    BUILT=("${HOST_PLATFORM}"); CROSS=()
    for os in darwin windows linux; do
      [[ "${os}" == "${HOST_PLATFORM%_*}" ]] && continue
      for p in "${PLATFORMS[@]}"; do
        if [[ "${p}" == "${os}"_* ]]; then CROSS+=("${p}"); break; fi
      done
    done
    ;;
  *) echo "DIST_PLATFORMS must be all or host, not '${DIST_PLATFORMS}'" >&2; exit 2 ;;
esac
SUBCOMMANDS=(add bootstrap delete list version)

passed=0
failed=0
timings=()
TMP=""
HTTP_PID=""

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# check DESCRIPTION COMMAND... runs COMMAND, counting a pass or a failure.
check() {
  local what="$1"; shift
  if "$@"; then pass "${what}"; else fail "${what}"; fi
}
# fatal MESSAGE: a step that later steps depend on failed.
fatal() {
  fail "$*"
  exit 1
}
step() { echo; echo "==> $*"; }
now_ms() { date +%s%3N; }
# record NAME START_MS: remembers how long a step took, for the summary.
record() {
  local ms=$(( $(now_ms) - $2 ))
  timings+=("$(printf '%-44s %7.1fs' "$1" "$(awk -v ms="${ms}" 'BEGIN{print ms/1000}')")")
}

cleanup() {
  local rc=$?
  if [[ -n "${HTTP_PID}" ]]; then kill "${HTTP_PID}" 2>/dev/null || true; wait "${HTTP_PID}" 2>/dev/null || true; fi
  if [[ -n "${TMP}" && -d "${TMP}" ]]; then
    chmod -R u+w "${TMP}" 2>/dev/null || true
    rm -rf "${TMP}"
  fi
  if [[ ${rc} -ne 0 && ${failed} -eq 0 ]]; then
    # An unexpected error (set -e) rather than a failed check.
    failed=$((failed + 1))
    echo "FAIL: unexpected error (exit status ${rc}), see the output above" >&2
  fi
  if [[ ${#timings[@]} -gt 0 ]]; then
    echo
    echo "==> timings"
    printf '    %s\n' "${timings[@]}"
  fi
  echo
  echo "dist: ${passed} passed, ${failed} failed"
  if [[ ${failed} -gt 0 ]]; then exit 1; fi
  exit 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for cmd in go git kubectl python3 tar unzip sha256sum awk; do
  command -v "${cmd}" >/dev/null || fatal "${cmd} is required"
done
[[ " ${PLATFORMS[*]} " == *" ${HOST_PLATFORM} "* ]] ||
  fatal "this machine's platform ${HOST_PLATFORM} is not one of the release's: ${PLATFORMS[*]}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/test-dist.XXXXXX")"
echo "platforms: ${DIST_PLATFORMS} (archives: ${BUILT[*]}${CROSS[*]:+; go build only: ${CROSS[*]}})"

# ---------------------------------------------------------------------------------
step "a. release tools"
t=$(now_ms)
"${ROOT}/hack/build-release-tools.sh" || fatal "hack/build-release-tools.sh"
record "build-release-tools.sh" "${t}"
GORELEASER="${BIN}/goreleaser"
KREW="${BIN}/krew"
VALIDATE="${BIN}/validate-krew-manifest"
"${GORELEASER}" --version | sed -n '/GitVersion/p'
"${KREW}" version | sed -n '/GitTag/p'

# `kubectl krew` is how users (and validate-krew-manifest) run krew: a kubectl-krew
# on PATH. The PATH below is otherwise the system's, so that no kubectl-tenant
# installed elsewhere on this machine can stand in for the one under test.
TOOLBIN="${TMP}/toolbin"
mkdir -p "${TOOLBIN}"
ln -s "${KREW}" "${TOOLBIN}/kubectl-krew"
KUBECTL_DIR="$(dirname "$(command -v kubectl)")"
BASE_PATH="${TOOLBIN}:${KUBECTL_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# ---------------------------------------------------------------------------------
step "b. goreleaser"
t=$(now_ms)
check "goreleaser check" "${GORELEASER}" check
record "goreleaser check" "${t}"

# host_config [DIST_DIR]: .goreleaser.yaml building this machine's platform only
# (goreleaser's --single-target is for `goreleaser build`, which makes no archives),
# optionally into another dist directory. Everything else is the release's config.
host_config() {
  awk -v os="${HOST_PLATFORM%_*}" -v arch="${HOST_PLATFORM#*_}" '
    /^    goos:$/ { print; print "      - " os; skip = 1; next }
    /^    goarch:$/ { print; print "      - " arch; skip = 1; next }
    skip && /^      - / { next }
    { skip = 0; print }' .goreleaser.yaml
  if [[ -n "${1:-}" ]]; then echo "dist: $1"; fi
}
# snapshot LOG [goreleaser flags]: a snapshot release; on failure, its log and stop.
snapshot() {
  local log="$1"; shift
  "${GORELEASER}" release --snapshot --clean --skip=publish "$@" > "${log}" 2>&1 || {
    cat "${log}" >&2
    fatal "goreleaser release --snapshot --clean --skip=publish $*"
  }
  grep -E 'building|archiving|writing|took|release succeeded' "${log}" | sed 's/^/    /' | tail -30
}

t=$(now_ms)
if [[ "${DIST_PLATFORMS}" == all ]]; then
  snapshot "${TMP}/goreleaser.log"
  record "goreleaser release --snapshot (6 targets)" "${t}"
  pass "goreleaser release --snapshot --clean --skip=publish"
else
  host_config > "${TMP}/goreleaser-host.yaml"
  only_targets_differ() { ! diff "$1" "$2" | grep '^[<>]' | grep -vqE '^[<>]       - [a-z0-9]+$'; }
  check "the host-only config differs from .goreleaser.yaml in goos/goarch entries only" \
    only_targets_differ .goreleaser.yaml "${TMP}/goreleaser-host.yaml"
  snapshot "${TMP}/goreleaser.log" --config "${TMP}/goreleaser-host.yaml"
  record "goreleaser release --snapshot (${HOST_PLATFORM})" "${t}"
  pass "goreleaser release --snapshot --clean --skip=publish (${HOST_PLATFORM} only)"
fi

VERSION="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "${DIST}/metadata.json")"
[[ -n "${VERSION}" ]] || fatal "no version in dist/metadata.json"
echo "snapshot version: ${VERSION}"

# The platforms without an archive (DIST_PLATFORMS=host) are cross-compiled with
# plain go build and the release's flags: CGO off, -trimpath and .goreleaser.yaml's
# ldflags with the values goreleaser stamped into the host binary (its commit is
# "none" when the clone has no remote: goreleaser's snapshot then skips git). `go
# version -m` reads back what each binary was built for and with. They are compiled
# without optimisation (UNOPTIMISED_GCFLAGS): they prove the code builds for that
# OS, which optimisation does not change, for about a third less CPU; the host
# archive and `DIST_PLATFORMS=all` build with the release's flags alone.
if [[ ${#CROSS[@]} -gt 0 ]]; then
  step "b2. go build for the other platforms"
  grep -qx '      - CGO_ENABLED=0' .goreleaser.yaml && grep -qx '      - -trimpath' .goreleaser.yaml ||
    fatal ".goreleaser.yaml no longer builds with CGO_ENABLED=0 and -trimpath: update this script"
  host_bin="$(ls "${DIST}"/kubectl-tenant_"${HOST_PLATFORM}"*/kubectl-tenant 2>/dev/null | head -1)"
  stamp="$("${host_bin:-/nonexistent}" version 2>&1)" || fatal "goreleaser's ${HOST_PLATFORM} binary: version: ${stamp}"
  commit="$(sed -n 's/^kubectl-tenant .* (commit \([^,]*\), built \([^)]*\))$/\1/p' <<<"${stamp}")"
  built="$(sed -n 's/^kubectl-tenant .* (commit \([^,]*\), built \([^)]*\))$/\2/p' <<<"${stamp}")"
  [[ -n "${commit}" && -n "${built}" ]] || fatal "cannot read commit and date from '${stamp}'"
  ldflags="$(awk '/^    ldflags:$/ { getline; sub(/^ *- */, ""); print; exit }' .goreleaser.yaml)"
  ldflags="${ldflags//\{\{.Version\}\}/${VERSION}}"
  ldflags="${ldflags//\{\{.ShortCommit\}\}/${commit}}"
  ldflags="${ldflags//\{\{.Date\}\}/${built}}"
  [[ "${ldflags}" != *"{{"* ]] || fatal "unknown template in .goreleaser.yaml ldflags: ${ldflags}"
  # built_with BINARY GOOS GOARCH: go version -m agrees with the release's build, and
  # the version and build date that -ldflags set are in the binary (with -trimpath, go
  # leaves -ldflags out of the build information).
  built_with() {
    local info
    info="$(go version -m "$1")" || return 1
    grep -qx $'\tbuild\tGOOS='"$2" <<<"${info}" &&
      grep -qx $'\tbuild\tGOARCH='"$3" <<<"${info}" &&
      grep -qx $'\tbuild\tCGO_ENABLED=0' <<<"${info}" &&
      grep -qx $'\tbuild\t-trimpath=true' <<<"${info}" &&
      grep -qaF -- "${VERSION}" "$1" && grep -qaF -- "${built}" "$1" || {
      echo "${info}" | sed -n 's/^/    /; /build/p' >&2
      return 1
    }
  }
  # The host binary goreleaser built must agree too, or this imitation has drifted.
  check "goreleaser's ${HOST_PLATFORM} binary: GOOS, GOARCH, CGO off, -trimpath, version, date" \
    built_with "${host_bin:-/nonexistent}" "${HOST_PLATFORM%_*}" "${HOST_PLATFORM#*_}"
  for p in "${CROSS[@]}"; do
    os="${p%_*}" arch="${p#*_}" exe=kubectl-tenant
    [[ "${os}" == windows ]] && exe=kubectl-tenant.exe
    out="${TMP}/cross/${p}/${exe}"
    t=$(now_ms)
    if CGO_ENABLED=0 GOOS="${os}" GOARCH="${arch}" go build -trimpath -gcflags "${UNOPTIMISED_GCFLAGS}" \
        -ldflags "${ldflags}" -o "${out}" ./cmd/kubectl-tenant; then
      record "go build ${p}" "${t}"
      pass "go build ${p}"
      check "${p}: go version -m shows GOOS, GOARCH, CGO off, -trimpath, version, date" built_with "${out}" "${os}" "${arch}"
    else
      fail "go build ${p}"
    fi
  done
fi

# ---------------------------------------------------------------------------------
step "c. archives"
archive_name() { # PLATFORM -> archive file name
  case "$1" in
    windows_*) echo "kubectl-tenant_${VERSION}_$1.zip" ;;
    *) echo "kubectl-tenant_${VERSION}_$1.tar.gz" ;;
  esac
}
list_archive() { # FILE -> "mode name" lines of its members
  case "$1" in
    *.zip) unzip -Z "$1" | awk 'NF >= 9 && $1 ~ /^[-d]/ {print $1, $NF}' ;;
    *) tar -tvzf "$1" | awk '{print $1, $NF}' ;;
  esac
}
has_member() { # LISTING NAME [executable]
  local mode
  mode="$(awk -v n="$2" '$2 == n {print $1}' <<<"$1")"
  [[ -n "${mode}" ]] || { echo "    missing: $2" >&2; return 1; }
  if [[ "${3:-}" == executable && "${mode}" != -rwx* ]]; then
    echo "    $2 is not executable (${mode})" >&2
    return 1
  fi
}
archive_ok() { # FILE BINARY
  local listing
  listing="$(list_archive "$1")"
  has_member "${listing}" "$2" executable &&
    has_member "${listing}" LICENSE &&
    has_member "${listing}" kubectl_complete-tenant executable
}
in_checksums() { # ARCHIVE
  local want got
  want="$(sha256sum "${DIST}/$1" | cut -d' ' -f1)"
  got="$(awk -v n="$1" '$2 == n {print $1}' "${DIST}/checksums.txt")"
  [[ -n "${got}" && "${got}" == "${want}" ]] || { echo "    checksums.txt: '${got}', file: ${want}" >&2; return 1; }
}
[[ -f "${DIST}/checksums.txt" ]] || fatal "dist/checksums.txt missing"
size_table=()
for p in "${BUILT[@]}"; do
  a="$(archive_name "${p}")"
  if [[ ! -f "${DIST}/${a}" ]]; then
    fail "${a} exists"
    continue
  fi
  exe=kubectl-tenant
  [[ "${p}" == windows_* ]] && exe=kubectl-tenant.exe
  check "${a}: ${exe}, LICENSE, kubectl_complete-tenant" archive_ok "${DIST}/${a}" "${exe}"
  check "${a}: listed in checksums.txt" in_checksums "${a}"
  size_table+=("$(printf '%-48s %6.1f MiB' "${a}" "$(awk -v b="$(stat -c %s "${DIST}/${a}")" 'BEGIN{print b/1048576}')")")
done
check "checksums.txt lists exactly the ${#BUILT[@]} archive(s)" \
  test "$(grep -cE '\.(tar\.gz|zip)$' "${DIST}/checksums.txt")" -eq "${#BUILT[@]}"
echo "archive sizes:"
printf '    %s\n' "${size_table[@]}"

# ---------------------------------------------------------------------------------
step "d. krew manifests"
# validate-krew-manifest infers the plugin name from the file name: it must be tenant.yaml.
mkdir -p "${TMP}/committed" "${TMP}/generated"
cp plugins/${PLUGIN}.yaml "${TMP}/committed/${PLUGIN}.yaml"
# plugins/ is a krew index (plugins/<name>.yaml); the old path stays as a symlink,
# which krew's index scan skips (it reads regular files only).
check "plugins/krew-manifest.yaml is a symlink to ${PLUGIN}.yaml" \
  test "$(readlink plugins/krew-manifest.yaml)" == "${PLUGIN}.yaml"

# The committed template: 64 zeros are valid sha256 syntax and its release URLs do
# not exist yet, so only the structure is validated (-skip-install).
check "validate-krew-manifest plugins/${PLUGIN}.yaml (-skip-install)" \
  "${VALIDATE}" -skip-install -manifest "${TMP}/committed/${PLUGIN}.yaml"
short="$(awk '/^  shortDescription:/ {sub(/^  shortDescription: */, ""); print}' plugins/${PLUGIN}.yaml)"
check "${PLUGIN}.yaml: shortDescription is <= 50 characters (${#short})" test "${#short}" -le 50
check "${PLUGIN}.yaml: description and caveats fit in 80 columns" \
  eval "! awk '/^  (description|caveats):/ {b=1; next} /^  [a-z]/ {b=0} b && length > 80 {print; bad=1} END {exit !bad}' plugins/${PLUGIN}.yaml"
check "${PLUGIN}.yaml: one platform per os/arch" \
  test "$(grep -c 'uri: https://github.com/kubectl-tenant/kubectl-tenant/releases/download/v' plugins/${PLUGIN}.yaml)" -eq "${#PLATFORMS[@]}"

# goreleaser's own manifest (what a release submits to krew-index).
if [[ -f "${DIST}/krew/${PLUGIN}.yaml" ]]; then
  check "validate-krew-manifest dist/krew/${PLUGIN}.yaml (-skip-install)" \
    "${VALIDATE}" -skip-install -manifest "${DIST}/krew/${PLUGIN}.yaml"
else
  fail "goreleaser wrote dist/krew/${PLUGIN}.yaml"
fi

# The committed template and goreleaser's krews: section must not drift apart.
same_metadata() { # TEMPLATE GENERATED
  python3 - "$1" "$2" "${3:-}" <<'PY'
import re, sys, yaml
a, b = (yaml.safe_load(open(f))["spec"] for f in sys.argv[1:3])
def plats(spec):
    return sorted((p["selector"]["matchLabels"]["os"], p["selector"]["matchLabels"]["arch"], p["bin"],
                   re.sub(r"_[^_]+_([a-z]+_[a-z0-9]+\.)", r"_V_\1", p["uri"].rsplit("/", 1)[1]))
                  for p in spec["platforms"])
bad = [k for k in ("homepage", "shortDescription", "description", "caveats") if a.get(k) != b.get(k)]
# Host-only snapshot: goreleaser's manifest has one platform, to compare with the
# template's entry for it.
pa, pb = plats(a), plats(b)
if len(sys.argv) > 3 and sys.argv[3] == "host":
    pa = [p for p in pa if (p[0], p[1]) in {(q[0], q[1]) for q in pb}]
if pa != pb:
    bad.append("platforms: %s != %s" % (pa, pb))
for k in bad:
    print("    differs: " + k, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}
if python3 -c 'import yaml' 2>/dev/null; then
  check "plugins/${PLUGIN}.yaml and .goreleaser.yaml krews: agree (text, platforms, archives)" \
    same_metadata plugins/${PLUGIN}.yaml "${DIST}/krew/${PLUGIN}.yaml" "${DIST_PLATFORMS}"
else
  echo "SKIP: comparing plugins/${PLUGIN}.yaml with dist/krew/${PLUGIN}.yaml (python3 has no yaml module)"
fi

# Serve dist/ on a free local port: krew downloads with http.Get only (no file://).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server --bind 127.0.0.1 --directory "${DIST}" "${port}" > "${TMP}/http.log" 2>&1 &
HTTP_PID=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null && break
  sleep 0.1
done
BASE_URL="http://127.0.0.1:${port}"

# manifest VERSION DIST_DIR BASE_URL: the committed template with that version, the
# archives of DIST_DIR at BASE_URL and their sha256s; platforms without an archive
# there (DIST_PLATFORMS=host) are left out.
manifest() {
  awk -v ver="$1" -v base="$3" -v sums="$2/checksums.txt" '
    BEGIN { while ((getline line < sums) > 0) { split(line, f, / +/); sum[f[2]] = f[1] } }
    function flush() { if (keep) printf "%s", buf; buf = "" }
    /^  - selector:/ { flush(); inplat = 1; keep = 1; buf = $0 "\n"; next }
    !inplat && /^  version: / { print "  version: v" ver; next }
    !inplat { print; next }
    /^    uri: / {
      cur = $2; sub(/.*\//, "", cur); sub(/_[0-9]+\.[0-9]+\.[0-9]+_/, "_" ver "_", cur)
      if (!(cur in sum)) keep = 0
      buf = buf "    uri: " base "/" cur "\n"; next
    }
    /^    sha256: / { buf = buf "    sha256: \"" sum[cur] "\"\n"; next }
    { buf = buf $0 "\n" }
    END { flush() }' "plugins/${PLUGIN}.yaml"
}
GENERATED="${TMP}/generated/${PLUGIN}.yaml"
manifest "${VERSION}" "${DIST}" "${BASE_URL}" > "${GENERATED}" || fatal "generating the krew manifest for ${VERSION}"
check "generated manifest has a platform for each of the ${#BUILT[@]} archive(s)" \
  test "$(grep -c '^  - selector:' "${GENERATED}")" -eq "${#BUILT[@]}"
check "generated manifest has no placeholder checksums" eval "! grep -qE 'sha256: \"?0{64}' '${GENERATED}'"

# Full validation: installs every platform (KREW_OS/KREW_ARCH) from the local
# server through `kubectl krew` and checks that a LICENSE file is installed.
t=$(now_ms)
check "validate-krew-manifest generated manifest (installs all ${#BUILT[@]} platform(s))" \
  env PATH="${BASE_PATH}" "${VALIDATE}" -manifest "${GENERATED}"
record "validate-krew-manifest (${#BUILT[@]} installs)" "${t}"

# ---------------------------------------------------------------------------------
step "e. krew install"
export KREW_ROOT="${TMP}/krew"
export KREW_NO_UPGRADE_CHECK=1
# `krew list` and `krew uninstall` insist on a git-cloned plugin index, and `krew
# update` (step g) fetches every index; cloning the real one needs the network, so a
# clone of a local repository stands in for it. Like the central krew-index, it holds
# a plugin named tenant (here the generated manifest; install --manifest does not use it).
# git_commit DIR MESSAGE: commits everything in DIR, whoever runs this.
git_commit() {
  git -C "$1" add -A &&
    git -C "$1" -c user.name=test-dist -c user.email=test-dist@localhost -c commit.gpgsign=false \
      commit -q -m "$2"
}
mkdir -p "${TMP}/default-index/plugins"
git init -q "${TMP}/default-index"
cp "${GENERATED}" "${TMP}/default-index/plugins/"
git_commit "${TMP}/default-index" "the central index stand-in" || fatal "making the local default index"
git clone -q "file://${TMP}/default-index" "${KREW_ROOT}/index/default" || fatal "cloning the local default index"
KREW_PATH="${KREW_ROOT}/bin:${BASE_PATH}"
k() { env PATH="${KREW_PATH}" "$@"; }
HOST_ARCHIVE="${DIST}/$(archive_name "${HOST_PLATFORM}")"

check "kubectl-tenant is not on PATH before the install" eval '! k kubectl plugin list 2>/dev/null | grep -q kubectl-tenant'
t=$(now_ms)
k kubectl krew install --manifest="${GENERATED}" --archive="${HOST_ARCHIVE}" < /dev/null > "${TMP}/krew-install.log" 2>&1 || {
  cat "${TMP}/krew-install.log" >&2
  fatal "kubectl krew install --manifest --archive"
}
record "kubectl krew install --manifest --archive" "${t}"
sed 's/^/    /' "${TMP}/krew-install.log"
pass "kubectl krew install --manifest=${GENERATED##*/} --archive=${HOST_ARCHIVE##*/}"

plugins="$(k kubectl plugin list 2>&1 || true)"
echo "${plugins}" | sed 's/^/    /'
check "kubectl plugin list shows ${KREW_ROOT}/bin/kubectl-tenant" grep -qx "${KREW_ROOT}/bin/kubectl-tenant" <<<"${plugins}"
check "kubectl krew list shows ${PLUGIN}" eval "k kubectl krew list 2>/dev/null | grep -qw '${PLUGIN}'"

STORE="$(dirname "$(readlink -f "${KREW_ROOT}/bin/kubectl-tenant")")"
check "krew installed LICENSE and kubectl_complete-tenant next to the binary" \
  test -f "${STORE}/LICENSE" -a -x "${STORE}/kubectl_complete-tenant"

out="$(k kubectl tenant version 2>&1)" || true
echo "    ${out}"
check "kubectl tenant version prints ${VERSION}" grep -qF "kubectl-tenant ${VERSION} (commit " <<<"${out}"
check "kubectl tenant version has a commit and build date" eval '! grep -q unknown <<<"${out}"'

help_ok() { # HELP_TEXT
  local c
  grep -q "kubectl tenant" <<<"$1" || return 1
  for c in "${SUBCOMMANDS[@]}"; do
    grep -qE "^  ${c} " <<<"$1" || { echo "    --help does not list ${c}" >&2; return 1; }
  done
}
help="$(k kubectl tenant --help 2>&1)" || fail "kubectl tenant --help exits 0"
check "kubectl tenant --help shows 'kubectl tenant' and the subcommands" help_ok "${help}"
# Start-up time through kubectl's plugin dispatch (best of 5, and the mean).
best=999999 total=0
for _ in 1 2 3 4 5; do
  t=$(now_ms)
  k kubectl tenant --help > /dev/null 2>&1
  ms=$(( $(now_ms) - t ))
  total=$(( total + ms ))
  (( ms < best )) && best=${ms}
done
HELP_TIMING="kubectl tenant --help: best ${best} ms, mean $(( total / 5 )) ms (5 runs)"
echo "    ${HELP_TIMING}"
timings+=("${HELP_TIMING}")

# ---------------------------------------------------------------------------------
step "f. plugin completion (kubectl_complete-tenant)"
# As the caveats tell users: put the completion script from the plugin's directory
# on PATH (krew links only the binary into its bin/).
cp "${STORE}/kubectl_complete-tenant" "${KREW_ROOT}/bin/"
comp="$(k kubectl __complete tenant "" 2>/dev/null)" || true
echo "${comp}" | sed 's/^/    /'
for c in "${SUBCOMMANDS[@]}"; do
  check "kubectl __complete tenant '' offers ${c}" eval 'cut -f1 <<<"${comp}" | grep -qx "${c}"'
done
comp="$(k kubectl __complete tenant add --tenant- 2>/dev/null)" || true
echo "${comp}" | sed 's/^/    /'
for f in --tenant-name --tenant-namespace; do
  check "kubectl __complete tenant add --tenant- offers ${f}" eval 'cut -f1 <<<"${comp}" | grep -qx -- "${f}"'
done
# Completion of tenant names and namespaces from a live cluster, through the real
# kubectl and kubectl_complete-tenant, is tested against the local cluster in
# test/e2e (TestTenantLifecycle, "list shows tenants ...").
rm -f "${KREW_ROOT}/bin/kubectl_complete-tenant"

t=$(now_ms)
check "kubectl krew uninstall ${PLUGIN}" eval "k kubectl krew uninstall '${PLUGIN}' > '${TMP}/krew-uninstall.log' 2>&1 || { cat '${TMP}/krew-uninstall.log' >&2; false; }"
record "kubectl krew uninstall" "${t}"
plugins="$(k kubectl plugin list 2>&1 || true)"
check "kubectl plugin list no longer shows kubectl-tenant" eval '! grep -q kubectl-tenant <<<"${plugins}"'
check "krew removed the plugin's files" test ! -e "${STORE}"

# ---------------------------------------------------------------------------------
step "g. a custom index: a copy of plugins/, then krew index add, install and upgrade"
# The central krew-index already has a plugin named tenant (Stakater's Multi Tenant
# Operator client; the default index above stands in for it), so users add this
# repository as an index of its own. The index is a copy of plugins/ as committed
# (tenant.yaml, the krew-manifest.yaml symlink and the completion script), with
# tenant.yaml pointed at this snapshot's archives, in a local git repository.
# krew_ok LOG COMMAND...: runs a krew command through kubectl; its output on failure.
krew_ok() {
  local log="$1"; shift
  k kubectl krew "$@" < /dev/null > "${log}" 2>&1 || { sed 's/^/    /' "${log}" >&2; return 1; }
}
INDEX="${TMP}/tenant-index"
mkdir -p "${INDEX}"
git init -q "${INDEX}"
cp -a plugins "${INDEX}/"
manifest "${VERSION}" "${DIST}" "${BASE_URL}" > "${INDEX}/plugins/${PLUGIN}.yaml"
git_commit "${INDEX}" "tenant v${VERSION}" || fatal "making the local git index"

check "kubectl krew index add tenants file://${INDEX}" krew_ok "${TMP}/index-add.log" index add tenants "file://${INDEX}"
check "kubectl krew index list shows tenants" eval "k kubectl krew index list 2>/dev/null | grep -qE '^tenants +file://'"
check "kubectl krew info tenants/${PLUGIN} shows v${VERSION}" \
  eval "k kubectl krew info 'tenants/${PLUGIN}' 2>/dev/null | grep -qx 'VERSION: v${VERSION}'"
t=$(now_ms)
check "kubectl krew install tenants/${PLUGIN}" krew_ok "${TMP}/index-install.log" install "tenants/${PLUGIN}"
record "kubectl krew install tenants/${PLUGIN}" "${t}"
check "kubectl krew list shows tenants/${PLUGIN}" eval "k kubectl krew list 2>/dev/null | grep -qw 'tenants/${PLUGIN}'"
out="$(k kubectl tenant version 2>&1)" || true
echo "    ${out}"
check "kubectl tenant version prints ${VERSION} (from the index)" grep -qF "kubectl-tenant ${VERSION} (commit " <<<"${out}"

# The next snapshot version, this platform only: goreleaser with the snapshot version
# one patch on (the compiled packages are cached; only the link differs), into
# dist/upgrade/, which the local server serves too. (GORELEASER_CURRENT_TAG would be
# ignored in a clone without a remote: goreleaser's snapshot then skips git.)
IFS=. read -r major minor patch <<<"${VERSION%%-*}"
VERSION_NEXT="${major}.${minor}.$((patch + 1))-next"
t=$(now_ms)
host_config "${DIST}/upgrade" |
  sed "s/^  version_template: .*/  version_template: \"${VERSION_NEXT}\"/" > "${TMP}/goreleaser-upgrade.yaml"
snapshot "${TMP}/goreleaser-upgrade.log" --config "${TMP}/goreleaser-upgrade.yaml"
record "goreleaser release --snapshot (next version, ${HOST_PLATFORM})" "${t}"
VERSION2="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "${DIST}/upgrade/metadata.json")"
echo "next snapshot version: ${VERSION2}"
check "the next snapshot version is ${VERSION_NEXT}" test "${VERSION2}" == "${VERSION_NEXT}"
manifest "${VERSION2}" "${DIST}/upgrade" "${BASE_URL}/upgrade" > "${INDEX}/plugins/${PLUGIN}.yaml"
git_commit "${INDEX}" "tenant v${VERSION2}" || fatal "committing v${VERSION2} to the local git index"

check "kubectl krew update" krew_ok "${TMP}/index-update.log" update
sed 's/^/    /' "${TMP}/index-update.log"
check "kubectl krew update offers tenants/${PLUGIN} v${VERSION} -> v${VERSION2}" \
  grep -qF "tenants/${PLUGIN} v${VERSION} -> v${VERSION2}" "${TMP}/index-update.log"
t=$(now_ms)
check "kubectl krew upgrade ${PLUGIN}" krew_ok "${TMP}/index-upgrade.log" upgrade "${PLUGIN}"
record "kubectl krew upgrade ${PLUGIN}" "${t}"
sed 's/^/    /' "${TMP}/index-upgrade.log"
out="$(k kubectl tenant version 2>&1)" || true
echo "    ${out}"
check "kubectl tenant version prints ${VERSION2} after the upgrade" grep -qF "kubectl-tenant ${VERSION2} (commit " <<<"${out}"
check "kubectl krew uninstall ${PLUGIN} (from tenants)" krew_ok "${TMP}/index-uninstall.log" uninstall "${PLUGIN}"
check "kubectl krew index remove tenants" krew_ok "${TMP}/index-remove.log" index remove tenants

# ---------------------------------------------------------------------------------
step "h. go install from an empty GOPATH"
# The module cache is shared so nothing is downloaded again. -mod=readonly (not
# -mod=mod): if go.mod/go.sum were incomplete, `go install` must fail here instead of
# silently rewriting them, as it fails for users running `go install ...@version`.
GOPATH_TMP="${TMP}/gopath"
mkdir -p "${GOPATH_TMP}"
MODCACHE="$(go env GOMODCACHE)" # before GOPATH changes, which moves the default
modsum() { cat go.mod go.sum | sha256sum; }
modsum_before="$(modsum)"
t=$(now_ms)
# With the release's CGO_ENABLED=0 and -trimpath, which do not change what go.mod
# and go.sum must hold, so that the snapshot's compiled packages are reused.
if GOPATH="${GOPATH_TMP}" GOMODCACHE="${MODCACHE}" GOFLAGS="-mod=readonly -trimpath" CGO_ENABLED=0 GOBIN="" \
    go install ./cmd/kubectl-tenant; then
  pass "go install ./cmd/kubectl-tenant (GOPATH=${GOPATH_TMP})"
  record "go install ./cmd/kubectl-tenant" "${t}"
  out="$("${GOPATH_TMP}/bin/kubectl-tenant" version 2>&1)" || fail "\$GOPATH/bin/kubectl-tenant version exits 0"
  echo "    ${out}"
  check "\$GOPATH/bin/kubectl-tenant version runs" grep -q '^kubectl-tenant ' <<<"${out}"
else
  fail "go install ./cmd/kubectl-tenant (GOPATH=${GOPATH_TMP})"
fi
check "go install left go.mod and go.sum unchanged" test "$(modsum)" == "${modsum_before}"
