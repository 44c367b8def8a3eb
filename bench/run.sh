#!/usr/bin/env bash
# Benchmarks of kubectl-tenant (see bench/README.md): builds what they need,
# measures start-up, size and offline rendering on a quiet machine, starts a
# local cluster (etcd, kube-apiserver, kube-controller-manager) and measures
# add, bulk add, list, delete, check, describe against check, diff and export
# against it, the bulk add of team tenants (issue 19), and last apply -f of a
# fleet file (issue 21), runs the Go render benchmarks, and prints one table.
# BENCH_SCALE=small for a quick run (about 3 minutes).
#
#   BENCH_SCALE=full|small   default full: 1000-tenant bulk adds, 10,000 tenants listed,
#                            300 team tenants of 3 namespaces (small: 50)
#   BENCH_OUT=FILE           also write the table there
#   KEEP_WORK=1              keep the scratch directory (logs, tenant files)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/_output/bin"
cd "${ROOT}"
# shellcheck source=hack/lib/flux-version.sh
source hack/lib/flux-version.sh
FLUX_VERSION="$(flux_version "${ROOT}")"
export GOPROXY="${BENCH_GOPROXY:-https://proxy.golang.org}"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

case "${BENCH_SCALE:-full}" in
  small) args=(-bulk 100 -scale 600 -deletes 20 -runs 10 -teams 50); benchtime=200ms ;;
  full)  args=(-bulk 1000 -scale 10000 -deletes 100 -runs 30 -teams 300); benchtime=1s ;;
  *) echo "BENCH_SCALE must be small or full" >&2; exit 2 ;;
esac

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kubectl-tenant-bench.XXXXXX")"
CLUSTER_PID=""
cleanup() {
  local rc=$?
  if [[ -n "${CLUSTER_PID}" ]] && kill -0 "${CLUSTER_PID}" 2>/dev/null; then
    echo "==> stopping the local cluster" >&2
    kill -TERM "${CLUSTER_PID}" 2>/dev/null || true
    wait "${CLUSTER_PID}" 2>/dev/null || true
  fi
  if [[ -z "${KEEP_WORK:-}" ]]; then rm -rf "${WORK}"; else echo "scratch directory: ${WORK}" >&2; fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# GNU time, for peak RSS.
if [[ ! -x /usr/bin/time ]]; then
  echo "==> installing GNU time" >&2
  if [[ $(id -u) -eq 0 ]]; then apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
  else sudo apt-get install -y time >/dev/null; fi
fi
command -v kubectl >/dev/null || { echo "kubectl is needed on PATH (the recipe's tool)" >&2; exit 1; }

echo "==> building (cluster binaries, yq, the plugin, the bench programs)" >&2
hack/build-tools.sh >&2
(
  # shellcheck source=hack/lib/build-tool.sh
  source hack/lib/build-tool.sh
  GOFLAGS="${GOFLAGS} -mod=mod" build_tool yq "${ROOT}/bench/tools" github.com/mikefarah/yq/v4 "-s -w"
) >&2
make build >&2
# A private copy: other builds may rewrite ./kubectl-tenant during the run.
cp kubectl-tenant "${WORK}/kubectl-tenant"
# The same build without -s -w, for the size breakdown only.
CGO_ENABLED=0 go build -trimpath -o "${WORK}/kubectl-tenant.unstripped" ./cmd/kubectl-tenant
mkdir -p "${WORK}/floor"
for v in hello cobra cliruntime clientgo clientcmd clientcmddisco clientcmdrender; do
  CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "${WORK}/floor/${v}" "./bench/cmd/startupfloor/${v}"
done
go build -o "${WORK}/benchrun" ./bench/cmd/benchrun
go build -o "${WORK}/ssabaseline" ./bench/cmd/ssabaseline
go build -o "${WORK}/benchcluster" ./bench/cmd/benchcluster
go build -o "${WORK}/listprobe" ./bench/cmd/listprobe
go test -c -o "${WORK}/bench.test" ./bench

ROWS="${WORK}/rows.tsv"
common=(-plugin "${WORK}/kubectl-tenant" -kubectl kubectl -yq "${BIN}/yq" -ssabaseline "${WORK}/ssabaseline"
        -rows "${ROWS}" "${args[@]}")

echo "==> load before measuring: $(uptime)" >&2
echo "==> offline: start-up, size, render" >&2
mkdir -p "${WORK}/offline"
"${WORK}/benchrun" -phase offline -work "${WORK}/offline" -plugin-unstripped "${WORK}/kubectl-tenant.unstripped" \
  -floor "${WORK}/floor" "${common[@]}"

echo "==> Go benchmarks (bench/render_bench_test.go)" >&2
(cd bench && "${WORK}/bench.test" -test.run '^$' -test.bench . -test.benchmem -test.benchtime "${benchtime}") | tee "${WORK}/gobench.txt" >&2
awk '/^Benchmark/ && !/^BenchmarkFirstCall/ {
  name=$1; sub(/-[0-9]+$/, "", name)
  ns=""; b=""; a=""
  for (i=2; i<=NF; i++) { if ($(i)=="ns/op") ns=$(i-1); if ($(i)=="B/op") b=$(i-1); if ($(i)=="allocs/op") a=$(i-1) }
  printf "go bench: %s\t%.3f ms/op, %.0f KB/op, %s allocs/op\t\t\t\tinfo\n", name, ns/1e6, b/1024, a
}' "${WORK}/gobench.txt" >> "${ROWS}"

