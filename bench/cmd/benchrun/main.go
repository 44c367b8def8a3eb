// Command benchrun measures kubectl-tenant against the demo's recipe
// (kubectl, yq) and a minimal client-go program (bench/cmd/ssabaseline).
// bench/run.sh calls it twice: -phase offline before the local cluster starts
// (start-up, binary size, offline rendering on a quiet machine) and -phase
// cluster with KUBECONFIG pointing at the cluster of bench/cmd/benchcluster.
// Each phase appends rows (tab-separated) to -rows; -print FILE prints them as
// one Markdown table.
package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

type config struct {
	plugin, pluginFull, kubectl, yq, baseline, timeBin string
	bulk, scale, deletes, concurrency, runs            int
	rows, work, floor, listprobe                       string
}

type bench struct {
	cfg        config
	kubeconfig string
	client     dynamic.Interface
	home       string // HOME for every command: kubectl's discovery cache lives here
	added      int    // tenants in the cluster
}

func main() {
	var cfg config
	phase := flag.String("phase", "", "offline or cluster")
	print := flag.String("print", "", "print the rows in this file as one Markdown table and exit")
	flag.StringVar(&cfg.plugin, "plugin", "kubectl-tenant", "kubectl-tenant binary, stripped (make build)")
	flag.StringVar(&cfg.pluginFull, "plugin-unstripped", "", "the same build without -s -w, for the size breakdown")
	flag.StringVar(&cfg.kubectl, "kubectl", "kubectl", "kubectl binary")
	flag.StringVar(&cfg.yq, "yq", "_output/bin/yq", "mikefarah yq v4 binary")
	flag.StringVar(&cfg.baseline, "ssabaseline", "", "bench/cmd/ssabaseline binary")
	flag.StringVar(&cfg.timeBin, "time", "/usr/bin/time", "GNU time, for peak RSS (-f %M)")
	flag.IntVar(&cfg.bulk, "bulk", 1000, "tenants per bulk add")
	flag.IntVar(&cfg.scale, "scale", 10000, "tenants in the cluster for the list benchmark")
	flag.IntVar(&cfg.deletes, "deletes", 100, "tenants deleted in the delete benchmark")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "workers for the bulk adds, plugin and baseline alike")
	flag.IntVar(&cfg.runs, "runs", 20, "repetitions of each short measurement; the median is reported")
	flag.StringVar(&cfg.rows, "rows", "", "file the table rows are appended to")
	flag.StringVar(&cfg.work, "work", "", "scratch directory")
	flag.StringVar(&cfg.listprobe, "listprobe", "", "bench/cmd/listprobe binary: ways of reading the Kustomizations, for the list analysis")
	flag.StringVar(&cfg.floor, "floor", "", "directory of the bench/cmd/startupfloor builds (hello, cobra, cliruntime, clientgo, clientcmd)")
	flag.Parse()
	var err error
	switch {
	case *print != "":
		err = printTable(*print)
	case *phase == "offline" || *phase == "cluster":
		err = run(cfg, *phase)
	default:
		err = fmt.Errorf("-phase offline|cluster or -print FILE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run(cfg config, phase string) error {
	var err error
	for _, p := range []*string{&cfg.plugin, &cfg.kubectl, &cfg.yq, &cfg.baseline, &cfg.timeBin, &cfg.listprobe} {
		if *p == "" {
			continue
		}
		if *p, err = exec.LookPath(*p); err != nil {
			return err
		}
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if cfg.work == "" {
		if cfg.work, err = os.MkdirTemp("", "kubectl-tenant-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(cfg.work)
	}
	b := &bench{cfg: cfg, home: filepath.Join(cfg.work, "home-"+phase)}
	if err := os.MkdirAll(b.home, 0o755); err != nil {
		return err
	}
	var steps []func() error
	if phase == "offline" {
		b.kubeconfig = "/nonexistent"
		steps = []func() error{b.startup, b.startupFloor, b.size, b.renderOffline}
	} else {
		b.kubeconfig = os.Getenv("KUBECONFIG")
		rc, err := clientcmd.BuildConfigFromFlags("", b.kubeconfig)
		if err != nil {
			return fmt.Errorf("cluster phase needs KUBECONFIG: %w", err)
		}
		if b.client, err = dynamic.NewForConfig(rc); err != nil {
			return err
		}
		steps = []func() error{b.addLive, b.bulkAdd, b.listAtScale, b.deleteMany, b.checkAtScale}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// row appends one table row: measurement, kubectl-tenant, comparison,
// ratio, target, met.
func (b *bench) row(cells ...string) error {
	for len(cells) < 6 {
		cells = append(cells, "")
	}
	line := strings.Join(cells, "\t")
	fmt.Fprintln(os.Stderr, "  row: "+strings.ReplaceAll(line, "\t", " | "))
	if b.cfg.rows == "" {
		return nil
	}
	f, err := os.OpenFile(b.cfg.rows, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	return err
}

func printTable(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Println("| measurement | kubectl-tenant | comparison | ratio | target | met |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") { // a note printed under the table
			continue
		}
		fmt.Println("| " + strings.ReplaceAll(line, "\t", " | ") + " |")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			fmt.Println(strings.TrimSpace(strings.TrimPrefix(line, "#")))
		}
	}
	return nil
}

// sample is one process run: wall time and peak RSS.
type sample struct {
	wall time.Duration
	rss  int64 // KiB, from GET time -f %M
}

// exec runs a command under GNU time and returns its wall time (measured
// here, around the time process) and peak RSS. env is added to a HOME and
// KUBECONFIG of the bench; timed=false runs the command without time (wall
// time only, for start-up, where time's own fork/exec would be counted).
func (b *bench) exec(stdin []byte, env []string, withRSS bool, name string, args ...string) (sample, []byte, error) {
	return b.execStatus(stdin, env, withRSS, nil, name, args...)
}

// execStatus is exec for commands whose exit codes in ok are results, not
// failures: check exits 1 when a row FAILs.
func (b *bench) execStatus(stdin []byte, env []string, withRSS bool, ok []int, name string, args ...string) (sample, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	rssFile := filepath.Join(b.cfg.work, "rss")
	argv := append([]string{name}, args...)
	if withRSS {
		argv = append([]string{b.cfg.timeBin, "-f", "%M", "-o", rssFile}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + b.home, "KUBECONFIG=" + b.kubeconfig}, env...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if exitErr, isExit := err.(*exec.ExitError); isExit && slices.Contains(ok, exitErr.ExitCode()) {
		err = nil
	}
	if err != nil {
		return sample{}, nil, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(errOut.String(), 2000))
	}
	s := sample{wall: wall}
	if withRSS {
		data, err := os.ReadFile(rssFile)
		if err != nil {
			return s, nil, err
		}
		lines := strings.Fields(string(data))
		if len(lines) == 0 {
			return s, nil, fmt.Errorf("time wrote nothing to %s", rssFile)
		}
		if s.rss, err = strconv.ParseInt(lines[len(lines)-1], 10, 64); err != nil {
			return s, nil, fmt.Errorf("time -f %%M: %w", err)
		}
	}
	return s, append(out.Bytes(), errOut.Bytes()...), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (b *bench) plugin(args ...string) ([]byte, error) {
	_, out, err := b.exec(nil, nil, false, b.cfg.plugin, args...)
	return out, err
}

// median runs f n times and returns the median wall time and the median RSS.
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
	if n%2 == 0 {
		return sample{wall: (walls[n/2-1] + walls[n/2]) / 2, rss: (rsss[n/2-1] + rsss[n/2]) / 2}, nil
	}
	return sample{wall: walls[n/2], rss: rsss[n/2]}, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}
func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
func ratio(slow, fast time.Duration) string {
	return fmt.Sprintf("%.1fx", float64(slow)/float64(fast))
}
func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// startup: --help and version, wall time (median of runs, without GNU time
// around the process) and peak RSS (median of as many runs under time).
func (b *bench) startup() error {
	cases := []struct {
		name    string
		plugin  []string
		kubectl []string
	}{
		{"--help", []string{"--help"}, []string{"--help"}},
		{"version", []string{"version"}, []string{"version", "--client"}},
	}
	for _, c := range cases {
		measure := func(name string, args []string) (sample, error) {
			wall, err := median(b.cfg.runs, func(int) (sample, error) {
				s, _, err := b.exec(nil, nil, false, name, args...)
				return s, err
			})
			if err != nil {
				return wall, err
			}
			rss, err := median(b.cfg.runs, func(int) (sample, error) {
				s, _, err := b.exec(nil, nil, true, name, args...)
				return s, err
			})
			return sample{wall: wall.wall, rss: rss.rss}, err
		}
		p, err := measure(b.cfg.plugin, c.plugin)
		if err != nil {
			return err
		}
		k, err := measure(b.cfg.kubectl, c.kubectl)
		if err != nil {
			return err
		}
		if err := b.row(fmt.Sprintf("start-up: `kubectl-tenant %s` (median of %d)", c.name, b.cfg.runs),
			ms(p.wall)+", "+mib(p.rss),
			fmt.Sprintf("`kubectl %s`: %s, %s", strings.Join(c.kubectl, " "), ms(k.wall), mib(k.rss)),
			ratio(k.wall, p.wall)+" faster", "< 15 ms", met(p.wall < 15*time.Millisecond)); err != nil {
			return err
		}
	}
	return nil
}

// startupFloor measures the build variants of bench/cmd/startupfloor: what
// each layer of the plugin's stack costs in start-up time and size.
func (b *bench) startupFloor() error {
	if b.cfg.floor == "" {
		return nil
	}
	variants := []struct{ name, what string }{
		{"hello", "Go runtime only"},
		{"cobra", "+ cobra"},
		{"cliruntime", "+ cli-runtime genericclioptions (kubectl flags)"},
		{"clientgo", "+ client-go dynamic + discovery (the plugin's stack)"},
		{"clientcmd", "cobra + client-go clientcmd flags + dynamic, no cli-runtime/discovery"},
		{"clientcmddisco", "clientcmd + client-go discovery"},
		{"clientcmdrender", "clientcmd + the plugin's pkg/render"},
	}
	var cells []string
	for _, v := range variants {
		bin := filepath.Join(b.cfg.floor, v.name)
		st, err := os.Stat(bin)
		if err != nil {
			return err
		}
		s, err := median(b.cfg.runs, func(int) (sample, error) {
			s, _, err := b.exec(nil, nil, false, bin, "--help")
			return s, err
		})
		if err != nil {
			return err
		}
		cells = append(cells, fmt.Sprintf("%s (%s): %s, %.1f MB", v.name, v.what, ms(s.wall), float64(st.Size())/1e6))
	}
	return b.row("start-up floor: build variants of bench/cmd/startupfloor, `--help`, stripped", "", strings.Join(cells, "; "), "", "", "info")
}

// size: the stripped binary, and what its biggest dependencies cost, from
// the symbol sizes of the same build without -s -w.
func (b *bench) size() error {
	st, err := os.Stat(b.cfg.plugin)
	if err != nil {
		return err
	}
	top := ""
	if b.cfg.pluginFull != "" {
		groups, total, err := symbolSizes(b.cfg.pluginFull)
		if err != nil {
			return err
		}
		var lines []string
		lines = append(lines, "#", "# Binary size by package path (ELF symbol sizes of the unstripped build, as go tool nm -size shows them; symbols only, no BSS, so the sum is below the file size):", "#",
			"# | package path prefix | symbol bytes | share |", "# |---|---|---|")
		for i, g := range groups {
			if i < 3 {
				top += fmt.Sprintf("%s %.1f MB; ", g.name, float64(g.size)/1e6)
			}
			if i < 15 {
				lines = append(lines, fmt.Sprintf("# | %s | %.2f MB | %.0f%% |", g.name, float64(g.size)/1e6, 100*float64(g.size)/float64(total)))
			}
		}
		lines = append(lines, fmt.Sprintf("# | (all symbols) | %.2f MB | 100%% |", float64(total)/1e6))
		f, err := os.OpenFile(b.cfg.rows, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		fmt.Fprintln(f, strings.Join(lines, "\n"))
		f.Close()
	}
	return b.row("binary size, stripped (`make build`)", fmt.Sprintf("%.1f MB", float64(st.Size())/1e6),
		"largest: "+strings.TrimSuffix(top, "; "), "", "<= 55 MB", met(st.Size() <= 55e6))
}

type group struct {
	name string
	size int64
}

// symbolSizes groups the symbol sizes of an unstripped binary (the ELF
// symbol table, what `go tool nm -size` prints) by package path prefix: the
// module for well-known hosts (k8s.io/api, github.com/fluxcd/pkg/..., ...),
// "std" for the standard library. BSS symbols take no room in the file and
// are skipped.
func symbolSizes(bin string) ([]group, int64, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, 0, err
	}
	sizes := map[string]int64{}
	var total int64
	for _, sym := range syms {
		if sym.Size == 0 || int(sym.Section) >= len(f.Sections) || f.Sections[sym.Section].Type == elf.SHT_NOBITS {
			continue
		}
		total += int64(sym.Size)
		sizes[packageGroup(sym.Name)] += int64(sym.Size)
	}
	var groups []group
	for k, v := range sizes {
		groups = append(groups, group{k, v})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].size > groups[j].size })
	return groups, total, nil
}

func packageGroup(sym string) string {
	if strings.HasPrefix(sym, "go:func.") || strings.HasPrefix(sym, "runtime.") && !strings.Contains(sym, "/") {
		return "runtime and its metadata (go:func.*)"
	}
	for _, p := range []string{"go:itab.", "type:.eq.", "type:.namedata.", "type:", "go:", "*"} {
		sym = strings.TrimPrefix(sym, p)
	}
	sym = strings.TrimLeft(sym, "*[]()")
	if i := strings.IndexAny(sym, "([,; "); i >= 0 {
		sym = sym[:i]
	}
	pkg := sym
	slash := strings.LastIndex(pkg, "/")
	if dot := strings.Index(pkg[slash+1:], "."); dot >= 0 {
		pkg = pkg[:slash+1+dot]
	}
	parts := strings.Split(pkg, "/")
	if !strings.Contains(parts[0], ".") {
		if pkg == "" || strings.HasPrefix(sym, ".") || strings.HasPrefix(sym, "_") {
			return "(runtime data, unnamed)"
		}
		return "std"
	}
	keep := 2
	switch parts[0] {
	case "github.com", "golang.org", "go.yaml.in":
		keep = 3
	case "k8s.io", "sigs.k8s.io":
		keep = 2
		if len(parts) > 2 && parts[1] == "client-go" {
			keep = 3 // k8s.io/client-go/kubernetes, ...
		}
	}
	if parts[0] == "github.com" && parts[1] == "fluxcd" {
		keep = 4 // github.com/fluxcd/pkg/kustomize, github.com/fluxcd/flux2/v2/pkg
	}
	if len(parts) < keep {
		keep = len(parts)
	}
	return strings.Join(parts[:keep], "/")
}

const ksStatic = `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: dummy
  namespace: %[1]s
spec:
  interval: 5m0s
  path: ./kustomizations/per-tenant
  prune: true
  sourceRef:
    kind: GitRepository
    name: default
    namespace: flux-system
  targetNamespace: %[1]s
`

// tenantStatic is what `flux create tenant NS --with-namespace NS --export`
// prints (the namespace, service account and role binding).
const tenantStatic = `---
apiVersion: v1
kind: Namespace
metadata:
  labels:
    toolkit.fluxcd.io/tenant: %[1]s
  name: %[1]s
---
apiVersion: v1
kind: ServiceAccount
metadata:
  labels:
    toolkit.fluxcd.io/tenant: %[1]s
  name: %[1]s
  namespace: %[1]s
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  labels:
    toolkit.fluxcd.io/tenant: %[1]s
  name: %[1]s-reconciler
  namespace: %[1]s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: gotk:%[1]s:reconciler
- kind: ServiceAccount
  name: %[1]s
  namespace: %[1]s
`

const postBuild = `.spec.postBuild = {"substitute": {"SUBST_LITERAL": "sometenant"}, "substituteFrom": [{"kind": "ConfigMap", "name": "tenant-vars"}]}`

// renderOffline: add --dry-run=client -o yaml against the recipe's offline
// steps that can run here. The two flux steps cannot (the flux CLI is not
// buildable offline) and are fed as static files; kfilt is not on the Go
// module proxy, so its two filters are done by yq select, the same work.
func (b *bench) renderOffline() error {
	// Wall time without GNU time around the processes (its own fork and
	// exec would be counted five times for the recipe, once for the plugin);
	// peak RSS from as many runs under time.
	pluginArgs := []string{"add", "foo", "sometenant", "--dry-run=client", "-o", "yaml"}
	p, err := median(b.cfg.runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, false, b.cfg.plugin, pluginArgs...)
		return s, err
	})
	if err != nil {
		return err
	}
	pr, err := median(b.cfg.runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, true, b.cfg.plugin, pluginArgs...)
		return s, err
	})
	if err != nil {
		return err
	}
	p.rss = pr.rss
	tenant := filepath.Join(b.cfg.work, "flux-tenant.yaml")
	ks := filepath.Join(b.cfg.work, "flux-ks.yaml")
	if err := os.WriteFile(tenant, fmt.Appendf(nil, tenantStatic, "foo"), 0o644); err != nil {
		return err
	}
	steps := [][]string{
		{b.cfg.kubectl, "create", "namespace", "foo", "--dry-run=client", "-o", "yaml"},
		{b.cfg.kubectl, "create", "configmap", "-n", "foo", "--from-literal=PER_TENANT_SUBST=This tenant name is \"sometenant\"", "tenant-vars", "--dry-run=client", "-o", "yaml"},
		{b.cfg.yq, `select(.kind == "ServiceAccount")`, tenant}, // kfilt --kind=ServiceAccount
		{b.cfg.yq, `select(.kind == "RoleBinding")`, tenant},    // kfilt --kind=RoleBinding
		{b.cfg.yq, "-i", postBuild, ks},
	}
	perStep := make([][]time.Duration, len(steps))
	recipe := func(withRSS bool) func(int) (sample, error) {
		return func(int) (sample, error) {
			var total sample
			if err := os.WriteFile(ks, fmt.Appendf(nil, ksStatic, "foo"), 0o644); err != nil {
				return total, err
			}
			for i, step := range steps {
				s, _, err := b.exec(nil, nil, withRSS, step[0], step[1:]...)
				if err != nil {
					return total, err
				}
				if !withRSS {
					perStep[i] = append(perStep[i], s.wall)
				}
				total.wall += s.wall
				total.rss = max(total.rss, s.rss)
			}
			return total, nil
		}
	}
	k, err := median(b.cfg.runs, recipe(false))
	if err != nil {
		return err
	}
	kr, err := median(b.cfg.runs, recipe(true))
	k.rss = kr.rss
	if err != nil {
		return err
	}
	var med []string
	for _, d := range perStep {
		slices.Sort(d)
		med = append(med, ms(d[len(d)/2]))
	}
	r := float64(k.wall) / float64(p.wall)
	return b.row(fmt.Sprintf("render one tenant offline: `add foo sometenant --dry-run=client -o yaml` (median of %d)", b.cfg.runs),
		ms(p.wall)+", "+mib(p.rss),
		fmt.Sprintf("recipe offline steps: %s total, max %s (kubectl create ns %s + create cm %s; yq select SA %s + RB %s [kfilt not on the proxy]; yq -i postBuild %s); `flux create tenant --export` and `flux create ks --export`: **not measured** (flux CLI not buildable here), so the recipe's real cost is higher",
			ms(k.wall), mib(k.rss), med[0], med[1], med[2], med[3], med[4]),
		fmt.Sprintf("%.1fx faster", r), ">= 20x", met(r >= 20))
}

