package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/diff"

	"github.com/kubectl-tenant/kubectl-tenant/internal/golden"
)

// exportCases are fleets of options (one TenantOptions a namespace) that
// add can make, each a setting or a mix of them.
func exportCases() map[string][]TenantOptions {
	tenant := func(ns, name string, set func(*TenantOptions)) TenantOptions {
		o := DefaultTenantOptions()
		o.Namespace, o.Name = ns, name
		if set != nil {
			set(&o)
		}
		return o
	}
	ownSource := func(url, branch string, interval time.Duration) *Confinement {
		return &Confinement{Source: TenantSource{Kind: "GitRepository", Name: "default", Spec: GitSourceSpec(url, branch, interval, DefaultIgnorePaths())}}
	}
	team := func(ns string, vars map[string]string, path string) TenantOptions {
		return tenant(ns, "payments", func(o *TenantOptions) {
			o.Vars, o.Path = vars, path
			o.Owners = []Owner{{Kind: "Group", Name: "payments", Role: "admin"}, {Kind: "ServiceAccount", Name: "ci:deployer", Role: "edit"}, {Kind: "User", Name: "eve@example.com", Role: "view"}}
			o.AllowedSources = []string{"https://github.com/acme/payments/", "oci://ghcr.io/acme/"}
		})
	}
	return map[string][]TenantOptions{
		"demo": {tenant("foo", "sometenant", nil)},
		"vars": {tenant("foo", "sometenant", func(o *TenantOptions) {
			o.Vars = map[string]string{"REGION": "eu-west-1", "QUOTED": `a "b" 'c'`, "NUMBER": "10", "BOOL": "yes"}
		})},
		"team": {
			team("payments-prod", map[string]string{"TEAM": "payments", "TIER": "gold", "REGION": "eu"}, "./prod"),
			team("payments-dev", map[string]string{"TEAM": "payments", "TIER": "standard"}, "./kustomizations/per-tenant"),
			team("payments-qa", map[string]string{"TEAM": "payments", "TIER": "standard", "QA": "1"}, "./prod"),
		},
		"no sources allowed": {tenant("locked", "locked", func(o *TenantOptions) { o.AllowedSources = []string{} })},
		"confined guardrails": {tenant("conf", "conf", func(o *TenantOptions) {
			o.ClusterRole = ConfinedClusterRole
			o.Confinement = ownSource("https://git.example.com/t.git", DefaultBranch, DefaultTenantSourceInterval)
			o.Confinement.Quota = map[string]string{"pods": "20", "requests.cpu": "4", "count/kustomizations.kustomize.toolkit.fluxcd.io": "5"}
			o.Confinement.Limits = map[string]ContainerDefault{"cpu": {Request: "100m", Limit: "500m"}, "memory": {Request: "64Mi"}}
			o.Confinement.NetworkPolicy = NetworkPolicyIsolate
		})},
		"confined own source": {tenant("own", "own", func(o *TenantOptions) {
			o.ClusterRole = "edit" // not the confined default
			o.Source = SourceRef{Kind: "GitRepository", Name: "templates", Namespace: "flux-system"}
			o.Confinement = ownSource("ssh://git@git.example.com/own.git", "release", 3*time.Minute)
			o.Confinement.Source.Name = "templates"
			o.Confinement.Source.Spec["secretRef"] = map[string]any{"name": "own-git"}
			o.AllowedSources = []string{"ssh://git@git.example.com/own.git"} // the default, left out
		})},
		"confined allow-list": {tenant("conf-allow", "conf-allow", func(o *TenantOptions) {
			o.ClusterRole = ConfinedClusterRole
			o.Confinement = ownSource("https://git.example.com/t.git", DefaultBranch, DefaultTenantSourceInterval)
			o.AllowedSources = []string{"https://git.example.com/"}
		})},
		"copied source": {tenant("copied", "copied", func(o *TenantOptions) {
			o.ClusterRole = ConfinedClusterRole
			o.Source = SourceRef{Kind: "OCIRepository", Name: "templates", Namespace: "flux-system"}
			o.Confinement = &Confinement{Source: TenantSource{Kind: "OCIRepository", Name: "templates", Spec: map[string]any{
				"url": "oci://ghcr.io/acme/templates", "interval": "10m", "ref": map[string]any{"tag": "latest"},
			}}}
		})},
		"scalars": {
			tenant("a", "scalars", func(o *TenantOptions) {
				o.Interval, o.ClusterRole, o.KustomizationName = 90*time.Second, "admin", "tenant"
				o.Source = SourceRef{Kind: "OCIRepository", Name: "templates", Namespace: "platform"}
			}),
			tenant("b", "scalars", func(o *TenantOptions) {
				o.Interval, o.ClusterRole, o.KustomizationName = 90*time.Second, "admin", "tenant"
				o.Source = SourceRef{Kind: "OCIRepository", Name: "templates", Namespace: "platform"}
			}),
		},
	}
}

