package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// handoverTree is where TestHandover's fleet lives in the git repository.
const handoverTree = "clusters/handover"

// handoverFleet is TestHandover's fleet: ho-a is handed over, ho-b is
// removed from git, and ho-c is the control that is never handed over.
func handoverFleet() map[string][]string {
	return map[string][]string{
		"ho-a": {"ho-a", "alpha", "--var", "TIER=gold"},
		"ho-b": {"ho-b", "beta", "--var", "REGION=eu-west-1"},
		"ho-c": {"ho-c", "gamma", "--var", "TIER=silver"},
	}
}

// handover carries what TestHandover's steps hand on: the exported tree,
// as committed.
type handover struct {
	files map[string][]byte // by path in the repository
}

// TestHandover moves a fleet to git and hands it over: handover refuses a
// tenant Flux has not applied, releases what the plugin owns once Flux
// owns it too, and then git alone decides. It also pins down what
// kustomize-controller itself does to the plugin's ownership, which
// decides how much is left for handover to do.
func TestHandover(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, fluxEnvOptions(false))
	h := &handover{files: map[string][]byte{}}
	for _, step := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"a fleet added, exported and committed", h.exportFleet},
		{"before Flux applied the tree, handover refuses every tenant and writes nothing", h.refusedBeforeFlux},
		{"Flux's apply takes over the fields of the kubectl-tenant manager: nothing is left to hand over", h.fluxTakesOver},
		{"fields the plugin owns again are released once Flux owns them, and refused when it does not", h.handOver},
		{"a release of an object changed or deleted since it was read is refused, and re-creates nothing", staleRelease},
		{"a tenant in git stays suspended through Flux's reconcile of the tree", suspendSurvivesFlux},
		{"git alone decides: a variable and a tenant removed from git go", h.gitDecides},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(shared.with(t)) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
}

