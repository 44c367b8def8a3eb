package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// teamArgs add tenant payments as a team: two namespaces, each with its own
// stage variable and prod with its own template path, two owners, under
// confinement (so its sources default to its own source's URL alone).
func teamArgs() []string {
	return []string{"add", "--tenant-name", "payments",
		"--tenant-namespace", "payments-dev", "--tenant-namespace", "payments-prod",
		"--confine", "--quota", "pods=10", "--limit-range", "cpu=100m/500m", "--network-policy", "isolate",
		"--owner", "User:alice=admin", "--owner", "Group:payments-devs",
		"--var", "STAGE=development", "--namespace-var", "payments-prod:STAGE=production",
		"--namespace-path", "payments-prod=./team/production"}
}

// TestTeamTenants proves team tenants against real controllers started with
// bootstrap --lockdown's flags and policies: a two-namespace tenant
// reconciles into both namespaces with its own variables and paths; its
// owners work in its namespaces only and cannot change what the platform
// put there; its owners and robots may point sources only at its allowed
// URLs; namespaces come and go without touching the others; and a namespace
// labelled by hand is never swept in. Acting as the hostile party is the
// proof: each denial is an attempted write, and the state after is compared.
func TestTeamTenants(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, fluxEnvOptions(true))
	for _, step := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"a two-namespace tenant reconciles into both, each with its own variables and path", teamReconciles},
		{"bad input gets one line and changes nothing", teamBadInput},
		{"owners work in the tenant's namespaces and in no other tenant's", teamOwnersWork},
		{"owners cannot change what the platform put in the namespaces", teamOwnersGuarded},
		{"owners and robots may use only the allowed sources", teamAllowedSources},
		{"diff and export read the team back, and an owner bound by hand is a hand edit", teamReadBack},
		{"a namespace is added to and removed from a live tenant, the others untouched", teamNamespacesChange},
		{"delete --tenant-name deletes the members and never a hand-labelled namespace", teamDelete},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(shared.with(t)) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
}

// teamReconciles is the step "a two-namespace tenant reconciles into both, each with its own variables and path".
func teamReconciles(e stepEnv) {
	t := e.t
	e.bootstrap("--lockdown")
	e.mustGet(policyGVR, "", render.OwnersPolicyName)
	e.mustGet(policyBindingGVR, "", render.OwnersPolicyName)
	// The production overlay: the shared template plus a ConfigMap that
	// shows the namespace's own variable after Flux substituted it.
	revision, err := e.cluster.GitCommit(map[string][]byte{
		"team/production/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../kustomizations/per-tenant\n- stage.yaml\n"),
		"team/production/stage.yaml":         []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stage\ndata:\n  stage: ${STAGE}\n"),
	}, "a production overlay")
	if err != nil {
		t.Fatal(err)
	}
	e.fetchRevision("flux-system", "default", revision)
	e.mustRun(teamArgs()...)
	e.mustRun("add", "orders", "orders", "--confine", "--allow-source", "https://github.com/acme/")
	for ns, stage := range map[string]string{"payments-dev": "development", "payments-prod": "production"} {
		e.waitKustomization(ns, "dummy", "True")
		if env := containerEnv(t, e.mustGet(deploymentGVR, ns, "dummy")); env["SUBST_LITERAL"] != "payments" {
			t.Errorf("%s: SUBST_LITERAL = %q, want payments", ns, env["SUBST_LITERAL"])
		}
		vars := e.mustGet(configMapGVR, ns, render.TenantVarsConfigMapName)
		if got, _, _ := unstructured.NestedString(vars.Object, "data", "STAGE"); got != stage {
			t.Errorf("%s: tenant-vars STAGE = %q, want %q", ns, got, stage)
		}
		for _, role := range []string{"admin", "edit"} {
			e.mustGet(roleBindingGVR, ns, render.OwnerBindingName(role))
		}
	}
	stage := e.mustGet(configMapGVR, "payments-prod", "stage")
	if got, _, _ := unstructured.NestedString(stage.Object, "data", "stage"); got != "production" {
		t.Errorf("payments-prod: the overlay's stage = %q, want production", got)
	}
	e.assertAbsent(configMapGVR, "payments-dev", "stage")
	e.waitKustomization("orders", "dummy", "True")
}

