package posture

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// teamRow is one of TeamRows' rows as the tests spell it out.
type teamRow struct {
	check  string
	result Result
	detail string
}

func checkTeamRows(t *testing.T, f *TenantFacts, want []teamRow) {
	t.Helper()
	rows := TeamRows(f)
	if len(rows) != len(want) {
		t.Fatalf("%s: %d rows, want %d: %+v", f.Namespace, len(rows), len(want), rows)
	}
	for i, r := range rows {
		w := want[i]
		if r.Scope != f.Namespace || r.Check != w.check || r.Result != w.result || r.Detail != w.detail {
			t.Errorf("%s row %d:\n got %s %s %s: %s\nwant %s %s %s: %s", f.Namespace, i, r.Scope, r.Check, r.Result, r.Detail, f.Namespace, w.check, w.result, w.detail)
		}
		if strings.Contains(r.Detail, "\n") {
			t.Errorf("%s row %s is more than one line: %q", f.Namespace, r.Check, r.Detail)
		}
	}
}

// TestTeamRows: four namespaces of tenant payments, read out of order. Each
// is judged against what the others have: pay-a has everything, pay-b
// lacks an owner and the allowed prefix, pay-c lacks the owners and its
// tenant-policy, and pay-d only carries the tenant's name and lets its
// sources fetch from anywhere.
func TestTeamRows(t *testing.T) {
	alice := render.Owner{Kind: "User", Name: "alice@example.com", Role: "admin"}
	devs := render.Owner{Kind: "Group", Name: "payments", Role: "edit"}
	a := &TenantFacts{Namespace: "pay-a", Name: "payments", Member: true, Owners: []render.Owner{alice, devs}, Policy: true, AllowedSources: []string{"https://github.com/acme/"}}
	b := &TenantFacts{Namespace: "pay-b", Name: "payments", Member: true, Owners: []render.Owner{alice}, Policy: true, AllowedSources: []string{}}
	c := &TenantFacts{Namespace: "pay-c", Name: "payments", Member: true}
	d := &TenantFacts{Namespace: "pay-d", Name: "payments", Owners: []render.Owner{alice, devs}, Policy: true}
	other := &TenantFacts{Namespace: "billing", Name: "billing", Member: true}
	GroupTeams([]*TenantFacts{d, c, other, b, a})

	fix := func(ns string) string {
		return `run "kubectl tenant add --tenant-name payments --tenant-namespace ` + ns +
			` --owner User:alice@example.com=admin --owner Group:payments=edit --allow-source https://github.com/acme/" with the tenant's other flags`
	}
	namespaces := teamRow{"namespaces", Pass, "tenant payments: 4 namespaces selected (pay-a, pay-b, pay-c, pay-d)"}
	policy := teamRow{"tenant-policy", Pass, "ConfigMap tenant-policy holds the parameters of ValidatingAdmissionPolicy kubectl-tenant-owners-and-sources"}
	checkTeamRows(t, a, []teamRow{
		namespaces,
		{"owners", Pass, "owners User:alice@example.com=admin, Group:payments=edit"},
		{"allowed-sources", Pass, "sources may fetch only from URLs under https://github.com/acme/"},
		policy,
	})
	checkTeamRows(t, b, []teamRow{
		namespaces,
		{"owners", Fail, "lacks 1 owner Group:payments=edit (in pay-a), bound in other namespaces of tenant payments; " + fix("pay-b")},
		{"allowed-sources", Fail, "lacks 1 allowed source prefix https://github.com/acme/ (in pay-a), allowed in other namespaces of tenant payments; " + fix("pay-b")},
		policy,
	})
	checkTeamRows(t, c, []teamRow{
		namespaces,
		{"owners", Fail, "lacks 2 owners User:alice@example.com=admin (in pay-a), Group:payments=edit (in pay-a), bound in other namespaces of tenant payments; " + fix("pay-c")},
		// The missing ConfigMap is the one thing to fix: its own row FAILs.
		{"allowed-sources", Pass, "sources may fetch from any URL: no ConfigMap tenant-policy"},
		{"tenant-policy", Fail, "no ConfigMap tenant-policy, which namespace pay-a of tenant payments has, so ValidatingAdmissionPolicy kubectl-tenant-owners-and-sources does not apply here; " + fix("pay-c")},
	})
	checkTeamRows(t, d, []teamRow{
		{"namespaces", Warn, "namespace pay-d is labelled with tenant name payments, but kubectl tenant did not make it one of that tenant's namespaces (pay-a, pay-b, pay-c, pay-d), so --tenant-name leaves it out; " +
			fix("pay-d") + " to make it one, or take the label off"},
		{"owners", Pass, "owners User:alice@example.com=admin, Group:payments=edit"},
		{"allowed-sources", Fail, "sources may fetch from any URL here (ConfigMap tenant-policy has no allowedSources), but namespace pay-a of tenant payments restricts them; " + fix("pay-d")},
		policy,
	})
	checkTeamRows(t, other, []teamRow{
		{"namespaces", Pass, "tenant billing: 1 namespace selected (billing)"},
		{"owners", Pass, "no owners are bound"},
		{"allowed-sources", Pass, "sources may fetch from any URL: no ConfigMap tenant-policy"},
		{"tenant-policy", Pass, "no ConfigMap tenant-policy: the tenant has no owners and no allowed sources to enforce"},
	})
}

