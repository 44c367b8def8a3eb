package e2e

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/diff"
)

var serviceAccountGVR = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}

// fleet is the imperatively added fleet of TestGitOpsRoundTrip: each
// tenant's add arguments, with mixed flags and variables.
func fleet(gitURL string) map[string][]string {
	return map[string][]string{
		"fleet-a": {"fleet-a", "alpha", "--var", "TIER=gold", "--var", "REGION=eu-west-1"},
		"fleet-b": {"fleet-b", "beta", "--interval", "2m", "--cluster-role", "edit"},
		"fleet-c": {"fleet-c", "gamma", "--kustomization-name", "tenant", "--var", "REPLICAS=2"},
		"fleet-d": {"fleet-d", "delta", "--confine", "--git-url", gitURL, "--quota", "pods=10", "--limit-range", "cpu=100m/500m", "--network-policy", "isolate"},
	}
}

// gitOps carries what the round trip's steps hand on: the tenants'
// original renders and the exported tree.
type gitOps struct {
	rendered map[string]string
	dir      string
}

// TestGitOpsRoundTrip moves an imperatively added fleet into git and back
// again: export writes what add rendered, Flux reconciles the tree, and
// diff sees no difference until someone edits by hand.
func TestGitOpsRoundTrip(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, fluxEnvOptions(false))
	g := &gitOps{rendered: map[string]string{}, dir: filepath.Join(t.TempDir(), "tenants")}
	for _, step := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"bootstrap", func(e stepEnv) { lifecycleBootstrap(e) }},
		{"a fleet added imperatively diffs clean", g.addFleet},
		{"diff catches each kind of drift, and add's flags that differ from what is live", diffCatchesDrift},
		{"export writes each tenant as add rendered it, byte for byte", g.export},
		{"export --format tenants reads back, through add -f, as add rendered each tenant", g.exportTenants},
		{"a credentials Secret that the exported file references survives add -f of the file", exportedSecretRef},
		{"export rewrites only what changed and removes only its own files of gone tenants", exportRerun},
		{"Flux reconciles the exported tree and diff --all finds nothing", g.reconcile},
		{"a hand-edited variable and RoleBinding are exactly what diff reports", g.handEdits},
		{"bad input to diff and export is a one-line error", diffExportBadInput},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(shared.with(t)) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
}

// addFleet is the step "a fleet added imperatively diffs clean".
func (g *gitOps) addFleet(e stepEnv) {
	for ns, args := range fleet(e.cluster.GitURL()) {
		g.rendered[ns] = e.mustRun(append([]string{"add", "--dry-run=client", "-o", "yaml"}, args...)...)
		e.mustRun(append([]string{"add"}, args...)...)
	}
	e.assertDiff(0, nil, "diff", "--all")
}