// requests parses client-go's -v=6 request log: kubectl 1.32 logs
// `round_trippers.go:560] GET https://... 200 OK in 3 milliseconds`,
// client-go 0.37 logs `"Response" verb="GET" url="https://..." status="200 OK"`.
var requestLine = regexp.MustCompile(`"Response" verb="([A-Z]+)" url="([^"]+)"|\] ([A-Z]+) (https?://\S+) \d{3} `)

type requestCount struct{ discovery, reads, writes, reviews int }

func (c requestCount) String() string {
	s := fmt.Sprintf("%d writes, %d reads (%d of them discovery/OpenAPI)", c.writes, c.reads+c.discovery, c.discovery)
	if c.reviews > 0 {
		s += fmt.Sprintf(", %d access review POST", c.reviews)
	}
	return s
}

var discoveryPath = regexp.MustCompile(`^/(api|apis|api/v1|apis/[^/]+|apis/[^/]+/[^/]+|openapi/.*|version)$`)

func countRequests(log []byte) requestCount {
	var c requestCount
	for _, m := range requestLine.FindAllSubmatch(log, -1) {
		verb, raw := string(m[1])+string(m[3]), string(m[2])+string(m[4])
		u, err := url.Parse(raw)
		path := raw
		if err == nil {
			path = u.Path
		}
		switch {
		case verb == "GET" && discoveryPath.MatchString(path):
			c.discovery++
		case verb == "GET":
			c.reads++
		case verb == "POST" && strings.Contains(path, "/selfsubject"):
			c.reviews++
		default:
			c.writes++
		}
	}
	return c
}

