// Command confinedready measures confined tenants at scale on the local
// cluster: it starts the cluster (with Flux's controllers run with
// bootstrap --lockdown's flags, unless -flux=false), runs `kubectl tenant
// bootstrap --lockdown`, adds -tenants confined tenants with `add -f
// --confine` (each with its own GitRepository, copied from the shared one),
// waits until every tenant's Kustomization is Ready, and times `check
// --all`. It prints one Markdown table of what it measured.
//
//	go run ./bench/cmd/confinedready -plugin ./kubectl-tenant -tenants 100
//	go run ./bench/cmd/confinedready -plugin ./kubectl-tenant -tenants 1000 -flux=false
//
// With -flux=false no controller reconciles anything, so only add and
// check are timed: that isolates check's own cost at a thousand tenants.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-tenant/kubectl-tenant/bench/internal/tenantbench"
	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

var (
	kustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	gitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
)

type config struct {
	plugin         string
	tenants        int
	flux           bool
	sourceInterval time.Duration
	readyTimeout   time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.plugin, "plugin", "./kubectl-tenant", "the kubectl-tenant binary to measure")
	flag.IntVar(&cfg.tenants, "tenants", 100, "how many confined tenants to add")
	flag.BoolVar(&cfg.flux, "flux", true, "run Flux's controllers and wait for every tenant to be Ready")
	flag.DurationVar(&cfg.sourceInterval, "source-interval", render.DefaultTenantSourceInterval, "add's --source-interval")
	flag.DurationVar(&cfg.readyTimeout, "ready-timeout", 20*time.Minute, "how long to wait for every tenant to be Ready")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "confinedready:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	env, err := tenantbench.Start(cfg.plugin, localcluster.Options{ControllerManager: true, FluxLockdown: cfg.flux})
	if err != nil {
		return err
	}
	defer env.Cluster.Stop()
	ctx := context.Background()
	client, err := dynamic.NewForConfig(env.Cluster.RESTConfig())
	if err != nil {
		return err
	}
	tenant := func(args ...string) (time.Duration, []byte, error) {
		var ok []int
		if args[0] == "check" {
			ok = []int{1} // a FAIL row is a result here
		}
		return env.Run(ok, args...)
	}
	if err := env.Bootstrap("--lockdown"); err != nil {
		return err
	}
	file, remove, err := tenantbench.TenantFile("cr", cfg.tenants)
	if err != nil {
		return err
	}
	defer remove()
	add, _, err := tenant("add", "-f", file, "--confine", "--source-interval", cfg.sourceInterval.String(), "--concurrency", "16", "-o", "name")
	if err != nil {
		return err
	}
	addedAt := time.Now()

	fmt.Printf("| confined tenants (%d), own GitRepository each, source interval %s | result |\n| --- | --- |\n", cfg.tenants, cfg.sourceInterval)
	fmt.Printf("| `add -f --confine`, 16 workers | %s (%.0f tenants/s) |\n", add.Round(time.Millisecond), float64(cfg.tenants)/add.Seconds())
	if cfg.flux {
		ready, fetches, err := waitAllReady(ctx, client, cfg.tenants, cfg.readyTimeout)
		if err != nil {
			return err
		}
		fmt.Printf("| all %d Kustomizations Ready after add returned (real source- and kustomize-controller, 2 cores) | %s |\n", cfg.tenants, ready.Sub(addedAt).Round(time.Second))
		fmt.Printf("| GitRepositories with an artifact (one fetch each) | %d |\n", fetches)
		fmt.Printf("| steady-state fetches by source-controller | %d per %s, %.2f/s |\n", cfg.tenants+1, cfg.sourceInterval, float64(cfg.tenants+1)/cfg.sourceInterval.Seconds())
	}
	check, out, err := tenant("check", "--all", "-o", "json")
	if err != nil {
		return err
	}
	fmt.Printf("| `check --all -o json` (%d bytes of report) | %s |\n", len(out), check.Round(time.Millisecond))
	return nil
}

// waitAllReady waits until n tenant Kustomizations are Ready, and counts the
// tenant GitRepositories that have fetched an artifact.
func waitAllReady(ctx context.Context, client dynamic.Interface, n int, timeout time.Duration) (time.Time, int, error) {
	deadline := time.Now().Add(timeout)
	for {
		list, err := client.Resource(kustomizationGVR).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + render.DefaultKustomizationName})
		if err != nil {
			return time.Time{}, 0, err
		}
		ready := 0
		for _, ks := range list.Items {
			if isReady(&ks) {
				ready++
			}
		}
		if ready >= n {
			at := time.Now()
			repos, err := client.Resource(gitRepositoryGVR).List(ctx, metav1.ListOptions{})
			if err != nil {
				return time.Time{}, 0, err
			}
			fetched := 0
			for _, r := range repos.Items {
				if _, found, _ := unstructured.NestedMap(r.Object, "status", "artifact"); found && r.GetNamespace() != "flux-system" {
					fetched++
				}
			}
			return at, fetched, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, 0, fmt.Errorf("only %d of %d Kustomizations Ready after %s", ready, n, timeout)
		}
		fmt.Fprintf(os.Stderr, "confinedready: %d/%d Ready\n", ready, n)
		time.Sleep(2 * time.Second)
	}
}

func isReady(obj *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			return m["status"] == "True"
		}
	}
	return false
}
