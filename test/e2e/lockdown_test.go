package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

var (
	resourceQuotaGVR = schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}
	limitRangeGVR    = schema.GroupVersionResource{Version: "v1", Resource: "limitranges"}
	networkPolicyGVR = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
	policyGVR        = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}
	policyBindingGVR = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicybindings"}
)

// guardedTenantArgs add tenant-a with every guardrail.
func guardedTenantArgs() []string {
	return []string{"add", "tenant-a", "alice", "--confine",
		"--quota", "pods=10", "--quota", "count/kustomizations.kustomize.toolkit.fluxcd.io=20",
		"--limit-range", "cpu=100m/500m", "--limit-range", "memory=64Mi/256Mi",
		"--network-policy", "isolate"}
}

// TestLockdown proves full lockdown against real controllers started with
// the flags `bootstrap --lockdown` renders (all three of Flux's) and with
// the guardrail policy installed: a confined tenant's own template
// reconciles under admin, and everything it might try against its
// confinement fails and changes nothing. README's security table names
// these steps.
func TestLockdown(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, fluxEnvOptions(true))
	for _, step := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"bootstrap --lockdown sets Flux's three lockdown flags and installs the guardrail policy", lockdownBootstrap},
		{"a confined tenant reconciles its own template under admin, from its own source", lockdownTenantReconciles},
		{"hostile Kustomizations of a confined tenant fail and change nothing", lockdownHostileKustomizations},
		{"the tenant's own identities cannot change what the platform put in its namespace", lockdownDirectWrites},
		{"check passes the confined tenants and fails an unconfined one", lockdownCheck},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(shared.with(t)) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
}

// lockdownBootstrap is the step "bootstrap --lockdown sets Flux's three lockdown flags and installs the guardrail policy".
func lockdownBootstrap(e stepEnv) {
	t := e.t
	e.bootstrap("--lockdown")
	args := containerArgs(t, e.mustGet(deploymentGVR, "flux-system", "kustomize-controller"))
	for _, want := range []string{"--no-cross-namespace-refs=true", "--default-service-account=default", "--no-remote-bases=true"} {
		if !slices.Contains(args, want) {
			t.Errorf("bootstrap --lockdown: kustomize-controller args %v lack %s", args, want)
		}
	}
	e.mustGet(policyGVR, "", render.GuardrailPolicyName)
	binding := e.mustGet(policyBindingGVR, "", render.GuardrailPolicyName)
	if actions, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions"); len(actions) != 1 || actions[0] != "Deny" {
		t.Errorf("guardrail binding actions %v, want [Deny]", actions)
	}
}

// lockdownTenantReconciles is the step "a confined tenant reconciles its own template under admin, from its own source".
func lockdownTenantReconciles(e stepEnv) {
	t := e.t
	e.mustRun(guardedTenantArgs()...)
	e.mustRun("add", "tenant-b", "bob", "--confine")
	for ns, name := range map[string]string{"tenant-a": "alice", "tenant-b": "bob"} {
		e.waitKustomization(ns, "dummy", "True")
		if env := containerEnv(t, e.mustGet(deploymentGVR, ns, "dummy")); env["SUBST_LITERAL"] != name {
			t.Errorf("%s: SUBST_LITERAL = %q, want %q", ns, env["SUBST_LITERAL"], name)
		}
		ks := e.mustGet(kustomizationGVR, ns, "dummy")
		ref, _, _ := unstructured.NestedStringMap(ks.Object, "spec", "sourceRef")
		if ref["namespace"] != "" || ref["name"] != "default" {
			t.Errorf("%s: the Kustomization builds from %v, not the tenant's own source", ns, ref)
		}
		if sa, _, _ := unstructured.NestedString(ks.Object, "spec", "serviceAccountName"); sa != ns {
			t.Errorf("%s: serviceAccountName = %q", ns, sa)
		}
		rb := e.mustGet(roleBindingGVR, ns, ns+"-reconciler")
		if role, _, _ := unstructured.NestedString(rb.Object, "roleRef", "name"); role != "admin" {
			t.Errorf("%s: the reconciler is bound to %q, want admin", ns, role)
		}
		source := e.mustGet(gitRepositoryGVR, ns, "default")
		if url, _, _ := unstructured.NestedString(source.Object, "spec", "url"); url != e.cluster.GitURL() {
			t.Errorf("%s: own source url %q, want the shared source's %q", ns, url, e.cluster.GitURL())
		}
	}
	for _, obj := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{resourceQuotaGVR, render.QuotaName}, {limitRangeGVR, render.LimitRangeName}, {networkPolicyGVR, render.NetworkPolicyName}} {
		if got := e.mustGet(obj.gvr, "tenant-a", obj.name); got.GetLabels()[render.ManagedByLabelKey] != render.ManagedByValue {
			t.Errorf("%s tenant-a/%s is not labelled as the plugin's", obj.gvr.Resource, obj.name)
		}
	}
}