// recipe runs the README's recipe for one tenant with kubectl, the flux
// generated YAML replaced by the same static YAML.
func (b *bench) recipe(ns string, verbose bool) (sample, []byte, error) {
	var v []string
	if verbose {
		v = []string{"-v=6"}
	}
	tenantYAML := fmt.Sprintf(tenantStatic, ns)
	objs := tenantYAML[strings.Index(tenantYAML, "---\napiVersion: v1\nkind: ServiceAccount"):] // kfilt SA + RB
	ks := fmt.Sprintf(ksStatic, ns) + "  postBuild:\n    substitute:\n      SUBST_LITERAL: sometenant\n    substituteFrom:\n    - kind: ConfigMap\n      name: tenant-vars\n"
	steps := []struct {
		stdin []byte
		args  []string
	}{
		{nil, []string{"create", "namespace", ns}},
		{nil, []string{"create", "configmap", "-n", ns, "--from-literal=PER_TENANT_SUBST=This tenant name is \"sometenant\"", "tenant-vars"}},
		{nil, []string{"label", "namespace", ns, render.DefaultTenantLabelKey + "=sometenant", "toolkit.fluxcd.io/tenant=" + ns}},
		{[]byte(objs), []string{"apply", "-f", "-"}},
		{[]byte(ks), []string{"apply", "-f", "-"}},
	}
	var total sample
	var logs []byte
	for _, s := range steps {
		one, out, err := b.exec(s.stdin, nil, true, b.cfg.kubectl, append(s.args, v...)...)
		if err != nil {
			return total, nil, err
		}
		total.wall += one.wall
		total.rss = max(total.rss, one.rss)
		logs = append(logs, out...)
	}
	return total, logs, nil
}