// TestTeamRowsAlone: a namespace judged on its own (as describe's tests
// build facts, without GroupTeams), confined or with owners.
func TestTeamRowsAlone(t *testing.T) {
	confinedFix := `run "kubectl tenant add --tenant-name t --tenant-namespace ns --confine" with the tenant's other flags`
	for _, tc := range []struct {
		name  string
		facts *TenantFacts
		want  []teamRow
	}{
		{"confined, tenant-policy without allowedSources", &TenantFacts{Namespace: "ns", Name: "t", MarkedConfined: true, Policy: true}, []teamRow{
			{"allowed-sources", Warn, "the tenant is confined, but ConfigMap tenant-policy has no allowedSources, so its sources may fetch from any URL; " + confinedFix},
			{"tenant-policy", Pass, "ConfigMap tenant-policy holds the parameters of ValidatingAdmissionPolicy kubectl-tenant-owners-and-sources"},
		}},
		{"confined, no tenant-policy", &TenantFacts{Namespace: "ns", Name: "t", MarkedConfined: true}, []teamRow{
			{"allowed-sources", Warn, "the tenant is confined, but its sources may fetch from any URL: no ConfigMap tenant-policy; " + confinedFix},
			{"tenant-policy", Warn, "no ConfigMap tenant-policy, so ValidatingAdmissionPolicy kubectl-tenant-owners-and-sources does not hold the tenant's owners and robots here; " + confinedFix},
		}},
		{"confined, sources allowed nowhere", &TenantFacts{Namespace: "ns", Name: "t", MarkedConfined: true, Policy: true, AllowedSources: []string{}}, []teamRow{
			{"allowed-sources", Pass, "sources may fetch from no URL (ConfigMap tenant-policy allows none)"},
			{"tenant-policy", Pass, "ConfigMap tenant-policy holds the parameters of ValidatingAdmissionPolicy kubectl-tenant-owners-and-sources"},
		}},
		{"owners without tenant-policy", &TenantFacts{Namespace: "ns", Name: "t", Owners: []render.Owner{{Kind: "Group", Name: "Payments Team", Role: "view"}}}, []teamRow{
			{"allowed-sources", Pass, "sources may fetch from any URL: no ConfigMap tenant-policy"},
			{"tenant-policy", Warn, "no ConfigMap tenant-policy, so ValidatingAdmissionPolicy kubectl-tenant-owners-and-sources does not hold the tenant's owners and robots here; " +
				`run "kubectl tenant add --tenant-name t --tenant-namespace ns --owner 'Group:Payments Team=view'" with the tenant's other flags`},
		}},
		{"unrestricted, unconfined", &TenantFacts{Namespace: "ns", Name: "t", Policy: true}, []teamRow{
			{"allowed-sources", Pass, "sources may fetch from any URL (ConfigMap tenant-policy has no allowedSources)"},
			{"tenant-policy", Pass, "ConfigMap tenant-policy holds the parameters of ValidatingAdmissionPolicy kubectl-tenant-owners-and-sources"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := TeamRows(tc.facts)
			if rows[0].Result != Pass || rows[0].Detail != "tenant t: 1 namespace selected (ns)" {
				t.Errorf("namespaces row %s %q", rows[0].Result, rows[0].Detail)
			}
			for i, w := range tc.want {
				r := rows[2+i]
				if r.Check != w.check || r.Result != w.result || r.Detail != w.detail {
					t.Errorf("\n got %s %s: %s\nwant %s %s: %s", r.Check, r.Result, r.Detail, w.check, w.result, w.detail)
				}
			}
		})
	}
}

func TestTeamRowsMisboundOwners(t *testing.T) {
	f := &TenantFacts{Namespace: "ns", Name: "t", MisboundOwners: []string{"RoleBinding tenant-owners-view grants ClusterRole cluster-admin, not ClusterRole view"}}
	row := TeamRows(f)[1]
	want := `RoleBinding tenant-owners-view grants ClusterRole cluster-admin, not ClusterRole view; run "kubectl tenant add --tenant-name t --tenant-namespace ns" with the tenant's other flags`
	if row.Check != "owners" || row.Result != Fail || row.Detail != want {
		t.Errorf("row = %s %s %q, want owners FAIL %q", row.Check, row.Result, row.Detail, want)
	}
}

func TestTeamOfManyNamespacesStaysShort(t *testing.T) {
	var team []*TenantFacts
	for i := range 1000 {
		team = append(team, &TenantFacts{Namespace: fmt.Sprintf("big-%04d", i), Name: "big", Member: true})
	}
	GroupTeams(team)
	want := "tenant big: 1000 namespaces selected (big-0000, big-0001, big-0002, big-0003, big-0004 and 995 more)"
	if got := TeamRows(team[500])[0].Detail; got != want {
		t.Errorf("namespaces = %q, want %q", got, want)
	}
}

func TestShellWord(t *testing.T) {
	for in, want := range map[string]string{
		"User:alice@example.com=admin":     "User:alice@example.com=admin",
		"ServiceAccount:ci:deployer=edit":  "ServiceAccount:ci:deployer=edit",
		"https://github.com/acme/":         "https://github.com/acme/",
		"Group:Payments Team=edit":         "'Group:Payments Team=edit'",
		"https://x.example/?a=b&c=$HOME":   "'https://x.example/?a=b&c=$HOME'",
		"User:o'brien=view":                `'User:o'\''brien=view'`,
		"":                                 "''",
		"User:zoë=edit":                    "'User:zoë=edit'",
		"https://git.example.com/a;rm -rf": "'https://git.example.com/a;rm -rf'",
	} {
		if got := shellWord(in); got != want {
			t.Errorf("shellWord(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestFactsReadWhatRenderWrites: the owners, the tenant-policy and its
// allowed sources that render makes for a team namespace are what FactsOf
// reads back from those objects.
func TestFactsReadWhatRenderWrites(t *testing.T) {
	owners := []render.Owner{
		{Kind: "User", Name: "alice@example.com", Role: "admin"},
		{Kind: "ServiceAccount", Name: "ci:deployer", Role: "edit"},
		{Kind: "Group", Name: "payments", Role: "edit"},
		{Kind: "Group", Name: "auditors", Role: "view"},
	}
	for _, tc := range []struct {
		name    string
		set     func(*render.TenantOptions)
		owners  []render.Owner
		policy  bool
		allowed []string
	}{
		{"plain", func(*render.TenantOptions) {}, nil, false, nil},
		{"owners, any source", func(o *render.TenantOptions) { o.Owners = owners }, owners, true, nil},
		{"owners and allowed sources", func(o *render.TenantOptions) {
			o.Owners, o.AllowedSources = owners, []string{"https://github.com/acme/", "oci://ghcr.io/acme/"}
		}, owners, true, []string{"https://github.com/acme/", "oci://ghcr.io/acme/"}},
		{"confined: its own source alone", func(o *render.TenantOptions) {
			o.ClusterRole = render.ConfinedClusterRole
			o.Confinement = &render.Confinement{Source: render.TenantSource{Kind: "GitRepository", Name: "own",
				Spec: render.GitSourceSpec("https://git.example.com/payments", render.DefaultBranch, render.DefaultTenantSourceInterval, nil)}}
		}, nil, true, []string{"https://git.example.com/payments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := render.DefaultTenantOptions()
			o.Namespace, o.Name = "pay-a", "payments"
			tc.set(&o)
			rendered, err := render.RenderTenant(o)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := rendered.Unstructured()
			if err != nil {
				t.Fatal(err)
			}
			live := &tenant.Tenant{Namespace: "pay-a", Name: "payments"}
			for _, obj := range objs {
				if obj.GetKind() == "Namespace" {
					live.Objects.Namespace = obj
				} else {
					live.Objects.Set(obj)
				}
			}
			f := FactsOf(live, render.DefaultTenantLabelKey)
			if !slices.Equal(f.Owners, tc.owners) || f.Policy != tc.policy || !slices.Equal(f.AllowedSources, tc.allowed) || (f.AllowedSources == nil) != (tc.allowed == nil) {
				t.Errorf("facts: owners %v, policy %v, allowed %#v; want %v, %v, %#v", f.Owners, f.Policy, f.AllowedSources, tc.owners, tc.policy, tc.allowed)
			}
			if len(f.MisboundOwners) > 0 {
				t.Errorf("misbound owners in a render: %v", f.MisboundOwners)
			}
			if f.confined() != (o.Confinement != nil) {
				t.Errorf("confined = %v, want %v", f.confined(), o.Confinement != nil)
			}
		})
	}
}

func TestFactsMisboundOwnerBinding(t *testing.T) {
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": "tenant-owners-view", "namespace": "ns"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}},
	}}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("ns")
	ns.SetLabels(map[string]string{render.DefaultTenantLabelKey: "t"})
	ns.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: tenant.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:` + render.DefaultTenantLabelKey + `":{}}}}`)}}})
	live := &tenant.Tenant{Namespace: "ns", Name: "t"}
	live.Objects.Namespace = ns
	live.Objects.Set(binding)
	f := FactsOf(live, render.DefaultTenantLabelKey)
	want := []string{"RoleBinding tenant-owners-view grants ClusterRole cluster-admin, not ClusterRole view"}
	if len(f.Owners) != 0 || !slices.Equal(f.MisboundOwners, want) {
		t.Errorf("owners %v, misbound %q; want none and %q", f.Owners, f.MisboundOwners, want)
	}
	if !f.Member {
		t.Error("a namespace whose tenant label kubectl-tenant wrote is not a member")
	}
	if FactsOf(live, "other.example.com/tenant").Member {
		t.Error("membership ignores the tenant label key")
	}
}
