package tenant

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/internal/fixtures"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// capturedTenant loads a tenant as a real API server held it, its
// managedFields included, from a fixture that test/e2e's
// TestManagedFieldsFixtures captured (see the files' header):
//
//   - <namespace>-applied.yaml: one of fixtures.MixedTenants, server-side applied
//     by kubectl-tenant as add applies it;
//   - bar-hand-edited.yaml: bar, then changed by kubectl edit, kubectl
//     patch and kustomize-controller;
//   - foo-flux-applied.yaml: foo, its Kustomization applied from git by
//     kustomize-controller alone.
//
// The field sets are the server's, not a model of them built with the
// code under test.
func capturedTenant(t *testing.T, name string) *Tenant {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "managedfields", name))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.DecodeYAML(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	lt := &Tenant{}
	for _, obj := range objs {
		// As the dynamic client decodes them: whole numbers are int64.
		raw, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		if err := obj.UnmarshalJSON(raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if obj.GetKind() == "Namespace" {
			lt.Namespace = obj.GetName()
			lt.Objects.Namespace = obj
		} else {
			lt.Objects.Set(obj)
		}
	}
	if lt.Objects.Namespace == nil {
		t.Fatalf("%s holds no Namespace", name)
	}
	return lt
}

// TestReadBackRendersTheSameBytes: the settings read back from what add
// applied render byte for byte what add rendered, with no hand edit and
// nothing inexpressible.
func TestReadBackRendersTheSameBytes(t *testing.T) {
	for _, o := range fixtures.MixedTenants() {
		t.Run(o.Namespace, func(t *testing.T) {
			lt := capturedTenant(t, o.Namespace+"-applied.yaml")
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
	o := fixtures.MixedTenants()[1]
	// bar's tenant-vars TIER is silver by kubectl edit, its Kustomization's
	// prune false by kubectl patch; kustomize-controller's own finalizer
	// write is not a hand edit of the tenant.
	lt := capturedTenant(t, "bar-hand-edited.yaml")
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
	o := fixtures.MixedTenants()[0]
	// foo's Kustomization as kustomize-controller alone applied it, with
	// spec.timeout 2m, substituteFrom's optional: false and Flux's
	// kustomize.toolkit.fluxcd.io/name label.
	lt := capturedTenant(t, "foo-flux-applied.yaml")
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
	for _, o := range fixtures.MixedTenants() {
		lt := capturedTenant(t, o.Namespace+"-applied.yaml")
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
