package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/plugin"
)

// TestDescribe describes tenants in each state Flux can leave them in, as
// the real controllers leave them: Ready, failing on a bad path, suspended,
// and confined with its own source; and refuses bad input in one line
// without changing anything.
func TestDescribe(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, fluxEnvOptions(false))
	for _, step := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"bootstrap, and four tenants: Ready, failing, suspended and confined", describeSetUp},
		{"describe shows a Ready tenant's objects, Flux state, source and variables", describeReady},
		{"describe shows a variable changed by hand, as live.go reads it back", describeHandEdit},
		{"describe shows a failing tenant's Ready=False with Flux's message, and its events", describeFailing},
		{"describe shows a suspended tenant as suspended", describeSuspended},
		{"describe shows a confined tenant as confined, with its own source", describeConfined},
		{"describe of several tenants prints one block each, and -o json a List", describeSeveral},
		{"describe refuses bad input in one line and changes nothing", describeBadInput},
		{"describe completes tenant namespaces from the cluster", describeCompletion},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(shared.with(t)) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
}

// describeSetUp is the step "bootstrap, and four tenants: Ready, failing, suspended and confined".
func describeSetUp(e stepEnv) {
	e.bootstrap()
	e.mustRun("add", "ready", "readytenant", "--var", "REGION=eu-west-1")
	e.mustRun("add", "failing", "failingtenant", "--path", "./does-not-exist")
	e.mustRun("add", "paused", "pausedtenant")
	e.mustRun("add", "boxed", "boxedtenant", "--confine")
	e.waitKustomization("ready", "dummy", "True")
	e.waitKustomization("failing", "dummy", "False")
	e.waitKustomization("paused", "dummy", "True")
	e.waitKustomization("boxed", "dummy", "True")
	// The suspend command is built elsewhere: suspend as flux does, by
	// setting spec.suspend.
	patch := []byte(`{"spec":{"suspend":true}}`)
	if _, err := e.client.Resource(kustomizationGVR).Namespace("paused").Patch(context.Background(), "dummy", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		e.t.Fatalf("suspending paused/dummy: %v", err)
	}
}

// describeJSON runs describe -o json for one tenant and decodes it.
func (e stepEnv) describeJSON(args ...string) plugin.TenantDescription {
	e.t.Helper()
	out := e.mustRun(append([]string{"describe", "-o", "json"}, args...)...)
	var d plugin.TenantDescription
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		e.t.Fatalf("describe %v -o json is not one TenantDescription: %v\n%s", args, err, out)
	}
	if d.APIVersion != "kubectl-tenant.io/v1alpha1" || d.Kind != "TenantDescription" {
		e.t.Errorf("describe -o json: apiVersion %q kind %q", d.APIVersion, d.Kind)
	}
	return d
}

// squash folds runs of white space, so that text can be found in a table
// whatever its padding and however a message was broken into lines.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// labelled returns the value after "label:" on the first line that starts
// with it, indentation aside.
func labelled(out, label string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), label+":"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "<missing>"
}

func condition(k *plugin.DescribedKustomization, typ string) plugin.DescribedCondition {
	for _, c := range k.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return plugin.DescribedCondition{}
}