// exportFleet is the step "a fleet added, exported and committed".
func (h *handover) exportFleet(e stepEnv) {
	t := e.t
	e.bootstrap()
	for _, args := range handoverFleet() {
		e.mustRun(append([]string{"add"}, args...)...)
	}
	dir := filepath.Join(t.TempDir(), "tenants")
	e.mustRun("export", "--all", "--to", dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		data, err := os.ReadFile(filepath.Join(dir, entry.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h.files[handoverTree+"/"+entry.Name()] = data
	}
	if len(h.files) != len(handoverFleet())+1 {
		t.Fatalf("export wrote %d files, want one per tenant and kustomization.yaml", len(h.files))
	}
	if _, err := e.cluster.GitCommit(h.files, "export the fleet"); err != nil {
		t.Fatal(err)
	}
}

// refusedBeforeFlux is the step "before Flux applied the tree, handover
// refuses every tenant and writes nothing".
func (h *handover) refusedBeforeFlux(e stepEnv) {
	r := e.run("handover", "--all")
	if r.exitCode != 1 || r.stdout != "" {
		e.t.Fatalf("handover before Flux: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
	}
	for ns := range handoverFleet() {
		want := fmt.Sprintf("tenant %s: not handed over: Flux has not applied Namespace %s metadata.labels.", ns, ns)
		if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "yet (is the tree exported, committed and reconciled?)\n") {
			e.t.Errorf("handover's stderr lacks %q:\n%s", want, r.stderr)
		}
		e.assertPluginOwns(ns, true)
	}
	if !strings.HasSuffix(r.stderr, "error: 3 of 3 tenants not handed over (the lines above say why)\n") {
		e.t.Errorf("handover's stderr does not end with the summary:\n%s", r.stderr)
	}
}

// fluxTakesOver is the step "Flux's apply takes over the fields of the
// kubectl-tenant manager: nothing is left to hand over".
//
// Before each apply, kustomize-controller renames into its own entry the
// Apply and Update entries of every field manager whose name starts with
// "kubectl" (to undo kubectl apply and kubectl edit), and kubectl-tenant
// starts with it. So the first reconcile of the exported tree already
// ends the plugin's ownership; this step fails if a Flux release stops
// doing that, and handover then has the whole fleet to release.
func (h *handover) fluxTakesOver(e stepEnv) {
	e.requestSourceReconcile("flux-system", "default")
	// An hour: the next steps ask for each reconcile they need.
	e.reconcileTree("handover", "./"+handoverTree, "1h")
	for ns := range handoverFleet() {
		e.assertPluginOwns(ns, false)
		assertManagedBy(e.t, e.mustGet(configMapGVR, ns, "tenant-vars"), tenant.FluxApplyManager)
	}
	out := e.mustRun("handover", "--all", "--dry-run=server")
	for ns := range handoverFleet() {
		if want := fmt.Sprintf("tenant %s: nothing to hand over: kubectl-tenant owns none of its fields (server dry run)\n", ns); !strings.Contains(out, want) {
			e.t.Errorf("handover --dry-run=server lacks %q:\n%s", want, out)
		}
	}
}

// handOver is the step "fields the plugin owns again are released once
// Flux owns them, and refused when it does not".
//
// The plugin owns fields again when add runs on a tenant after Flux has
// applied it; ho-c also gets a variable git does not hold.
func (h *handover) handOver(e stepEnv) {
	t := e.t
	objects := e.addAfterFlux(handoverFleet()["ho-a"])
	e.addAfterFlux(append(handoverFleet()["ho-c"], "--var", "EXTRA=1"))
	e.assertVarsOwned("ho-a", true)

	out := e.mustRun("handover", "ho-a", "--dry-run=server")
	if want := fmt.Sprintf("tenant ho-a handed over to git (%d objects) (server dry run)\n", objects); out != want {
		t.Errorf("handover --dry-run=server printed %q, want %q", out, want)
	}
	e.assertVarsOwned("ho-a", true)

	r := e.run("handover", "--all")
	if r.exitCode != 1 {
		t.Fatalf("handover --all: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
	}
	for _, want := range []string{fmt.Sprintf("tenant ho-a handed over to git (%d objects)\n", objects), "tenant ho-b: nothing to hand over"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("handover's stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	want := "tenant ho-c: not handed over: Flux has not applied ConfigMap tenant-vars data.EXTRA yet (is the tree exported, committed and reconciled?)\n" +
		"error: 1 of 3 tenants not handed over (the lines above say why)\n"
	if r.stderr != want {
		t.Errorf("handover's stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	e.assertPluginOwns("ho-a", false)
	e.assertVarsOwned("ho-c", true)
	// Every field stays: Flux owns them all.
	if data := e.configMapData("ho-a"); data["TIER"] != "gold" {
		t.Errorf("ho-a's variables after the handover: %v", data)
	}
}

// addAfterFlux runs add on a tenant Flux has applied, and returns how many
// of the tenant's objects it applied. add stops at the Kustomization: its
// substituteFrom is kustomize-controller's now, and holds a default
// (optional: false) the API server added that add's does not, which is a
// conflict. The objects before it are applied, and the plugin co-owns
// them again.
func (e stepEnv) addAfterFlux(args []string) int {
	e.t.Helper()
	r := e.run(append([]string{"add"}, args...)...)
	if r.exitCode == 0 {
		return len(handoverObjects(args[0]))
	}
	if !strings.Contains(r.stderr, `Kustomization `+args[0]+`/dummy: Apply failed with 1 conflict: conflict with "kustomize-controller": .spec.postBuild.substituteFrom`) {
		e.t.Fatalf("add %v after Flux: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.exitCode, r.stdout, r.stderr)
	}
	return strings.Count(r.stdout, " serverside-applied\n")
}

// staleRelease is the step "a release of an object changed or deleted
// since it was read is refused, and re-creates nothing": the release
// carries the resourceVersion it judged.
func staleRelease(e stepEnv) {
	t := e.t
	ctx := context.Background()
	probe := tenantVars("ho-a", map[string]any{"A": "1"})
	probe.SetName("probe")
	e.apply(tenant.FluxApplyManager, probe)
	e.apply(tenant.FieldManager, probe)
	read := e.mustGet(configMapGVR, "ho-a", "probe")
	releaser := &tenant.Releaser{Client: e.client}

	e.patch("kubectl-edit", configMapGVR, "ho-a", "probe", `{"data":{"B":"2"}}`)
	if _, err := releaser.Release(ctx, read); !apierrors.IsConflict(err) {
		t.Errorf("release of a changed object: %v, want a conflict", err)
	}
	if _, owned := pluginApplyFields(e.mustGet(configMapGVR, "ho-a", "probe")); !owned {
		t.Error("a refused release took the plugin's entry away")
	}

	if err := e.client.Resource(configMapGVR).Namespace("ho-a").Delete(ctx, "probe", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := releaser.Release(ctx, read); !apierrors.IsConflict(err) {
		t.Errorf("release of a deleted object: %v, want a conflict", err)
	}
	e.assertAbsent(configMapGVR, "ho-a", "probe")
}

// tenantVars is a tenant's variables ConfigMap as add renders it.
func tenantVars(ns string, data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "tenant-vars", "namespace": ns},
		"data":     data,
	}}
}

// gitDecides is the step "git alone decides: a variable and a tenant
// removed from git go".
func (h *handover) gitDecides(e stepEnv) {
	t := e.t
	files := map[string][]byte{
		handoverTree + "/ho-a.yaml": h.withoutLine(t, "ho-a.yaml", "  TIER: gold\n"),
		handoverTree + "/ho-c.yaml": h.withoutLine(t, "ho-c.yaml", "  TIER: silver\n"),
		handoverTree + "/ho-b.yaml": nil,
		// kustomization.yaml is export's, but git is the truth now.
		handoverTree + "/kustomization.yaml": []byte(strings.Replace(string(h.files[handoverTree+"/kustomization.yaml"]), "- ho-b.yaml\n", "", 1)),
	}
	rev, err := e.cluster.GitCommit(files, "remove a variable of ho-a and ho-c, and the tenant ho-b")
	if err != nil {
		t.Fatal(err)
	}
	e.fetchRevision("flux-system", "default", rev)
	e.eventually("Kustomization flux-system/handover applied "+rev, reconcileDeadline, func() (bool, error) {
		ks, err := e.get(kustomizationGVR, "flux-system", "handover")
		if err != nil {
			return false, err
		}
		applied, _, _ := unstructured.NestedString(ks.Object, "status", "lastAppliedRevision")
		return strings.HasSuffix(applied, rev), fmt.Errorf("applied %q", applied)
	})
	// The handed-over tenant loses the variable.
	if data := e.configMapData("ho-a"); data["TIER"] != "" {
		t.Errorf("ho-a's TIER is still %q after git removed it", data["TIER"])
	}
	// The control, not handed over, loses it too, and the variable git
	// never held: kustomize-controller took the plugin's entry over before
	// it applied. With this Flux, handover is the check that Flux owns
	// everything, and the release of what the plugin applied since Flux's
	// last reconcile; not the only way out of shared ownership.
	if data := e.configMapData("ho-c"); data["TIER"] != "" || data["EXTRA"] != "" {
		t.Errorf("ho-c's variables after git removed TIER: %v; kustomize-controller no longer takes over kubectl-tenant's fields?", data)
	}
	e.assertVarsOwned("ho-c", false)
	// Flux's prune deletes what leaves its inventory, whoever owns it.
	e.eventually("namespace ho-b deleted", reconcileDeadline, func() (bool, error) {
		_, err := e.get(namespaceGVR, "", "ho-b")
		return apierrors.IsNotFound(err), err
	})
}

// suspendSurvivesFlux is the step "a tenant in git stays suspended through
// Flux's reconcile of the tree". kustomize-controller takes over, at each
// apply, the fields of every manager whose name starts with "kubectl";
// a suspension applied by such a manager would be dropped at the tree's
// next reconcile, since git holds no spec.suspend.
func suspendSurvivesFlux(e stepEnv) {
	e.mustRun("suspend", "ho-c")
	e.reconcileFluxKustomization("flux-system", "handover")
	if !e.suspended("ho-c") {
		e.t.Fatal("Flux's reconcile of the tree resumed the suspended tenant ho-c")
	}
	e.mustRun("resume", "ho-c")
	e.reconcileFluxKustomization("flux-system", "handover")
	if e.suspended("ho-c") {
		e.t.Fatal("ho-c is suspended again after resume and Flux's reconcile")
	}
}

// reconcileFluxKustomization requests a reconcile of a Kustomization, as
// flux reconcile ks does, and waits until kustomize-controller has handled
// it and is Ready.
func (e stepEnv) reconcileFluxKustomization(namespace, name string) {
	e.t.Helper()
	at := time.Now().Format(time.RFC3339Nano)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, at)
	if _, err := e.client.Resource(kustomizationGVR).Namespace(namespace).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		e.t.Fatalf("requesting reconcile of Kustomization %s/%s: %v", namespace, name, err)
	}
	e.eventually("Kustomization "+namespace+"/"+name+" reconciled at "+at, reconcileDeadline, func() (bool, error) {
		ks, err := e.get(kustomizationGVR, namespace, name)
		if err != nil {
			return false, err
		}
		handled, _, _ := unstructured.NestedString(ks.Object, "status", "lastHandledReconcileAt")
		status, message := readyCondition(ks)
		return handled == at && status == "True", fmt.Errorf("handled %q, Ready %s: %s", handled, status, message)
	})
}

// withoutLine is the committed tenant file with line taken out.
func (h *handover) withoutLine(t *testing.T, file, line string) []byte {
	t.Helper()
	data := string(h.files[handoverTree+"/"+file])
	if !strings.Contains(data, line) {
		t.Fatalf("%s has no line %q:\n%s", file, line, data)
	}
	return []byte(strings.Replace(data, line, "", 1))
}

// handoverObjects are the objects add makes for a plain tenant.
func handoverObjects(ns string) []struct {
	gvr  schema.GroupVersionResource
	name string
} {
	return []struct {
		gvr  schema.GroupVersionResource
		name string
	}{
		{namespaceGVR, ns}, {configMapGVR, "tenant-vars"}, {serviceAccountGVR, ns},
		{roleBindingGVR, ns + "-reconciler"}, {kustomizationGVR, "dummy"},
	}
}

// assertPluginOwns checks that every object of the tenant has (or has
// not) fields in an apply entry of the plugin's field manager; an entry
// left empty owns nothing and counts as none.
func (e stepEnv) assertPluginOwns(ns string, want bool) {
	e.t.Helper()
	for _, o := range handoverObjects(ns) {
		namespace := ns
		if o.gvr == namespaceGVR {
			namespace = ""
		}
		obj := e.mustGet(o.gvr, namespace, o.name)
		fields, entry := pluginApplyFields(obj)
		if entry && !want {
			e.t.Logf("%s %s/%s keeps an empty %s entry: %s", obj.GetKind(), ns, o.name, tenant.FieldManager, fields)
		}
		owns := entry && fields != "{}" && fields != ""
		if owns != want {
			e.t.Errorf("%s %s/%s: %s owns fields: %v, want %v (%s)", obj.GetKind(), ns, o.name, tenant.FieldManager, owns, want, fields)
		}
	}
}

// pluginApplyFields is the field set of the plugin's apply entry on obj,
// and whether it has one.
func pluginApplyFields(obj *unstructured.Unstructured) (string, bool) {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == tenant.FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "" {
			if mf.FieldsV1 == nil {
				return "", true
			}
			return string(mf.FieldsV1.Raw), true
		}
	}
	return "", false
}

// assertVarsOwned checks whether the plugin's apply entry on the
// tenant's variables owns fields.
func (e stepEnv) assertVarsOwned(ns string, want bool) {
	e.t.Helper()
	obj := e.mustGet(configMapGVR, ns, "tenant-vars")
	fields, entry := pluginApplyFields(obj)
	if entry && !want {
		e.t.Logf("ConfigMap %s/tenant-vars keeps an empty %s entry: %q", ns, tenant.FieldManager, fields)
	}
	if owns := entry && fields != "{}" && fields != ""; owns != want {
		e.t.Errorf("ConfigMap %s/tenant-vars: %s owns fields: %v, want %v (%s)", ns, tenant.FieldManager, owns, want, fields)
	}
}

// configMapData is the tenant's variables as the cluster holds them.
func (e stepEnv) configMapData(ns string) map[string]string {
	e.t.Helper()
	data, _, _ := unstructured.NestedStringMap(e.mustGet(configMapGVR, ns, "tenant-vars").Object, "data")
	return data
}
