package tenant

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// fieldsV1 builds a managedFields entry's field set for the leaf paths.
func fieldsV1(t *testing.T, paths []FieldPath) *metav1.FieldsV1 {
	t.Helper()
	root := map[string]any{}
	for _, p := range paths {
		node := root
		for _, k := range p {
			next, ok := node["f:"+k].(map[string]any)
			if !ok {
				next = map[string]any{}
				node["f:"+k] = next
			}
			node = next
		}
	}
	raw, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return &metav1.FieldsV1{Raw: raw}
}

// owned sets obj's managedFields to one entry per manager, owning paths.
func owned(t *testing.T, obj *unstructured.Unstructured, entries ...ownedEntry) {
	t.Helper()
	var mf []metav1.ManagedFieldsEntry
	for _, e := range entries {
		mf = append(mf, metav1.ManagedFieldsEntry{
			Manager: e.manager, Operation: e.operation, APIVersion: obj.GetAPIVersion(),
			Time: &metav1.Time{Time: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}, FieldsType: "FieldsV1", FieldsV1: fieldsV1(t, e.paths),
		})
	}
	obj.SetManagedFields(mf)
}

type ownedEntry struct {
	manager   string
	operation metav1.ManagedFieldsOperationType
	paths     []FieldPath
}

// appliedTenant is what the cluster holds after add applied o: the render,
// every field owned by kubectl-tenant.
func appliedTenant(t *testing.T, o render.TenantOptions) *Tenant {
	t.Helper()
	tenant, err := render.RenderTenant(o)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := tenant.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	lt := &Tenant{Namespace: o.Namespace}
	for _, obj := range objs {
		owned(t, obj, ownedEntry{FieldManager, metav1.ManagedFieldsOperationApply, LeafPaths(obj.Object)})
		if obj.GetKind() == "Namespace" {
			lt.Objects.Namespace = obj
		} else {
			lt.Objects.Set(obj)
		}
	}
	return lt
}

func mixedTenants() []render.TenantOptions {
	plain := render.DefaultTenantOptions()
	plain.Namespace, plain.Name = "foo", "sometenant"

	flags := render.DefaultTenantOptions()
	flags.Namespace, flags.Name = "bar", "other"
	flags.Vars = map[string]string{"TIER": "gold", "REGION": "eu-west-1"}
	flags.ClusterRole, flags.KustomizationName, flags.Path, flags.Interval = "edit", "tenant", "./other", 2*time.Minute

	confined := render.DefaultTenantOptions()
	confined.Namespace, confined.Name = "baz", "locked"
	confined.ClusterRole = render.ConfinedClusterRole
	confined.Confinement = &render.Confinement{
		Source:        render.TenantSource{Kind: "GitRepository", Name: "tenant-template", Spec: render.GitSourceSpec("http://git.example/repo.git", "main", render.DefaultTenantSourceInterval, nil)},
		Quota:         map[string]string{"pods": "10"},
		Limits:        map[string]render.ContainerDefault{"cpu": {Request: "100m", Limit: "500m"}},
		NetworkPolicy: render.NetworkPolicyIsolate,
	}
	return []render.TenantOptions{plain, flags, confined}
}