// TestFleetExportRoundTrip: the exported file, read as apply reads it,
// renders each namespace byte for byte as the options it was written
// from. Rendering is the oracle, not the structs: options that differ
// only where render does not look (nil or empty vars) are the same
// tenant.
func TestFleetExportRoundTrip(t *testing.T) {
	for name, tenants := range exportCases() {
		t.Run(name, func(t *testing.T) {
			data, err := FleetOf(tenants).YAML()
			if err != nil {
				t.Fatal(err)
			}
			got := reread(t, data, tenants)
			if len(got) != len(tenants) {
				t.Fatalf("%d namespaces read back, want %d:\n%s", len(got), len(tenants), data)
			}
			for i, want := range tenants {
				if g, w := renderYAML(t, got[i]), renderYAML(t, want); !bytes.Equal(g, w) {
					t.Errorf("namespace %s renders differently after the round trip:\n%s\nfile:\n%s", want.Namespace, diff.Diff(strings.Split(string(w), "\n"), strings.Split(string(g), "\n")), data)
				}
			}
			gaps := ExportGaps(tenants)
			if name == "copied source" {
				want := []string{"namespace copied: its own source is not one that gitURL, branch and sourceInterval describe, so the file says to copy the shared source templates: apply copies it with --source-interval 10m"}
				if strings.Join(gaps, "\n") != strings.Join(want, "\n") {
					t.Errorf("gaps:\n got %q\nwant %q", gaps, want)
				}
			} else if len(gaps) > 0 {
				t.Errorf("gaps: %q", gaps)
			}
		})
	}
}

// reread reads a fleet file as apply does, with what apply takes from
// elsewhere done here: a secretRef is set on the own source's spec (as
// tenant.ResolveCredentials does), and a source to copy gets the spec of
// the original (what the copy of the shared source gives when the shared
// source is as it was).
func reread(t *testing.T, data []byte, original []TenantOptions) []TenantOptions {
	t.Helper()
	f, err := ParseFleet("exported.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	got, err := f.TenantOptions(DefaultTenantOptions())
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	refs := f.SourceCredentials()
	for i := range got {
		c := got[i].Confinement
		if c == nil {
			continue
		}
		if c.Source.Spec == nil && i < len(original) && original[i].Confinement != nil {
			c.Source.Spec = original[i].Confinement.Source.Spec
		}
		if ref, ok := refs[got[i].Namespace]; ok && ref.SecretRef != "" {
			c.Source.Spec["secretRef"] = map[string]any{"name": ref.SecretRef}
		}
	}
	return got
}

// TestFleetExportSecret: an own source's Secret is written as a
// reference, never its data, and the re-read source reads that Secret.
func TestFleetExportSecret(t *testing.T) {
	o := DefaultTenantOptions()
	o.Namespace, o.Name, o.ClusterRole = "sec", "sec", ConfinedClusterRole
	o.Confinement = &Confinement{Source: TenantSource{Kind: "GitRepository", Name: "default",
		Spec:    GitSourceSpec("https://git.example.com/t.git", DefaultBranch, DefaultTenantSourceInterval, DefaultIgnorePaths()),
		Secrets: []SourceSecret{{Name: "default-auth", Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("hunter2")}}},
	}}
	o.Confinement.Source.Spec["secretRef"] = map[string]any{"name": "default-auth"}
	data, err := FleetOf([]TenantOptions{o}).YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter2") || !strings.Contains(string(data), "secretRef: default-auth") {
		t.Fatalf("the file must reference the Secret, not hold it:\n%s", data)
	}
	got := reread(t, data, []TenantOptions{o})
	// The Secret itself is not rendered from the file: it is already on
	// the cluster, or copied there by hand.
	o.Confinement.Source.Secrets = nil
	if g, w := renderYAML(t, got[0]), renderYAML(t, o); !bytes.Equal(g, w) {
		t.Errorf("the source renders differently:\n%s", diff.Diff(strings.Split(string(w), "\n"), strings.Split(string(g), "\n")))
	}
}

// TestFleetExportGaps: a per-tenant setting that differs between a
// tenant's namespaces is named, not silently unified.
func TestFleetExportGaps(t *testing.T) {
	a, b := DefaultTenantOptions(), DefaultTenantOptions()
	a.Namespace, b.Namespace, a.Name, b.Name = "a", "b", "t", "t"
	b.Interval = time.Hour
	gaps := ExportGaps([]TenantOptions{a, b})
	want := []string{"namespace b: setting interval differs from namespace a's, and a fleet file gives a tenant one value: a's is written"}
	if strings.Join(gaps, "\n") != strings.Join(want, "\n") {
		t.Errorf("gaps:\n got %q\nwant %q", gaps, want)
	}
}

// TestFleetExportGolden shows what an exported file looks like: the team
// and the confined tenants of exportCases, in one file.
func TestFleetExportGolden(t *testing.T) {
	cases := exportCases()
	var all []TenantOptions
	for _, name := range []string{"demo", "team", "no sources allowed", "confined guardrails", "confined own source"} {
		all = append(all, cases[name]...)
	}
	data, err := FleetOf(all).YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "fleet-exported.yaml", data)
	if !IsFleetDocument(data) {
		t.Error("add -f would not read the export as a fleet document")
	}
}
