// Command benchrun measures kubectl-tenant against the demo's recipe and a
// minimal client-go program, on the local cluster of test/cluster, and
// prints one Markdown table. Run it with `make bench` (bench/bench.sh).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/test/cluster"
)

type config struct {
	plugin, kubectl, yq  string
	bulk, scale, deletes int
	concurrency          int
	runs                 int
}

type bench struct {
	cfg     config
	cluster *cluster.Cluster
	client  dynamic.Interface
	home    string
	tmp     string
	rows    [][]string
}

func main() {
	var cfg config
	baseline := flag.String("ssa-baseline", "", "internal: server-side apply the objects in this YAML file and exit")
	kubeconfig := flag.String("kubeconfig", "", "internal: with -ssa-baseline")
	flag.StringVar(&cfg.plugin, "plugin", "./kubectl-tenant", "kubectl-tenant binary (built stripped by make build)")
	flag.StringVar(&cfg.kubectl, "kubectl", "kubectl", "kubectl binary for the recipe")
	flag.StringVar(&cfg.yq, "yq", "_output/bin/yq", "mikefarah yq v4 binary for the recipe")
	flag.IntVar(&cfg.bulk, "bulk", 1000, "tenants in the bulk add")
	flag.IntVar(&cfg.scale, "scale", 10000, "tenants in the cluster for the list benchmark")
	flag.IntVar(&cfg.deletes, "deletes", 100, "tenants deleted in the delete benchmark")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "workers for bulk adds, plugin and baseline alike")
	flag.IntVar(&cfg.runs, "runs", 20, "repetitions of each small measurement; the median is reported")
	flag.Parse()
	if *baseline != "" {
		if err := runBaseline(*baseline, *kubeconfig, cfg.concurrency); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	var err error
	for _, p := range []*string{&cfg.plugin, &cfg.yq} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if cfg.kubectl, err = exec.LookPath(cfg.kubectl); err != nil {
		return fmt.Errorf("kubectl is needed for the recipe: %w", err)
	}
	tmp, err := os.MkdirTemp("", "kubectl-tenant-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	b := &bench{cfg: cfg, home: filepath.Join(tmp, "home"), tmp: tmp}
	// Start-up and offline rendering first, on a quiet machine: the local
	// API server shares its two cores.
	for _, step := range []func() error{b.startup, b.renderOffline} {
		if err := step(); err != nil {
			return err
		}
	}

	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Options{ControllerManager: true})
	if err != nil {
		return err
	}
	defer c.Stop()
	if b.client, err = dynamic.NewForConfig(c.RESTConfig()); err != nil {
		return err
	}
	b.cluster = c
	root, err := cluster.ModuleRoot()
	if err != nil {
		return err
	}
	if _, err := b.plugin("bootstrap", "--manifests", filepath.Join(root, "_output", "flux-manifests", render.DefaultFluxVersion), "--git-url", "https://git.example.com/tenants.git"); err != nil {
		return err
	}
	for _, step := range []func() error{b.addLive, b.bulkAdd, b.listAtScale, b.deleteMany} {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Println("| measurement | kubectl-tenant | comparison | ratio | target |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range b.rows {
		fmt.Println("| " + strings.Join(r, " | ") + " |")
	}
	return nil
}

func (b *bench) row(cells ...string) {
	b.rows = append(b.rows, cells)
	fmt.Fprintf(os.Stderr, "  %s\n", strings.Join(cells, " | "))
}

// sample is one process run: wall time and peak RSS.
type sample struct {
	wall time.Duration
	rss  int64 // KiB
}

// exec runs a command and returns its wall time and peak RSS.
func (b *bench) exec(stdin []byte, env []string, name string, args ...string) (sample, []byte, error) {
	cmd := exec.Command(name, args...)
	kubeconfig := "/nonexistent"
	if b.cluster != nil {
		kubeconfig = b.cluster.Kubeconfig()
	}
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + b.home, "KUBECONFIG=" + kubeconfig}, env...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, nil, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, errOut.String())
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	return sample{wall: wall, rss: rss}, append(out.Bytes(), errOut.Bytes()...), nil
}

func (b *bench) plugin(args ...string) ([]byte, error) {
	_, out, err := b.exec(nil, nil, b.cfg.plugin, args...)
	return out, err
}

