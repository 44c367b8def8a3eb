package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// fleetV1 is the fleet file as first applied: a plain tenant, a team of
// two namespaces with owners, and a confined tenant.
const fleetV1 = `apiVersion: kubectl-tenant.io/v1alpha1
kind: TenantFleet
defaults:
  vars: {REGION: eu-west-1}
tenants:
- name: alpha
  namespaces: [{name: apply-alpha}]
  vars: {TIER: gold}
- name: beta
  namespaces:
  - {name: apply-beta-dev, vars: {STAGE: dev}}
  - {name: apply-beta-prod, vars: {STAGE: prod}}
  owners: [{kind: Group, name: beta-team}]
- name: gamma
  namespaces: [{name: apply-gamma}]
  confinement: {quota: {pods: "10"}}
`

// fleetV2 is fleetV1 edited: delta added, alpha changed, gamma removed.
const fleetV2 = `apiVersion: kubectl-tenant.io/v1alpha1
kind: TenantFleet
defaults:
  vars: {REGION: eu-west-1}
tenants:
- name: alpha
  namespaces: [{name: apply-alpha}]
  vars: {TIER: silver}
- name: beta
  namespaces:
  - {name: apply-beta-dev, vars: {STAGE: dev}}
  - {name: apply-beta-prod, vars: {STAGE: prod}}
  owners: [{kind: Group, name: beta-team}]
- name: delta
  namespaces: [{name: apply-delta}]
`

// fleetV3 keeps delta alone: a prune of two tenants of three.
const fleetV3 = `apiVersion: kubectl-tenant.io/v1alpha1
kind: TenantFleet
tenants:
- name: delta
  namespaces: [{name: apply-delta}]
  vars: {REGION: eu-west-1}
`

// fleetV4 adds to what fleetV3 left a team with owners and per-namespace
// settings, and a confined tenant, for the export round trip.
const fleetV4 = fleetV3 + `- name: omega
  namespaces:
  - {name: apply-omega-dev, vars: {STAGE: dev}}
  - {name: apply-omega-prod, vars: {STAGE: prod}, path: ./kustomizations/per-tenant}
  owners: [{kind: Group, name: omega-team}, {kind: User, name: olga, role: admin}]
  allowedSources: [https://github.com/acme/omega/]
  interval: 2m
- name: sigma
  namespaces: [{name: apply-sigma}]
  vars: {TIER: gold}
  confinement: {quota: {pods: "5"}, limitRange: {cpu: {request: 100m, limit: 500m}}, networkPolicy: isolate}
`

// TestApplyFleetFile applies a fleet file, edits it, plans and applies
// again with --prune, and checks each line of the plan against what the
// cluster then holds.
func TestApplyFleetFile(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, fluxEnvOptions(false))
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	v1, v2, v3 := write("v1.yaml", fleetV1), write("v2.yaml", fleetV2), write("v3.yaml", fleetV3)
	for _, step := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"bootstrap", func(e stepEnv) { e.bootstrap() }},
		{"the plan of a new fleet creates nothing", func(e stepEnv) { planNewFleet(e, v1) }},
		{"apply creates the fleet, and a second apply sends no write", func(e stepEnv) { applyTwice(e, v1) }},
		{"an edited file plans, applies and prunes as planned", func(e stepEnv) { applyEdited(e, v2) }},
		{"a prune over the limit is refused and changes nothing", func(e stepEnv) { pruneOverLimit(e, v3) }},
		{"bad fleet files are one line and apply nothing", func(e stepEnv) { badFleetFiles(e, dir) }},
		{"an exported fleet plans no change here and re-creates the fleet on a second cluster", func(e stepEnv) { exportRoundTrip(e, write("v4.yaml", fleetV4)) }},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(shared.with(t)) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
}

func planNewFleet(e stepEnv, file string) {
	out := e.mustRun("apply", "-f", file, "--dry-run=server")
	assertLines(e.t, out,
		"+ tenant alpha (apply-alpha)",
		"+ tenant beta (apply-beta-dev, apply-beta-prod)",
		"+ tenant gamma (apply-gamma)",
		"Plan: 3 to add, 0 to change, 0 to prune, 0 unchanged (server dry run).")
	for _, ns := range []string{"apply-alpha", "apply-beta-dev", "apply-gamma"} {
		e.assertAbsent(namespaceGVR, "", ns)
	}
}