// addLive: one add against the API server versus the recipe's five kubectl
// steps. kubectl runs with a fresh HOME: its first run fills the discovery
// cache (cold), the median is over the later runs (warm).
func (b *bench) addLive() error {
	n := max(5, b.cfg.runs/2)
	p, err := median(n, func(i int) (sample, error) {
		s, _, err := b.exec(nil, nil, true, b.cfg.plugin, "add", fmt.Sprintf("live-p%02d", i), "sometenant")
		return s, err
	})
	if err != nil {
		return err
	}
	_, log, err := b.exec(nil, nil, false, b.cfg.plugin, "add", "live-pv", "sometenant", "-v=6")
	if err != nil {
		return err
	}
	pc := countRequests(log)
	b.added += n + 1

	// Cold: a fresh HOME, so kubectl has no discovery cache.
	coldHome := b.home
	b.home = filepath.Join(b.cfg.work, "home-cold-count")
	_, klogCold, err := b.recipe("live-kcv", true)
	b.home = coldHome
	if err != nil {
		return err
	}
	// The timed runs get their own HOME, fresh for the first (cold) run.
	b.home = filepath.Join(b.cfg.work, "home-kubectl")
	defer func() { b.home = coldHome }()
	cold, _, err := b.recipe("live-kcold", false)
	if err != nil {
		return err
	}
	k, err := median(n, func(i int) (sample, error) {
		s, _, err := b.recipe(fmt.Sprintf("live-k%02d", i), false)
		return s, err
	})
	if err != nil {
		return err
	}
	_, klog, err := b.recipe("live-kv", true)
	if err != nil {
		return err
	}
	b.added += n + 3
	kcCold, kc := countRequests(klogCold), countRequests(klog)
	r := float64(k.wall) / float64(p.wall)
	ok := r >= 5 && pc.writes <= 5 && pc.discovery <= 2
	return b.row(fmt.Sprintf("add one tenant, live API server (median of %d)", n),
		fmt.Sprintf("%s, %s; %s", ms(p.wall), mib(p.rss), pc),
		fmt.Sprintf("recipe's 5 kubectl steps: warm discovery cache %s (%s); cold cache (first run, fresh HOME) %s (%s)",
			ms(k.wall), kc, ms(cold.wall), kcCold),
		fmt.Sprintf("%.1fx faster than warm, %.1fx than cold", r, float64(cold.wall)/float64(p.wall)),
		">= 5x; <= 1 write per object; no discovery storm", met(ok))
}

