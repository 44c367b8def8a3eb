// Command factsbench times `describe --all` against `check --all` over the
// same tenants (issue 18, item 3: describe within 2x of check). Both read
// the same facts of each tenant (its namespace, objects, guardrails and
// the cluster's lockdown), and describe shows them; it should not cost ten
// times what check does.
//
// It starts the local cluster as a bare control plane (etcd, kube-apiserver,
// kube-controller-manager; no Flux controllers), installs Flux's CRDs with
// `kubectl tenant bootstrap`, adds -tenants tenants with `add -f`: plain
// ones, as `add` makes them by default (their Kustomizations build from
// bootstrap's shared GitRepository, which describe reads for each tenant),
// and a share -confined of them confined with quota, limit range and
// network policy instead (as bench/run.sh's check row adds them); all under
// their own tenant label and Kustomization name. Then it runs `check --all
// -o json` and `describe --all -o json --events 0` with those flags, one
// after the other -runs times, and prints one Markdown table row: the
// median wall time of each, the ratio and the target. Every run's JSON must
// name exactly the tenants added, so that an empty or partial read fails
// the benchmark instead of timing it. Nothing reconciles and nothing is
// locked down, so check reports FAILs and exits 1: that is its result, not
// an error here.
//
//	make build
//	go run ./bench/cmd/factsbench -plugin ./kubectl-tenant                   # 1,000 plain tenants
//	go run ./bench/cmd/factsbench -plugin ./kubectl-tenant -confined 0.5     # half of them confined
//	go run ./bench/cmd/factsbench -plugin ./kubectl-tenant -tenants 100 -requests 15
//
// -team-size N adds the namespaces as teams of N (tenant fu-team-0000 has
// namespaces fu-0000 to fu-00N-1), each with two owners and an allowed
// source prefix, as `add -f` takes a team from YAML: check then judges
// every namespace against the others of its team. -baseline BINARY times
// that binary's `check --all -o json` too, alternating with the plugin's
// over the same tenants, for a before-and-after of a change on one
// cluster, whatever the machine's load does meanwhile:
//
//	go run ./bench/cmd/factsbench -plugin ./kubectl-tenant -baseline /tmp/kubectl-tenant-main -team-size 10
//
// -requests N runs each command once more with -v=6 and prints its N most
// frequent request patterns (namespace and object names folded), to see
// what describe sends that check does not.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/bench/internal/tenantbench"
	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
)

// The tenants' own label and Kustomization name, passed to add, check and
// describe alike: the commands must select by them, as bench/run.sh's rows
// that share a cluster do.
const (
	tenantLabel       = "bench.kubectl-tenant.io/facts-tenant"
	kustomizationName = "facts"
)

type config struct {
	plugin      string
	tenants     int
	confined    float64
	runs        int
	concurrency int
	requests    int
	target      float64
	teamSize    int
	baseline    string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.plugin, "plugin", "./kubectl-tenant", "the kubectl-tenant binary to measure")
	flag.IntVar(&cfg.tenants, "tenants", 1000, "how many tenants to add")
	flag.Float64Var(&cfg.confined, "confined", 0, "the share of the tenants added with --confine and guardrails (0.5: half); the others are plain, their Kustomizations building from bootstrap's shared GitRepository")
	flag.IntVar(&cfg.runs, "runs", 3, "timed runs of each command, alternating; the median is reported")
	flag.IntVar(&cfg.concurrency, "concurrency", 16, "add -f's --concurrency")
	flag.IntVar(&cfg.requests, "requests", 0, "also run each command once with -v=6 and print its N most frequent request patterns")
	flag.Float64Var(&cfg.target, "target", 2, "the target: describe's time at most this many times check's")
	flag.IntVar(&cfg.teamSize, "team-size", 1, "namespaces per tenant; above 1 each tenant is a team with two owners and an allowed source prefix")
	flag.StringVar(&cfg.baseline, "baseline", "", "another kubectl-tenant binary whose check --all -o json is timed too, alternating with -plugin's, over the same tenants")
	flag.Parse()
	if cfg.tenants < 1 || cfg.confined < 0 || cfg.confined > 1 || cfg.runs < 1 || cfg.teamSize < 1 {
		fmt.Fprintln(os.Stderr, "factsbench: need -tenants >= 1, 0 <= -confined <= 1, -runs >= 1, -team-size >= 1")
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "factsbench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	env, err := tenantbench.Start(cfg.plugin, localcluster.Options{ControllerManager: true})
	if err != nil {
		return err
	}
	defer env.Cluster.Stop()
	if err := env.Bootstrap(); err != nil {
		return err
	}
	selection := []string{"--tenant-label", tenantLabel, "--kustomization-name", kustomizationName}
	added, err := addTenants(env, cfg, selection)
	if err != nil {
		return err
	}

	checkArgs := append([]string{"check", "--all", "-o", "json"}, selection...)
	describeArgs := append([]string{"describe", "--all", "-o", "json", "--events", "0"}, selection...)
	commands := []struct {
		env     *tenantbench.Env
		args    []string
		ok      []int // check exits 1 when a row FAILs
		tenants func([]byte) ([]string, error)
	}{
		{env, checkArgs, []int{1}, tenantbench.CheckedNamespaces},
		{env, describeArgs, nil, tenantbench.DescribedNamespaces},
	}
	if cfg.baseline != "" {
		baseline, err := env.WithPlugin(cfg.baseline)
		if err != nil {
			return err
		}
		commands = append(commands, commands[0])
		commands[2].env = baseline
	}
	loadBefore := loadAverage()
	samples := make([][]tenantbench.Sample, len(commands))
	// One untimed run of each first (the API server's caches, the page
	// cache of the binary), then the timed runs alternate, so that a change
	// in the machine's load falls on both commands alike.
	for round := -1; round < cfg.runs; round++ {
		for i, c := range commands {
			s, out, _, err := c.env.MeasureOutput(c.ok, c.args...)
			if err != nil {
				return err
			}
			if err := sameTenants(c.args[0], c.tenants, out, added); err != nil {
				return err
			}
			if round >= 0 {
				samples[i] = append(samples[i], s)
				name := c.args[0]
				if c.env != env {
					name += " (baseline)"
				}
				fmt.Fprintf(os.Stderr, "factsbench: %s, run %d: %s\n", name, round+1, s.Wall.Round(time.Millisecond))
			}
		}
	}
	printTables(cfg, samples, loadBefore)

	if cfg.requests > 0 {
		for _, c := range commands {
			if err := printRequests(c.env, c.args, c.ok, cfg.requests, len(added)); err != nil {
				return err
			}
		}
	}
	return nil
}

