// -phase cluster, step fleetApply (issue 21): `apply -f` of a TenantFleet
// file: creating the fleet, the plan and the apply of the unchanged file,
// and of the file with a tenth of its tenants changed.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/bench/internal/tenantbench"
)

// fleetLabelPrefix is the start of the fleet row's tenant label; each
// invocation adds its own tag, so that apply, which plans over every
// tenant under its label, sees exactly this run's fleet: an earlier run's
// (-only fleetApply again) would otherwise be planned as pruned.
const fleetLabelPrefix = "bench.kubectl-tenant.io/fleet-"

// fleetFile writes a TenantFleet of n one-namespace tenants prefix-00000...
// with a shared variable (REGION, in the defaults) and one of their own
// (TIER: gold), except that the tenants for which silver says so have TIER
// silver: the hand edit of a fleet file's variables.
func (b *bench) fleetFile(name, prefix string, n int, silver func(i int) bool) (string, error) {
	var buf strings.Builder
	buf.WriteString("apiVersion: kubectl-tenant.io/v1alpha1\nkind: TenantFleet\ndefaults:\n  vars:\n    REGION: eu-west-1\ntenants:\n")
	for i := 0; i < n; i++ {
		tier := "gold"
		if silver(i) {
			tier = "silver"
		}
		fmt.Fprintf(&buf, "  - name: %s-tenant-%05d\n    namespaces: [{name: %s-%05d}]\n    vars: {TIER: %s}\n", prefix, i, prefix, i, tier)
	}
	path := filepath.Join(b.cfg.work, name+".yaml")
	return path, os.WriteFile(path, []byte(buf.String()), 0o644)
}

// planLine is apply's summary line.
var planLine = regexp.MustCompile(`(?m)^Plan: .*$`)