func (b *bench) tenantFile(prefix string, n int) (string, error) {
	var buf strings.Builder
	buf.WriteString("namespace,name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, "%s-%05d,%s-tenant-%05d\n", prefix, i, prefix, i)
	}
	path := filepath.Join(b.cfg.work, prefix+".csv")
	return path, os.WriteFile(path, []byte(buf.String()), 0o644)
}

// bulkAdd: add -f with N tenants versus ssabaseline applying the same
// objects with the same concurrency, alternating, two rounds each, fresh
// namespaces every time (a0-, a1- for the plugin; b0-, b1- for the baseline).
func (b *bench) bulkAdd() error {
	n, c := b.cfg.bulk, b.cfg.concurrency
	var ps, bs []sample
	for round := 0; round < 2; round++ {
		baseFile, err := b.tenantFile(fmt.Sprintf("b%d", round), n)
		if err != nil {
			return err
		}
		_, yaml, err := b.exec(nil, []string{"KUBECONFIG=/nonexistent"}, false, b.cfg.plugin, "add", "-f", baseFile, "--dry-run=client", "-o", "yaml")
		if err != nil {
			return err
		}
		objects := filepath.Join(b.cfg.work, fmt.Sprintf("b%d.yaml", round))
		if err := os.WriteFile(objects, yaml, 0o644); err != nil {
			return err
		}
		s, _, err := b.exec(nil, nil, true, b.cfg.baseline, "-f", objects, "-concurrency", fmt.Sprint(c), "-qps", fmt.Sprint(25*c), "-burst", fmt.Sprint(50*c))
		if err != nil {
			return err
		}
		bs = append(bs, s)
		fmt.Fprintf(os.Stderr, "  baseline round %d: %s, %s\n", round, secs(s.wall), mib(s.rss))

		file, err := b.tenantFile(fmt.Sprintf("a%d", round), n)
		if err != nil {
			return err
		}
		s, _, err = b.exec(nil, nil, true, b.cfg.plugin, "add", "-f", file, "--concurrency", fmt.Sprint(c), "-o", "name")
		if err != nil {
			return err
		}
		ps = append(ps, s)
		fmt.Fprintf(os.Stderr, "  plugin round %d: %s, %s\n", round, secs(s.wall), mib(s.rss))
		b.added += 2 * n
	}
	avg := func(s []sample) sample {
		var out sample
		for _, x := range s {
			out.wall += x.wall / time.Duration(len(s))
			out.rss = max(out.rss, x.rss)
		}
		return out
	}
	p, base := avg(ps), avg(bs)
	rate := func(d time.Duration) string { return fmt.Sprintf("%.0f tenants/s", float64(n)/d.Seconds()) }
	r := p.wall.Seconds() / base.wall.Seconds()
	return b.row(fmt.Sprintf("bulk: `add -f` %d tenants (%d objects), %d workers (mean of 2 rounds, max RSS)", n, 5*n, c),
		fmt.Sprintf("%s, %s, %s (rounds %s, %s)", secs(p.wall), rate(p.wall), mib(p.rss), secs(ps[0].wall), secs(ps[1].wall)),
		fmt.Sprintf("ssabaseline (client-go SSA, 8 workers, QPS %d/burst %d): %s, %s, %s (rounds %s, %s)", 25*c, 50*c, secs(base.wall), rate(base.wall), mib(base.rss), secs(bs[0].wall), secs(bs[1].wall)),
		fmt.Sprintf("%.2fx the baseline's time", r), "<= 1.5x", met(r <= 1.5))
}