// describeReady is the step "describe shows a Ready tenant's objects, Flux state, source and variables".
func describeReady(e stepEnv) {
	t := e.t
	out := e.mustRun("describe", "ready")
	for label, want := range map[string]string{
		"Name": "readytenant", "Namespace": "ready", "Status": "Active", "Suspended": "false",
		"Path": "./kustomizations/per-tenant", "Interval": "5m", "URL": e.cluster.GitURL(), "Ready": "True",
	} {
		if got := labelled(out, label); got != want {
			t.Errorf("describe ready: %s: %q, want %q\n%s", label, got, want, out)
		}
	}
	if got := labelled(out, "Confined"); !strings.HasPrefix(got, "No (") {
		t.Errorf("describe ready: an unconfined tenant shows Confined: %q", got)
	}
	if got := labelled(out, "Last Applied Revision"); !strings.HasPrefix(got, "main@sha1:") {
		t.Errorf("describe ready: Last Applied Revision %q\n%s", got, out)
	}
	for _, row := range [][]string{
		{"Namespace", "ready", "Yes", "Yes", "kubectl-tenant"},
		{"ConfigMap", "tenant-vars", "Yes", "Yes", "kubectl-tenant"},
		{"ServiceAccount", "ready", "Yes", "Yes", "kubectl-tenant"},
		{"RoleBinding", "ready-reconciler", "Yes", "Yes", "kubectl-tenant"},
		{"Kustomization", "dummy", "Yes", "Yes", "kubectl-tenant,gotk-kustomize-controller"}, // Flux's finalizer
		{"Ready", "True", "ReconciliationSucceeded"},
		{"REGION", "eu-west-1", "ConfigMap/tenant-vars"},
		{"PER_TENANT_SUBST", "This", "tenant", "name", "is", `"readytenant"`, "ConfigMap/tenant-vars"},
		{"SUBST_LITERAL", "readytenant", "Kustomization/dummy"},
		{"ready", "source", "FAIL"},
	} {
		if !tableHasRow(out, row...) {
			t.Errorf("describe ready lacks the row %v:\n%s", row, out)
		}
	}

	d := e.describeJSON("ready")
	ks := d.Kustomization
	if d.Tenant != "readytenant" || d.Namespace != "ready" || d.Phase != "Active" || ks == nil {
		t.Fatalf("describe ready -o json: %+v", d)
	}
	live := e.mustGet(kustomizationGVR, "ready", "dummy")
	status, message := readyCondition(live)
	if ready := condition(ks, "Ready"); ready.Status != status || ready.Message != message || status != "True" {
		t.Errorf("-o json Ready = %+v, want %s %q as on the cluster", ready, status, message)
	}
	if ks.Suspended || ks.LastAppliedRevision == "" || ks.LastAppliedRevision != ks.LastAttemptedRevision || ks.Inventory == 0 {
		t.Errorf("-o json kustomization = %+v, want not suspended, applied = attempted revision, inventory > 0", ks)
	}
	if s := d.Source; s == nil || !s.Present || s.Kind != "GitRepository" || s.Namespace != "flux-system" || s.URL != e.cluster.GitURL() || s.Ready != "True" || s.Revision != ks.LastAppliedRevision {
		t.Errorf("-o json source = %+v", d.Source)
	}
	vars := map[string]string{}
	for _, v := range d.Variables {
		vars[v.Name] = v.Value
	}
	if want := map[string]string{"REGION": "eu-west-1", "PER_TENANT_SUBST": `This tenant name is "readytenant"`, "SUBST_LITERAL": "readytenant"}; !maps.Equal(vars, want) {
		t.Errorf("-o json variables = %v, want %v", vars, want)
	}
	if d.Confinement.Confined || d.Confinement.SourceNamespace != "flux-system" || d.Confinement.Role != "ClusterRole/cluster-admin" {
		t.Errorf("-o json confinement = %+v", d.Confinement)
	}
	for _, o := range d.Objects {
		if !o.Present || !o.Managed {
			t.Errorf("-o json object %+v: want present and managed", o)
		}
	}
	// The text and the object are one set of facts.
	if !strings.Contains(squash(out), squash(message)) || !strings.Contains(out, ks.LastAppliedRevision) {
		t.Errorf("the text lacks the facts of -o json (%q, %s):\n%s", message, ks.LastAppliedRevision, out)
	}
	if yaml := e.mustRun("describe", "ready", "-o", "yaml"); !strings.HasPrefix(yaml, "apiVersion: kubectl-tenant.io/v1alpha1\n") || !strings.Contains(yaml, "lastAppliedRevision: "+ks.LastAppliedRevision) {
		t.Errorf("describe -o yaml:\n%s", yaml)
	}
	if byName := e.describeJSON("--tenant-name", "readytenant"); byName.Namespace != "ready" {
		t.Errorf("describe --tenant-name readytenant described %q", byName.Namespace)
	}
}

// describeHandEdit is the step "describe shows a variable changed by hand, as live.go reads it back".
func describeHandEdit(e stepEnv) {
	t := e.t
	patch := []byte(`{"data":{"REGION":"us-east-1"}}`)
	if _, err := e.client.Resource(configMapGVR).Namespace("ready").Patch(context.Background(), "tenant-vars", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatalf("editing ready/tenant-vars: %v", err)
	}
	out := e.mustRun("describe", "ready")
	for _, row := range [][]string{
		{"ConfigMap", "tenant-vars", "Yes", "Yes", "kubectl-tenant,kubectl-edit"},
		{"REGION", "us-east-1", "ConfigMap/tenant-vars"},
		{"ConfigMap", "tenant-vars", "data.REGION", "kubectl-edit"},
	} {
		if !tableHasRow(out, row...) {
			t.Errorf("describe ready after a hand edit lacks the row %v:\n%s", row, out)
		}
	}
	d := e.describeJSON("ready")
	if len(d.HandEdits) != 1 || d.HandEdits[0].Object != "ConfigMap tenant-vars" || d.HandEdits[0].Field != "data.REGION" || d.HandEdits[0].Manager != "kubectl-edit" {
		t.Errorf("-o json handEdits = %+v, want data.REGION by kubectl-edit", d.HandEdits)
	}
}

