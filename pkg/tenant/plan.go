package tenant

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// Action is what apply -f does to one tenant.
type Action string

// The actions, as the plan marks them.
const (
	ActionCreate Action = "+"
	ActionUpdate Action = "~"
	ActionPrune  Action = "-"
)

// Plan is what applying a fleet file to the cluster does, tenant by
// tenant, worked out before anything is written so that it can be shown,
// refused or carried out as shown.
type Plan struct {
	// Steps are the tenants that change: the file's in its order, then
	// the tenants it no longer lists, by name.
	Steps []PlanStep
	// Unchanged counts the file's tenants that need no write at all.
	Unchanged int
	// Fleet counts the tenants kubectl tenant made on the cluster, the
	// measure of the prune threshold.
	Fleet int
}

// PlanStep is one tenant's change.
type PlanStep struct {
	Action Action
	Name   string
	// Apply are the tenant's namespaces that are new or differ, each as
	// add renders it.
	Apply []render.TenantOptions
	// Prune are the live namespaces to delete: all of a tenant the file no
	// longer lists, or those a listed tenant no longer has.
	Prune []*unstructured.Unstructured
	// Changes say what changes, setting by setting ("vars.TIER: gold ->
	// silver"), in the fleet file's words.
	Changes []string
}

// Namespaces are the step's namespaces, applied and pruned, in order.
func (s PlanStep) Namespaces() []string {
	var out []string
	for _, t := range s.Apply {
		out = append(out, t.Namespace)
	}
	for _, ns := range s.Prune {
		out = append(out, ns.GetName())
	}
	return out
}

// NewPlan compares the file's tenants (desired, one options a namespace,
// credentials and copied sources resolved) with every tenant read back
// from the cluster (live). A tenant counts as changed when add's render of
// the file differs from the render of its live settings, or when someone
// changed one of its objects by hand: re-applying an unchanged tenant
// would send writes that change nothing, and a thousand of them cost
// minutes.
func NewPlan(desired []render.TenantOptions, live []*Tenant, labelKey string) (*Plan, error) {
	byNamespace := make(map[string]*Tenant, len(live))
	members := map[string][]*Tenant{} // by tenant name, the namespaces the plugin made its
	membership := NewMembers(labelKey)
	for _, t := range live {
		byNamespace[t.Namespace] = t
		if membership.IsMember(t.Objects.Namespace, t.Name) {
			members[t.Name] = append(members[t.Name], t)
		}
	}
	p := &Plan{}
	var order []string
	wanted := map[string][]render.TenantOptions{}
	for _, o := range desired {
		if _, seen := wanted[o.Name]; !seen {
			order = append(order, o.Name)
		}
		wanted[o.Name] = append(wanted[o.Name], o)
	}
	for _, name := range order {
		step, err := planTenant(name, wanted[name], byNamespace, members[name], labelKey)
		if err != nil {
			return nil, err
		}
		if step == nil {
			p.Unchanged++
			continue
		}
		p.Steps = append(p.Steps, *step)
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		// A tenant the plugin labelled counts towards the prune threshold.
		gone := prunable(members[name], labelKey)
		if len(gone) == 0 {
			continue
		}
		p.Fleet++
		if _, listed := wanted[name]; !listed {
			p.Steps = append(p.Steps, PlanStep{Action: ActionPrune, Name: name, Prune: gone})
		}
	}
	return p, nil
}

// planTenant is one listed tenant's step, or nil when nothing changes.
func planTenant(name string, want []render.TenantOptions, byNamespace map[string]*Tenant, members []*Tenant, labelKey string) (*PlanStep, error) {
	step := &PlanStep{Action: ActionUpdate, Name: name}
	listed := map[string]bool{}
	byChange := map[string][]string{} // change -> the namespaces it is in
	var order []string                // the changes, in the order first seen
	compared := 0                     // the namespaces that exist, and so are compared
	for _, o := range want {
		listed[o.Namespace] = true
		have := byNamespace[o.Namespace]
		if have == nil {
			step.Apply = append(step.Apply, o)
			step.Changes = append(step.Changes, "namespace "+o.Namespace+": added")
			continue
		}
		compared++
		changes, err := compareTenant(o, have)
		if err != nil {
			return nil, err
		}
		if len(changes) > 0 {
			step.Apply = append(step.Apply, o)
		}
		for _, c := range changes {
			if byChange[c] == nil {
				order = append(order, c)
			}
			byChange[c] = append(byChange[c], o.Namespace)
		}
	}
	step.Changes = append(step.Changes, namespacedChanges(order, byChange, compared, len(want) > 1)...)
	var gone []*Tenant
	for _, m := range members {
		if !listed[m.Namespace] {
			gone = append(gone, m)
		}
	}
	for _, ns := range prunable(gone, labelKey) {
		step.Prune = append(step.Prune, ns)
		step.Changes = append(step.Changes, "namespace "+ns.GetName()+": removed")
	}
	if compared == 0 && len(step.Prune) == 0 {
		step.Action = ActionCreate
		step.Changes = nil
	}
	if len(step.Apply) == 0 && len(step.Prune) == 0 {
		return nil, nil
	}
	return step, nil
}

