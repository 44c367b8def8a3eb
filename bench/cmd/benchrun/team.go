// -phase cluster, step teamAdd (issue 19): `add -f` of team tenants, each
// with several namespaces, owners and an allowed source, against
// ssabaseline applying the same objects.

package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// teamLabel and teamKustomization keep the team tenants apart from the
// other rows' tenants, as checkLabel does for check's; later rows about
// teams can select them with teamSelection.
const (
	teamLabel         = "bench.kubectl-tenant.io/team-tenant"
	teamKustomization = "team"
	// baselineManager is ssabaseline's field manager.
	baselineManager = "ssabaseline"
)

func teamSelection() []string {
	return []string{"--tenant-label", teamLabel, "--kustomization-name", teamKustomization}
}

// kindCounts counts objects by kind.
type kindCounts map[string]int

func (k kindCounts) String() string {
	var parts []string
	for _, kind := range slices.Sorted(maps.Keys(k)) {
		parts = append(parts, fmt.Sprintf("%d %s", k[kind], kind))
	}
	return strings.Join(parts, ", ")
}

func (k kindCounts) total() int {
	n := 0
	for _, v := range k {
		n += v
	}
	return n
}

// teamRun is one timed add of a team file, by the plugin or the baseline:
// what it was asked to apply (counted from the plugin's dry run of the
// file) and the field manager its objects carry.
type teamRun struct {
	prefix, manager string
	want            kindCounts
	kinds           []schema.GroupVersionKind
	sample          sample
}

// teamFile writes cfg.teams team tenants, cfg.teamNamespaces namespaces
// each (the last with a variable of its own, in the map form), two owners
// of different roles (so two owners' RoleBindings per namespace) and one
// allowed source (so a tenant-policy ConfigMap in each namespace).
func (b *bench) teamFile(prefix string) (string, error) {
	var buf strings.Builder
	for i := 0; i < b.cfg.teams; i++ {
		var namespaces []string
		for j := 0; j < b.cfg.teamNamespaces; j++ {
			ns := fmt.Sprintf("%s-%05d-%d", prefix, i, j)
			if j == b.cfg.teamNamespaces-1 {
				ns = fmt.Sprintf("{name: %s, vars: {TIER: prod}}", ns)
			}
			namespaces = append(namespaces, ns)
		}
		fmt.Fprintf(&buf, "- name: %s-team-%05d\n  namespaces: [%s]\n", prefix, i, strings.Join(namespaces, ", "))
		fmt.Fprintf(&buf, "  owners: [\"User:%s-lead-%05d=admin\", \"Group:%s-team-%05d\"]\n", prefix, i, prefix, i)
		buf.WriteString("  allowedSources: [\"https://github.com/acme/\"]\n")
	}
	path := filepath.Join(b.cfg.work, prefix+".yaml")
	return path, os.WriteFile(path, []byte(buf.String()), 0o644)
}

// teamObjects renders a team file offline, as add would apply it: the
// baseline's input, and what each side must leave on the cluster.
func (b *bench) teamObjects(file string, run *teamRun) ([]byte, error) {
	args := append([]string{"add", "-f", file, "--dry-run=client", "-o", "yaml"}, teamSelection()...)
	_, yaml, err := b.exec(nil, []string{"KUBECONFIG=/nonexistent"}, false, b.cfg.plugin, args...)
	if err != nil {
		return nil, err
	}
	objs, err := render.DecodeYAML(yaml)
	if err != nil {
		return nil, err
	}
	run.want = kindCounts{}
	for _, o := range objs {
		run.want[o.GetKind()]++
		if gvk := o.GroupVersionKind(); !slices.Contains(run.kinds, gvk) {
			run.kinds = append(run.kinds, gvk)
		}
	}
	return yaml, nil
}

