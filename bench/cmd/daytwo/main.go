// Command daytwo measures the day-2 commands (issue 11) on the local
// cluster: it starts the cluster, runs `kubectl tenant bootstrap`, adds
// -tenants tenants with `add -f`, and times `suspend --all`, `resume --all`
// and `reconcile --all`. With -flux it runs Flux's controllers too: then
// `add -f --wait` and `resume --all --with-source --wait` are timed until
// every tenant is Ready: once after a commit to the template made while the
// tenants were suspended, so that each applies a new revision, and once
// more without one.
// It prints one Markdown table.
//
//	go run ./bench/cmd/daytwo -plugin ./kubectl-tenant -tenants 1000 -flux=false
//	go run ./bench/cmd/daytwo -plugin ./kubectl-tenant -tenants 100
//
// Without Flux nothing reconciles, so the times are the commands' own: the
// reads of the selection and every patch.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/bench/internal/tenantbench"
	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
)

type config struct {
	plugin      string
	tenants     int
	flux        bool
	concurrency int
	timeout     time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.plugin, "plugin", "./kubectl-tenant", "the kubectl-tenant binary to measure")
	flag.IntVar(&cfg.tenants, "tenants", 1000, "how many tenants to add")
	flag.BoolVar(&cfg.flux, "flux", true, "run Flux's controllers and time --wait until every tenant is Ready")
	flag.IntVar(&cfg.concurrency, "concurrency", 32, "the commands' --concurrency")
	flag.DurationVar(&cfg.timeout, "timeout", 20*time.Minute, "the --wait timeout")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "daytwo:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	env, err := tenantbench.Start(cfg.plugin, localcluster.Options{ControllerManager: true, Flux: cfg.flux})
	if err != nil {
		return err
	}
	defer env.Cluster.Stop()
	tenant := func(args ...string) (time.Duration, error) {
		took, _, err := env.Run(nil, args...)
		return took, err
	}
	if err := env.Bootstrap(); err != nil {
		return err
	}
	file, remove, err := tenantbench.TenantFile("d2-", cfg.tenants)
	if err != nil {
		return err
	}
	defer remove()

	n := cfg.tenants
	concurrency := fmt.Sprint(cfg.concurrency)
	timeout := cfg.timeout.String()
	fmt.Printf("| %d tenants, --concurrency %d, Flux controllers: %v | wall time (load average: %s at the start) |\n| --- | --- |\n", n, cfg.concurrency, cfg.flux, loadAverage())
	addArgs := []string{"add", "-f", file, "--interval", "1h", "--concurrency", "16", "-o", "name"}
	if cfg.flux {
		addArgs = append(addArgs, "--wait", "--timeout", timeout)
	}
	add, err := tenant(addArgs...)
	if err != nil {
		return err
	}
	if cfg.flux {
		fmt.Printf("| `add -f --wait`, 16 workers: applied, and every Kustomization Ready | %s |\n", add.Round(time.Millisecond))
	} else {
		fmt.Printf("| `add -f`, 16 workers | %s |\n", add.Round(time.Millisecond))
	}
	for _, verb := range []string{"suspend", "resume", "reconcile"} {
		if cfg.flux && verb != "suspend" {
			continue
		}
		s, err := env.Measure(verb, "--all", "--concurrency", concurrency, "-o", "name")
		if err != nil {
			return err
		}
		fmt.Printf("| `%s --all`: every patch issued (%d patches) | %s (%.0f patches/s); CPU: cluster %s, plugin %s; load %s |\n",
			verb, n, s.Wall.Round(time.Millisecond), float64(n)/s.Wall.Seconds(), s.ClusterCPU.Round(10*time.Millisecond), s.PluginCPU.Round(10*time.Millisecond), loadAverage())
	}
	if !cfg.flux {
		return nil
	}
	// A commit while every tenant is suspended: resume applies it to all.
	if _, err := env.Cluster.GitCommit(map[string][]byte{
		"kustomizations/per-tenant/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - dummy_deployment.yaml\n  - marker.yaml\n"),
		"kustomizations/per-tenant/marker.yaml":        []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: day-two-marker\ndata:\n  change: \"1\"\n"),
	}, "bench: a change to the template"); err != nil {
		return err
	}
	resume, err := tenant("resume", "--all", "--with-source", "--wait", "--timeout", timeout, "--concurrency", concurrency, "-o", "name")
	if err != nil {
		return err
	}
	fmt.Printf("| `resume --all --with-source --wait` after a commit: the source fetched, every tenant Ready at the new revision | **%s** |\n", resume.Round(time.Millisecond))
	// Again without a commit: each tenant reconciles the same revision.
	if _, err := tenant("suspend", "--all", "--concurrency", concurrency, "-o", "name"); err != nil {
		return err
	}
	resume, err = tenant("resume", "--all", "--wait", "--timeout", timeout, "--concurrency", concurrency, "-o", "name")
	if err != nil {
		return err
	}
	fmt.Printf("| `suspend --all`, then `resume --all --wait`: every tenant Ready again (same revision) | **%s** |\n", resume.Round(time.Millisecond))
	fmt.Printf("| load average at the end | %s |\n", loadAverage())
	return nil
}

// loadAverage is the machine's one-minute load average: the wall times
// above are as fast as the machine was free.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}