// teamBadInput is the step "bad input gets one line and changes nothing".
func teamBadInput(e stepEnv) {
	team := []string{"add", "--tenant-name", "payments", "--tenant-namespace", "payments-new"}
	for _, bad := range []struct {
		want string
		args []string
	}{
		{`invalid --owner "alice": must be KIND:NAME[=ROLE]`, []string{"--owner", "alice"}},
		{`invalid --owner "User:alice=superuser": role "superuser" is not one of admin, edit, view`, []string{"--owner", "User:alice=superuser"}},
		{`invalid --allow-source "": must be a URL prefix`, []string{"--allow-source", ""}},
		{`namespace "orders" belongs to tenant "orders"`, []string{"--tenant-namespace", "orders"}},
		{`invalid --namespace-var "elsewhere:STAGE=x": "elsewhere" is not one of the tenant's namespaces`, []string{"--namespace-var", "elsewhere:STAGE=x"}},
		{`--remove-namespace orders: the namespace belongs to tenant "orders"`, []string{"--remove-namespace", "orders"}},
	} {
		e.mustFail(bad.want, append(append([]string{}, team...), bad.args...)...)
		e.assertAbsent(namespaceGVR, "", "payments-new")
	}
	e.mustGet(namespaceGVR, "", "orders")
}

// asMember is a client acting as user in groups, as an owner's kubectl would.
func (e stepEnv) asMember(user string, groups ...string) dynamic.Interface {
	e.t.Helper()
	config := e.cluster.RESTConfig()
	config.Impersonate.UserName = user
	config.Impersonate.Groups = append(groups, "system:authenticated")
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		e.t.Fatal(err)
	}
	return client
}

func teamNote(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name},
		"data":     map[string]any{"owner": "the team"},
	}}
}

// teamOwnersWork is the step "owners work in the tenant's namespaces and in no other tenant's".
func teamOwnersWork(e stepEnv) {
	t := e.t
	ctx := context.Background()
	owners := map[string]dynamic.Interface{"alice (admin)": e.asMember("alice"), "bob of group payments-devs (edit)": e.asMember("bob", "payments-devs")}
	for who, client := range owners {
		name := "note-" + strings.Fields(who)[0]
		for _, ns := range []string{"payments-dev", "payments-prod"} {
			if _, err := client.Resource(configMapGVR).Namespace(ns).Create(ctx, teamNote(name), metav1.CreateOptions{}); err != nil {
				t.Errorf("%s cannot create a ConfigMap of the team's in %s: %v", who, ns, err)
			}
		}
		_, err := client.Resource(configMapGVR).Namespace("orders").Create(ctx, teamNote(name), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s creating a ConfigMap in another tenant's namespace: %v, want forbidden", who, err)
		}
		e.assertAbsent(configMapGVR, "orders", name)
	}
}

// teamOwnersGuarded is the step "owners cannot change what the platform put in the namespaces".
func teamOwnersGuarded(e stepEnv) {
	t := e.t
	ctx := context.Background()
	annotate := []byte(`{"metadata":{"annotations":{"team.example.com/edited":"yes"}}}`)
	for _, ns := range []string{"payments-dev", "payments-prod"} {
		before := e.guardedState(ns)
		policy := e.mustGet(configMapGVR, ns, render.TenantPolicyName)
		ownersBinding := e.mustGet(roleBindingGVR, ns, render.OwnerBindingName("admin"))
		alice := e.asMember("alice")
		for _, write := range []struct {
			what, want string
			do         func() error
		}{
			{"edit the reconciler's RoleBinding", "kubectl-tenant guardrail", func() error {
				_, err := alice.Resource(roleBindingGVR).Namespace(ns).Patch(ctx, ns+"-reconciler", types.MergePatchType, annotate, metav1.PatchOptions{})
				return err
			}},
			{"bind itself cluster-admin through the owners' RoleBinding", "kubectl-tenant guardrail", func() error {
				return alice.Resource(roleBindingGVR).Namespace(ns).Delete(ctx, render.OwnerBindingName("admin"), metav1.DeleteOptions{})
			}},
			{"rewrite the tenant's variables", "kubectl-tenant guardrail", func() error {
				_, err := alice.Resource(configMapGVR).Namespace(ns).Patch(ctx, render.TenantVarsConfigMapName, types.MergePatchType, []byte(`{"data":{"STAGE":"rewritten"}}`), metav1.PatchOptions{})
				return err
			}},
			{"widen its own policy", "kubectl-tenant guardrail", func() error {
				return alice.Resource(configMapGVR).Namespace(ns).Delete(ctx, render.TenantPolicyName, metav1.DeleteOptions{})
			}},
			{"suspend the tenant's Kustomization", "kubectl-tenant guardrail", func() error {
				_, err := alice.Resource(kustomizationGVR).Namespace(ns).Patch(ctx, "dummy", types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{})
				return err
			}},
			{"delete the quota", "forbidden", func() error {
				return alice.Resource(resourceQuotaGVR).Namespace(ns).Delete(ctx, render.QuotaName, metav1.DeleteOptions{})
			}},
			{"rewrite the quota as a group member", "forbidden", func() error {
				_, err := e.asMember("bob", "payments-devs").Resource(resourceQuotaGVR).Namespace(ns).Patch(ctx, render.QuotaName, types.MergePatchType, []byte(`{"spec":{"hard":{"pods":"1000"}}}`), metav1.PatchOptions{})
				return err
			}},
		} {
			err := write.do()
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), write.want) {
				t.Errorf("owner in %s tried to %s: %v, want an error with %q", ns, write.what, err, write.want)
			}
		}
		e.assertGuardedState(ns, before)
		assertUnchanged(e, policy, e.mustGet(configMapGVR, ns, render.TenantPolicyName))
		assertUnchanged(e, ownersBinding, e.mustGet(roleBindingGVR, ns, render.OwnerBindingName("admin")))
	}
}