// median runs f n times and returns the median wall time and RSS.
func median(n int, f func(i int) (sample, error)) (sample, error) {
	var walls []time.Duration
	var rsss []int64
	for i := 0; i < n; i++ {
		s, err := f(i)
		if err != nil {
			return sample{}, err
		}
		walls = append(walls, s.wall)
		rsss = append(rsss, s.rss)
	}
	slices.Sort(walls)
	slices.Sort(rsss)
	return sample{wall: walls[n/2], rss: rsss[n/2]}, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func mib(kib int64) string      { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
func ratio(slow, fast time.Duration) string {
	return fmt.Sprintf("%.1fx", float64(slow)/float64(fast))
}

func (b *bench) startup() error {
	for _, args := range [][]string{{"--help"}, {"version"}} {
		s, err := median(b.cfg.runs, func(int) (sample, error) {
			s, _, err := b.exec(nil, nil, b.cfg.plugin, args...)
			return s, err
		})
		if err != nil {
			return err
		}
		k, err := median(b.cfg.runs, func(int) (sample, error) {
			s, _, err := b.exec(nil, nil, b.cfg.kubectl, append([]string{"version", "--client"}, args[1:]...)...)
			return s, err
		})
		if err != nil {
			return err
		}
		b.row("start-up: kubectl-tenant "+args[0], ms(s.wall)+", "+mib(s.rss), "kubectl version --client: "+ms(k.wall)+", "+mib(k.rss), ratio(k.wall, s.wall), "< 15 ms")
	}
	st, err := os.Stat(b.cfg.plugin)
	if err != nil {
		return err
	}
	b.row("binary size, stripped", fmt.Sprintf("%.1f MB", float64(st.Size())/1e6), "", "", "<= 55 MB")
	return nil
}

// renderOffline: add --dry-run=client -o yaml against the recipe's offline
// steps that can run here (kubectl create ns/cm --dry-run=client -o yaml and
// the yq edit of the Kustomization); flux create tenant/ks cannot be built
// here and are not counted, so the recipe's true cost is higher.
func (b *bench) renderOffline() error {
	plugin, err := median(b.cfg.runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, []string{"KUBECONFIG=/nonexistent"}, b.cfg.plugin, "add", "foo", "sometenant", "--dry-run=client", "-o", "yaml")
		return s, err
	})
	if err != nil {
		return err
	}
	ks := filepath.Join(b.tmp, "flux-ks-manifest.yaml")
	ksYAML := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: dummy\n  namespace: foo\nspec:\n  interval: 5m\n  path: ./kustomizations/per-tenant\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: default\n    namespace: flux-system\n  targetNamespace: foo\n"
	recipe, err := median(b.cfg.runs, func(int) (sample, error) {
		var total sample
		steps := [][]string{
			{b.cfg.kubectl, "create", "namespace", "foo", "--dry-run=client", "-o", "yaml"},
			{b.cfg.kubectl, "create", "configmap", "-n", "foo", "--from-literal=PER_TENANT_SUBST=This tenant name is \"sometenant\"", "tenant-vars", "--dry-run=client", "-o", "yaml"},
			{b.cfg.yq, "-i", `.spec.postBuild={"substitute":{"SUBST_LITERAL":"sometenant"},"substituteFrom":[{"kind":"ConfigMap","name":"tenant-vars"}]}`, ks},
		}
		if err := os.WriteFile(ks, []byte(ksYAML), 0o644); err != nil {
			return total, err
		}
		for _, step := range steps {
			s, _, err := b.exec(nil, []string{"KUBECONFIG=/nonexistent"}, step[0], step[1:]...)
			if err != nil {
				return total, err
			}
			total.wall += s.wall
			total.rss = max(total.rss, s.rss)
		}
		return total, nil
	})
	if err != nil {
		return err
	}
	b.row("render one tenant offline (add --dry-run=client -o yaml)", ms(plugin.wall), "kubectl create ns + cm --dry-run, yq -i (flux steps not counted): "+ms(recipe.wall), ratio(recipe.wall, plugin.wall), ">= 20x")
	return nil
}

// requestLine matches client-go's -v=6 log of one HTTP request.
var requestLine = regexp.MustCompile(`"Response" verb="([A-Z]+)"|\] ([A-Z]+) https?://\S+ \d{3} `)

