package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// TestAddWithoutFlux: on a cluster without Flux, add says so and applies
// nothing, not even the namespace.
func TestAddWithoutFlux(t *testing.T) {
	t.Parallel()
	e := startEnv(t, localcluster.Options{}).with(t)
	e.mustFail("run \"kubectl tenant bootstrap\" first", "add", "nofluxns", "sometenant")
	e.assertAbsent(namespaceGVR, "", "nofluxns")
}

// TestTenantLifecycle drives every command against one cluster running the
// controller-manager and Flux, in the order a user would.
func TestTenantLifecycle(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, fluxEnvOptions(false))
	for _, step := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"bootstrap installs Flux and the shared source, and a re-run changes nothing", lifecycleBootstrap},
		{"add applies exactly the render with field manager kubectl-tenant, and a re-run is a no-op", lifecycleAdd},
		{"add --dry-run=server creates nothing", lifecycleAddServerDryRun},
		{"add refuses existing namespaces unless adopted, and other tenants' always", lifecycleAddExistingNamespaces},
		{"list shows tenants with their Kustomization state and nothing else", lifecycleList},
		{"kubeconfig and context flags select the cluster", lifecycleKubeconfigFlags},
		{"delete removes only tenant namespaces", lifecycleDelete},
		{"Flux reconciles two tenants with their own substitutions, and delete removes Flux's objects", lifecycleFluxReconciles},
		{"default mode: a tenant Kustomization can write outside its namespace (the demo's finding)", lifecycleDefaultModeLeaks},
		{"default mode: an unconfined tenant's identity can remove the platform's limits", lifecycleDefaultModeHoles},
		{"add --confine converts a tenant in place, and loosening it needs --unconfine", lifecycleConvert},
		{"GitOps: the printed YAML reconciled by Flux gives the same objects as add", lifecycleGitOps},
		{"add -f adds many tenants with bounded concurrency; a re-run changes nothing", lifecycleAddFile},
	} {
		// Each step builds on the ones before; after a failure the rest would
		// only time out.
		if !t.Run(step.name, func(t *testing.T) { step.run(shared.with(t)) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
}

// lifecycleBootstrap is the step "bootstrap installs Flux and the shared source, and a re-run changes nothing".
func lifecycleBootstrap(e stepEnv) {
	t := e.t
	// A server dry run on a bare cluster creates nothing.
	e.mustRun("bootstrap", "--manifests", theSuite.manifests, "--git-url", e.cluster.GitURL(), "--dry-run=server")
	e.assertAbsent(crdGVR, "", "kustomizations.kustomize.toolkit.fluxcd.io")
	e.assertAbsent(namespaceGVR, "", "flux-system")

	out := e.bootstrap()
	if !strings.Contains(out, "gitrepository.source.toolkit.fluxcd.io/default serverside-applied") {
		t.Errorf("bootstrap output lacks the GitRepository:\n%s", out)
	}
	for _, crd := range []string{"kustomizations.kustomize.toolkit.fluxcd.io", "gitrepositories.source.toolkit.fluxcd.io"} {
		obj := e.mustGet(crdGVR, "", crd)
		if status, _ := establishedCondition(obj); status != "True" {
			t.Errorf("CRD %s is not Established", crd)
		}
	}
	repo := e.mustGet(gitRepositoryGVR, "flux-system", "default")
	if url, _, _ := unstructured.NestedString(repo.Object, "spec", "url"); url != e.cluster.GitURL() {
		t.Errorf("GitRepository url = %q, want %q", url, e.cluster.GitURL())
	}
	assertManagedBy(t, repo, "kubectl-tenant")

	rendered, err := render.DecodeYAML([]byte(e.bootstrap("--dry-run=client", "-o", "yaml")))
	if err != nil {
		t.Fatal(err)
	}
	before := e.writesBy("kubectl-tenant", rendered)
	e.bootstrap()
	if after := e.writesBy("kubectl-tenant", rendered); !maps.Equal(before, after) {
		t.Errorf("re-running bootstrap changed objects:\nbefore %v\nafter  %v", before, after)
	}
	e.waitGitRepositoryReady("flux-system", "default")
}

// lifecycleAdd is the step "add applies exactly the render with field manager kubectl-tenant, and a re-run is a no-op".
func lifecycleAdd(e stepEnv) {
	t := e.t
	out := e.mustRun("add", "--tenant-namespace", "foo", "--tenant-name", "sometenant")
	if !strings.Contains(out, "kustomization.kustomize.toolkit.fluxcd.io/dummy serverside-applied") {
		t.Errorf("add output:\n%s", out)
	}
	rendered := e.renderTenant("foo", "sometenant")
	e.assertLive(rendered)
	for _, obj := range rendered {
		assertManagedBy(t, e.mustGet(gvrOf(obj), obj.GetNamespace(), obj.GetName()), "kubectl-tenant")
	}
	before := e.writesBy("kubectl-tenant", rendered)
	e.mustRun("add", "--tenant-namespace", "foo", "--tenant-name", "sometenant")
	if after := e.writesBy("kubectl-tenant", rendered); !maps.Equal(before, after) {
		t.Errorf("re-running add changed objects:\nbefore %v\nafter  %v", before, after)
	}
}

// lifecycleAddServerDryRun is the step "add --dry-run=server creates nothing".
func lifecycleAddServerDryRun(e stepEnv) {
	t := e.t
	out := e.mustRun("add", "dryns", "drytenant", "--dry-run=server")
	if !strings.Contains(out, "namespace/dryns serverside-applied (server dry run)") {
		t.Errorf("server dry run output:\n%s", out)
	}
	e.assertAbsent(namespaceGVR, "", "dryns")
	// On an existing tenant the server checks every object.
	out = e.mustRun("add", "foo", "sometenant", "--dry-run=server", "-o", "name")
	if strings.Count(out, "\n") != 5 {
		t.Errorf("server dry run of an existing tenant printed:\n%s", out)
	}
}

// lifecycleAddExistingNamespaces is the step "add refuses existing namespaces unless adopted, and other tenants' always".
func lifecycleAddExistingNamespaces(e stepEnv) {
	t := e.t
	e.createNamespace("legacy", nil)
	e.mustFail(`namespace "legacy" already exists and is not a tenant namespace`, "add", "legacy", "legacytenant")
	e.assertAbsent(configMapGVR, "legacy", "tenant-vars")
	e.mustRun("add", "legacy", "legacytenant", "--adopt")
	e.assertLive(e.renderTenant("legacy", "legacytenant"))

	e.mustFail(`namespace "foo" belongs to tenant "sometenant"`, "add", "foo", "othertenant")
	e.mustFail(`namespace "foo" belongs to tenant "sometenant"`, "add", "foo", "othertenant", "--adopt")
	ns := e.mustGet(namespaceGVR, "", "foo")
	if got := ns.GetLabels()[render.DefaultTenantLabelKey]; got != "sometenant" {
		t.Errorf("refused add still relabelled foo: %q", got)
	}
}

// lifecycleList is the step "list shows tenants with their Kustomization state and nothing else".
func lifecycleList(e stepEnv) {
	t := e.t
	e.createNamespace("plain", map[string]string{"team": "x"})
	e.waitKustomization("foo", "dummy", "True")
	out := e.mustRun("list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if fields := strings.Fields(lines[0]); !slices.Equal(fields, []string{"NAMESPACE", "TENANT", "STATUS", "SUSPENDED", "READY", "MESSAGE"}) {
		t.Errorf("header = %v", fields)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	if r := rows["foo"]; len(r) < 5 || r[1] != "sometenant" || r[2] != "Active" || r[3] != "False" || r[4] != "True" {
		t.Errorf("row for foo = %v\n%s", r, out)
	}
	if _, ok := rows["legacy"]; !ok {
		t.Errorf("adopted tenant legacy is not listed:\n%s", out)
	}
	for _, absent := range []string{"plain", "default", "kube-system", "flux-system", "dryns"} {
		if _, ok := rows[absent]; ok {
			t.Errorf("non-tenant namespace %s is listed:\n%s", absent, out)
		}
	}
	names := e.mustRun("list", "-o", "name", "--chunk-size", "1")
	if names != "namespace/foo\nnamespace/legacy\n" {
		t.Errorf("list -o name --chunk-size 1 = %q", names)
	}
	if out := e.mustRun("list", "--no-headers", "-l", "kubernetes.io/metadata.name=legacy"); !strings.HasPrefix(out, "legacy ") || strings.Count(out, "\n") != 1 {
		t.Errorf("list -l picked %q", out)
	}
	// Shell completion (kubectl tenant delete <TAB>) asks the cluster.
	// The word being completed comes last, so --kubeconfig goes first.
	kubeconfig := "--kubeconfig=" + e.cluster.Kubeconfig()
	if got := e.runWith("__complete", "delete", kubeconfig, "").stdout; !strings.HasPrefix(got, "foo\nlegacy\n:4\n") {
		t.Errorf("completing delete's namespace gave %q", got)
	}
	if got := e.runWith("__complete", "delete", kubeconfig, "--tenant-name", "some").stdout; !strings.HasPrefix(got, "sometenant\n:4\n") {
		t.Errorf("completing --tenant-name gave %q", got)
	}
	// And through the real kubectl, which runs kubectl_complete-tenant
	// (kubectl >= 1.26) for `kubectl tenant <TAB>`.
	if got := e.kubectlComplete("tenant", "delete", "--tenant-name", ""); !strings.HasPrefix(got, "legacytenant\nsometenant\n:4\n") {
		t.Errorf("kubectl __complete tenant delete --tenant-name gave %q", got)
	}
	if got := e.kubectlComplete("tenant", ""); !strings.Contains(got, "add\t") || !strings.Contains(got, "delete\t") {
		t.Errorf("kubectl __complete tenant gave %q", got)
	}
	wide := e.mustRun("list", "-o", "wide")
	if !strings.Contains(wide, "REVISION") || !strings.Contains(wide, "main@sha1:") {
		t.Errorf("list -o wide lacks the applied revision:\n%s", wide)
	}
}

// lifecycleKubeconfigFlags is the step "kubeconfig and context flags select the cluster".
func lifecycleKubeconfigFlags(e stepEnv) {
	t := e.t
	path := twoContextKubeconfig(t, e.cluster.Kubeconfig())
	dead := e.runWith("list", "--kubeconfig", path)
	if dead.exitCode == 0 || !strings.Contains(dead.stderr, "127.0.0.1:1") {
		t.Errorf("the current context (dead) was not used: exit %d, %s", dead.exitCode, dead.stderr)
	}
	live := e.runWith("list", "--kubeconfig", path, "--context", "live")
	if live.exitCode != 0 || !strings.Contains(live.stdout, "sometenant") {
		t.Errorf("--context live was not honoured: exit %d\n%s%s", live.exitCode, live.stdout, live.stderr)
	}
	missing := e.runWith("list", "--kubeconfig", path, "--context", "nope")
	if missing.exitCode == 0 || !strings.Contains(missing.stderr, `context "nope"`) {
		t.Errorf("an unknown context was not reported: %s", missing.stderr)
	}
}

// lifecycleDelete is the step "delete removes only tenant namespaces".
func lifecycleDelete(e stepEnv) {
	t := e.t
	e.mustFail(`namespace "plain" is not a tenant namespace`, "delete", "--tenant-namespace", "plain")
	e.mustGet(namespaceGVR, "", "plain")
	for _, reserved := range []string{"kube-system", "default", "flux-system", "kube-public", "kube-node-lease"} {
		e.mustFail("reserved", "delete", "--tenant-namespace", reserved)
		e.mustGet(namespaceGVR, "", reserved)
	}
	e.mustFail("tenant not found", "delete", "--tenant-name", "nobody")
	e.mustFail("tenant not found", "delete", "--tenant-namespace", "nonexistent")

	e.mustRun("add", "twin-a", "twin")
	e.mustRun("add", "twin-b", "twin")
	// A namespace labelled by hand with the tenant's name is not the
	// tenant's: --tenant-name names it and leaves it alone.
	e.createNamespace("twin-by-hand", map[string]string{render.DefaultTenantLabelKey: "twin"})
	planned := e.run("delete", "--tenant-name", "twin", "--dry-run=server")
	wantPlan := "tenant twin has 2 namespaces: twin-a, twin-b\nnamespace/twin-a deleted (server dry run)\nnamespace/twin-b deleted (server dry run)\n"
	if planned.exitCode != 0 || planned.stdout != wantPlan || !strings.Contains(planned.stderr, "namespace twin-by-hand has label") {
		t.Errorf("delete --tenant-name twin --dry-run=server: exit %d, stdout %q (want %q), stderr %q", planned.exitCode, planned.stdout, wantPlan, planned.stderr)
	}
	e.mustRun("delete", "--tenant-name", "twin", "--tenant-namespace", "twin-a", "--dry-run=server")
	if out := e.mustRun("delete", "twin-a", "--dry-run=client"); out != "namespace/twin-a deleted (dry run)\n" {
		t.Errorf("delete --dry-run=client printed %q", out)
	}
	e.mustGet(namespaceGVR, "", "twin-a")
	// Whatever the flags, a namespace without the label stays.
	e.mustFail(`namespace "plain" is not a tenant namespace`, "delete", "--tenant-namespace", "plain", "--tenant-name", "twin", "--wait")
	e.mustGet(namespaceGVR, "", "plain")

	out := e.mustRun("delete", "--tenant-namespace", "twin-a", "--wait", "--timeout", "2m")
	if out != "namespace/twin-a deleted\n" {
		t.Errorf("delete printed %q", out)
	}
	e.assertAbsent(namespaceGVR, "", "twin-a")
	e.mustRun("delete", "--tenant-name", "twin", "--wait")
	e.assertAbsent(namespaceGVR, "", "twin-b")
	e.mustGet(namespaceGVR, "", "twin-by-hand")
	e.mustFail("tenant not found: kubectl tenant made no namespace tenant twin's; labelled by hand only: twin-by-hand", "delete", "--tenant-name", "twin")
	e.mustGet(namespaceGVR, "", "twin-by-hand")
	e.mustRun("delete", "legacy", "--wait")
	e.assertAbsent(namespaceGVR, "", "legacy")
}

// lifecycleFluxReconciles is the step "Flux reconciles two tenants with their own substitutions, and delete removes Flux's objects".
func lifecycleFluxReconciles(e stepEnv) {
	t := e.t
	tenants := map[string]string{"alpha": "tenant-a", "beta": "tenant-b"}
	for ns, name := range tenants {
		e.mustRun("add", ns, name)
	}
	for ns, name := range tenants {
		e.waitKustomization(ns, "dummy", "True")
		deploy := e.mustGet(deploymentGVR, ns, "dummy")
		env := containerEnv(t, deploy)
		if want := fmt.Sprintf("This tenant name is %q", name); env["PER_TENANT_SUBST"] != want {
			t.Errorf("%s: PER_TENANT_SUBST = %q, want %q", ns, env["PER_TENANT_SUBST"], want)
		}
		if env["SUBST_LITERAL"] != name {
			t.Errorf("%s: SUBST_LITERAL = %q, want %q", ns, env["SUBST_LITERAL"], name)
		}
		if labels := deploy.GetLabels(); labels["kustomize.toolkit.fluxcd.io/namespace"] != ns {
			t.Errorf("%s: Deployment not applied by the tenant's Kustomization: labels %v", ns, labels)
		}
	}
	out := e.mustRun("list")
	for ns, name := range tenants {
		if !tableHasRow(out, ns, name, "Active", "False", "True") {
			t.Errorf("list does not show %s/%s Ready:\n%s", ns, name, out)
		}
	}
	e.mustRun("delete", "--tenant-name", "tenant-a", "--wait")
	e.assertAbsent(deploymentGVR, "alpha", "dummy")
	e.assertAbsent(kustomizationGVR, "alpha", "dummy")
	e.mustGet(deploymentGVR, "beta", "dummy")
}

// lifecycleDefaultModeLeaks is the step "default mode: a tenant Kustomization can write outside its namespace (the demo's finding)".
func lifecycleDefaultModeLeaks(e stepEnv) {
	t := e.t
	e.applyHostileKustomization("beta", "wrong", "")
	e.waitKustomization("beta", "wrong", "True")
	e.mustGet(configMapGVR, "default", "wrong-namespace")

	// And remote bases are fetched, which --lockdown refuses (see
	// TestLockdown): the base is on the harness's git server.
	if _, err := e.cluster.GitCommit(map[string][]byte{
		"hostile/remote-base/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + e.cluster.GitURL() + "//kustomizations/per-tenant?ref=main\n"),
	}, "a remote base"); err != nil {
		t.Fatal(err)
	}
	e.requestSourceReconcile("flux-system", "default")
	ks := hostileKustomization("beta", "remote-base", "./hostile/remote-base", "")
	ks.Object["spec"].(map[string]any)["namePrefix"] = "remote-"
	ks.Object["spec"].(map[string]any)["targetNamespace"] = "beta"
	if _, err := e.client.Resource(kustomizationGVR).Namespace("beta").Create(context.Background(), ks, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitKustomization("beta", "remote-base", "True")
	e.mustGet(deploymentGVR, "beta", "remote-dummy")
}

// lifecycleGitOps is the step "GitOps: the printed YAML reconciled by Flux gives the same objects as add".
func lifecycleGitOps(e stepEnv) {
	t := e.t
	yaml := e.mustRun("add", "gitops", "gitopstenant", "--dry-run=client", "-o", "yaml")
	if _, err := e.cluster.GitCommit(map[string][]byte{"clusters/tenants/gitops.yaml": []byte(yaml)}, "add tenant gitops"); err != nil {
		t.Fatal(err)
	}
	e.requestSourceReconcile("flux-system", "default")
	e.reconcileTree("tenants", "./clusters/tenants", "1m")
	e.assertLive(e.renderTenant("gitops", "gitopstenant"))
	e.waitKustomization("gitops", "dummy", "True")
	out := e.mustRun("list")
	// kustomize-controller applied the plugin's render from git: the
	// namespace is a member, as one add made is.
	if !tableHasRow(out, "gitops", "gitopstenant", "Active", "False", "True") {
		t.Errorf("the GitOps tenant is not listed Ready:\n%s", out)
	}
}

// lifecycleAddFile is the step "add -f adds many tenants with bounded concurrency; a re-run changes nothing".
func lifecycleAddFile(e stepEnv) {
	t := e.t
	var csv strings.Builder
	csv.WriteString("namespace,name\n")
	for i := range 20 {
		fmt.Fprintf(&csv, "bulk-%02d,bulk-tenant-%02d,INDEX=%d\n", i, i, i)
	}
	file := filepath.Join(t.TempDir(), "tenants.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("add", "-f", file, "--concurrency", "4", "-o", "name")
	if n := strings.Count(out, "\n"); n != 100 {
		t.Errorf("add -f printed %d objects, want 100:\n%s", n, out)
	}
	rendered := e.renderTenant("bulk-07", "bulk-tenant-07", "--var", "INDEX=7")
	e.assertLive(rendered)
	before := e.writesBy("kubectl-tenant", rendered)
	e.mustRun("add", "-f", file, "--concurrency", "4")
	if after := e.writesBy("kubectl-tenant", rendered); !maps.Equal(before, after) {
		t.Errorf("re-running add -f changed objects:\nbefore %v\nafter  %v", before, after)
	}
	names := e.mustRun("list", "-o", "name", "-l", "toolkit.fluxcd.io/tenant", "--chunk-size", "7")
	if n := strings.Count(names, "namespace/bulk-"); n != 20 {
		t.Errorf("list found %d bulk tenants, want 20", n)
	}
}

// hostileKustomization is a Kustomization a tenant might create in its own
// namespace: no targetNamespace unless set, so the template's namespaces stand.
func hostileKustomization(namespace, name, path, serviceAccount string) *unstructured.Unstructured {
	spec := map[string]any{
		"interval":  "5m",
		"path":      path,
		"prune":     true,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": "default", "namespace": "flux-system"},
	}
	if serviceAccount != "" {
		spec["serviceAccountName"] = serviceAccount
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       spec,
	}}
}

// applyHostileKustomization creates the Kustomization the demo used to show
// the leak: the wrong-namespace template, whose ConfigMap aims at default.
func (e stepEnv) applyHostileKustomization(namespace, name, serviceAccount string) {
	e.t.Helper()
	ks := hostileKustomization(namespace, name, "./kustomizations/wrong-namespace", serviceAccount)
	if _, err := e.client.Resource(kustomizationGVR).Namespace(namespace).Create(context.Background(), ks, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating Kustomization %s/%s: %v", namespace, name, err)
	}
}

// reconcileTree has Flux reconcile path of the shared source with a
// Kustomization name in flux-system, as a platform's GitOps repository
// does, and waits until it is Ready.
func (e stepEnv) reconcileTree(name, path, interval string) {
	e.t.Helper()
	ks := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata":   map[string]any{"name": name, "namespace": "flux-system"},
		"spec": map[string]any{
			"interval":  interval,
			"path":      path,
			"prune":     true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "default"},
		},
	}}
	if _, err := e.client.Resource(kustomizationGVR).Namespace("flux-system").Create(context.Background(), ks, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.waitKustomization("flux-system", name, "True")
}

// requestSourceReconcile asks source-controller to fetch the GitRepository
// now, as `flux reconcile source git` does. A merge patch of the annotation
// alone: an update of the object read would race source-controller's own
// writes and fail with a conflict.
func (e stepEnv) requestSourceReconcile(namespace, name string) {
	e.t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
	if _, err := e.client.Resource(gitRepositoryGVR).Namespace(namespace).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		e.t.Fatalf("requesting reconcile of GitRepository %s/%s: %v", namespace, name, err)
	}
}

// kubectlComplete asks the real kubectl to complete a command line, with
// the plugin and its completion script on PATH and KUBECONFIG at the cluster.
func (e stepEnv) kubectlComplete(args ...string) string {
	e.t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		e.t.Fatalf("kubectl (>= 1.26) is needed to test plugin completion: %v", err)
	}
	bin := e.t.TempDir()
	for name, target := range map[string]string{
		"kubectl-tenant":          theSuite.binary,
		"kubectl_complete-tenant": filepath.Join(theSuite.root, "plugins", "kubectl_complete-tenant"),
	} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			e.t.Fatal(err)
		}
	}
	cmd := exec.Command(kubectl, append([]string{"__complete"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+e.home, "KUBECONFIG="+e.cluster.Kubeconfig(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("kubectl __complete %v: %v", args, err)
	}
	return string(out)
}

func establishedCondition(crd *unstructured.Unstructured) (string, string) {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" {
			s, _ := m["status"].(string)
			msg, _ := m["message"].(string)
			return s, msg
		}
	}
	return "", ""
}