// listAtScale fills the cluster up to cfg.scale tenants with add -f at
// concurrency 16, then lists them.
func (b *bench) listAtScale() error {
	if extra := b.cfg.scale - b.added; extra > 0 {
		file, err := b.tenantFile("fill", extra)
		if err != nil {
			return err
		}
		s, _, err := b.exec(nil, nil, true, b.cfg.plugin, "add", "-f", file, "--concurrency", "16", "-o", "name")
		if err != nil {
			return err
		}
		b.added += extra
		if err := b.row(fmt.Sprintf("(fill) `add -f` %d more tenants, 16 workers", extra),
			fmt.Sprintf("%s, %.0f tenants/s, %s", secs(s.wall), float64(extra)/s.wall.Seconds(), mib(s.rss)), "", "", "", "info"); err != nil {
			return err
		}
	}
	runs := max(3, b.cfg.runs/4)
	l, err := median(runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, true, b.cfg.plugin, "list")
		return s, err
	})
	if err != nil {
		return err
	}
	k, err := median(runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, true, b.cfg.kubectl, "get", "ns", "-l", render.DefaultTenantLabelKey)
		return s, err
	})
	if err != nil {
		return err
	}
	out, err := b.plugin("list", "--no-headers")
	if err != nil {
		return err
	}
	rows := bytes.Count(out, []byte("\n"))
	ok := l.wall < 2*time.Second && l.rss < 100*1000*1000/1024
	if err := b.row(fmt.Sprintf("list %d tenants, `kubectl-tenant list` (chunks of 500, median of %d)", rows, runs),
		fmt.Sprintf("%s, %s", secs(l.wall), mib(l.rss)),
		fmt.Sprintf("`kubectl get ns -l <tenant label>` (namespaces only, no Kustomization status): %s, %s", secs(k.wall), mib(k.rss)),
		ratio(k.wall, l.wall)+" faster", "< 2 s, < 100 MB", met(ok)); err != nil {
		return err
	}
	if b.cfg.listprobe == "" {
		return nil
	}
	var cells []string
	for _, qps := range []string{"0", "50"} {
		for _, mode := range []string{"unstructured", "typed", "table"} {
			_, out, err := b.exec(nil, nil, false, b.cfg.listprobe, "-mode", mode, "-qps", qps)
			if err != nil {
				return err
			}
			label := "QPS 5 (default)"
			if qps != "0" {
				label = "QPS " + qps
			}
			cells = append(cells, label+" "+strings.TrimSpace(string(out)))
		}
	}
	return b.row("list analysis: reading all tenant Kustomizations, chunks of 500 (bench/cmd/listprobe)", "", strings.Join(cells, "; "), "", "", "info")
}