// teamBaseline applies a team file of namespaces prefix-... with
// ssabaseline, at the plugin's concurrency and client rate (25 QPS per
// worker, burst twice that), one namespace's objects per work item.
func (b *bench) teamBaseline(prefix string) (teamRun, error) {
	run := teamRun{prefix: prefix, manager: baselineManager}
	file, err := b.teamFile(run.prefix)
	if err != nil {
		return run, err
	}
	yaml, err := b.teamObjects(file, &run)
	if err != nil {
		return run, err
	}
	objects := filepath.Join(b.cfg.work, run.prefix+".objects.yaml")
	if err := os.WriteFile(objects, yaml, 0o644); err != nil {
		return run, err
	}
	c := b.cfg.concurrency
	run.sample, _, err = b.exec(nil, nil, true, b.cfg.baseline, "-f", objects, "-concurrency", fmt.Sprint(c),
		"-qps", fmt.Sprint(25*c), "-burst", fmt.Sprint(50*c))
	return run, err
}

// teamPlugin adds a team file of namespaces prefix-... with `add -f` at
// cfg.concurrency; its -o name output must name every object of the dry
// run.
func (b *bench) teamPlugin(prefix string) (teamRun, error) {
	run := teamRun{prefix: prefix, manager: tenant.FieldManager}
	file, err := b.teamFile(run.prefix)
	if err != nil {
		return run, err
	}
	if _, err = b.teamObjects(file, &run); err != nil {
		return run, err
	}
	args := append([]string{"add", "-f", file, "--concurrency", fmt.Sprint(b.cfg.concurrency), "-o", "name"}, teamSelection()...)
	var out []byte
	if run.sample, out, err = b.exec(nil, nil, true, b.cfg.plugin, args...); err != nil {
		return run, err
	}
	// -o name prints resource/name lines; stderr, mixed in, has none.
	printed := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "/") && !strings.Contains(line, " ") {
			printed++
		}
	}
	if printed != run.want.total() {
		return run, fmt.Errorf("add -f %s printed %d objects, want %d", file, printed, run.want.total())
	}
	return run, nil
}

// teamAdd times `add -f` of cfg.teams team tenants against ssabaseline
// applying the same objects, cfg.teamRounds rounds each on fresh
// namespaces, alternating which goes first (baseline first in even
// rounds), so that neither always meets the fuller cluster. Then it
// checks that every run left on the cluster, under its own field manager,
// exactly the objects of the dry run, kind by kind, so that the two did
// the same work.
func (b *bench) teamAdd() error {
	// Namespaces new to the cluster on every invocation, so that a step
	// run again (-only teamAdd) times adds, not re-applies: ta0x1y2z-...
	tag := strconv.FormatInt(time.Now().Unix()%(36*36*36*36), 36)
	var plugin, baseline []teamRun
	for round := 0; round < b.cfg.teamRounds; round++ {
		sides := []struct {
			letter string
			run    func(prefix string) (teamRun, error)
		}{{"b", b.teamBaseline}, {"a", b.teamPlugin}}
		if round%2 == 1 {
			slices.Reverse(sides)
		}
		for _, side := range sides {
			run, err := side.run(fmt.Sprintf("t%s%d%s", side.letter, round, tag))
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  team round %d, %s: %s, %s, CPU %s\n", round, run.manager, secs(run.sample.wall), mib(run.sample.rss), secs(run.sample.cpu))
			if run.manager == baselineManager {
				baseline = append(baseline, run)
			} else {
				plugin = append(plugin, run)
			}
		}
	}
	runs := append(slices.Clone(plugin), baseline...)
	if err := b.verifyTeamRuns(runs); err != nil {
		return err
	}
	return b.teamRow(plugin, baseline)
}

