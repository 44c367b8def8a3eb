package tenant

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// planOptions is a tenant as a fleet file gives it.
func planOptions(name, namespace string, vars map[string]string) render.TenantOptions {
	o := render.DefaultTenantOptions()
	o.Name, o.Namespace, o.Vars = name, namespace, vars
	return o
}

// liveTenant is o as the read-back finds it on the cluster, its label
// applied by manager with operation.
func liveTenant(t *testing.T, o render.TenantOptions, manager string, operation metav1.ManagedFieldsOperationType) *Tenant {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	ns.SetName(o.Namespace)
	ns.SetLabels(map[string]string{o.LabelKey: o.Name})
	ns.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager: manager, Operation: operation, APIVersion: "v1", FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:` + o.LabelKey + `":{}}}}`)},
	}})
	lt := &Tenant{Namespace: o.Namespace, Name: o.Name, Settings: o, Objects: Objects{Namespace: ns}}
	rendered, err := lt.Render(o)
	if err != nil {
		t.Fatal(err)
	}
	lt.Rendered = rendered
	return lt
}

func TestPlanOfAnEditedFleet(t *testing.T) {
	apply := metav1.ManagedFieldsOperationApply
	alpha := planOptions("alpha", "alpha", map[string]string{"TIER": "gold"})
	beta := planOptions("beta", "beta", nil)
	live := []*Tenant{
		liveTenant(t, alpha, FieldManager, apply),
		liveTenant(t, beta, FieldManager, apply),
		liveTenant(t, planOptions("gamma", "gamma", nil), FieldManager, apply),
		// Labelled by hand, and handed over to git: never pruned.
		liveTenant(t, planOptions("hand", "hand", nil), "kubectl-label", metav1.ManagedFieldsOperationUpdate),
		liveTenant(t, planOptions("git", "git", nil), FluxApplyManager, apply),
	}
	silver := planOptions("alpha", "alpha", map[string]string{"TIER": "silver"})
	desired := []render.TenantOptions{silver, beta, planOptions("delta", "delta", nil)}
	plan, err := NewPlan(desired, live, render.DefaultTenantLabelKey)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(plan.Lines(), "\n")
	want := strings.Join([]string{
		"~ tenant alpha (alpha)",
		"    vars.TIER: gold -> silver",
		"+ tenant delta (delta)",
		"- tenant gamma (gamma)",
	}, "\n")
	if got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	if s := plan.Summary(); s != "1 to add, 1 to change, 1 to prune, 1 unchanged" {
		t.Errorf("summary %q", s)
	}
	// The fleet is what the plugin labelled: alpha, beta and gamma.
	if plan.Fleet != 3 || plan.PruneLimit() != 1 {
		t.Errorf("fleet %d, prune limit %d; want 3 and 1", plan.Fleet, plan.PruneLimit())
	}
	if pruned := plan.Pruned(); len(pruned) != 1 || pruned[0].Prune[0].GetName() != "gamma" {
		t.Errorf("pruned %v, want gamma alone", pruned)
	}
	if steps := plan.Steps; !slices.ContainsFunc(steps, func(s PlanStep) bool { return s.Name == "alpha" && len(s.Apply) == 1 }) {
		t.Errorf("alpha is not applied: %+v", steps)
	}
}

// TestPlanOfATeamThatLosesANamespace: the namespace a listed tenant no
// longer has is pruned with the tenant's step.
func TestPlanOfATeamThatLosesANamespace(t *testing.T) {
	apply := metav1.ManagedFieldsOperationApply
	dev, prod := planOptions("pay", "pay-dev", nil), planOptions("pay", "pay-prod", nil)
	live := []*Tenant{liveTenant(t, dev, FieldManager, apply), liveTenant(t, prod, FieldManager, apply)}
	plan, err := NewPlan([]render.TenantOptions{dev}, live, render.DefaultTenantLabelKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Lines(), "\n"); got != "~ tenant pay (pay-prod)\n    namespace pay-prod: removed" {
		t.Errorf("plan:\n%s", got)
	}
	if len(plan.Pruned()) != 1 || plan.Unchanged != 0 {
		t.Errorf("pruned %d, unchanged %d", len(plan.Pruned()), plan.Unchanged)
	}
}

func TestPruneLimitIsATenthOfTheFleet(t *testing.T) {
	for fleet, want := range map[int]int{0: 1, 3: 1, 10: 1, 11: 2, 1000: 100} {
		if got := (&Plan{Fleet: fleet}).PruneLimit(); got != want {
			t.Errorf("fleet of %d: limit %d, want %d", fleet, got, want)
		}
	}
}

// TestPlanNamesATeamsSharedChangeOnce: a change every namespace of a team
// has (its owners) is one line; one namespace's own change names it.
func TestPlanNamesATeamsSharedChangeOnce(t *testing.T) {
	apply := metav1.ManagedFieldsOperationApply
	dev, prod := planOptions("pay", "pay-dev", map[string]string{"STAGE": "dev"}), planOptions("pay", "pay-prod", nil)
	live := []*Tenant{liveTenant(t, dev, FieldManager, apply), liveTenant(t, prod, FieldManager, apply)}
	owner := []render.Owner{{Kind: "Group", Name: "pay", Role: render.DefaultOwnerRole}}
	dev2, prod2 := dev, prod
	dev2.Vars = map[string]string{"STAGE": "development"}
	dev2.Owners, prod2.Owners = owner, owner
	plan, err := NewPlan([]render.TenantOptions{dev2, prod2}, live, render.DefaultTenantLabelKey)
	if err != nil {
		t.Fatal(err)
	}
	want := "~ tenant pay (pay-dev, pay-prod)\n" +
		`    owners: (none) -> [{"kind":"Group","name":"pay"}]` + "\n" +
		"    pay-dev: vars.STAGE: dev -> development"
	if got := strings.Join(plan.Lines(), "\n"); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}
