package main

import (
	"fmt"
	"slices"

	"github.com/kubectl-tenant/kubectl-tenant/bench/internal/tenantbench"
)

// describeLabel and describeKustomization keep describeAtScale's plain
// tenants apart from the others, as checkLabel does for check's.
const (
	describeLabel         = "bench.kubectl-tenant.io/describe-tenant"
	describeKustomization = "describe"
)

// describeAtScale times `describe --all -o json --events 0` against `check
// --all -o json` over the same tenants: both read each tenant's namespace,
// objects and guardrails and the cluster's lockdown, and describe should
// cost at most twice what check does (issue 18). Two sets: the check row's
// confined tenants (addCheckTenants), and as many plain ones (no --confine:
// their Kustomizations build from bootstrap's shared GitRepository, which
// describe reads for each). It runs last, so that the plain tenants change
// no earlier row. bench/cmd/factsbench measures the same on a cluster
// holding only the tenants measured.
func (b *bench) describeAtScale() error {
	if err := b.addCheckTenants(); err != nil {
		return err
	}
	n := b.checkTenants
	if err := b.describeAgainstCheck(fmt.Sprintf("%d confined tenants (the check row's)", n), "chk", n, checkSelection); err != nil {
		return err
	}
	file, err := b.tenantFile("dsc", n)
	if err != nil {
		return err
	}
	selection := []string{"--tenant-label", describeLabel, "--kustomization-name", describeKustomization}
	if _, _, err := b.exec(nil, nil, false, b.cfg.plugin, append([]string{"add", "-f", file, "--concurrency", "16", "-o", "name"}, selection...)...); err != nil {
		return err
	}
	return b.describeAgainstCheck(fmt.Sprintf("%d plain tenants (shared source)", n), "dsc", n, selection)
}

// describeAgainstCheck runs check and describe over the n tenants
// prefix-00000... that selection selects, alternating, so that the
// machine's load falls on both alike; every run's JSON must name exactly
// those tenants, so that a command that read nothing cannot pass.
func (b *bench) describeAgainstCheck(what, prefix string, n int, selection []string) error {
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	commands := []struct {
		args    []string
		ok      []int // check exits 1 when a row FAILs
		tenants func([]byte) ([]string, error)
		samples []sample
	}{
		{append([]string{"check", "--all", "-o", "json"}, selection...), []int{1}, tenantbench.CheckedNamespaces, nil},
		{append([]string{"describe", "--all", "-o", "json", "--events", "0"}, selection...), nil, tenantbench.DescribedNamespaces, nil},
	}
	runs := max(3, b.cfg.runs/10)
	for range runs {
		for i := range commands {
			c := &commands[i]
			s, out, err := b.execStatus(nil, nil, true, c.ok, b.cfg.plugin, c.args...)
			if err != nil {
				return err
			}
			seen, err := c.tenants(out)
			if err != nil {
				return err
			}
			if !slices.Equal(seen, want) {
				return fmt.Errorf("%s --all saw %d tenants, want the %d added", c.args[0], len(seen), n)
			}
			c.samples = append(c.samples, s)
		}
	}
	check, err := median(runs, func(i int) (sample, error) { return commands[0].samples[i], nil })
	if err != nil {
		return err
	}
	describe, err := median(runs, func(i int) (sample, error) { return commands[1].samples[i], nil })
	if err != nil {
		return err
	}
	r := describe.wall.Seconds() / check.wall.Seconds()
	return b.row(fmt.Sprintf("describe %s, `describe --all -o json --events 0` against check over the same tenants (alternating, median of %d)", what, runs),
		fmt.Sprintf("%s, %s", secs(describe.wall), mib(describe.rss)),
		fmt.Sprintf("`check --all -o json`: %s, %s", secs(check.wall), mib(check.rss)),
		fmt.Sprintf("%.1fx check's time", r), "<= 2x (issue 18)", met(r <= 2))
}