// hostileTemplates are what a confined tenant might commit to get out: each
// is built into tenant-a by a Kustomization tenant-a creates itself.
func hostileTemplates() map[string][]byte {
	kustomization := func(resource string) []byte {
		return []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + resource + "\n")
	}
	return map[string][]byte{
		"hostile/cluster-role-binding/kustomization.yaml": kustomization("crb.yaml"),
		"hostile/cluster-role-binding/crb.yaml": []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tenant-escape
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: tenant-a, namespace: tenant-a}]
`),
		"hostile/quota/kustomization.yaml": kustomization("quota.yaml"),
		"hostile/quota/quota.yaml": []byte(`apiVersion: v1
kind: ResourceQuota
metadata: {name: tenant-quota}
spec: {hard: {pods: "1000"}}
`),
		"hostile/network-policy/kustomization.yaml": kustomization("netpol.yaml"),
		"hostile/network-policy/netpol.yaml": []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tenant-isolation}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{}]
`),
		"hostile/tenant-vars/kustomization.yaml": kustomization("cm.yaml"),
		"hostile/tenant-vars/cm.yaml": []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: tenant-vars}
data: {PER_TENANT_SUBST: rewritten by the tenant}
`),
		"hostile/role-binding/kustomization.yaml": kustomization("rb.yaml"),
		"hostile/role-binding/rb.yaml": []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: tenant-a-reconciler}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: gotk:tenant-a:reconciler}
- {kind: ServiceAccount, name: tenant-a, namespace: tenant-a}
- {kind: ServiceAccount, name: intruder, namespace: tenant-b}
`),
	}
}

// lockdownHostileKustomizations is the step "hostile Kustomizations of a confined tenant fail and change nothing".
func lockdownHostileKustomizations(e stepEnv) {
	t := e.t
	files := hostileTemplates()
	// A base on a git server the controller can reach (this machine has no
	// other network), so only the lockdown can refuse it.
	files["hostile/remote-base/kustomization.yaml"] = []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + e.cluster.GitURL() + "//kustomizations/per-tenant?ref=main\n")
	revision, err := e.cluster.GitCommit(files, "hostile tenant templates")
	if err != nil {
		t.Fatal(err)
	}
	e.fetchRevision("tenant-a", "default", revision)

	before := e.guardedState("tenant-a")
	tenant := e.as("system:serviceaccount:tenant-a:tenant-a")
	own := map[string]any{"kind": "GitRepository", "name": "default"}
	for _, hostile := range []struct {
		name, path, target, serviceAccount string
		source                             map[string]any
		want                               string
	}{
		{"from-flux-system", "./kustomizations/per-tenant", "tenant-a", "tenant-a", map[string]any{"kind": "GitRepository", "name": "default", "namespace": "flux-system"}, "cross-namespace references have been blocked"},
		{"from-tenant-b", "./kustomizations/per-tenant", "tenant-a", "tenant-a", map[string]any{"kind": "GitRepository", "name": "default", "namespace": "tenant-b"}, "cross-namespace references have been blocked"},
		{"into-tenant-b", "./kustomizations/per-tenant", "tenant-b", "tenant-a", own, "forbidden"},
		{"wrong-namespace", "./kustomizations/wrong-namespace", "", "tenant-a", own, "forbidden"},
		{"wrong-namespace-default-sa", "./kustomizations/wrong-namespace", "", "", own, "forbidden"},
		{"escape-crb", "./hostile/cluster-role-binding", "", "tenant-a", own, "forbidden"},
		{"quota", "./hostile/quota", "tenant-a", "tenant-a", own, "forbidden"},
		{"network-policy", "./hostile/network-policy", "tenant-a", "tenant-a", own, "kubectl-tenant guardrail"},
		{"tenant-vars", "./hostile/tenant-vars", "tenant-a", "tenant-a", own, "kubectl-tenant guardrail"},
		{"role-binding", "./hostile/role-binding", "tenant-a", "tenant-a", own, "kubectl-tenant guardrail"},
		{"remote-base", "./hostile/remote-base", "tenant-a", "tenant-a", own, "fs-security-constraint"},
	} {
		ks := hostileKustomization("tenant-a", hostile.name, hostile.path, hostile.serviceAccount)
		spec := ks.Object["spec"].(map[string]any)
		spec["sourceRef"] = hostile.source
		if hostile.target != "" {
			spec["targetNamespace"] = hostile.target
		}
		// The tenant creates these itself: admin, with Flux's flux-edit
		// aggregated into it, lets it manage Flux objects in its namespace.
		if _, err := tenant.Resource(kustomizationGVR).Namespace("tenant-a").Create(context.Background(), ks, metav1.CreateOptions{}); err != nil {
			t.Fatalf("the tenant cannot create its own Kustomization %s: %v", hostile.name, err)
		}
		msg := e.waitKustomization("tenant-a", hostile.name, "False")
		t.Logf("Kustomization tenant-a/%s: %s", hostile.name, msg)
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(hostile.want)) {
			t.Errorf("Kustomization %s failed, but its message lacks %q: %s", hostile.name, hostile.want, msg)
		}
	}
	e.assertAbsent(clusterRoleBindingGVR, "", "tenant-escape")
	e.assertAbsent(configMapGVR, "default", "wrong-namespace")
	if owner := e.mustGet(deploymentGVR, "tenant-b", "dummy").GetLabels()["kustomize.toolkit.fluxcd.io/namespace"]; owner != "tenant-b" {
		t.Errorf("tenant-b's Deployment is now owned by %q", owner)
	}
	e.assertGuardedState("tenant-a", before)
	e.waitKustomization("tenant-a", "dummy", "True")
}