// fleetApply adds cfg.bulk tenants with `apply -f` of a fleet file (info),
// then times, median of max(3, runs/10) each: the plan (--dry-run=server)
// and the apply of the unchanged file (target < 10 s, issue 21, and no
// write), and of the file with a tenth of the tenants' TIER changed (every
// tenth tenant: changes spread over the fleet). The changed applies
// alternate between the two files, so each run changes the same number of
// tenants. Every run's summary line must be the one the file calls for,
// and a last plan must find the fleet as the last apply left it, so that
// no row times a command that did nothing. Requests of the unchanged plan
// and apply are counted from a -v=6 run. It runs last; the cluster holds
// the earlier rows' tenants, which apply's cluster-wide reads page past.
func (b *bench) fleetApply() error {
	n := b.cfg.bulk
	changes := max(1, n/10)
	tag := strconv.FormatInt(time.Now().Unix()%(36*36*36*36), 36)
	prefix := "fl" + tag
	label := []string{"--tenant-label", fleetLabelPrefix + tag}
	unchanged, err := b.fleetFile(prefix, prefix, n, func(int) bool { return false })
	if err != nil {
		return err
	}
	changed, err := b.fleetFile(prefix+"-changed", prefix, n, func(i int) bool { return i%10 == 0 && i/10 < changes })
	if err != nil {
		return err
	}
	// apply runs `apply -f file`, with --dry-run=server when plan, and
	// fails unless its summary line says want.
	apply := func(file string, plan bool, want string, extra ...string) (sample, []byte, error) {
		args := append([]string{"apply", "-f", file, "--concurrency", fmt.Sprint(b.cfg.concurrency)}, label...)
		if plan {
			args = append(args, "--dry-run=server")
		}
		s, out, err := b.exec(nil, nil, true, b.cfg.plugin, append(args, extra...)...)
		if err != nil {
			return s, nil, err
		}
		got := planLine.Find(out)
		if !strings.HasPrefix(string(got), "Plan: "+want) {
			return s, nil, fmt.Errorf("%s: summary %q, want \"Plan: %s\"\n%s", strings.Join(args, " "), got, want, tail(string(out), 2000))
		}
		return s, out, nil
	}
	wantUnchanged := fmt.Sprintf("0 to add, 0 to change, 0 to prune, %d unchanged", n)
	wantChanged := fmt.Sprintf("0 to add, %d to change, 0 to prune, %d unchanged", changes, n-changes)

	create, _, err := apply(unchanged, false, fmt.Sprintf("%d to add, 0 to change, 0 to prune, 0 unchanged", n))
	if err != nil {
		return err
	}
	if err := b.row(fmt.Sprintf("(fill) fleet: `apply -f` of a TenantFleet file creating %d tenants (one namespace, two variables each; %d workers)", n, b.cfg.concurrency),
		fmt.Sprintf("%s, %.0f tenants/s, %s, CPU %s", secs(create.wall), float64(n)/create.wall.Seconds(), mib(create.rss), secs(create.cpu)),
		"", "", "", "info"); err != nil {
		return err
	}

	runs := max(3, b.cfg.runs/10)
	timed := func(file string, plan bool, want string) (sample, error) {
		return median(runs, func(i int) (sample, error) {
			s, _, err := apply(file, plan, want)
			if err == nil {
				fmt.Fprintf(os.Stderr, "  apply -f %s (plan only: %t) run %d: %s, %s, CPU %s\n", filepath.Base(file), plan, i, secs(s.wall), mib(s.rss), secs(s.cpu))
			}
			return s, err
		})
	}
	// requests counts a -v=6 run's requests, lists its most frequent
	// patterns and says how long client-side throttling held them.
	requests := func(file string, plan bool, want string) (requestCount, string, error) {
		_, out, err := apply(file, plan, want, "-v=6")
		if err != nil {
			return requestCount{}, "", err
		}
		var top []string
		for i, p := range tenantbench.CountPatterns(out) {
			if i == 6 {
				break
			}
			top = append(top, fmt.Sprintf("%d× %s", p.Count, p.Pattern))
		}
		if waits, total := tenantbench.Throttled(out); waits > 0 {
			top = append(top, fmt.Sprintf("client-side throttling: %d requests waited %s in all", waits, secs(total)))
		}
		return countRequests(out), strings.Join(top, "; "), nil
	}
	cell := func(s sample) string { return fmt.Sprintf("%s, %s, CPU %s", secs(s.wall), mib(s.rss), secs(s.cpu)) }

	plan, err := timed(unchanged, true, wantUnchanged)
	if err != nil {
		return err
	}
	planReqs, planTop, err := requests(unchanged, true, wantUnchanged)
	if err != nil {
		return err
	}
	if err := b.row(fmt.Sprintf("fleet: `apply -f FILE --dry-run=server`, %d tenants, file unchanged: the plan (median of %d)", n, runs),
		fmt.Sprintf("%s; %s (%s)", cell(plan), planReqs, planTop), "", "",
		"< 10 s; no write (issue 21)", met(plan.wall < 10*time.Second && planReqs.writes == 0)); err != nil {
		return err
	}
	same, err := timed(unchanged, false, wantUnchanged)
	if err != nil {
		return err
	}
	sameReqs, _, err := requests(unchanged, false, wantUnchanged)
	if err != nil {
		return err
	}
	if err := b.row(fmt.Sprintf("fleet: `apply -f FILE`, %d tenants, file unchanged (median of %d)", n, runs),
		fmt.Sprintf("%s; %s", cell(same), sameReqs), "", "",
		"< 10 s; no write (issue 21)", met(same.wall < 10*time.Second && sameReqs.writes == 0)); err != nil {
		return err
	}

	changedPlan, err := timed(changed, true, wantChanged)
	if err != nil {
		return err
	}
	planChangedReqs, planChangedTop, err := requests(changed, true, wantChanged)
	if err != nil {
		return err
	}
	// The changed applies: the changed file, the unchanged one back, and
	// so on; each changes the same tenants' TIER.
	var applies []sample
	last := unchanged
	for i := 0; i < runs; i++ {
		file := changed
		if i%2 == 1 {
			file = unchanged
		}
		s, _, err := apply(file, false, wantChanged)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  apply -f %s run %d: %s, %s, CPU %s\n", filepath.Base(file), i, secs(s.wall), mib(s.rss), secs(s.cpu))
		applies = append(applies, s)
		last = file
	}
	// One more, at -v=6, untimed, for its requests.
	other := changed
	if last == changed {
		other = unchanged
	}
	applyReqs, applyTop, err := requests(other, false, wantChanged)
	if err != nil {
		return err
	}
	// The last apply wrote what it planned: its file now plans no change.
	if _, _, err := apply(other, true, wantUnchanged); err != nil {
		return fmt.Errorf("after the last apply: %w", err)
	}
	changedApply := medianOf(applies)
	return b.row(fmt.Sprintf("fleet: %d of %d tenants' TIER changed in the file: `apply -f FILE --dry-run=server` (the plan, with a server-side dry run of each changed tenant) / `apply -f FILE` (median of %d each; the applies alternate between the file and the unchanged one)", changes, n, runs),
		fmt.Sprintf("plan %s; %s (%s) / apply %s; %s (%s)", cell(changedPlan), planChangedReqs, planChangedTop, cell(changedApply), applyReqs, applyTop), "", "", "", "info")
}