// assertUnchanged fails when an object was written since before was read.
func assertUnchanged(e stepEnv, before, after *unstructured.Unstructured) {
	e.t.Helper()
	if before.GetResourceVersion() != after.GetResourceVersion() {
		e.t.Errorf("%s %s/%s changed: resourceVersion %s -> %s", after.GetKind(), after.GetNamespace(), after.GetName(), before.GetResourceVersion(), after.GetResourceVersion())
	}
}

func gitSource(name, url string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"url": url, "interval": "10m", "ref": map[string]any{"branch": "main"}},
	}}
}

// teamAllowedSources is the step "owners and robots may use only the allowed sources".
func teamAllowedSources(e stepEnv) {
	t := e.t
	ctx := context.Background()
	loopback := strings.Replace(e.cluster.ServerURL(), "https://", "http://", 1) + "/api/v1/namespaces/kube-system/secrets"
	for _, attempt := range []struct {
		who       string
		client    dynamic.Interface
		namespace string
		url       string
		allowed   bool
	}{
		{"owner alice", e.asMember("alice"), "payments-dev", loopback, false},
		{"owner alice", e.asMember("alice"), "payments-prod", "https://github.com/other-team/app.git", false},
		{"owner alice", e.asMember("alice"), "payments-dev", e.cluster.GitURL(), true},
		{"group owner bob", e.asMember("bob", "payments-devs"), "payments-prod", loopback, false},
		{"the tenant's robot", e.as("system:serviceaccount:payments-dev:payments-dev"), "payments-dev", loopback, false},
		{"the tenant's robot", e.as("system:serviceaccount:payments-dev:payments-dev"), "payments-dev", e.cluster.GitURL(), true},
		{"orders' robot", e.as("system:serviceaccount:orders:orders"), "orders", "https://github.com/acme/orders.git", true},
		{"orders' robot", e.as("system:serviceaccount:orders:orders"), "orders", "https://github.com/acme-evil/orders.git", false},
		{"orders' robot", e.as("system:serviceaccount:orders:orders"), "orders", "https://github.com/acme@127.0.0.1/x.git", false},
		{"orders' robot", e.as("system:serviceaccount:orders:orders"), "orders", loopback, false},
	} {
		name := fmt.Sprintf("probe-%d", len(attempt.url)%997)
		_, err := attempt.client.Resource(gitRepositoryGVR).Namespace(attempt.namespace).Create(ctx, gitSource(name, attempt.url), metav1.CreateOptions{})
		switch {
		case attempt.allowed && err != nil:
			t.Errorf("%s could not create a source for %s in %s: %v", attempt.who, attempt.url, attempt.namespace, err)
		case !attempt.allowed && (err == nil || !strings.Contains(err.Error(), "may only fetch from URLs under")):
			t.Errorf("%s creating a source for %s in %s: %v, want the allowed-sources denial", attempt.who, attempt.url, attempt.namespace, err)
		}
		if attempt.allowed {
			if err := attempt.client.Resource(gitRepositoryGVR).Namespace(attempt.namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Errorf("%s could not delete its own source: %v", attempt.who, err)
			}
		} else {
			e.assertAbsent(gitRepositoryGVR, attempt.namespace, name)
		}
	}
}