// lockdownDirectWrites is the step "the tenant's own identities cannot change what the platform put in its namespace".
func lockdownDirectWrites(e stepEnv) {
	t := e.t
	before := e.guardedState("tenant-a")
	ctx := context.Background()
	annotate := []byte(`{"metadata":{"annotations":{"tenant.example.com/edited":"yes"}}}`)
	for _, user := range []string{"system:serviceaccount:tenant-a:tenant-a", "gotk:tenant-a:reconciler"} {
		client := e.as(user)
		for _, write := range []struct {
			what string
			do   func() error
		}{
			{"delete its ResourceQuota", func() error {
				return client.Resource(resourceQuotaGVR).Namespace("tenant-a").Delete(ctx, render.QuotaName, metav1.DeleteOptions{})
			}},
			{"delete its LimitRange", func() error {
				return client.Resource(limitRangeGVR).Namespace("tenant-a").Delete(ctx, render.LimitRangeName, metav1.DeleteOptions{})
			}},
			{"change its NetworkPolicy", func() error {
				_, err := client.Resource(networkPolicyGVR).Namespace("tenant-a").Patch(ctx, render.NetworkPolicyName, types.MergePatchType, []byte(`{"spec":{"ingress":[{}]}}`), metav1.PatchOptions{})
				return err
			}},
			{"rewrite its tenant-vars", func() error {
				_, err := client.Resource(configMapGVR).Namespace("tenant-a").Patch(ctx, render.TenantVarsConfigMapName, types.MergePatchType, []byte(`{"data":{"PER_TENANT_SUBST":"rewritten"}}`), metav1.PatchOptions{})
				return err
			}},
			{"edit its RoleBinding", func() error {
				_, err := client.Resource(roleBindingGVR).Namespace("tenant-a").Patch(ctx, "tenant-a-reconciler", types.MergePatchType, annotate, metav1.PatchOptions{})
				return err
			}},
			{"suspend its Kustomization", func() error {
				_, err := client.Resource(kustomizationGVR).Namespace("tenant-a").Patch(ctx, "dummy", types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{})
				return err
			}},
			{"point its source elsewhere", func() error {
				_, err := client.Resource(gitRepositoryGVR).Namespace("tenant-a").Patch(ctx, "default", types.MergePatchType, []byte(`{"spec":{"url":"https://git.example.com/other.git"}}`), metav1.PatchOptions{})
				return err
			}},
			{"delete its tenant-vars", func() error {
				return client.Resource(configMapGVR).Namespace("tenant-a").Delete(ctx, render.TenantVarsConfigMapName, metav1.DeleteOptions{})
			}},
		} {
			err := write.do()
			t.Logf("%s tries to %s: %v", user, write.what, err)
			if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
				t.Errorf("%s could %s (err %v), want Forbidden or denied by the guardrail policy", user, write.what, err)
			}
		}
	}
	e.assertGuardedState("tenant-a", before)

	// The policy is no blanket ban: the tenant still writes its own objects,
	// and the platform (the plugin's user) still changes the tenant's.
	app := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app-config", "namespace": "tenant-a"}}}
	if _, err := e.as("system:serviceaccount:tenant-a:tenant-a").Resource(configMapGVR).Namespace("tenant-a").Create(ctx, app, metav1.CreateOptions{}); err != nil {
		t.Errorf("the tenant cannot create its own ConfigMap: %v", err)
	}
	e.mustRun(append(guardedTenantArgs(), "--var", "TIER=gold")...)
	if data, _, _ := unstructured.NestedStringMap(e.mustGet(configMapGVR, "tenant-a", render.TenantVarsConfigMapName).Object, "data"); data["TIER"] != "gold" {
		t.Errorf("the platform could not change tenant-vars: %v", data)
	}
}