// assertDiff runs diff, expects the exit code and that the diff names
// exactly the objects given (by kubectl diff's file names).
func (e stepEnv) assertDiff(code int, objects []string, args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.exitCode != code {
		e.t.Fatalf("kubectl-tenant %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.exitCode, code, r.stdout, r.stderr)
	}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^\+\+\+ \S*/MERGED/(\S+)`).FindAllStringSubmatch(r.stdout, -1) {
		got = append(got, m[1])
	}
	slices.Sort(got)
	slices.Sort(objects)
	if !slices.Equal(got, objects) {
		e.t.Errorf("kubectl-tenant %s: diff of %v, want %v\n%s", strings.Join(args, " "), got, objects, r.stdout)
	}
	return r.stdout
}

// diffCatchesDrift is the step "diff catches each kind of drift, and add's
// flags that differ from what is live".
func diffCatchesDrift(e stepEnv) {
	t := e.t
	ctx := context.Background()
	e.mustRun("add", "drift", "drifter", "--var", "TIER=gold", "--cluster-role", "edit")
	e.assertDiff(0, nil, "diff", "drift")
	hand := metav1.PatchOptions{FieldManager: "kubectl-edit"}

	// A hand-edited variable: the value no declarer set shows as removed.
	if _, err := e.client.Resource(configMapGVR).Namespace("drift").Patch(ctx, "tenant-vars", types.MergePatchType, []byte(`{"data":{"TIER":"silver"}}`), hand); err != nil {
		t.Fatal(err)
	}
	out := e.assertDiff(1, []string{"v1.ConfigMap.drift.tenant-vars"}, "diff", "drift")
	if !strings.Contains(out, "-  TIER: silver") {
		t.Errorf("diff does not show the hand-edited variable:\n%s", out)
	}
	// add's flags that differ from what is live.
	out = e.assertDiff(1, []string{"v1.ConfigMap.drift.tenant-vars"}, "diff", "drift", "--var", "TIER=gold", "--cluster-role", "edit")
	if !strings.Contains(out, "-  TIER: silver\n+  TIER: gold") {
		t.Errorf("diff --var TIER=gold does not show the change:\n%s", out)
	}
	e.assertDiff(0, nil, "diff", "drift", "--var", "TIER=silver", "--cluster-role", "edit")
	e.mustRun("add", "drift", "drifter", "--var", "TIER=gold", "--cluster-role", "edit", "--force-conflicts")
	e.assertDiff(0, nil, "diff", "drift")

	// A changed roleRef: the binding re-made by hand with another role.
	if err := e.client.Resource(roleBindingGVR).Namespace("drift").Delete(ctx, "drift-reconciler", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": "drift-reconciler", "namespace": "drift", "labels": map[string]any{"toolkit.fluxcd.io/tenant": "drift"}},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "drift", "namespace": "drift"}},
	}}
	if _, err := e.client.Resource(roleBindingGVR).Namespace("drift").Create(ctx, rb, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	out = e.assertDiff(1, []string{"rbac.authorization.k8s.io.v1.RoleBinding.drift.drift-reconciler"}, "diff", "drift", "--var", "TIER=gold", "--cluster-role", "edit")
	if !strings.Contains(out, "-  name: view\n+  name: edit") {
		t.Errorf("diff does not show the changed roleRef:\n%s", out)
	}
	e.mustRun("add", "drift", "drifter", "--var", "TIER=gold", "--cluster-role", "edit", "--recreate", "--force-conflicts")

	// A deleted ServiceAccount shows as wholly added.
	if err := e.client.Resource(serviceAccountGVR).Namespace("drift").Delete(ctx, "drift", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	out = e.assertDiff(1, []string{"v1.ServiceAccount.drift.drift"}, "diff", "drift")
	if !strings.Contains(out, "+kind: ServiceAccount") {
		t.Errorf("diff does not show the deleted ServiceAccount as added:\n%s", out)
	}
	e.mustRun("add", "drift", "drifter", "--var", "TIER=gold", "--cluster-role", "edit")

	// A changed label, and a Kustomization edited by hand.
	if _, err := e.client.Resource(namespaceGVR).Patch(ctx, "drift", types.MergePatchType, []byte(`{"metadata":{"labels":{"toolkit.fluxcd.io/tenant":"someone-else","team":"payments"}}}`), metav1.PatchOptions{FieldManager: "kubectl-label"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Resource(kustomizationGVR).Namespace("drift").Patch(ctx, "dummy", types.MergePatchType, []byte(`{"spec":{"prune":false}}`), hand); err != nil {
		t.Fatal(err)
	}
	out = e.assertDiff(1, []string{"v1.Namespace.drift", "kustomize.toolkit.fluxcd.io.v1.Kustomization.drift.dummy"}, "diff", "drift")
	for _, want := range []string{"-    toolkit.fluxcd.io/tenant: someone-else\n+    toolkit.fluxcd.io/tenant: drift", "-  prune: false\n+  prune: true"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "team: payments") {
		t.Errorf("diff shows a label kubectl tenant does not set:\n%s", out)
	}
	// KUBECTL_EXTERNAL_DIFF is honoured: here a program that lists the files.
	r, err := execPluginEnv(e.home, []string{"KUBECTL_EXTERNAL_DIFF=ls -1"}, "diff", "drift", "--kubeconfig", e.cluster.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if r.exitCode != 1 || !strings.Contains(r.stdout, "v1.Namespace.drift") || strings.Contains(r.stdout, "@@") {
		t.Errorf("KUBECTL_EXTERNAL_DIFF=ls: exit %d\n%s%s", r.exitCode, r.stdout, r.stderr)
	}
	e.mustRun("delete", "drift")
}

// export is the step "export writes each tenant as add rendered it, byte for byte".
func (g *gitOps) export(e stepEnv) {
	t := e.t
	e.mustRun("export", "--all", "--to", g.dir)
	var names []string
	for ns, want := range g.rendered {
		got, err := os.ReadFile(filepath.Join(g.dir, ns+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("export of %s differs from add's render:\n--- add\n%s\n--- export\n%s", ns, want, got)
		}
		names = append(names, ns+".yaml")
	}
	slices.Sort(names)
	list, err := os.ReadFile(filepath.Join(g.dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(list), "resources:\n- "+strings.Join(names, "\n- ")+"\n") {
		t.Errorf("kustomization.yaml does not list the tenants, sorted:\n%s", list)
	}
	// -o yaml prints the same bytes as add -f would, one tenant after another.
	out := e.mustRun("export", "fleet-a", "-o", "yaml")
	if out != g.rendered["fleet-a"] {
		t.Errorf("export -o yaml differs from add's render:\n%s", out)
	}
}

// exportTenants is the step "export --format tenants reads back, through
// add -f, as add rendered each tenant": the live settings, read back from
// the cluster, written as a fleet file and rendered from it, are the
// objects the original flags gave, byte for byte.
func (g *gitOps) exportTenants(e stepEnv) {
	t := e.t
	file := filepath.Join(t.TempDir(), "tenants.yaml")
	namespaces := slices.Sorted(maps.Keys(g.rendered))
	e.mustRun(append([]string{"export", "--format", "tenants", "--to", file}, namespaces...)...)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("add", "-f", file, "--dry-run=client", "-o", "yaml")
	var want []string
	for _, ns := range namespaces {
		want = append(want, g.rendered[ns])
	}
	if got := strings.Join(want, "---\n"); out != got {
		t.Errorf("add -f of the exported file differs from add's renders:\n%s\nfile:\n%s", diff.Diff(strings.Split(got, "\n"), strings.Split(out, "\n")), data)
	}
}

// exportedSecretRef is the step "a credentials Secret that the exported
// file references survives add -f of the file": the file names the Secret
// add made from --username and --password-file (never its data), and
// re-adding the file on the same cluster keeps the Secret that its source
// now reads by reference, instead of pruning it as no longer rendered.
func exportedSecretRef(e stepEnv) {
	t := e.t
	password := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(password, []byte("s3cret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun("add", "creds", "creds", "--confine", "--git-url", e.cluster.GitURL(), "--username", "flux", "--password-file", password, "--allow-insecure-http")
	file := filepath.Join(t.TempDir(), "tenants.yaml")
	r := e.run("export", "creds", "--format", "tenants", "--to", file)
	data, err := os.ReadFile(file)
	if r.exitCode != 0 || err != nil {
		t.Fatalf("export: exit %d, %v\n%s", r.exitCode, err, r.stderr)
	}
	if !strings.Contains(string(data), "secretRef: default-auth") || strings.Contains(string(data)+r.stdout+r.stderr, "s3cret-value") {
		t.Fatalf("the file must reference Secret default-auth and hold no secret:\n%s\nstderr:\n%s", data, r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: tenant creds: the file references Secret default-auth of its own source, which is not in the file") {
		t.Errorf("export does not warn that the Secret is not in the file:\n%s", r.stderr)
	}
	e.mustRun("add", "-f", file)
	if _, err := e.client.Resource(secretGVR).Namespace("creds").Get(context.Background(), "default-auth", metav1.GetOptions{}); err != nil {
		t.Errorf("the Secret the file references is gone after add -f: %v", err)
	}
	ref, _, _ := unstructured.NestedString(e.mustGet(gitRepositoryGVR, "creds", "default").Object, "spec", "secretRef", "name")
	if ref != "default-auth" {
		t.Errorf("the source reads Secret %q, want default-auth", ref)
	}
	// The same tenant: the Secret add made is kept as the tenant's (and
	// in its guardrails), so the file plans no change and diff is clean.
	// The fleet of the other steps is not in this file: it is named as
	// prunable, and not pruned without --prune.
	plan := e.mustRun("apply", "-f", file)
	if !strings.Contains(plan, "Plan: 0 to add, 0 to change, ") || strings.Contains(plan, "tenant creds") {
		t.Errorf("apply of the exported file plans a change of tenant creds:\n%s", plan)
	}
	e.assertDiff(0, nil, "diff", "creds")
	e.mustRun("delete", "creds")
}

// exportRerun is the step "export rewrites only what changed and removes
// only its own files of gone tenants".
func exportRerun(e stepEnv) {
	t := e.t
	dir := filepath.Join(t.TempDir(), "tree")
	e.mustRun("add", "short-lived", "brief")
	e.mustRun("add", "long-lived", "steady")
	e.mustRun("export", "short-lived", "long-lived", "--to", dir)
	foreign := filepath.Join(dir, "README.md")
	if err := os.WriteFile(foreign, []byte("not export's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("export", "short-lived", "long-lived", "--to", dir)
	if !strings.Contains(out, "0 files written, 2 unchanged, 0 removed") {
		t.Errorf("a re-run with nothing changed:\n%s", out)
	}
	e.mustRun("add", "long-lived", "steady", "--var", "NEW=1")
	e.mustRun("delete", "short-lived")
	out = e.mustRun("export", "long-lived", "--to", dir)
	if !strings.Contains(out, "long-lived.yaml written") || !strings.Contains(out, "1 files written, 0 unchanged, 1 removed") {
		t.Errorf("a re-run after a change and a delete:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "short-lived.yaml")); !os.IsNotExist(err) {
		t.Errorf("the gone tenant's file is still there: %v", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("export removed a file it did not write: %v", err)
	}
	e.mustRun("delete", "long-lived")
}

// reconcile is the step "Flux reconciles the exported tree and diff --all finds nothing".
func (g *gitOps) reconcile(e stepEnv) {
	t := e.t
	files := map[string][]byte{}
	entries, err := os.ReadDir(g.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range entries {
		data, err := os.ReadFile(filepath.Join(g.dir, entry.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files["clusters/fleet/"+entry.Name()] = data
	}
	if _, err := e.cluster.GitCommit(files, "export the fleet"); err != nil {
		t.Fatal(err)
	}
	e.requestSourceReconcile("flux-system", "default")
	// An hour, so that Flux does not undo the hand edits of the next step.
	e.reconcileTree("fleet", "./clusters/fleet", "1h")
	// Flux's field manager now owns the tenants too.
	assertManagedBy(t, e.mustGet(configMapGVR, "fleet-a", "tenant-vars"), "kustomize-controller")
	assertManagedBy(t, e.mustGet(kustomizationGVR, "fleet-c", "tenant"), "kustomize-controller")
	e.assertDiff(0, nil, "diff", "--all")
	e.waitKustomization("fleet-a", "dummy", "True")
}

// handEdits is the step "a hand-edited variable and RoleBinding are exactly what diff reports".
func (g *gitOps) handEdits(e stepEnv) {
	t := e.t
	ctx := context.Background()
	hand := metav1.PatchOptions{FieldManager: "kubectl-edit"}
	if _, err := e.client.Resource(configMapGVR).Namespace("fleet-a").Patch(ctx, "tenant-vars", types.MergePatchType, []byte(`{"data":{"TIER":"silver"}}`), hand); err != nil {
		t.Fatal(err)
	}
	patch := `[{"op":"add","path":"/subjects/-","value":{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"mallory"}}]`
	if _, err := e.client.Resource(roleBindingGVR).Namespace("fleet-b").Patch(ctx, "fleet-b-reconciler", types.JSONPatchType, []byte(patch), hand); err != nil {
		t.Fatal(err)
	}
	r := e.run("diff", "--all")
	out := e.assertDiff(1, []string{"v1.ConfigMap.fleet-a.tenant-vars", "rbac.authorization.k8s.io.v1.RoleBinding.fleet-b.fleet-b-reconciler"}, "diff", "--all")
	for _, want := range []string{"-  TIER: silver", "-  name: mallory"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"ConfigMap tenant-vars: data.TIER was set by kubectl-edit", "RoleBinding fleet-b-reconciler: subjects was set by kubectl-edit"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("diff's stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// diffExportBadInput is the step "bad input to diff and export is a one-line error".
func diffExportBadInput(e stepEnv) {
	t := e.t
	r := e.run("diff", "no-such-namespace")
	if r.exitCode != 2 || !strings.Contains(r.stderr, `namespace "no-such-namespace" does not exist`) {
		t.Errorf("diff of a missing namespace: exit %d, want 2\n%s", r.exitCode, r.stderr)
	}
	e.createNamespace("plain", nil)
	r = e.run("diff", "plain")
	if r.exitCode != 2 || !strings.Contains(r.stderr, `namespace "plain" is not a tenant namespace`) {
		t.Errorf("diff of an unlabelled namespace: exit %d, want 2\n%s", r.exitCode, r.stderr)
	}
	e.mustFail("cannot be combined with --all", "export", "fleet-a", "--all", "--to", t.TempDir())
	e.mustFail("give --to DIR, or -o yaml", "export", "fleet-a")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [app.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustFail("was not written by kubectl tenant export", "export", "--all", "--to", dir)
}
