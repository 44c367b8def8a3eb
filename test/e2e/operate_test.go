package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// dayTwoInterval is the tenants' reconcile interval: long enough that
// only a requested reconcile (or a resume) can apply a new commit while
// the test runs.
const dayTwoInterval = "1h"

// TestDayTwo drives suspend, resume, reconcile and add --wait against the
// real Flux controllers: suspension holds back a commit that reconcile
// applies to other tenants before their interval, resume applies it, --wait
// reports Flux's own message for a tenant that fails, and the selection
// touches tenant namespaces only, refusing bad input before any write.
func TestDayTwo(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, fluxEnvOptions(false))
	for _, step := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"bootstrap installs Flux and the shared source", dayTwoBootstrap},
		{"add --wait waits for Ready, and reports a template that fails to build with Flux's message", dayTwoAddWait},
		{"suspend holds back a commit that reconcile applies to another tenant before the interval; resume applies it", dayTwoSuspendResume},
		{"--wait reports the failing tenant with its message and exit 1", dayTwoWaitFailure},
		{"on a terminal, --wait counts Ready tenants on one line and clears it", dayTwoProgress},
		{"reconcile --with-source has the shared source fetch once, then reconciles the tenants", dayTwoWithSource},
		{"selectors and --all touch only tenant namespaces; dry runs change nothing", dayTwoSelection},
		{"bad input gets a one-line error and changes nothing", dayTwoBadInput},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(shared.with(t)) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
}

// dayTwoBootstrap is the step "bootstrap installs Flux and the shared source".
func dayTwoBootstrap(e stepEnv) {
	e.bootstrap()
	e.waitGitRepositoryReady("flux-system", "default")
}