// deleteMany deletes cfg.deletes tenants one command at a time (no --wait),
// then waits until the namespaces are gone (kube-controller-manager's
// namespace controller empties them); kubectl delete ns does the same for
// as many others.
func (b *bench) deleteMany() error {
	n := b.cfg.deletes
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gone := func(prefix string) error {
		return wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 15*time.Minute, true, func(ctx context.Context) (bool, error) {
			for i := 0; i < n; i++ {
				if _, err := b.client.Resource(gvr).Get(ctx, fmt.Sprintf("%s-%05d", prefix, i), metav1.GetOptions{}); err == nil {
					return false, nil
				}
			}
			return true, nil
		})
	}
	run := func(prefix string, cmd func(ns string) error) (issued, total time.Duration, err error) {
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := cmd(fmt.Sprintf("%s-%05d", prefix, i)); err != nil {
				return 0, 0, err
			}
		}
		issued = time.Since(start)
		if err := gone(prefix); err != nil {
			return 0, 0, fmt.Errorf("waiting for the %s-* namespaces to go: %w", prefix, err)
		}
		return issued, time.Since(start), nil
	}
	pi, pt, err := run("a0", func(ns string) error {
		_, err := b.plugin("delete", "--tenant-namespace", ns)
		return err
	})
	if err != nil {
		return err
	}
	ki, kt, err := run("b0", func(ns string) error {
		_, _, err := b.exec(nil, nil, false, b.cfg.kubectl, "delete", "namespace", ns, "--wait=false")
		return err
	})
	if err != nil {
		return err
	}
	return b.row(fmt.Sprintf("delete %d tenants, one `delete --tenant-namespace NS` each, no --wait", n),
		fmt.Sprintf("%s to issue (%s each); %s until all namespaces are gone", secs(pi), ms(pi/time.Duration(n)), secs(pt)),
		fmt.Sprintf("`kubectl delete namespace NS --wait=false`: %s to issue (%s each); %s until gone", secs(ki), ms(ki/time.Duration(n)), secs(kt)),
		ratio(ki, pi)+" faster to issue", "", "info")
}