// describeFailing is the step "describe shows a failing tenant's Ready=False with Flux's message, and its events".
func describeFailing(e stepEnv) {
	t := e.t
	_, message := readyCondition(e.mustGet(kustomizationGVR, "failing", "dummy"))
	var d plugin.TenantDescription
	// kustomize-controller records its Warning event as it sets the
	// condition; the API server may show it a moment later.
	e.eventually("a Warning event of failing/dummy", reconcileDeadline, func() (bool, error) {
		d = e.describeJSON("failing")
		return slices.ContainsFunc(d.Events, func(ev plugin.DescribedEvent) bool {
			return ev.Type == "Warning" && ev.Object == "Kustomization/dummy" && ev.From == "kustomize-controller"
		}), fmt.Errorf("events %+v", d.Events)
	})
	if ready := condition(d.Kustomization, "Ready"); ready.Status != "False" || !strings.Contains(ready.Message, "does-not-exist") {
		t.Errorf("-o json Ready = %+v, want False naming the missing path", ready)
	}
	// A path that is not there fails before Flux records an attempted
	// revision, so only the path and the conditions say why.
	if d.Kustomization.Path != "./does-not-exist" || d.Kustomization.LastAppliedRevision != "" || d.Kustomization.Inventory != 0 {
		t.Errorf("-o json kustomization = %+v", d.Kustomization)
	}
	for i := 1; i < len(d.Events); i++ {
		if d.Events[i].Last.Before(&d.Events[i-1].Last) {
			t.Errorf("events are not oldest first: %+v", d.Events)
		}
	}
	out := e.mustRun("describe", "failing")
	if !tableHasRow(out, "Ready", "False") || !strings.Contains(squash(out), squash(message)) {
		t.Errorf("describe failing lacks Ready False with Flux's message %q:\n%s", message, out)
	}
	events := out[strings.Index(out, "\nEvents:"):]
	if !tableHasRow(events, "Type", "Reason", "Age", "From", "Message") || !strings.Contains(events, "Warning") || !strings.Contains(events, "kustomize-controller") {
		t.Errorf("describe failing lacks its events:\n%s", out)
	}
	few := e.describeJSON("failing", "--events", "1")
	if len(few.Events) != 1 {
		t.Fatalf("--events 1 kept %+v", few.Events)
	}
	for _, ev := range d.Events {
		if few.Events[0].Last.Before(&ev.Last) {
			t.Errorf("--events 1 kept %+v, not the newest of %+v", few.Events[0], d.Events)
		}
	}
	if none := e.describeJSON("failing", "--events", "0"); len(none.Events) != 0 {
		t.Errorf("--events 0 read %+v", none.Events)
	}
}

// describeSuspended is the step "describe shows a suspended tenant as suspended".
func describeSuspended(e stepEnv) {
	t := e.t
	out := e.mustRun("describe", "paused")
	if got := labelled(out, "Suspended"); got != "true" {
		t.Errorf("describe paused: Suspended: %q\n%s", got, out)
	}
	if d := e.describeJSON("paused"); d.Kustomization == nil || !d.Kustomization.Suspended || d.Kustomization.LastAppliedRevision == "" {
		t.Errorf("describe paused -o json kustomization = %+v, want suspended with its last revision", d.Kustomization)
	}
}

// describeConfined is the step "describe shows a confined tenant as confined, with its own source".
func describeConfined(e stepEnv) {
	t := e.t
	out := e.mustRun("describe", "boxed")
	// Confined as check judges the tenant; the cluster was bootstrapped
	// without --lockdown, which the line says too.
	if got := labelled(out, "Confined"); got != "Yes, but the cluster is not locked down (see Confinement)" {
		t.Errorf("describe boxed: Confined: %q\n%s", got, out)
	}
	for _, row := range [][]string{
		{"GitRepository", "default", "Yes", "Yes", "kubectl-tenant,source-controller"},
		{"boxed", "service-account", "PASS"},
		{"boxed", "source", "PASS"},
		{"boxed", "role", "PASS"},
	} {
		if !tableHasRow(out, row...) {
			t.Errorf("describe boxed lacks the row %v:\n%s", row, out)
		}
	}
	if got := labelled(out, "Source"); got != "GitRepository/default" {
		t.Errorf("describe boxed: Source: %q, want its own GitRepository/default\n%s", got, out)
	}
	d := e.describeJSON("boxed")
	c := d.Confinement
	if !c.Confined || c.ClusterLockedDown || c.ServiceAccount != "boxed" || c.SourceNamespace != "boxed" || c.Role != "ClusterRole/admin" {
		t.Errorf("describe boxed -o json confinement = %+v", c)
	}
	if s := d.Source; s == nil || s.Namespace != "boxed" || !s.Present || s.Ready != "True" || s.URL != e.cluster.GitURL() {
		t.Errorf("describe boxed -o json source = %+v", d.Source)
	}
}