func assertManagedBy(t *testing.T, obj *unstructured.Unstructured, manager string) {
	t.Helper()
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == manager && mf.Operation == metav1.ManagedFieldsOperationApply {
			return
		}
	}
	t.Errorf("%s %s/%s has no Apply entry of field manager %s", obj.GetKind(), obj.GetNamespace(), obj.GetName(), manager)
}

func containerEnv(t *testing.T, deploy *unstructured.Unstructured) map[string]string {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	if len(containers) == 0 {
		t.Fatalf("Deployment %s/%s has no containers", deploy.GetNamespace(), deploy.GetName())
	}
	env := map[string]string{}
	list, _, _ := unstructured.NestedSlice(containers[0].(map[string]any), "env")
	for _, item := range list {
		m := item.(map[string]any)
		name, _ := m["name"].(string)
		value, _ := m["value"].(string)
		env[name] = value
	}
	return env
}

// tableHasRow reports whether some line of a table holds these fields first,
// in order.
func tableHasRow(table string, fields ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}

// twoContextKubeconfig writes a kubeconfig whose current context points at
// a dead address and whose context "live" is the harness cluster.
func twoContextKubeconfig(t *testing.T, adminKubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(adminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	live := cfg.Contexts[cfg.CurrentContext].DeepCopy()
	deadCluster := cfg.Clusters[live.Cluster].DeepCopy()
	deadCluster.Server = "https://127.0.0.1:1"
	cfg.Clusters["dead"] = deadCluster
	dead := live.DeepCopy()
	dead.Cluster = "dead"
	cfg.Contexts["live"] = live
	cfg.Contexts["dead"] = dead
	cfg.CurrentContext = "dead"
	path := filepath.Join(t.TempDir(), "two-contexts.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path
}
