package e2e

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-tenant/kubectl-tenant/internal/fixtures"
	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

var update = flag.Bool("update", false, "rewrite pkg/tenant's managedFields fixtures from a fresh capture")

// managedFieldsDir holds what TestManagedFieldsFixtures captures, for
// pkg/tenant's read-back tests (live_test.go) to load.
const managedFieldsDir = "pkg/tenant/testdata/managedfields"

// managedFieldsHeader marks a fixture as captured, and says how.
const managedFieldsHeader = `# Captured from a real kube-apiserver by test/e2e's TestManagedFieldsFixtures:
# the objects as the server holds them, managedFields included, with uid,
# resourceVersion and creationTimestamp left out and every managedFields time
# set to 2026-11-27T12:00:00Z. Do not edit; re-capture with
#   go test ./test/e2e -run TestManagedFieldsFixtures -update
`

// managedFieldsTime is the time every captured managedFields entry gets.
var managedFieldsTime = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// TestManagedFieldsFixtures captures, from a real API server, the
// managedFields that pkg/tenant reads hand edits and inexpressible
// settings from: tenants server-side applied by kubectl-tenant as add
// applies them, then changed by other managers as kubectl edit, kubectl
// patch and kustomize-controller change them. With -update it rewrites
// pkg/tenant/testdata/managedfields; without, it fails unless the
// committed fixtures are what the server gives now, so that they cannot
// go stale with a new API server, Flux CRD or render.
func TestManagedFieldsFixtures(t *testing.T) {
	t.Parallel()
	e := startEnv(t, localcluster.Options{}).with(t)
	// Flux's CRDs, as users get them; no controller runs to add a status,
	// a finalizer or labels of its own.
	e.mustRun("bootstrap", "--manifests", theSuite.manifests, "--git-url", "https://git.example.com/tenants.git")

	captured := map[string][]byte{}
	rendered := map[string][]*unstructured.Unstructured{}
	for _, o := range fixtures.MixedTenants() {
		tenantObjs, err := render.RenderTenant(o)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := tenantObjs.Unstructured()
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			e.apply(tenant.FieldManager, obj)
		}
		rendered[o.Namespace] = objs
		captured[o.Namespace+"-applied.yaml"] = e.capture(objs)
	}

	// bar, changed by hand: a variable by kubectl edit, the Kustomization's
	// prune by kubectl patch, and a finalizer by kustomize-controller's own
	// update, which is no hand edit of the tenant.
	e.patch("kubectl-edit", configMapGVR, "bar", render.TenantVarsConfigMapName, `{"data":{"TIER":"silver"}}`)
	e.patch("kubectl-patch", kustomizationGVR, "bar", "tenant", `{"spec":{"prune":false}}`)
	e.patch("kustomize-controller", kustomizationGVR, "bar", "tenant", `{"metadata":{"finalizers":["finalizers.fluxcd.io"]}}`)
	captured["bar-hand-edited.yaml"] = e.capture(rendered["bar"])

	// foo's Kustomization, applied from git by kustomize-controller alone,
	// with a field no flag of add sets, a list entry the CRD defaults, and
	// Flux's own label.
	var ks *unstructured.Unstructured
	for _, obj := range rendered["foo"] {
		if obj.GetKind() == "Kustomization" {
			ks = obj.DeepCopy()
		}
	}
	if err := e.client.Resource(kustomizationGVR).Namespace("foo").Delete(context.Background(), ks.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(ks.Object, "2m", "spec", "timeout")
	_ = unstructured.SetNestedSlice(ks.Object, []any{map[string]any{"kind": "ConfigMap", "name": render.TenantVarsConfigMapName, "optional": false}}, "spec", "postBuild", "substituteFrom")
	labels := ks.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["kustomize.toolkit.fluxcd.io/name"] = "fleet"
	ks.SetLabels(labels)
	e.apply("kustomize-controller", ks)
	captured["foo-flux-applied.yaml"] = e.capture(rendered["foo"])

	dir := filepath.Join(theSuite.root, filepath.FromSlash(managedFieldsDir))
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range captured {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run go test ./test/e2e -run TestManagedFieldsFixtures -update)", err)
	}
	var committed []string
	for _, entry := range entries {
		committed = append(committed, entry.Name())
	}
	var names []string
	for name := range captured {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(committed, names) {
		t.Errorf("%s holds %v, the capture %v: run go test ./test/e2e -run TestManagedFieldsFixtures -update", managedFieldsDir, committed, names)
	}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%v (run go test ./test/e2e -run TestManagedFieldsFixtures -update)", err)
			continue
		}
		if !bytes.Equal(data, captured[name]) {
			t.Errorf("%s/%s differs from a fresh capture (run go test ./test/e2e -run TestManagedFieldsFixtures -update and review the diff):\n%s",
				managedFieldsDir, name, diff.Diff(strings.Split(string(data), "\n"), strings.Split(string(captured[name]), "\n")))
		}
	}
}

// resource is the client for obj's kind, in obj's namespace.
func (e *env) resource(obj *unstructured.Unstructured) dynamic.ResourceInterface {
	gvr := gvrOf(obj)
	if obj.GetNamespace() == "" {
		return e.client.Resource(gvr)
	}
	return e.client.Resource(gvr).Namespace(obj.GetNamespace())
}

// apply server-side applies obj as manager, taking over conflicts as add
// --force-conflicts and kustomize-controller do.
func (e stepEnv) apply(manager string, obj *unstructured.Unstructured) {
	e.t.Helper()
	if _, err := e.resource(obj).Apply(context.Background(), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: manager, Force: true}); err != nil {
		e.t.Fatalf("applying %s %s/%s as %s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), manager, err)
	}
}

// patch changes an object with a JSON merge patch, as kubectl edit and
// kubectl patch --type merge send it: an Update by manager.
func (e stepEnv) patch(manager string, gvr schema.GroupVersionResource, namespace, name, patch string) {
	e.t.Helper()
	if _, err := e.client.Resource(gvr).Namespace(namespace).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: manager}); err != nil {
		e.t.Fatalf("patching %s %s/%s as %s: %v", gvr.Resource, namespace, name, manager, err)
	}
}

// capture reads objs back from the server, as the plugin's reader gets
// them, and encodes them as a fixture: what changes from one run to the
// next left out, and the managedFields times made one.
func (e stepEnv) capture(objs []*unstructured.Unstructured) []byte {
	e.t.Helper()
	var live []*unstructured.Unstructured
	for _, obj := range objs {
		got, err := e.resource(obj).Get(context.Background(), obj.GetName(), metav1.GetOptions{})
		if err != nil {
			e.t.Fatalf("reading %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
		for _, field := range []string{"uid", "resourceVersion", "creationTimestamp"} {
			unstructured.RemoveNestedField(got.Object, "metadata", field)
		}
		mf := got.GetManagedFields()
		for i := range mf {
			mf[i].Time = &metav1.Time{Time: managedFieldsTime}
		}
		// The server orders entries by operation, time and manager; with
		// the times made one, the order is the same on every run.
		slices.SortStableFunc(mf, func(a, b metav1.ManagedFieldsEntry) int {
			return strings.Compare(string(a.Operation)+"\x00"+a.Manager, string(b.Operation)+"\x00"+b.Manager)
		})
		got.SetManagedFields(mf)
		live = append(live, got)
	}
	out, err := render.EncodeYAML(live)
	if err != nil {
		e.t.Fatal(err)
	}
	return append([]byte(managedFieldsHeader+"---\n"), out...)
}