// describeSeveral is the step "describe of several tenants prints one block each, and -o json a List".
func describeSeveral(e stepEnv) {
	t := e.t
	out := e.mustRun("describe", "ready", "paused")
	blocks := strings.Split(strings.TrimSpace(out), "\n\nName:")
	if len(blocks) != 2 || labelled(blocks[0], "Namespace") != "ready" || labelled(blocks[1], "Namespace") != "paused" {
		t.Errorf("describe ready paused: want two blocks, ready then paused, separated by a blank line:\n%s", out)
	}
	var list struct {
		Kind  string
		Items []plugin.TenantDescription
	}
	all := e.mustRun("describe", "--all", "-o", "json")
	if err := json.Unmarshal([]byte(all), &list); err != nil {
		t.Fatalf("describe --all -o json: %v\n%s", err, all)
	}
	var namespaces []string
	for _, d := range list.Items {
		namespaces = append(namespaces, d.Namespace)
	}
	slices.Sort(namespaces)
	if list.Kind != "List" || !slices.Equal(namespaces, []string{"boxed", "failing", "paused", "ready"}) {
		t.Errorf("describe --all -o json: kind %q, tenants %v", list.Kind, namespaces)
	}
}

// snapshot fingerprints what describe must not change: every namespace
// and every Kustomization, by resourceVersion and by generation (Flux
// writes a Kustomization's status at will, but never its spec).
func (e stepEnv) snapshot() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, gvr := range []schema.GroupVersionResource{namespaceGVR, kustomizationGVR} {
		list, err := e.client.Resource(gvr).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, obj := range list.Items {
			version := obj.GetResourceVersion()
			if gvr == kustomizationGVR {
				version = fmt.Sprint(obj.GetGeneration())
			}
			out[gvr.Resource+"/"+obj.GetNamespace()+"/"+obj.GetName()] = version
		}
	}
	return out
}

// describeBadInput is the step "describe refuses bad input in one line and changes nothing".
func describeBadInput(e stepEnv) {
	e.createNamespace("unlabelled", map[string]string{"team": "x"})
	before := e.snapshot()
	e.mustFail(`tenant not found: namespace "nope" does not exist`, "describe", "nope")
	e.mustFail(`namespace "unlabelled" is not a tenant namespace`, "describe", "unlabelled")
	e.mustFail("cannot be combined with --all", "describe", "ready", "--all")
	e.mustFail("cannot be combined with -l", "describe", "ready", "-l", "team=x")
	e.mustFail("tenant not found: no namespace has label", "describe", "--tenant-name", "nobody")
	e.mustFail("no tenant selected", "describe")
	e.mustFail("invalid output format", "describe", "ready", "-o", "wide")
	if after := e.snapshot(); !maps.Equal(before, after) {
		e.t.Errorf("describe with bad input changed the cluster:\nbefore %v\nafter  %v", before, after)
	}
}

// describeCompletion is the step "describe completes tenant namespaces from the cluster".
func describeCompletion(e stepEnv) {
	t := e.t
	kubeconfig := "--kubeconfig=" + e.cluster.Kubeconfig()
	if got := e.runWith("__complete", "describe", kubeconfig, "").stdout; !strings.HasPrefix(got, "boxed\nfailing\npaused\nready\n:4\n") {
		t.Errorf("completing describe's namespace gave %q", got)
	}
	if got := e.runWith("__complete", "describe", kubeconfig, "ready", "").stdout; strings.Contains(got, "ready\n") {
		t.Errorf("completing describe's second namespace offered the first again: %q", got)
	}
	if got := e.kubectlComplete("tenant", "describe", "f"); !strings.HasPrefix(got, "failing\n:4\n") {
		t.Errorf("kubectl __complete tenant describe f gave %q", got)
	}
}