// TestReadBackRendersTheSameBytes: the settings read back from what add
// applied render byte for byte what add rendered, with no hand edit and
// nothing inexpressible.
func TestReadBackRendersTheSameBytes(t *testing.T) {
	for _, o := range mixedTenants() {
		t.Run(o.Namespace, func(t *testing.T) {
			lt := appliedTenant(t, o)
			(&Reader{LabelKey: o.LabelKey}).settle(lt)
			if len(lt.HandEdits) > 0 || len(lt.Inexpressible) > 0 {
				t.Errorf("hand edits %v, inexpressible %v; want none", lt.HandEdits, lt.Inexpressible)
			}
			want := renderYAML(t, o)
			if got := renderYAML(t, lt.Settings); got != want {
				t.Errorf("settings render:\n%s\nwant:\n%s", got, want)
			}
			if got := renderYAML(t, lt.Declared); got != want {
				t.Errorf("declared render:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func renderYAML(t *testing.T, o render.TenantOptions) string {
	t.Helper()
	tenant, err := render.RenderTenant(o)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := tenant.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.EncodeYAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestReadBackHandEdits: a field only another manager owns is a hand edit;
// Settings keep its value and Declared leave it out.
func TestReadBackHandEdits(t *testing.T) {
	o := mixedTenants()[1]
	lt := appliedTenant(t, o)
	cm := lt.Objects.ConfigMap()
	_ = unstructured.SetNestedField(cm.Object, "silver", "data", "TIER")
	owned(t, cm,
		ownedEntry{FieldManager, metav1.ManagedFieldsOperationApply, slices.DeleteFunc(LeafPaths(cm.Object), func(p FieldPath) bool { return p.String() == "data.TIER" })},
		ownedEntry{"kubectl-edit", metav1.ManagedFieldsOperationUpdate, []FieldPath{{"data", "TIER"}}},
	)
	ks := lt.Objects.Kustomization()
	_ = unstructured.SetNestedField(ks.Object, false, "spec", "prune")
	owned(t, ks,
		ownedEntry{FieldManager, metav1.ManagedFieldsOperationApply, slices.DeleteFunc(LeafPaths(ks.Object), func(p FieldPath) bool { return p.String() == "spec.prune" })},
		ownedEntry{"kubectl-patch", metav1.ManagedFieldsOperationUpdate, []FieldPath{{"spec", "prune"}}},
		// A controller's own writes are not hand edits of the tenant.
		ownedEntry{"kustomize-controller", metav1.ManagedFieldsOperationUpdate, []FieldPath{{"metadata", "finalizers"}}},
	)
	(&Reader{LabelKey: o.LabelKey}).settle(lt)

	want := []HandEdit{
		{Object: "ConfigMap tenant-vars", Field: "data.TIER", Manager: "kubectl-edit", Time: "2026-11-27T12:00:00Z", Setting: true},
		{Object: "Kustomization tenant", Field: "spec.prune", Manager: "kubectl-patch", Time: "2026-11-27T12:00:00Z"},
	}
	if !reflect.DeepEqual(lt.HandEdits, want) {
		t.Errorf("hand edits:\n%v\nwant:\n%v", lt.HandEdits, want)
	}
	if lt.Settings.Vars["TIER"] != "silver" {
		t.Errorf("Settings.Vars[TIER] = %q, want the live silver", lt.Settings.Vars["TIER"])
	}
	if _, ok := lt.Declared.Vars["TIER"]; ok || lt.Declared.Vars["REGION"] != "eu-west-1" {
		t.Errorf("Declared.Vars = %v, want REGION only", lt.Declared.Vars)
	}
	if len(lt.Inexpressible) > 0 {
		t.Errorf("inexpressible %v, want none", lt.Inexpressible)
	}
}

// TestReadBackInexpressible: what a declarer set that no flag expresses is
// reported; Flux's own labels and a CRD's defaults are not.
func TestReadBackInexpressible(t *testing.T) {
	o := mixedTenants()[0]
	lt := appliedTenant(t, o)
	ks := lt.Objects.Kustomization()
	_ = unstructured.SetNestedField(ks.Object, "2m", "spec", "timeout")
	_ = unstructured.SetNestedSlice(ks.Object, []any{map[string]any{"kind": "ConfigMap", "name": "tenant-vars", "optional": false}}, "spec", "postBuild", "substituteFrom")
	labels := ks.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["kustomize.toolkit.fluxcd.io/name"] = "fleet"
	ks.SetLabels(labels)
	owned(t, ks, ownedEntry{FluxApplyManager, metav1.ManagedFieldsOperationApply, LeafPaths(ks.Object)})
	lt.Objects.Others = append(lt.Objects.Others, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": map[string]any{"name": "extra", "namespace": "foo"},
	}})
	(&Reader{LabelKey: o.LabelKey}).settle(lt)
	want := []string{
		"Kustomization dummy: spec.timeout was set by kustomize-controller; no flag of add sets it",
		"RoleBinding extra: an extra object marked as the tenant's; no flag of add makes it",
	}
	if !reflect.DeepEqual(lt.Inexpressible, want) {
		t.Errorf("inexpressible:\n%q\nwant:\n%q", lt.Inexpressible, want)
	}
}

func TestFieldOwnerLeaves(t *testing.T) {
	o := FieldOwner{fields: map[string]any{
		"f:metadata": map[string]any{"f:name": map[string]any{}, "f:labels": map[string]any{".": map[string]any{}, "f:a": map[string]any{}}},
		"f:subjects": map[string]any{},
		"f:spec":     map[string]any{"f:limits": map[string]any{`k:{"type":"Container"}`: map[string]any{".": map[string]any{}}}},
	}}
	var got []string
	for _, p := range o.Leaves() {
		got = append(got, p.String())
	}
	want := []string{"metadata.labels.a", "spec.limits", "subjects"}
	if !slices.Equal(got, want) {
		t.Errorf("leaves = %v, want %v", got, want)
	}
	if !o.Owns(FieldPath{"metadata", "labels"}) || o.Owns(FieldPath{"metadata", "labels", "b"}) {
		t.Error("owns is wrong about labels")
	}
}

func TestEqualDefaulted(t *testing.T) {
	for _, c := range []struct {
		live, want any
		equal      bool
	}{
		{[]any{map[string]any{"kind": "ConfigMap", "optional": false}}, []any{map[string]any{"kind": "ConfigMap"}}, true},
		{[]any{map[string]any{"kind": "ConfigMap", "optional": true}}, []any{map[string]any{"kind": "ConfigMap"}}, false},
		{map[string]any{"a": int64(1)}, map[string]any{"a": 1}, true},
		{map[string]any{}, map[string]any{"a": "x"}, false},
	} {
		if got := EqualDefaulted(c.live, c.want); got != c.equal {
			t.Errorf("EqualDefaulted(%v, %v) = %v, want %v", c.live, c.want, got, c.equal)
		}
	}
}

// TestDiffTenantLocal: a tenant as add applied it needs no dry run and
// shows no difference; a missing object shows wholly added, also without
// asking the server (the applier here has no client: a request would fail).
func TestDiffTenantLocal(t *testing.T) {
	for _, o := range mixedTenants() {
		lt := appliedTenant(t, o)
		sa := lt.Objects.ServiceAccount()
		lt.Objects.Remove("ServiceAccount", sa.GetName())
		(&Reader{LabelKey: o.LabelKey}).settle(lt)
		desired, err := lt.Render(lt.Declared)
		if err != nil {
			t.Fatal(err)
		}
		diffs, err := Diff(context.Background(), &Applier{}, lt, desired)
		if err != nil {
			t.Fatalf("%s: %v", o.Namespace, err)
		}
		if len(diffs) != 1 || diffs[0].Name != "v1.ServiceAccount."+o.Namespace+"."+sa.GetName() || diffs[0].Live != nil {
			t.Errorf("%s: diffs = %+v, want the ServiceAccount wholly added", o.Namespace, diffs)
		}
	}
}