// lockdownCheck is the step "check passes the confined tenants and fails an unconfined one".
func lockdownCheck(e stepEnv) {
	t := e.t
	e.mustRun("add", "loose", "lucy")
	confined := e.run("check", "tenant-a", "tenant-b")
	if confined.exitCode != 0 || strings.Contains(confined.stdout, "FAIL") {
		t.Errorf("check of the confined tenants: exit %d, want 0 and no FAIL:\n%s%s", confined.exitCode, confined.stdout, confined.stderr)
	}
	if !tableHasRow(confined.stdout, "tenant-a") || !strings.Contains(confined.stdout, "PASS") {
		t.Errorf("check prints no PASS rows for tenant-a:\n%s", confined.stdout)
	}
	loose := e.run("check", "loose")
	if loose.exitCode != 1 || !strings.Contains(loose.stdout, "FAIL") {
		t.Errorf("check of the unconfined tenant: exit %d, want 1 with FAIL rows:\n%s%s", loose.exitCode, loose.stdout, loose.stderr)
	}
	all := e.run("check", "--all", "-o", "json")
	if all.exitCode != 1 {
		t.Errorf("check --all: exit %d, want 1 (one tenant is unconfined)", all.exitCode)
	}
	var report struct {
		Tenants []struct {
			Namespace string
			Checks    []struct{ Check, Result, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(all.stdout), &report); err != nil {
		t.Fatalf("check -o json: %v\n%s", err, all.stdout)
	}
	results := map[string]map[string]int{}
	for _, tenant := range report.Tenants {
		results[tenant.Namespace] = map[string]int{}
		for _, c := range tenant.Checks {
			results[tenant.Namespace][c.Result]++
		}
	}
	if results["tenant-a"]["FAIL"] != 0 || results["tenant-a"]["WARN"] != 0 || results["tenant-a"]["PASS"] == 0 {
		t.Errorf("tenant-a, confined with every guardrail, checks %v; want only PASS", results["tenant-a"])
	}
	if results["loose"]["FAIL"] < 3 {
		t.Errorf("the unconfined tenant checks %v; want FAILs for its service account, source and cluster-admin at least", results["loose"])
	}
}

// lifecycleConvert is the step "add --confine converts a tenant in place, and loosening it needs --unconfine".
func lifecycleConvert(e stepEnv) {
	t := e.t
	e.mustRun("add", "convert", "conv")
	e.waitKustomization("convert", "dummy", "True")
	deployment := e.mustGet(deploymentGVR, "convert", "dummy")

	states := e.watchReady("convert", "dummy")
	e.mustRun("add", "convert", "conv", "--confine", "--quota", "pods=5")
	e.waitReconciled("convert", "dummy")
	if seen := states(); slices.Contains(seen, "False") {
		t.Errorf("the Kustomization was not Ready during the conversion: Ready went %v", seen)
	}
	if got := e.mustGet(deploymentGVR, "convert", "dummy"); got.GetUID() != deployment.GetUID() {
		t.Errorf("the conversion re-created the tenant's Deployment")
	}
	ks := e.mustGet(kustomizationGVR, "convert", "dummy")
	if sa, _, _ := unstructured.NestedString(ks.Object, "spec", "serviceAccountName"); sa != "convert" {
		t.Errorf("converted Kustomization serviceAccountName = %q", sa)
	}
	if ns, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "namespace"); ns != "" {
		t.Errorf("converted Kustomization still builds from namespace %q", ns)
	}
	if role, _, _ := unstructured.NestedString(e.mustGet(roleBindingGVR, "convert", "convert-reconciler").Object, "roleRef", "name"); role != "admin" {
		t.Errorf("converted reconciler role %q, want admin", role)
	}
	e.mustGet(resourceQuotaGVR, "convert", render.QuotaName)

	e.mustFail(`tenant "conv" in namespace "convert" is confined; adding it without --confine would loosen it`, "add", "convert", "conv")
	if sa, _, _ := unstructured.NestedString(e.mustGet(kustomizationGVR, "convert", "dummy").Object, "spec", "serviceAccountName"); sa != "convert" {
		t.Errorf("a refused add loosened the tenant")
	}
	// Re-run without --quota: the quota is no longer asked for.
	e.mustRun("add", "convert", "conv", "--confine")
	e.assertAbsent(resourceQuotaGVR, "convert", render.QuotaName)

	e.mustRun("add", "convert", "conv", "--unconfine")
	e.waitReconciled("convert", "dummy")
	ks = e.mustGet(kustomizationGVR, "convert", "dummy")
	if sa, _, _ := unstructured.NestedString(ks.Object, "spec", "serviceAccountName"); sa != "" {
		t.Errorf("unconfined Kustomization still applies as %q", sa)
	}
	if ns, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "namespace"); ns != "flux-system" {
		t.Errorf("unconfined Kustomization builds from namespace %q, want flux-system", ns)
	}
	e.assertAbsent(gitRepositoryGVR, "convert", "default")
	if labels := e.mustGet(namespaceGVR, "", "convert").GetLabels(); labels[render.ManagedByLabelKey] != "" {
		t.Errorf("the unconfined namespace keeps the managed-by label: %v", labels)
	}
	if got := e.mustGet(deploymentGVR, "convert", "dummy"); got.GetUID() != deployment.GetUID() {
		t.Errorf("unconfining re-created the tenant's Deployment")
	}
}