// printTables prints the row of check against describe, and with a
// baseline the row of check before and after: samples are check's,
// describe's and the baseline's check's, in that order.
func printTables(cfg config, samples [][]tenantbench.Sample, loadBefore string) {
	check, describe := median(samples[0]), median(samples[1])
	ratio := describe.Wall.Seconds() / check.Wall.Seconds()
	met := "yes"
	if ratio > cfg.target {
		met = "**no**"
	}
	confined := cfg.confinedTenants()
	var mix []string
	if confined > 0 {
		mix = append(mix, fmt.Sprintf("%d confined (quota, limit range, network policy)", confined))
	}
	if confined < cfg.tenants {
		mix = append(mix, fmt.Sprintf("%d unconfined (shared source)", cfg.tenants-confined))
	}
	cell := func(s tenantbench.Sample) string {
		return fmt.Sprintf("%.2f s (CPU: plugin %.2f s, cluster %.2f s)", s.Wall.Seconds(), s.PluginCPU.Seconds(), s.ClusterCPU.Seconds())
	}
	if cfg.teamSize > 1 {
		mix = append(mix, fmt.Sprintf("in teams of %d namespaces with 2 owners and an allowed source each", cfg.teamSize))
	}
	fmt.Printf("| tenants, bare control plane (median of %d, load average %s before, %s after) | `check --all -o json` | `describe --all -o json --events 0` | describe / check | target | met |\n", cfg.runs, loadBefore, loadAverage())
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	fmt.Printf("| %d: %s | %s | %s | %.1fx | <= %gx | %s |\n", cfg.tenants, strings.Join(mix, " + "), cell(check), cell(describe), ratio, cfg.target, met)
	if cfg.baseline != "" {
		before := median(samples[2])
		fmt.Printf("\n| `check --all -o json`, same tenants, alternating (median of %d) | baseline `%s` | `%s` | after / before |\n| --- | --- | --- | --- |\n", cfg.runs, cfg.baseline, cfg.plugin)
		fmt.Printf("| %d namespaces | %s | %s | %.2fx wall, %.2fx plugin CPU, %.2fx cluster CPU |\n", cfg.tenants, cell(before), cell(check),
			check.Wall.Seconds()/before.Wall.Seconds(), check.PluginCPU.Seconds()/before.PluginCPU.Seconds(), check.ClusterCPU.Seconds()/before.ClusterCPU.Seconds())
	}

}

// confinedTenants is how many of the tenants are confined.
func (cfg config) confinedTenants() int {
	return int(math.Round(cfg.confined * float64(cfg.tenants)))
}