func applyTwice(e stepEnv, file string) {
	first := e.mustRunLogged("apply", "-f", file, "--wait", "--timeout", "3m")
	if got := e.tenantVar("apply-beta-prod", "STAGE"); got != "prod" {
		e.t.Errorf("apply-beta-prod STAGE = %q, want prod", got)
	}
	// The control: the request log shows the first apply's writes.
	if w := writes(first.stderr); w["apply-alpha"] == 0 || w["apply-beta-prod"] == 0 {
		e.t.Fatalf("the request log shows no write of the first apply: %v", w)
	}
	second := e.mustRunLogged("apply", "-f", file)
	assertLines(e.t, second.stdout, "Plan: 0 to add, 0 to change, 0 to prune, 3 unchanged.")
	if w := writes(second.stderr); len(w) > 0 {
		e.t.Errorf("a second apply of the same file wrote: %v", w)
	}
}

func applyEdited(e stepEnv, file string) {
	// A namespace labelled by hand as gamma's is never pruned with it.
	e.createNamespace("apply-hand", map[string]string{render.DefaultTenantLabelKey: "gamma"})
	plan := e.mustRunLogged("apply", "-f", file, "--dry-run=server")
	want := []string{
		"~ tenant alpha (apply-alpha)",
		"    vars.TIER: gold -> silver",
		"+ tenant delta (apply-delta)",
		"- tenant gamma (apply-gamma)",
		"Plan: 1 to add, 1 to change, 1 to prune, 1 unchanged (without --prune, nothing is pruned: gamma) (server dry run).",
	}
	assertLines(e.t, plan.stdout, want...)
	e.assertAbsent(namespaceGVR, "", "apply-delta")
	if e.tenantVar("apply-alpha", "TIER") != "gold" {
		e.t.Errorf("the server dry run changed alpha")
	}
	// Without --prune, gamma is named and stays.
	out := e.mustRun("apply", "-f", file)
	assertLines(e.t, out, strings.TrimSuffix(want[4], " (server dry run).")+".")
	e.mustGet(namespaceGVR, "", "apply-gamma")
	pruned := e.mustRunLogged("apply", "-f", file, "--prune")
	assertLines(e.t, pruned.stdout, "namespace/apply-gamma pruned (tenant gamma)")
	// What the plan said is what happened, and nothing else was written.
	if got := e.tenantVar("apply-alpha", "TIER"); got != "silver" {
		e.t.Errorf("alpha TIER = %q, want silver", got)
	}
	e.mustGet(namespaceGVR, "", "apply-delta")
	e.eventually("namespace apply-gamma deleted", time.Minute, func() (bool, error) {
		ns, err := e.get(namespaceGVR, "", "apply-gamma")
		return err != nil || ns.GetDeletionTimestamp() != nil, nil
	})
	e.mustGet(namespaceGVR, "", "apply-hand")
	if w := writes(pruned.stderr); w["apply-beta-dev"]+w["apply-beta-prod"]+w["apply-hand"] > 0 || w["apply-gamma"] == 0 {
		e.t.Errorf("writes by namespace %v: want none to beta's namespaces or apply-hand, a delete of apply-gamma", w)
	}
	assertLines(e.t, e.mustRun("apply", "-f", file), "Plan: 0 to add, 0 to change, 0 to prune, 3 unchanged.")
}