// checkLabel and checkKustomization keep check's tenants apart from the
// others: list selects by the default label and reads Kustomizations named
// dummy, so neither sees these, and check --all sees exactly these.
const (
	checkLabel         = "bench.kubectl-tenant.io/check-tenant"
	checkKustomization = "check"
)

// checkAtScale adds cfg.bulk confined tenants with every guardrail, under
// their own tenant label, and times `check --all` over them. It runs last,
// so the rows before it measure the same cluster as before it existed; the
// cluster then still holds the list benchmark's tenants, which check's
// cluster-wide lists page past. The bench cluster is not locked down and
// runs no Flux controllers, so some rows FAIL and check exits 1: that is
// its result, not an error here.
func (b *bench) checkAtScale() error {
	n := b.cfg.bulk
	file, err := b.tenantFile("chk", n)
	if err != nil {
		return err
	}
	tenantFlags := []string{"--tenant-label", checkLabel, "--kustomization-name", checkKustomization}
	fill, _, err := b.exec(nil, nil, true, b.cfg.plugin, append([]string{"add", "-f", file, "--concurrency", "16", "-o", "name",
		"--confine", "--git-url", "https://git.example.com/tenants.git", "--quota", "pods=20",
		"--limit-range", "cpu=100m/500m", "--network-policy", "isolate"}, tenantFlags...)...)
	if err != nil {
		return err
	}
	if err := b.row(fmt.Sprintf("(fill) `add -f --confine` %d tenants with quota, limit range and network policy, 16 workers", n),
		fmt.Sprintf("%s, %.0f tenants/s, %s", secs(fill.wall), float64(n)/fill.wall.Seconds(), mib(fill.rss)), "", "", "", "info"); err != nil {
		return err
	}
	checkArgs := append([]string{"check", "--all"}, tenantFlags...)
	runs := max(3, b.cfg.runs/10)
	c, err := median(runs, func(int) (sample, error) {
		s, _, err := b.execStatus(nil, nil, true, []int{1}, b.cfg.plugin, checkArgs...)
		return s, err
	})
	if err != nil {
		return err
	}
	_, out, err := b.execStatus(nil, nil, false, []int{1}, b.cfg.plugin, append(checkArgs, "-o", "json")...)
	if err != nil {
		return err
	}
	var report struct {
		Summary struct{ Total, Pass, Warn, Fail int }
		Tenants []json.RawMessage
	}
	// execStatus returns stdout then stderr; the report is the first value.
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&report); err != nil {
		return fmt.Errorf("check -o json: %w", err)
	}
	if len(report.Tenants) != n {
		return fmt.Errorf("check --all checked %d tenants, want %d", len(report.Tenants), n)
	}
	perTenant := float64(c.wall.Microseconds()) / 1000 / float64(n)
	return b.row(fmt.Sprintf("check %d confined tenants, `kubectl-tenant check --all` (4 probes per tenant, concurrency 32, median of %d)", n, runs),
		fmt.Sprintf("%s, %s, %.1f ms per tenant; %d rows: %d PASS, %d WARN, %d FAIL", secs(c.wall), mib(c.rss), perTenant,
			report.Summary.Total, report.Summary.Pass, report.Summary.Warn, report.Summary.Fail),
		"", "", "< 5 s (issue 10, at 1,000 tenants)", met(c.wall < 5*time.Second))
}