func countRequests(log []byte) (reads, writes int) {
	for _, m := range requestLine.FindAllSubmatch(log, -1) {
		verb := string(m[1]) + string(m[2])
		if verb == "GET" {
			reads++
		} else {
			writes++
		}
	}
	return reads, writes
}

// addLive: one add against the API server versus the recipe's kubectl
// steps, with the flux-generated YAML written out as static files. kubectl's
// discovery cache is warm (the first run fills it and is not counted).
func (b *bench) addLive() error {
	plugin, err := median(b.cfg.runs/2, func(i int) (sample, error) {
		s, _, err := b.exec(nil, nil, b.cfg.plugin, "add", fmt.Sprintf("live-p%d", i), "sometenant")
		return s, err
	})
	if err != nil {
		return err
	}
	_, log, err := b.exec(nil, nil, b.cfg.plugin, "add", "live-pv", "sometenant", "-v=6")
	if err != nil {
		return err
	}
	pr, pw := countRequests(log)

	recipe := func(ns string, verbose bool) (sample, []byte, error) {
		v := []string{}
		if verbose {
			v = []string{"-v=6"}
		}
		objs := fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {labels: {toolkit.fluxcd.io/tenant: %[1]s}, name: %[1]s, namespace: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {labels: {toolkit.fluxcd.io/tenant: %[1]s}, name: %[1]s-reconciler, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "gotk:%[1]s:reconciler"}
- {kind: ServiceAccount, name: %[1]s, namespace: %[1]s}
`, ns)
		ks := fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: dummy, namespace: %[1]s}
spec:
  interval: 5m
  path: ./kustomizations/per-tenant
  prune: true
  sourceRef: {kind: GitRepository, name: default, namespace: flux-system}
  targetNamespace: %[1]s
  postBuild:
    substitute: {SUBST_LITERAL: sometenant}
    substituteFrom: [{kind: ConfigMap, name: tenant-vars}]
`, ns)
		steps := []struct {
			stdin []byte
			args  []string
		}{
			// The README's `kubectl create namespace -l` does not exist;
			// ctrl.py created, then labelled.
			{nil, []string{"create", "namespace", ns}},
			{nil, []string{"label", "namespace", ns, render.DefaultTenantLabelKey + "=sometenant", "toolkit.fluxcd.io/tenant=" + ns}},
			{nil, []string{"create", "configmap", "-n", ns, "--from-literal=PER_TENANT_SUBST=This tenant name is \"sometenant\"", "tenant-vars"}},
			{[]byte(objs), []string{"apply", "-f", "-"}},
			{[]byte(ks), []string{"apply", "-f", "-"}},
		}
		var total sample
		var logs []byte
		for _, s := range steps {
			one, out, err := b.exec(s.stdin, nil, b.cfg.kubectl, append(s.args, v...)...)
			if err != nil {
				return total, nil, err
			}
			total.wall += one.wall
			total.rss = max(total.rss, one.rss)
			logs = append(logs, out...)
		}
		return total, logs, nil
	}
	if _, _, err := recipe("live-kwarm", false); err != nil {
		return err
	}
	kubectl, err := median(b.cfg.runs/2, func(i int) (sample, error) {
		s, _, err := recipe(fmt.Sprintf("live-k%d", i), false)
		return s, err
	})
	if err != nil {
		return err
	}
	_, klog, err := recipe("live-kv", true)
	if err != nil {
		return err
	}
	kr, kw := countRequests(klog)
	b.row("add one tenant on the live cluster", fmt.Sprintf("%s; %d reads + %d writes", ms(plugin.wall), pr, pw),
		fmt.Sprintf("recipe's 5 kubectl steps (warm discovery cache): %s; %d reads + %d writes", ms(kubectl.wall), kr, kw),
		ratio(kubectl.wall, plugin.wall), ">= 5x, <= 1 write per object")
	return nil
}

func (b *bench) tenantFile(prefix string, n int) (string, error) {
	var buf strings.Builder
	buf.WriteString("namespace,name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, "%s-%05d,%s-tenant-%05d\n", prefix, i, prefix, i)
	}
	path := filepath.Join(b.tmp, prefix+".csv")
	return path, os.WriteFile(path, []byte(buf.String()), 0o644)
}