// addTenants adds the confined tenants and then the unconfined ones, and
// returns their namespaces, sorted.
func addTenants(env *tenantbench.Env, cfg config, selection []string) ([]string, error) {
	var added []string
	for _, part := range []struct {
		prefix string
		n      int
		flags  []string
	}{
		{"fc-", cfg.confinedTenants(), []string{"--confine", "--git-url", env.Cluster.GitURL(),
			"--quota", "pods=20", "--limit-range", "cpu=100m/500m", "--network-policy", "isolate"}},
		{"fu-", cfg.tenants - cfg.confinedTenants(), nil},
	} {
		if part.n == 0 {
			continue
		}
		content, namespaces := tenantList(part.prefix, part.n, cfg.teamSize, env.Cluster.GitURL())
		file := filepath.Join(os.TempDir(), fmt.Sprintf("factsbench-%s%d.txt", part.prefix, os.Getpid()))
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			return nil, err
		}
		args := append([]string{"add", "-f", file, "--concurrency", fmt.Sprint(cfg.concurrency), "-o", "name"}, part.flags...)
		took, _, err := env.Run(nil, append(args, selection...)...)
		os.Remove(file)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "factsbench: added %d namespaces (%s*) in %s\n", part.n, part.prefix, took.Round(time.Millisecond))
		added = append(added, namespaces...)
	}
	slices.Sort(added)
	return added, nil
}

// tenantList is add -f's file for n namespaces prefix0000 on, and the
// namespaces. With teamSize 1, one tenant a namespace (CSV), tenant names
// unique across both parts: namespace fc-0000 is tenant fc-tenant-0000.
// Above, teams of teamSize namespaces (YAML), tenant fc-team-0000 holding
// fc-0000 on, each with two owners and sources allowed under gitURL.
func tenantList(prefix string, n, teamSize int, gitURL string) (string, []string) {
	var namespaces []string
	for i := range n {
		namespaces = append(namespaces, fmt.Sprintf("%s%04d", prefix, i))
	}
	var b strings.Builder
	if teamSize == 1 {
		for i, ns := range namespaces {
			fmt.Fprintf(&b, "%s,%stenant-%04d\n", ns, prefix, i)
		}
		return b.String(), namespaces
	}
	for team := 0; team*teamSize < n; team++ {
		fmt.Fprintf(&b, "- name: %steam-%04d\n  owners: [\"User:dev-%04d@example.com=edit\", \"Group:team-%04d=view\"]\n  allowedSources: [%q]\n  namespaces:\n",
			prefix, team, team, team, gitURL)
		for _, ns := range namespaces[team*teamSize : min(n, (team+1)*teamSize)] {
			fmt.Fprintf(&b, "  - %s\n", ns)
		}
	}
	return b.String(), namespaces
}

// sameTenants fails unless the command's JSON names exactly the tenants
// added.
func sameTenants(command string, parse func([]byte) ([]string, error), out []byte, added []string) error {
	seen, err := parse(out)
	if err != nil {
		return err
	}
	if !slices.Equal(seen, added) {
		return fmt.Errorf("%s --all saw %d tenants, want the %d added (first seen: %v)", command, len(seen), len(added), seen[:min(3, len(seen))])
	}
	return nil
}

// printRequests runs the command once more with -v=6 and prints its n most
// frequent request patterns as a Markdown table.
func printRequests(env *tenantbench.Env, args []string, ok []int, n, tenants int) error {
	s, _, log, err := env.MeasureOutput(ok, append(slices.Clone(args), "-v=6")...)
	if err != nil {
		return err
	}
	patterns := tenantbench.CountPatterns(log)
	total := 0
	for _, p := range patterns {
		total += p.Count
	}
	waited, delay := tenantbench.Throttled(log)
	fmt.Printf("\n`%s` at -v=6 (%d tenants): %d requests, %.2f s; %d of them waited for client-side throttling, %.2f s in total\n\n| requests | per tenant | pattern |\n| --- | --- | --- |\n",
		strings.Join(args, " "), tenants, total, s.Wall.Seconds(), waited, delay.Seconds())
	for i, p := range patterns {
		if i == n {
			rest := 0
			for _, q := range patterns[n:] {
				rest += q.Count
			}
			fmt.Printf("| %d | | (%d more patterns) |\n", rest, len(patterns)-n)
			break
		}
		fmt.Printf("| %d | %.2f | `%s` |\n", p.Count, float64(p.Count)/float64(tenants), p.Pattern)
	}
	return nil
}

// median is the sample of median wall time (the lower of the middle two
// for an even count), with that run's CPU times.
func median(samples []tenantbench.Sample) tenantbench.Sample {
	sorted := slices.Clone(samples)
	slices.SortFunc(sorted, func(a, b tenantbench.Sample) int { return cmp.Compare(a.Wall, b.Wall) })
	return sorted[(len(sorted)-1)/2]
}

// loadAverage is the machine's one-minute load average: the wall times
// are as fast as the machine was free.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}