// teamReadBack is the step "diff and export read the team back, and an owner bound by hand is a hand edit".
func teamReadBack(e stepEnv) {
	t := e.t
	if r := e.run("diff", "--tenant-name", "payments"); r.exitCode != 0 {
		t.Fatalf("diff --tenant-name payments of the team as added: exit %d\n%s%s", r.exitCode, r.stdout, r.stderr)
	}
	exported := e.mustRun("export", "--tenant-name", "payments", "-o", "yaml")
	for _, want := range []string{"namespace: payments-dev", "namespace: payments-prod", "STAGE: production", "STAGE: development",
		"path: ./team/production", "name: alice", "name: payments-devs", "name: " + render.OwnerBindingName("edit")} {
		if !strings.Contains(exported, want) {
			t.Errorf("export --tenant-name payments lacks %q", want)
		}
	}
	// kubectl create rolebinding tenant-owners-view --clusterrole=view --user=carol
	byHand := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": render.OwnerBindingName("view")},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol"}},
	}}
	admin := e.client
	if _, err := admin.Resource(roleBindingGVR).Namespace("payments-dev").Create(context.Background(), byHand, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	r := e.run("diff", "--tenant-name", "payments")
	if r.exitCode != 1 || !strings.Contains(r.stdout, "-  name: carol") || !strings.Contains(r.stderr, "hand edit in tenant payments-dev: RoleBinding tenant-owners-view: subjects was set by kubectl-create") {
		t.Errorf("diff after an owner was bound by hand: exit %d, want 1 with carol removed and the hand edit named\n%s%s", r.exitCode, r.stdout, r.stderr)
	}
	r = e.run("export", "--tenant-name", "payments", "-o", "yaml")
	if r.exitCode != 0 || !strings.Contains(r.stdout, "name: carol") || !strings.Contains(r.stderr, "a hand-edited setting, exported as it is live: RoleBinding tenant-owners-view: subjects") {
		t.Errorf("export after an owner was bound by hand: exit %d, want carol kept and warned of\n%s", r.exitCode, r.stderr)
	}
	if err := admin.Resource(roleBindingGVR).Namespace("payments-dev").Delete(context.Background(), render.OwnerBindingName("view"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// teamNamespacesChange is the step "a namespace is added to and removed from a live tenant, the others untouched".
func teamNamespacesChange(e stepEnv) {
	t := e.t
	before := map[string]map[string]any{"payments-dev": e.guardedState("payments-dev"), "payments-prod": e.guardedState("payments-prod")}
	e.mustRun(append(teamArgs(), "--tenant-namespace", "payments-qa")...)
	e.waitKustomization("payments-qa", "dummy", "True")
	e.mustGet(roleBindingGVR, "payments-qa", render.OwnerBindingName("admin"))
	// A namespace labelled by hand is not the tenant's to remove.
	e.createNamespace("payments-by-hand", map[string]string{render.DefaultTenantLabelKey: "payments"})
	e.mustFail("--remove-namespace payments-by-hand: kubectl tenant did not make the namespace tenant \"payments\"'s", "add", "--tenant-name", "payments", "--remove-namespace", "payments-by-hand")
	out := e.mustRun("add", "--tenant-name", "payments", "--remove-namespace", "payments-qa")
	if !strings.Contains(out, "namespace/payments-qa deleted from tenant payments") {
		t.Errorf("--remove-namespace printed %q", out)
	}
	e.eventually("namespace payments-qa gone", reconcileDeadline, func() (bool, error) {
		_, err := e.get(namespaceGVR, "", "payments-qa")
		return apierrors.IsNotFound(err), err
	})
	for ns, state := range before {
		e.assertGuardedState(ns, state)
		e.waitKustomization(ns, "dummy", "True")
	}
	e.mustGet(namespaceGVR, "", "payments-by-hand")
}

// teamDelete is the step "delete --tenant-name deletes the members and never a hand-labelled namespace".
func teamDelete(e stepEnv) {
	t := e.t
	r := e.run("delete", "--tenant-name", "payments", "--wait", "--timeout", "2m")
	if r.exitCode != 0 || !strings.HasPrefix(r.stdout, "tenant payments has 2 namespaces: payments-dev, payments-prod\n") {
		t.Errorf("delete --tenant-name payments: exit %d, stdout %q, stderr %q", r.exitCode, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "namespace payments-by-hand has label") {
		t.Errorf("delete --tenant-name payments did not name the hand-labelled namespace it left: %q", r.stderr)
	}
	e.assertAbsent(namespaceGVR, "", "payments-dev")
	e.assertAbsent(namespaceGVR, "", "payments-prod")
	e.mustGet(namespaceGVR, "", "payments-by-hand")
	e.mustGet(namespaceGVR, "", "orders")
}