// teamRow writes the row: medians of the rounds, each round's wall time,
// the objects every run was verified to leave, and the client rate limit's
// floor, which both sides share.
func (b *bench) teamRow(plugin, baseline []teamRun) error {
	want := plugin[0].want
	namespaces := want["Namespace"]
	c := b.cfg.concurrency
	qps, burst := 25*c, 50*c
	describe := func(runs []teamRun) string {
		var walls []string
		for _, r := range runs {
			walls = append(walls, secs(r.sample.wall))
		}
		m := medianOf(samplesOf(runs))
		return fmt.Sprintf("%s, %.0f namespaces/s, %s, CPU %s (rounds %s)", secs(m.wall),
			float64(namespaces)/m.wall.Seconds(), mib(m.rss), secs(m.cpu), strings.Join(walls, ", "))
	}
	p, base := medianOf(samplesOf(plugin)), medianOf(samplesOf(baseline))
	r := p.wall.Seconds() / base.wall.Seconds()
	// client-go's token bucket lets burst requests through at once, then
	// qps a second: no client of this rate applies the objects faster.
	floor := "fits in the client's burst"
	if want.total() > burst {
		seconds := float64(want.total()-burst) / float64(qps)
		floor = fmt.Sprintf("client rate floor (%d - %d) / %d = %.2f s", want.total(), burst, qps, seconds)
	}
	return b.row(fmt.Sprintf("team tenants: `add -f` %d tenants x %d namespaces, 2 owners and an allowed source each (%d objects, %d per namespace), %d workers (median of %d rounds, alternating)",
		b.cfg.teams, b.cfg.teamNamespaces, want.total(), want.total()/max(1, namespaces), c, len(plugin)),
		describe(plugin),
		fmt.Sprintf("ssabaseline (client-go SSA of the dry run's objects, in order, one namespace per work item, %d workers, QPS %d/burst %d): %s; each run of either left exactly %s under its field manager; %s",
			c, qps, burst, describe(baseline), want, floor),
		fmt.Sprintf("%.2fx the baseline's time", r), "<= 1.5x (as the bulk row)", met(r <= 1.5))
}

func samplesOf(runs []teamRun) []sample {
	out := make([]sample, len(runs))
	for i, r := range runs {
		out[i] = r.sample
	}
	return out
}

// verifyTeamRuns counts, for each run, the objects in its namespaces that
// its field manager applied, and fails unless every count equals the dry
// run's and the plugin's runs asked for what the baseline's did.
func (b *bench) verifyTeamRuns(runs []teamRun) error {
	found, err := b.countApplied(runs)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if !maps.Equal(found[r.prefix], r.want) {
			return fmt.Errorf("team run %s (%s) left %s on the cluster, want %s", r.prefix, r.manager, found[r.prefix], r.want)
		}
		if !maps.Equal(r.want, runs[0].want) {
			return fmt.Errorf("team run %s was asked for %s, run %s for %s: not the same work", r.prefix, r.want, runs[0].prefix, runs[0].want)
		}
	}
	return nil
}

// countApplied lists every kind the runs applied, cluster-wide and as
// metadata only, and counts for each run the objects in its namespaces
// (those named after its prefix; a Namespace by its own name) that its
// field manager applied. Not timed.
func (b *bench) countApplied(runs []teamRun) (map[string]kindCounts, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", b.kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 50, 100 // tens of thousands of objects, in pages
	client, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	managers := map[string]string{}
	found := map[string]kindCounts{}
	for _, r := range runs {
		managers[r.prefix] = r.manager
		found[r.prefix] = kindCounts{}
	}
	count := func(item metav1.PartialObjectMetadata) {
		ns := item.Namespace
		if ns == "" {
			ns = item.Name
		}
		prefix, _, _ := strings.Cut(ns, "-")
		manager, ok := managers[prefix]
		if ok && slices.ContainsFunc(item.ManagedFields, func(f metav1.ManagedFieldsEntry) bool {
			return f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply
		}) {
			found[prefix][item.Kind]++
		}
	}
	for _, gvk := range runs[0].kinds {
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		if err := listEach(context.Background(), client.Resource(gvr), gvk.Kind, count); err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvr.Resource, err)
		}
	}
	return found, nil
}

// listEach pages through every object of one resource in all namespaces;
// the items of a metadata list carry no kind, so kind is set on each.
func listEach(ctx context.Context, r metadata.ResourceInterface, kind string, each func(metav1.PartialObjectMetadata)) error {
	opts := metav1.ListOptions{Limit: 500}
	for {
		page, err := r.List(ctx, opts)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			item.Kind = kind
			each(item)
		}
		if page.Continue == "" {
			return nil
		}
		opts.Continue = page.Continue
	}
}