// namespacedChanges names each change once: bare when every namespace
// compared has it (a tenant's owners, say), else once for each namespace
// it is in, prefixed with the namespace.
func namespacedChanges(order []string, byChange map[string][]string, compared int, team bool) []string {
	var out []string
	for _, c := range order {
		namespaces := byChange[c]
		if !team || len(namespaces) == compared {
			out = append(out, c)
			continue
		}
		for _, ns := range namespaces {
			out = append(out, ns+": "+c)
		}
	}
	return out
}

// compareTenant says what applying o would change of the live tenant
// have: its settings that differ, old -> new, then, when the settings
// alone do not show it, the objects whose render differs, and the hand
// edits an apply would undo.
func compareTenant(o render.TenantOptions, have *Tenant) ([]string, error) {
	if have.Name != o.Name {
		// Another tenant's, or nobody's: add's checks refuse or adopt it.
		return []string{fmt.Sprintf("namespace %s: taken over from %s", o.Namespace, tenantOrNobody(have.Name))}, nil
	}
	want, err := have.Render(o)
	if err != nil {
		return nil, err
	}
	changes := SettingChanges(have.Settings, o)
	if have.Rendered == nil {
		// Live settings that do not render: the apply replaces them.
		return append(changes, "objects: re-rendered"), nil
	}
	if len(changes) == 0 {
		changes = differingObjects(have.Rendered, want)
	}
	for _, edit := range have.HandEdits {
		if !edit.Setting {
			changes = append(changes, "hand edit undone: "+edit.String())
		}
	}
	return changes, nil
}

// differingObjects names the objects of want that are not in got as they
// are, and those of got that want leaves out. A Secret's values are never
// named, only that it changes.
func differingObjects(got, want []*unstructured.Unstructured) []string {
	var out []string
	for _, w := range want {
		g := FindObject(got, w)
		switch {
		case g == nil:
			out = append(out, objectName(w)+": added")
		case !EqualJSON(g.Object, w.Object):
			out = append(out, objectName(w)+": changed")
		}
	}
	for _, g := range got {
		if FindObject(want, g) == nil {
			out = append(out, objectName(g)+": removed")
		}
	}
	return out
}

// prunable are the namespaces of tenants that apply --prune may delete:
// those whose tenant label kubectl tenant applied itself. A namespace
// someone labelled by hand was never the plugin's, and one whose label
// only Flux applies is git's (a fleet handed over): neither is deleted.
// Reserved namespaces never reach here (the selection leaves them out) and
// are checked again, since deleting one would break the cluster.
func prunable(tenants []*Tenant, labelKey string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, t := range tenants {
		if ns := t.Objects.Namespace; ns != nil && isPrunable(ns, labelKey) {
			out = append(out, ns)
		}
	}
	return out
}

// isPrunable is prunable for one namespace.
func isPrunable(ns metav1.Object, labelKey string) bool {
	return !render.IsReservedNamespace(ns.GetName()) && ns.GetDeletionTimestamp() == nil && pluginAppliedLabel(ns, labelKey)
}

// pluginAppliedLabel reports whether kubectl tenant's own field manager
// applied ns's tenant label.
func pluginAppliedLabel(ns metav1.Object, labelKey string) bool {
	appliedByPlugin := func(manager string, operation metav1.ManagedFieldsOperationType) bool {
		return manager == FieldManager && operation == metav1.ManagedFieldsOperationApply
	}
	return writtenBy(ns, appliedByPlugin, func(fields []byte) bool { return ownsLabel(fields, labelKey) })
}

func tenantOrNobody(name string) string {
	if name == "" {
		return "no tenant"
	}
	return "tenant " + name
}

// Summary is the plan's last line: "3 to add, 2 to change, 1 to prune,
// 994 unchanged".
func (p *Plan) Summary() string {
	counts := map[Action]int{}
	for _, s := range p.Steps {
		counts[s.Action]++
	}
	return fmt.Sprintf("%d to add, %d to change, %d to prune, %d unchanged", counts[ActionCreate], counts[ActionUpdate], counts[ActionPrune], p.Unchanged)
}

// Pruned are the steps that delete namespaces: whole tenants, and tenants
// that lose some.
func (p *Plan) Pruned() []PlanStep {
	var out []PlanStep
	for _, s := range p.Steps {
		if len(s.Prune) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// PruneLimit is how many tenants a prune may touch unless the user says
// otherwise: a tenth of the fleet, and at least one. A file truncated by a
// bad merge would otherwise delete most of the fleet in one run.
func (p *Plan) PruneLimit() int {
	return max(1, (p.Fleet+9)/10)
}

// Lines are the plan as apply prints it: one line a tenant, and its
// changes indented under it.
func (p *Plan) Lines() []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, fmt.Sprintf("%s tenant %s (%s)", s.Action, s.Name, strings.Join(s.Namespaces(), ", ")))
		if s.Action == ActionUpdate {
			for _, c := range s.Changes {
				out = append(out, "    "+c)
			}
		}
	}
	return out
}

// Unlisted are the namespaces apply --prune would delete for a file that
// lists the namespaces listed: those whose tenant label kubectl tenant
// applied and that the file does not name.
func Unlisted(namespaces []*unstructured.Unstructured, labelKey string, listed map[string]bool) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, ns := range namespaces {
		if !listed[ns.GetName()] && isPrunable(ns, labelKey) {
			out = append(out, ns)
		}
	}
	return out
}