func pruneOverLimit(e stepEnv, file string) {
	r := e.runLogged("apply", "-f", file, "--prune")
	if r.exitCode != 1 || !strings.Contains(r.stderr, "refusing to prune 2 tenants (alpha, beta), more than 1") {
		e.t.Fatalf("apply --prune of 2 of 3 tenants: exit %d\n%s\n%s", r.exitCode, r.stdout, r.stderr)
	}
	if w := writes(r.stderr); len(w) > 0 {
		e.t.Errorf("a refused prune wrote: %v", w)
	}
	// diff -f names what the file no longer lists, and exits 1.
	d := e.run("diff", "-f", file)
	if d.exitCode != 1 || !strings.Contains(d.stderr, "tenant alpha: namespace apply-alpha is not in") || !strings.Contains(d.stdout, "Kustomization.apply-beta-dev") {
		e.t.Errorf("diff -f of a file without alpha and beta: exit %d\n%s\n%s", d.exitCode, d.stdout, d.stderr)
	}
	if strings.Contains(d.stderr, "apply-hand") {
		e.t.Errorf("diff -f names the hand-labelled namespace as prunable:\n%s", d.stderr)
	}
	e.mustRun("apply", "-f", file, "--prune", "--prune-limit", "2")
	e.mustGet(namespaceGVR, "", "apply-hand")
	// Not a tenant of the fleet the next steps export.
	if err := e.client.Resource(namespaceGVR).Delete(context.Background(), "apply-hand", metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// exportRoundTrip exports the live fleet as a fleet file, applies it to
// the cluster it came from (no change) and to a second cluster, where
// diff --all then finds the fleet equal to what the file declares.
func exportRoundTrip(e stepEnv, file string) {
	e.mustRun("apply", "-f", file, "--wait", "--timeout", "3m")
	exported := filepath.Join(e.t.TempDir(), "exported.yaml")
	e.mustRun("export", "--all", "--format", "tenants", "--to", exported)
	data, err := os.ReadFile(exported)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("exported fleet file:\n%s", data)
	assertLines(e.t, e.mustRun("apply", "-f", exported), "Plan: 0 to add, 0 to change, 0 to prune, 3 unchanged.")

	second := startEnv(e.t, fluxEnvOptions(false)).with(e.t)
	second.bootstrap()
	out := second.mustRun("apply", "-f", exported, "--wait", "--timeout", "3m")
	assertLines(e.t, out, "Plan: 3 to add, 0 to change, 0 to prune, 0 unchanged.")
	second.assertDiff(0, nil, "diff", "--all")
	assertLines(e.t, second.mustRun("apply", "-f", exported), "Plan: 0 to add, 0 to change, 0 to prune, 3 unchanged.")
	// The second cluster exports the file the first one did.
	if again := second.mustRun("export", "--all", "--format", "tenants"); again != string(data) {
		e.t.Errorf("the second cluster's fleet exports differently:\n%s", again)
	}
}

func badFleetFiles(e stepEnv, dir string) {
	for _, c := range []struct{ content, want string }{
		{"apiVersion: kubectl-tenant.io/v9\nkind: TenantFleet\ntenants: []\n", "is not a version this kubectl-tenant knows"},
		{fleetV3 + "  colour: blue\n", "tenant delta: colour: unknown field"},
		{fleetV3 + "- name: epsilon\n  namespaces: [{name: apply-delta}]\n", `namespace "apply-delta" is already tenant delta's`},
		{fleetV3 + "- name: epsilon\n  namespaces: [{name: apply-eps}]\n  confinement: {gitURL: https://git.example/e, credentials: {password: hunter2}}\n", "credentials are references"},
		{fleetV3 + "- name: epsilon\n  namespaces: [{name: Bad_NS}]\n", "tenant epsilon: namespaces[0].name"},
	} {
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			e.t.Fatal(err)
		}
		r := e.mustFail(c.want, "apply", "-f", path)
		if !strings.Contains(r.stderr, path) || strings.Contains(r.stderr, "hunter2") {
			e.t.Errorf("error does not name the file, or shows the secret: %s", r.stderr)
		}
	}
	e.assertAbsent(namespaceGVR, "", "apply-eps")
}

// assertLines checks that each of want is a line of out.
func assertLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || l == w
		}
		if !found {
			t.Errorf("output lacks the line %q:\n%s", w, out)
		}
	}
}

// tenantVar is a variable of a tenant's tenant-vars ConfigMap.
func (e stepEnv) tenantVar(namespace, key string) string {
	cm := e.mustGet(configMapGVR, namespace, "tenant-vars")
	v, _, _ := unstructured.NestedString(cm.Object, "data", key)
	return v
}

// runLogged runs the plugin with client-go's request log (-v=6) on stderr.
func (e stepEnv) runLogged(args ...string) result {
	e.t.Helper()
	return e.run(append(args, "-v=6")...)
}

func (e stepEnv) mustRunLogged(args ...string) result {
	e.t.Helper()
	r := e.runLogged(args...)
	if r.exitCode != 0 {
		e.t.Fatalf("kubectl-tenant %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.exitCode, r.stdout, r.stderr)
	}
	return r
}

// requestLine is client-go's log line of one request: its verb and URL.
var requestLine = regexp.MustCompile(`"Response" verb="([A-Z]+)" url="[^"]*?/namespaces/([a-z0-9-]+)`)

// writes counts, by namespace, the requests of a -v=6 log that change
// something: every verb but GET, LIST and WATCH, in or of a namespace.
func writes(log string) map[string]int {
	out := map[string]int{}
	for _, m := range requestLine.FindAllStringSubmatch(log, -1) {
		if m[1] != "GET" {
			out[m[2]]++
		}
	}
	return out
}