// dayTwoAddWait is the step "add --wait waits for Ready, and reports a template that fails to build with Flux's message".
func dayTwoAddWait(e stepEnv) {
	t := e.t
	file := filepath.Join(t.TempDir(), "tenants.csv")
	if err := os.WriteFile(file, []byte("day-a,alpha\nday-b,bravo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("add", "-f", file, "--interval", dayTwoInterval, "--wait", "--timeout", "2m")
	if r.exitCode != 0 || !strings.Contains(r.stdout, "2 of 2 tenants Ready") {
		t.Fatalf("add -f --wait: exit %d\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
	}
	// Piped, so no progress line: stderr holds errors only.
	if r.stderr != "" {
		t.Errorf("add -f --wait, piped, wrote to stderr: %q", r.stderr)
	}
	for _, ns := range []string{"day-a", "day-b"} {
		if status, msg := readyCondition(e.mustGet(kustomizationGVR, ns, "dummy")); status != "True" {
			t.Errorf("add --wait returned, but %s is Ready=%s: %s", ns, status, msg)
		}
	}

	r = e.run("add", "broken", "charlie", "--path", "./does-not-exist", "--interval", dayTwoInterval, "--wait", "--timeout", "2m")
	if r.exitCode != 1 {
		t.Fatalf("add --wait of a template that cannot build: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "broken: kustomization path not found") || !strings.Contains(r.stderr, "error: 1 of 1 tenants not Ready") {
		t.Errorf("add --wait does not report Flux's message for broken:\n%s", r.stderr)
	}
	// The tenant itself was added, as without --wait.
	if !strings.Contains(r.stdout, `Tenant "charlie" added in namespace "broken"`) {
		t.Errorf("add --wait output:\n%s", r.stdout)
	}
}

// templateChange is a commit that adds a ConfigMap to the per-tenant
// template, so that whether a tenant has applied it is plain to see.
func templateChange() map[string][]byte {
	return map[string][]byte{
		"kustomizations/per-tenant/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - dummy_deployment.yaml\n  - marker.yaml\n"),
		"kustomizations/per-tenant/marker.yaml":        []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: day-two-marker\ndata:\n  change: \"1\"\n"),
	}
}

func (e stepEnv) appliedRevision(namespace string) string {
	e.t.Helper()
	rev, _, _ := unstructured.NestedString(e.mustGet(kustomizationGVR, namespace, "dummy").Object, "status", "lastAppliedRevision")
	return rev
}

func (e stepEnv) suspended(namespace string) bool {
	e.t.Helper()
	suspend, _, _ := unstructured.NestedBool(e.mustGet(kustomizationGVR, namespace, "dummy").Object, "spec", "suspend")
	return suspend
}

// dayTwoSuspendResume is the step "suspend holds back a commit that reconcile applies to another tenant before the interval; resume applies it".
func dayTwoSuspendResume(e stepEnv) {
	t := e.t
	out := e.mustRun("suspend", "day-a")
	if out != "day-a: kustomization.kustomize.toolkit.fluxcd.io/dummy suspended\nsuspended 1 tenant\n" {
		t.Errorf("suspend printed %q", out)
	}
	if !e.suspended("day-a") {
		t.Fatal("suspend did not set spec.suspend")
	}
	// list's default table shows it, as flux get ks does.
	if out := e.mustRun("list", "day-a", "day-b"); !tableHasRow(out, "day-a", "alpha", "Active", "True") || !tableHasRow(out, "day-b", "bravo", "Active", "False") {
		t.Errorf("list does not show day-a suspended and day-b not:\n%s", out)
	}
	ks := e.mustGet(kustomizationGVR, "day-a", "dummy")
	for _, mf := range ks.GetManagedFields() {
		if mf.Manager == tenant.SuspendFieldManager && mf.FieldsV1 != nil && string(mf.FieldsV1.Raw) != `{"f:spec":{"f:suspend":{}}}` {
			t.Errorf("%s owns more than spec.suspend: %s", tenant.SuspendFieldManager, mf.FieldsV1.Raw)
		}
	}
	// add applies the tenant without spec.suspend; the suspension is
	// another field manager's, so add leaves it.
	e.mustRun("add", "day-a", "alpha", "--interval", dayTwoInterval)
	if !e.suspended("day-a") {
		t.Fatal("re-running add resumed the suspended tenant")
	}

	before := e.appliedRevision("day-a")
	revision, err := e.cluster.GitCommit(templateChange(), "day two: add a marker to the template")
	if err != nil {
		t.Fatal(err)
	}
	e.fetchRevision("flux-system", "default", revision)

	// --wait on a suspended tenant says so rather than waiting.
	r := e.run("reconcile", "day-a", "--wait", "--timeout", "1m")
	if r.exitCode != 1 || !strings.Contains(r.stderr, "day-a: the Kustomization is suspended") {
		t.Errorf("reconcile --wait of a suspended tenant: exit %d\n%s", r.exitCode, r.stderr)
	}
	// The controller handled that request (lastHandledReconcileAt), and
	// applied nothing because the tenant is suspended.
	requested := e.mustGet(kustomizationGVR, "day-a", "dummy").GetAnnotations()["reconcile.fluxcd.io/requestedAt"]
	e.eventually("the suspended Kustomization to handle the reconcile request", reconcileDeadline, func() (bool, error) {
		handled, _, _ := unstructured.NestedString(e.mustGet(kustomizationGVR, "day-a", "dummy").Object, "status", "lastHandledReconcileAt")
		return handled == requested, fmt.Errorf("handled %q, requested %q", handled, requested)
	})

	// reconcile applies the commit to a tenant that is not suspended, an
	// hour before its interval.
	out = e.mustRun("reconcile", "day-b", "--wait")
	if !strings.Contains(out, "day-b: kustomization.kustomize.toolkit.fluxcd.io/dummy reconcile requested\n") || !strings.Contains(out, "1 of 1 tenants Ready") {
		t.Errorf("reconcile --wait printed %q", out)
	}
	if got := e.appliedRevision("day-b"); !strings.HasSuffix(got, revision) {
		t.Errorf("reconcile --wait returned with day-b at %q, want %s", got, revision)
	}
	e.mustGet(configMapGVR, "day-b", "day-two-marker")

	// With the controller shown to have applied the commit elsewhere, and to
	// have handled day-a's request, day-a is still where it was.
	if got := e.appliedRevision("day-a"); got != before {
		t.Errorf("suspended day-a moved from %q to %q", before, got)
	}
	e.assertAbsent(configMapGVR, "day-a", "day-two-marker")

	out = e.mustRun("resume", "day-a", "--wait")
	if !strings.Contains(out, "day-a: kustomization.kustomize.toolkit.fluxcd.io/dummy resumed\n") || !strings.Contains(out, "1 of 1 tenants Ready") {
		t.Errorf("resume --wait printed %q", out)
	}
	if e.suspended("day-a") {
		t.Error("resume left spec.suspend true")
	}
	if got := e.appliedRevision("day-a"); !strings.HasSuffix(got, revision) {
		t.Errorf("resume --wait returned with day-a at %q, want %s", got, revision)
	}
	e.mustGet(configMapGVR, "day-a", "day-two-marker")
}

// dayTwoWaitFailure is the step "--wait reports the failing tenant with its message and exit 1".
func dayTwoWaitFailure(e stepEnv) {
	t := e.t
	r := e.run("reconcile", "day-a", "broken", "--wait", "--timeout", "2m")
	if r.exitCode != 1 {
		t.Fatalf("reconcile --wait with a failing tenant: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "broken: kustomization path not found") || lines[1] != "error: 1 of 2 tenants not Ready (the lines above say why)" {
		t.Errorf("reconcile --wait stderr: want the failing tenant's line and the summary, got:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "day-a: kustomization.kustomize.toolkit.fluxcd.io/dummy reconcile requested") {
		t.Errorf("reconcile --wait stdout:\n%s", r.stdout)
	}
}

// dayTwoProgress is the step "on a terminal, --wait counts Ready tenants on one line and clears it".
func dayTwoProgress(e stepEnv) {
	t := e.t
	script, err := exec.LookPath("script")
	if err != nil {
		// .ci/run installs it (Debian's bsdutils); a skip would pass a check that never ran.
		t.Fatalf("script(1) is needed to run the plugin on a terminal: apt-get install bsdutils (%v)", err)
	}
	// script runs the command on a pseudo-terminal, stdout and stderr alike.
	command := strings.Join([]string{theSuite.binary, "reconcile", "day-a", "day-b", "--wait", "--kubeconfig", e.cluster.Kubeconfig()}, " ")
	cmd := exec.Command(script, "-qec", command, "/dev/null")
	cmd.Env = append(os.Environ(), "HOME="+e.home, "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reconcile --wait on a terminal: %v\n%q", err, out)
	}
	for _, want := range []string{"\rRequested 2/2", "\rReady 2/2", "\r\x1b[K", "2 of 2 tenants Ready"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("reconcile --wait on a terminal lacks %q:\n%q", want, out)
		}
	}
}

// dayTwoWithSource is the step "reconcile --with-source has the shared source fetch once, then reconciles the tenants".
func dayTwoWithSource(e stepEnv) {
	t := e.t
	out := e.mustRun("reconcile", "day-a", "day-b", "--with-source", "--wait")
	source := "flux-system: gitrepository.source.toolkit.fluxcd.io/default reconcile requested\n"
	if strings.Count(out, source) != 1 || !strings.HasPrefix(out, source) || !strings.Contains(out, "2 of 2 tenants Ready") {
		t.Errorf("reconcile --with-source --wait printed:\n%s", out)
	}
	repo := e.mustGet(gitRepositoryGVR, "flux-system", "default")
	handled, _, _ := unstructured.NestedString(repo.Object, "status", "lastHandledReconcileAt")
	if requested := repo.GetAnnotations()["reconcile.fluxcd.io/requestedAt"]; handled != requested || requested == "" {
		t.Errorf("the source handled %q, but %q was requested", handled, requested)
	}
}

// dayTwoSelection is the step "selectors and --all touch only tenant namespaces; dry runs change nothing".
func dayTwoSelection(e stepEnv) {
	t := e.t
	ctx := context.Background()
	// A namespace without the tenant label, holding a Kustomization of the
	// tenants' name: no selection may touch it.
	e.createNamespace("plain", map[string]string{"team": "payments"})
	plain := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "dummy", "namespace": "plain"},
		"spec": map[string]any{
			"interval": dayTwoInterval, "path": "./kustomizations/per-tenant", "prune": true, "targetNamespace": "plain",
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "default", "namespace": "flux-system"},
		},
	}}
	if _, err := e.client.Resource(kustomizationGVR).Namespace("plain").Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Resource(namespaceGVR).Patch(ctx, "day-b", types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"payments"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	out := e.mustRun("suspend", "-l", "team=payments")
	if out != "day-b: kustomization.kustomize.toolkit.fluxcd.io/dummy suspended\nsuspended 1 tenant\n" {
		t.Errorf("suspend -l team=payments printed %q", out)
	}
	if e.suspended("plain") || e.suspended("day-a") || !e.suspended("day-b") {
		t.Errorf("suspend -l: suspended plain=%v day-a=%v day-b=%v, want only day-b", e.suspended("plain"), e.suspended("day-a"), e.suspended("day-b"))
	}

	// Dry runs print every tenant and change nothing.
	out = e.mustRun("suspend", "--all", "--dry-run=server")
	for _, ns := range []string{"broken", "day-a", "day-b"} {
		if !strings.Contains(out, ns+": kustomization.kustomize.toolkit.fluxcd.io/dummy suspended (server dry run)\n") {
			t.Errorf("suspend --all --dry-run=server lacks %s:\n%s", ns, out)
		}
	}
	if !strings.HasSuffix(out, "suspended 3 tenants (server dry run)\n") || strings.Contains(out, "plain") {
		t.Errorf("suspend --all --dry-run=server printed:\n%s", out)
	}
	out = e.mustRun("resume", "day-b", "--dry-run=client", "-o", "yaml")
	if !strings.Contains(out, "suspend: false") || !strings.Contains(out, "reconcile.fluxcd.io/requestedAt") {
		t.Errorf("resume --dry-run=client -o yaml printed:\n%s", out)
	}
	if e.suspended("day-a") || !e.suspended("day-b") {
		t.Error("a dry run changed spec.suspend")
	}

	// --all asks no confirmation, and says what it did, tenant by tenant.
	out = e.mustRun("suspend", "--all")
	if strings.Count(out, " suspended\n") != 3 || !strings.HasSuffix(out, "suspended 3 tenants\n") || strings.Contains(out, "plain") {
		t.Errorf("suspend --all printed:\n%s", out)
	}
	if names := e.mustRun("resume", "--all", "-o", "name"); names != strings.Repeat("kustomization.kustomize.toolkit.fluxcd.io/dummy\n", 3) {
		t.Errorf("resume --all -o name printed %q", names)
	}
	for _, ns := range []string{"broken", "day-a", "day-b"} {
		if e.suspended(ns) {
			t.Errorf("resume --all left %s suspended", ns)
		}
	}
	if e.suspended("plain") {
		t.Error("--all suspended the Kustomization of a namespace that is no tenant's")
	}
	if _, ok := e.mustGet(kustomizationGVR, "plain", "dummy").GetAnnotations()["reconcile.fluxcd.io/requestedAt"]; ok {
		t.Error("resume --all requested a reconcile of a namespace that is no tenant's")
	}

	// The namespaces complete from the cluster, tenants only.
	kubeconfig := "--kubeconfig=" + e.cluster.Kubeconfig()
	for _, verb := range []string{"suspend", "resume", "reconcile"} {
		if got := e.runWith("__complete", verb, kubeconfig, "").stdout; !strings.HasPrefix(got, "broken\nday-a\nday-b\n:4\n") {
			t.Errorf("completing %s's namespaces gave %q", verb, got)
		}
		if got := e.runWith("__complete", verb, kubeconfig, "day-a", "day").stdout; !strings.HasPrefix(got, "day-b\n:4\n") {
			t.Errorf("completing %s's second namespace gave %q", verb, got)
		}
	}
}