// lifecycleDefaultModeHoles is the step "default mode: an unconfined tenant's identity can remove the platform's limits".
func lifecycleDefaultModeHoles(e stepEnv) {
	t := e.t
	ctx := context.Background()
	quota := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ResourceQuota",
		"metadata": map[string]any{"name": "platform-quota", "namespace": "beta"},
		"spec":     map[string]any{"hard": map[string]any{"pods": "5"}},
	}}
	if _, err := e.client.Resource(resourceQuotaGVR).Namespace("beta").Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tenant := e.as("system:serviceaccount:beta:beta")
	if err := tenant.Resource(resourceQuotaGVR).Namespace("beta").Delete(ctx, "platform-quota", metav1.DeleteOptions{}); err != nil {
		t.Errorf("the unconfined tenant (cluster-admin in its namespace) could not delete its quota: %v", err)
	}
	if _, err := tenant.Resource(configMapGVR).Namespace("beta").Patch(ctx, render.TenantVarsConfigMapName, types.MergePatchType, []byte(`{"data":{"PER_TENANT_SUBST":"rewritten"}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("the unconfined tenant could not rewrite its tenant-vars: %v", err)
	}
	if _, err := tenant.Resource(roleBindingGVR).Namespace("beta").Patch(ctx, "beta-reconciler", types.MergePatchType, []byte(`{"metadata":{"annotations":{"edited":"yes"}}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("the unconfined tenant could not edit its RoleBinding: %v", err)
	}
	// Restore what add owns, so later steps see the tenant as added.
	e.mustRun("add", "beta", "tenant-b", "--force-conflicts")
}

// as is a client that impersonates user, as Flux's controllers do with a
// Kustomization's ServiceAccount.
func (e stepEnv) as(user string) dynamic.Interface {
	e.t.Helper()
	config := e.cluster.RESTConfig()
	config.Impersonate.UserName = user
	if strings.HasPrefix(user, "system:serviceaccount:") {
		ns := strings.Split(user, ":")[2]
		config.Impersonate.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		e.t.Fatal(err)
	}
	return client
}

// fetchRevision asks a GitRepository to fetch now and waits until its
// artifact is at revision.
func (e stepEnv) fetchRevision(namespace, name, revision string) {
	e.t.Helper()
	e.requestSourceReconcile(namespace, name)
	e.eventually(fmt.Sprintf("GitRepository %s/%s at %s", namespace, name, revision), reconcileDeadline, func() (bool, error) {
		repo, err := e.get(gitRepositoryGVR, namespace, name)
		if err != nil {
			return false, err
		}
		got, _, _ := unstructured.NestedString(repo.Object, "status", "artifact", "revision")
		return strings.HasSuffix(got, revision), fmt.Errorf("at %q", got)
	})
}

// guardedState is what the platform put in a confined tenant's namespace,
// as it was.
func (e stepEnv) guardedState(namespace string) map[string]any {
	e.t.Helper()
	state := map[string]any{}
	for _, obj := range []struct {
		gvr  schema.GroupVersionResource
		name string
		path []string
	}{
		{resourceQuotaGVR, render.QuotaName, []string{"spec"}},
		{limitRangeGVR, render.LimitRangeName, []string{"spec"}},
		{networkPolicyGVR, render.NetworkPolicyName, []string{"spec"}},
		{configMapGVR, render.TenantVarsConfigMapName, []string{"data"}},
		{roleBindingGVR, namespace + "-reconciler", []string{"subjects"}},
		{kustomizationGVR, "dummy", []string{"spec"}},
		{gitRepositoryGVR, "default", []string{"spec"}},
	} {
		live := e.mustGet(obj.gvr, namespace, obj.name)
		value, _, _ := unstructured.NestedFieldCopy(live.Object, obj.path...)
		state[obj.gvr.Resource+"/"+obj.name] = value
		state[obj.gvr.Resource+"/"+obj.name+" annotations"] = live.GetAnnotations()
	}
	return state
}

func (e stepEnv) assertGuardedState(namespace string, before map[string]any) {
	e.t.Helper()
	after := e.guardedState(namespace)
	for _, key := range render.SortedKeys(before) {
		if !equality.Semantic.DeepEqual(before[key], after[key]) {
			e.t.Errorf("%s in %s changed: %v -> %v", key, namespace, before[key], after[key])
		}
	}
	if !maps.EqualFunc(before, after, func(a, b any) bool { return equality.Semantic.DeepEqual(a, b) }) {
		e.t.Errorf("the platform's objects in %s changed", namespace)
	}
}

// watchReady records every status the Kustomization's Ready condition takes
// from now on; the returned function stops watching and returns them.
func (e stepEnv) watchReady(namespace, name string) func() []string {
	e.t.Helper()
	w, err := e.client.Resource(kustomizationGVR).Namespace(namespace).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan []string)
	go func() {
		var seen []string
		for event := range w.ResultChan() {
			if obj, ok := event.Object.(*unstructured.Unstructured); ok && event.Type != watch.Deleted {
				status, _ := readyCondition(obj)
				if len(seen) == 0 || seen[len(seen)-1] != status {
					seen = append(seen, status)
				}
			}
		}
		done <- seen
	}()
	return func() []string {
		w.Stop()
		return <-done
	}
}

// waitReconciled waits until the Kustomization is Ready for its current
// generation.
func (e stepEnv) waitReconciled(namespace, name string) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("Kustomization %s/%s Ready at its generation", namespace, name), reconcileDeadline, func() (bool, error) {
		ks, err := e.get(kustomizationGVR, namespace, name)
		if err != nil {
			return false, err
		}
		observed, _, _ := unstructured.NestedInt64(ks.Object, "status", "observedGeneration")
		status, msg := readyCondition(ks)
		return status == "True" && observed == ks.GetGeneration(), fmt.Errorf("generation %d observed %d, Ready=%s: %s", ks.GetGeneration(), observed, status, msg)
	})
}

// containerArgs are the args of a Deployment's first container.
func containerArgs(t *testing.T, deploy *unstructured.Unstructured) []string {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	if len(containers) == 0 {
		t.Fatalf("Deployment %s has no containers", deploy.GetName())
	}
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return args
}