# BenchmarkFirstCall: the first call of each render step in a fresh process (cold
# reflection caches), as a CLI pays it, next to a second call; means over its child processes.
awk '/^BenchmarkFirstCall/ {
  for (i=3; i<=NF; i++) if ($(i) ~ /^ns\/(first|second)-/) { split(substr($(i), 4), k, "-"); us[k[1], k[2]] = $(i-1)/1000 }
  for (r=1; r<=2; r++) {
    round = (r==1) ? "first" : "second"
    printf "go bench: render steps, %s\tRenderTenant %.1fµs, Unstructured %.1fµs, EncodeYAML %.1fµs (mean of %d processes)\t\t\t\tinfo\n", round, us[round, "RenderTenant"], us[round, "Unstructured"], us[round, "EncodeYAML"], $2
  }
}' "${WORK}/gobench.txt" >> "${ROWS}"

echo "==> starting the local cluster" >&2
"${WORK}/benchcluster" -ready-file "${WORK}/ready" >"${WORK}/cluster.log" 2>&1 &
CLUSTER_PID=$!
for _ in $(seq 1 240); do
  [[ -f "${WORK}/ready" ]] && break
  kill -0 "${CLUSTER_PID}" 2>/dev/null || { cat "${WORK}/cluster.log" >&2; exit 1; }
  sleep 0.5
done
[[ -f "${WORK}/ready" ]] || { echo "the local cluster did not start in 2 minutes" >&2; cat "${WORK}/cluster.log" >&2; exit 1; }
export "$(cat "${WORK}/ready")"
HOME="${WORK}/home-bootstrap" "${WORK}/kubectl-tenant" bootstrap --manifests "_output/flux-manifests/${FLUX_VERSION}" \
  --git-url https://git.example.com/tenants.git >/dev/null

echo "==> cluster: add, bulk add, list, delete, check, describe, diff, export, team add, fleet apply ($(uptime))" >&2
mkdir -p "${WORK}/cluster"
"${WORK}/benchrun" -phase cluster -work "${WORK}/cluster" -listprobe "${WORK}/listprobe" "${common[@]}"

{
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(go version | cut -d' ' -f3-); kubectl $(kubectl version --client 2>/dev/null | awk '/Client/{print $3}'); $(${BIN}/yq --version | awk '{print "yq " $NF}')"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ); BENCH_SCALE=${BENCH_SCALE:-full}; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  "${WORK}/benchrun" -print "${ROWS}"
} > "${WORK}/table.md"
[[ -n "${BENCH_OUT:-}" ]] && cp "${WORK}/table.md" "${BENCH_OUT}"
cat "${WORK}/table.md"
