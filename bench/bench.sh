#!/usr/bin/env bash
# make bench: builds what the benchmarks need, starts a local cluster and
# prints one table comparing kubectl-tenant with the demo's recipe (kubectl,
# yq) and a minimal client-go program. BENCH_SCALE=small for a quick run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/_output/bin"
cd "${ROOT}"

export GOPROXY="${GOPROXY_OVERRIDE:-https://proxy.golang.org}"
hack/build-tools.sh
(
  export GOFLAGS="-mod=mod"
  # shellcheck source=hack/lib/build-tool.sh
  source hack/lib/build-tool.sh
  build_tool yq "${ROOT}/bench/tools" github.com/mikefarah/yq/v4 "-s -w"
)
make build >/dev/null

case "${BENCH_SCALE:-full}" in
  small) args=(-bulk 100 -scale 500 -deletes 20 -runs 10) ;;
  full)  args=(-bulk 1000 -scale 10000 -deletes 100 -runs 20) ;;
  *) echo "BENCH_SCALE must be small or full" >&2; exit 2 ;;
esac

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(go version)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); scale: ${BENCH_SCALE:-full}"
go run ./bench/benchrun -plugin ./kubectl-tenant -yq "${BIN}/yq" "${args[@]}"
