package plugin

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// prunePlan prunes n tenants of a fleet of fleet.
func prunePlan(n, fleet int) *tenant.Plan {
	p := &tenant.Plan{Fleet: fleet}
	for i := range n {
		ns := &unstructured.Unstructured{}
		ns.SetName("ns" + string(rune('a'+i)))
		p.Steps = append(p.Steps, tenant.PlanStep{Action: tenant.ActionPrune, Name: "t" + string(rune('a'+i)), Prune: []*unstructured.Unstructured{ns}})
	}
	return p
}

func TestApplyPruneLimit(t *testing.T) {
	for _, c := range []struct {
		pruned, fleet, limit int
		prune                bool
		refused              string
	}{
		{pruned: 1, fleet: 3, limit: -1, prune: true},
		{pruned: 2, fleet: 3, limit: -1, prune: true, refused: "refusing to prune 2 tenants (ta, tb), more than 1 (the default limit, a tenth of the 3 tenants kubectl tenant made here); nothing was changed: check the file, or pass --prune-limit 2"},
		{pruned: 2, fleet: 3, limit: 2, prune: true},
		{pruned: 3, fleet: 30, limit: 2, prune: true, refused: "more than 2 (--prune-limit)"},
		{pruned: 1, fleet: 3, limit: 0, prune: true, refused: "refusing to prune 1 tenants (ta)"},
		// Without --prune nothing is pruned, so nothing is refused.
		{pruned: 3, fleet: 3, limit: -1, prune: false},
	} {
		o := &ApplyOptions{Prune: c.prune, PruneLimit: c.limit}
		err := o.checkPrune(prunePlan(c.pruned, c.fleet))
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%+v: refused: %v", c, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%+v: error %v, want %q", c, err, c.refused)
		}
	}
}

func TestApplyPlanSaysWhatWithoutPruneLeavesAlone(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &ApplyOptions{IOStreams: streams, add: NewAddOptions(nil, streams)}
	plan := prunePlan(1, 3)
	plan.Unchanged = 2
	o.printPlan(plan)
	want := "- tenant ta (nsa)\nPlan: 0 to add, 0 to change, 1 to prune, 2 unchanged (without --prune, nothing is pruned: ta).\n"
	if out.String() != want {
		t.Errorf("plan:\n%s\nwant:\n%s", out, want)
	}
}
