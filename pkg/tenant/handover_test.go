package tenant

import (
	"errors"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// mfEntry is one managedFields entry of a test object.
func mfEntry(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

func object(kind, namespace, name string, entries ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind}}
	obj.SetName(name)
	obj.SetNamespace(namespace)
	obj.SetResourceVersion("42")
	obj.SetUID("0c0ffee0-0000-4000-8000-000000000042")
	obj.SetManagedFields(entries)
	return obj
}

const (
	pluginVars = `{"f:data":{"f:PER_TENANT_SUBST":{},"f:TIER":{}}}`
	pluginNS   = `{"f:metadata":{"f:labels":{".":{},"f:toolkit.fluxcd.io/tenant":{}}}}`
)

func tenantOf(objs ...*unstructured.Unstructured) *Tenant {
	t := &Tenant{Namespace: "foo"}
	for _, obj := range objs {
		if obj.GetKind() == "Namespace" {
			t.Objects.Namespace = obj
		} else {
			t.Objects.Set(obj)
		}
	}
	return t
}

// TestPlanHandoverOnceFluxOwnsEveryField: a tenant is released when
// kustomize-controller's apply entry owns every leaf the plugin's owns;
// Flux's own bookkeeping labels on top change nothing, objects the plugin
// never applied are left out, and the namespace comes last.
func TestPlanHandoverOnceFluxOwnsEveryField(t *testing.T) {
	ns := object("Namespace", "", "foo",
		mfEntry(FieldManager, metav1.ManagedFieldsOperationApply, pluginNS),
		mfEntry(FluxApplyManager, metav1.ManagedFieldsOperationApply, `{"f:metadata":{"f:labels":{"f:toolkit.fluxcd.io/tenant":{},"f:kustomize.toolkit.fluxcd.io/name":{}}}}`))
	vars := object("ConfigMap", "foo", "tenant-vars",
		mfEntry(FieldManager, metav1.ManagedFieldsOperationApply, pluginVars),
		mfEntry(FluxApplyManager, metav1.ManagedFieldsOperationApply, pluginVars))
	fluxOnly := object("ServiceAccount", "foo", "foo", mfEntry(FluxApplyManager, metav1.ManagedFieldsOperationApply, pluginNS))
	got, err := PlanHandover(tenantOf(ns, vars, fluxOnly))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != vars || got[1] != ns {
		t.Errorf("released %v, want the ConfigMap then the Namespace", names(got))
	}
}

// TestPlanHandoverRefusesTheWholeTenant: one leaf the plugin owns that
// Flux does not (a variable not in git yet) holds back the whole tenant,
// and the refusal names the object and the field; an Update entry of
// kustomize-controller is not an apply of the tree.
func TestPlanHandoverRefusesTheWholeTenant(t *testing.T) {
	ns := object("Namespace", "", "foo",
		mfEntry(FieldManager, metav1.ManagedFieldsOperationApply, pluginNS),
		mfEntry(FluxApplyManager, metav1.ManagedFieldsOperationApply, pluginNS))
	for name, flux := range map[string]metav1.ManagedFieldsEntry{
		"a variable Flux did not apply": mfEntry(FluxApplyManager, metav1.ManagedFieldsOperationApply, `{"f:data":{"f:PER_TENANT_SUBST":{}}}`),
		"an Update entry, not an apply": mfEntry(FluxApplyManager, metav1.ManagedFieldsOperationUpdate, pluginVars),
	} {
		t.Run(name, func(t *testing.T) {
			vars := object("ConfigMap", "foo", "tenant-vars", mfEntry(FieldManager, metav1.ManagedFieldsOperationApply, pluginVars), flux)
			got, err := PlanHandover(tenantOf(ns, vars))
			var notApplied *NotAppliedByFlux
			if !errors.As(err, &notApplied) || got != nil {
				t.Fatalf("released %v, err %v; want a NotAppliedByFlux and nothing", names(got), err)
			}
			want := "Flux has not applied ConfigMap tenant-vars data.TIER yet (is the tree exported, committed and reconciled?)"
			if name == "an Update entry, not an apply" {
				want = "Flux has not applied ConfigMap tenant-vars data.PER_TENANT_SUBST yet (is the tree exported, committed and reconciled?)"
			}
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

// TestPlanHandoverOfCapturedTenants: on managedFields a real API server
// wrote, a tenant only the plugin applied is refused, naming the first of
// its fields, and so is one whose Kustomization alone Flux applied.
func TestPlanHandoverOfCapturedTenants(t *testing.T) {
	for _, fixture := range []string{"foo-applied.yaml", "foo-flux-applied.yaml"} {
		t.Run(fixture, func(t *testing.T) {
			_, err := PlanHandover(capturedTenant(t, fixture))
			var notApplied *NotAppliedByFlux
			if !errors.As(err, &notApplied) {
				t.Fatalf("err %v, want a NotAppliedByFlux", err)
			}
			if notApplied.Object != "Namespace foo" || notApplied.Field.String() != "metadata.labels.flux-multitenant-demo.ringerc.github.com/tenant-name" {
				t.Errorf("refused for %s %s", notApplied.Object, notApplied.Field)
			}
		})
	}
}

// TestReleaseObjectHoldsNoField: the release apply names the object and
// the version judged, and holds no field the server could count as owned.
func TestReleaseObjectHoldsNoField(t *testing.T) {
	vars := object("ConfigMap", "foo", "tenant-vars", mfEntry(FieldManager, metav1.ManagedFieldsOperationApply, pluginVars))
	vars.Object["data"] = map[string]any{"TIER": "gold"}
	vars.SetLabels(map[string]string{"a": "b"})
	want := map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "tenant-vars", "namespace": "foo", "resourceVersion": "42", "uid": "0c0ffee0-0000-4000-8000-000000000042"}}
	if got := ReleaseObject(vars).Object; !reflect.DeepEqual(got, want) {
		t.Errorf("release object %v, want %v", got, want)
	}
	ns := object("Namespace", "", "foo")
	if _, ok := ReleaseObject(ns).Object["metadata"].(map[string]any)["namespace"]; ok {
		t.Error("a cluster-scoped object's release names a namespace")
	}
}

// TestStillOwned: after a release the plugin may have no entry, or an
// empty one; an entry with fields left is a failed release.
func TestStillOwned(t *testing.T) {
	for name, tc := range map[string]struct {
		entries []metav1.ManagedFieldsEntry
		want    []string
	}{
		"no entry":    {[]metav1.ManagedFieldsEntry{mfEntry(FluxApplyManager, metav1.ManagedFieldsOperationApply, pluginVars)}, nil},
		"empty entry": {[]metav1.ManagedFieldsEntry{mfEntry(FieldManager, metav1.ManagedFieldsOperationApply, `{}`)}, nil},
		"identity only": {[]metav1.ManagedFieldsEntry{mfEntry(FieldManager, metav1.ManagedFieldsOperationApply,
			`{"f:metadata":{"f:name":{},"f:namespace":{}}}`)}, nil},
		"fields left": {[]metav1.ManagedFieldsEntry{mfEntry(FieldManager, metav1.ManagedFieldsOperationApply, pluginVars)}, []string{"data.PER_TENANT_SUBST", "data.TIER"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := stillOwned(object("ConfigMap", "foo", "tenant-vars", tc.entries...))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("still owned %v, want %v", got, tc.want)
			}
		})
	}
}

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, obj := range objs {
		out = append(out, objectName(obj))
	}
	return out
}