// dayTwoBadInput is the step "bad input gets a one-line error and changes nothing".
func dayTwoBadInput(e stepEnv) {
	t := e.t
	requested := e.mustGet(kustomizationGVR, "day-a", "dummy").GetAnnotations()["reconcile.fluxcd.io/requestedAt"]
	for _, tc := range []struct {
		want string
		args []string
	}{
		{`tenant not found: namespace "nosuch" does not exist`, []string{"suspend", "day-a", "nosuch"}},
		{`namespace "plain" is not a tenant namespace`, []string{"suspend", "day-a", "plain"}},
		{`tenant not found: namespace "day-a" belongs to tenant "alpha", not "bravo"`, []string{"suspend", "day-a", "--tenant-name", "bravo"}},
		{"tenant namespaces (day-a) cannot be combined with --all", []string{"suspend", "day-a", "--all"}},
		{`tenant namespaces (day-a) cannot be combined with -l "team=payments"`, []string{"resume", "day-a", "-l", "team=payments"}},
		{`--all cannot be combined with -l "team=payments"`, []string{"reconcile", "--all", "-l", "team=payments"}},
		{"no tenant selected", []string{"reconcile"}},
	} {
		e.mustFail(tc.want, tc.args...)
	}
	for _, ns := range []string{"day-a", "day-b", "plain"} {
		if e.suspended(ns) {
			t.Errorf("a refused command suspended %s", ns)
		}
	}
	if _, ok := e.mustGet(kustomizationGVR, "plain", "dummy").GetAnnotations()["reconcile.fluxcd.io/requestedAt"]; ok {
		t.Error("a refused command annotated plain's Kustomization")
	}
	if got := e.mustGet(kustomizationGVR, "day-a", "dummy").GetAnnotations()["reconcile.fluxcd.io/requestedAt"]; got != requested {
		t.Errorf("a refused command requested a reconcile of day-a: %q -> %q", requested, got)
	}
}