// bulkAdd: add -f with N tenants versus the same objects applied by a
// minimal client-go program with the same concurrency.
func (b *bench) bulkAdd() error {
	n := b.cfg.bulk
	file, err := b.tenantFile("bulk", n)
	if err != nil {
		return err
	}
	plugin, _, err := b.exec(nil, nil, b.cfg.plugin, "add", "-f", file, "--concurrency", fmt.Sprint(b.cfg.concurrency), "-o", "name")
	if err != nil {
		return err
	}
	baseFile, err := b.tenantFile("base", n)
	if err != nil {
		return err
	}
	_, yaml, err := b.exec(nil, nil, b.cfg.plugin, "add", "-f", baseFile, "--dry-run=client", "-o", "yaml")
	if err != nil {
		return err
	}
	objects := filepath.Join(b.tmp, "base.yaml")
	if err := os.WriteFile(objects, yaml, 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	base, _, err := b.exec(nil, nil, self, "-ssa-baseline", objects, "-kubeconfig", b.cluster.Kubeconfig(), "-concurrency", fmt.Sprint(b.cfg.concurrency))
	if err != nil {
		return err
	}
	rate := func(d time.Duration) string { return fmt.Sprintf("%.0f tenants/s", float64(n)/d.Seconds()) }
	b.row(fmt.Sprintf("add -f %d tenants (%d objects), %d workers", n, 5*n, b.cfg.concurrency),
		fmt.Sprintf("%.2f s, %s, %s", plugin.wall.Seconds(), rate(plugin.wall), mib(plugin.rss)),
		fmt.Sprintf("client-go SSA loop: %.2f s, %s, %s", base.wall.Seconds(), rate(base.wall), mib(base.rss)),
		fmt.Sprintf("%.2fx of the limit", plugin.wall.Seconds()/base.wall.Seconds()), "<= 1.5x")
	return nil
}

// listAtScale fills the cluster to cfg.scale tenants (the bulk runs already
// added 2*bulk) and lists them.
func (b *bench) listAtScale() error {
	have := 2 * b.cfg.bulk
	if extra := b.cfg.scale - have; extra > 0 {
		file, err := b.tenantFile("scale", extra)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, _, err := b.exec(nil, nil, b.cfg.plugin, "add", "-f", file, "--concurrency", "16", "-o", "name"); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  (filled the cluster with %d more tenants in %s)\n", extra, time.Since(start).Round(time.Second))
	}
	runs := max(3, b.cfg.runs/4)
	list, err := median(runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, b.cfg.plugin, "list")
		return s, err
	})
	if err != nil {
		return err
	}
	kubectl, err := median(runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, b.cfg.kubectl, "get", "ns", "-l", render.DefaultTenantLabelKey)
		return s, err
	})
	if err != nil {
		return err
	}
	_, out, err := b.exec(nil, nil, b.cfg.plugin, "list", "--no-headers")
	if err != nil {
		return err
	}
	rows := bytes.Count(out, []byte("\n"))
	b.row(fmt.Sprintf("list %d tenants (chunks of 500)", rows), fmt.Sprintf("%.2f s, %s", list.wall.Seconds(), mib(list.rss)),
		fmt.Sprintf("kubectl get ns -l <tenant key>: %.2f s, %s", kubectl.wall.Seconds(), mib(kubectl.rss)),
		ratio(kubectl.wall, list.wall), "< 2 s, < 100 MB")
	return nil
}

func (b *bench) deleteMany() error {
	n := b.cfg.deletes
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := b.plugin("delete", "--tenant-namespace", fmt.Sprintf("bulk-%05d", i)); err != nil {
			return err
		}
	}
	issued := time.Since(start)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		for i := 0; i < n; i++ {
			if _, err := b.client.Resource(gvr).Get(ctx, fmt.Sprintf("bulk-%05d", i), metav1.GetOptions{}); err == nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for deleted namespaces: %w", err)
	}
	b.row(fmt.Sprintf("delete %d tenants, one command each", n), fmt.Sprintf("%.2f s to issue (%s each), %.1f s until all are gone", issued.Seconds(), ms(issued/time.Duration(n)), time.Since(start).Seconds()), "", "", "")
	return nil
}
