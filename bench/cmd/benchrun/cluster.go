// -phase cluster: add, bulk add, list at scale and delete against the
// cluster of bench/cmd/benchcluster (KUBECONFIG).

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-tenant/kubectl-tenant/bench/internal/tenantbench"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

type requestCount struct{ discovery, reads, writes, reviews int }

func (c requestCount) String() string {
	s := fmt.Sprintf("%d writes, %d reads (%d of them discovery/OpenAPI)", c.writes, c.reads+c.discovery, c.discovery)
	if c.reviews > 0 {
		s += fmt.Sprintf(", %d access review POST", c.reviews)
	}
	return s
}

var discoveryPath = regexp.MustCompile(`^/(api|apis|api/v1|apis/[^/]+|apis/[^/]+/[^/]+|openapi/.*|version)$`)

// countRequests sorts the requests of a -v=6 log (kubectl's or the
// plugin's, see tenantbench.Requests) into discovery, reads, writes and
// access reviews.
func countRequests(log []byte) requestCount {
	var c requestCount
	for _, r := range tenantbench.Requests(log) {
		verb, path := r.Verb, r.URL.Path
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
	// Chunked as list was before it read each list whole: the chunks after
	// the first come from etcd, not the watch cache.
	chunked, err := median(runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, true, b.cfg.plugin, "list", "--chunk-size", "500")
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
	if err := b.row(fmt.Sprintf("list %d tenants, `kubectl-tenant list` (one request per list, median of %d)", rows, runs),
		fmt.Sprintf("%s, %s", secs(l.wall), mib(l.rss)),
		fmt.Sprintf("`kubectl get ns -l <tenant label>` (namespaces only, no Kustomization status): %s, %s", secs(k.wall), mib(k.rss)),
		ratio(k.wall, l.wall)+" faster", "< 2 s, < 100 MB", met(ok)); err != nil {
		return err
	}
	if err := b.row(fmt.Sprintf("list %d tenants, `kubectl-tenant list --chunk-size 500` (median of %d)", rows, runs),
		fmt.Sprintf("%s, %s", secs(chunked.wall), mib(chunked.rss)), "", "", "", "info"); err != nil {
		return err
	}
	if b.cfg.listprobe == "" {
		return nil
	}
	var cells []string
	// Chunked, the chunks after the first are read from etcd; in one
	// request, from the watch cache (as list reads now).
	for _, way := range []struct{ label, qps, chunk string }{
		{"QPS 5 (default), chunks of 500", "0", "500"}, {"QPS 50, chunks of 500", "50", "500"}, {"one request", "0", "0"},
	} {
		for _, mode := range []string{"unstructured", "typed", "table"} {
			_, out, err := b.exec(nil, nil, false, b.cfg.listprobe, "-mode", mode, "-qps", way.qps, "-chunk-size", way.chunk)
			if err != nil {
				return err
			}
			cells = append(cells, way.label+" "+strings.TrimSpace(string(out)))
		}
	}
	return b.row("list analysis: reading all tenant Kustomizations (bench/cmd/listprobe)", "", strings.Join(cells, "; "), "", "", "info")
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

// addCheckTenants adds cfg.bulk confined tenants with every guardrail
// (quota, limit range, network policy) under checkLabel and
// checkKustomization, once: checkAtScale and describeAtScale read the same
// tenants, and either may run alone (-only).
func (b *bench) addCheckTenants() error {
	if b.checkTenants > 0 {
		return nil
	}
	n := b.cfg.bulk
	file, err := b.tenantFile("chk", n)
	if err != nil {
		return err
	}
	fill, _, err := b.exec(nil, nil, true, b.cfg.plugin, append([]string{"add", "-f", file, "--concurrency", "16", "-o", "name",
		"--confine", "--git-url", "https://git.example.com/tenants.git", "--quota", "pods=20",
		"--limit-range", "cpu=100m/500m", "--network-policy", "isolate"}, checkSelection...)...)
	if err != nil {
		return err
	}
	b.checkTenants = n
	return b.row(fmt.Sprintf("(fill) `add -f --confine` %d tenants with quota, limit range and network policy, 16 workers", n),
		fmt.Sprintf("%s, %.0f tenants/s, %s", secs(fill.wall), float64(n)/fill.wall.Seconds(), mib(fill.rss)), "", "", "", "info")
}

// checkSelection selects the tenants of addCheckTenants, for every command
// that reads them.
var checkSelection = []string{"--tenant-label", checkLabel, "--kustomization-name", checkKustomization}

// checkAtScale times `check --all` over the tenants of addCheckTenants. It
// runs after the list and delete rows, so those measure the same cluster
// as before it existed; the cluster then still holds the list benchmark's
// tenants, which check's cluster-wide lists page past. The bench cluster
// is not locked down and runs no Flux controllers, so some rows FAIL and
// check exits 1: that is its result, not an error here.
func (b *bench) checkAtScale() error {
	if err := b.addCheckTenants(); err != nil {
		return err
	}
	n := b.checkTenants
	checkArgs := append([]string{"check", "--all"}, checkSelection...)
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
	return b.row(fmt.Sprintf("check %d confined tenants, `kubectl-tenant check --all` (4 probes per tenant side by side, 32 tenants at a time, median of %d)", n, runs),
		fmt.Sprintf("%s, %s, %.1f ms per tenant; %d rows: %d PASS, %d WARN, %d FAIL", secs(c.wall), mib(c.rss), perTenant,
			report.Summary.Total, report.Summary.Pass, report.Summary.Warn, report.Summary.Fail),
		"", "", "< 5 s (issue 10, at 1,000 tenants)", met(c.wall < 5*time.Second))
}
