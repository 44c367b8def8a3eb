package posture

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// results is "CHECK=RESULT" of each row, for compact comparisons.
func results(rows []Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Check + "=" + string(r.Result)
	}
	return out
}

func TestClusterRows(t *testing.T) {
	locked := render.LockdownArgs("kustomize-controller")
	good := &BindingSummary{PolicyName: render.GuardrailPolicyName, ValidationActions: []string{"Deny"}}
	owners := &BindingSummary{PolicyName: "kubectl-tenant-owners-and-sources", ValidationActions: []string{"Deny"}, ParamName: "tenant-policy"}
	for _, tc := range []struct {
		name  string
		facts ClusterFacts
		want  []string
		// detail is a fragment the first row's detail must hold.
		detail string
	}{
		{"Flux not installed", ClusterFacts{},
			[]string{"lockdown/kustomize-controller=FAIL", "guardrail-policy=FAIL", "guardrail-binding=FAIL", "owners-policy=FAIL", "owners-binding=FAIL"}, "Flux not installed"},
		{"locked down", ClusterFacts{Deployments: map[string][]string{"kustomize-controller": append([]string{"--log-level=info"}, locked...)}, Policy: true, Binding: good, OwnersPolicy: true, OwnersBinding: owners},
			[]string{"lockdown/kustomize-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=PASS", "owners-policy=PASS", "owners-binding=PASS"}, "runs with"},
		{"default install", ClusterFacts{Deployments: map[string][]string{"kustomize-controller": {"--watch-all-namespaces=true"}}, Policy: true, Binding: good, OwnersPolicy: true, OwnersBinding: owners},
			[]string{"lockdown/kustomize-controller=FAIL", "guardrail-policy=PASS", "guardrail-binding=PASS", "owners-policy=PASS", "owners-binding=PASS"},
			`runs without --no-cross-namespace-refs=true --default-service-account=default --no-remote-bases=true; run "kubectl tenant bootstrap --lockdown"`},
		{"a bare boolean flag counts, a later =false undoes it", ClusterFacts{Deployments: map[string][]string{
			"kustomize-controller": {"--no-cross-namespace-refs", "--default-service-account=default", "--no-remote-bases=true", "--no-remote-bases=false"}}, Policy: true, Binding: good, OwnersPolicy: true, OwnersBinding: owners},
			[]string{"lockdown/kustomize-controller=FAIL", "guardrail-policy=PASS", "guardrail-binding=PASS", "owners-policy=PASS", "owners-binding=PASS"}, "runs without --no-remote-bases=true;"},
		{"no manager container", ClusterFacts{Deployments: map[string][]string{"kustomize-controller": nil}, Policy: true, Binding: good, OwnersPolicy: true, OwnersBinding: owners},
			[]string{"lockdown/kustomize-controller=FAIL", "guardrail-policy=PASS", "guardrail-binding=PASS", "owners-policy=PASS", "owners-binding=PASS"}, "no container named manager"},
		{"other controllers only when installed", ClusterFacts{Deployments: map[string][]string{
			"kustomize-controller": locked, "helm-controller": {"--no-cross-namespace-refs=true"}, "notification-controller": render.LockdownArgs("notification-controller")}, Policy: true, Binding: good, OwnersPolicy: true, OwnersBinding: owners},
			[]string{"lockdown/kustomize-controller=PASS", "lockdown/helm-controller=FAIL", "lockdown/notification-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=PASS", "owners-policy=PASS", "owners-binding=PASS"}, ""},
		{"binding that only warns", ClusterFacts{Deployments: map[string][]string{"kustomize-controller": locked}, Policy: true, OwnersPolicy: true, OwnersBinding: owners,
			Binding: &BindingSummary{PolicyName: render.GuardrailPolicyName, ValidationActions: []string{"Warn", "Audit"}}},
			[]string{"lockdown/kustomize-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=FAIL", "owners-policy=PASS", "owners-binding=PASS"}, ""},
		{"binding of another policy", ClusterFacts{Deployments: map[string][]string{"kustomize-controller": locked}, Policy: true, OwnersPolicy: true, OwnersBinding: owners,
			Binding: &BindingSummary{PolicyName: "other", ValidationActions: []string{"Deny"}}},
			[]string{"lockdown/kustomize-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=FAIL", "owners-policy=PASS", "owners-binding=PASS"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := ClusterRows(tc.facts)
			if got := results(rows); !slices.Equal(got, tc.want) {
				t.Errorf("rows = %q, want %q", got, tc.want)
			}
			if !strings.Contains(rows[0].Detail, tc.detail) {
				t.Errorf("detail %q does not contain %q", rows[0].Detail, tc.detail)
			}
			for _, r := range rows {
				if r.Scope != "cluster" {
					t.Errorf("row %s has scope %q", r.Check, r.Scope)
				}
				if r.Result != Pass && !strings.Contains(r.Detail, "kubectl tenant bootstrap --lockdown") {
					t.Errorf("%s row %s names no fix: %q", r.Result, r.Check, r.Detail)
				}
			}
		})
	}
}

// TestLockdownPoliciesPass: the policies and bindings bootstrap --lockdown
// installs are what check's cluster rows want.
func TestLockdownPoliciesPass(t *testing.T) {
	facts := ClusterFacts{Deployments: map[string][]string{"kustomize-controller": render.LockdownArgs("kustomize-controller")}}
	for _, obj := range render.LockdownPolicies() {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: content}
		switch kind, name := u.GetKind(), u.GetName(); {
		case kind == "ValidatingAdmissionPolicy" && name == "kubectl-tenant-guardrails":
			facts.Policy = true
		case kind == "ValidatingAdmissionPolicy" && name == "kubectl-tenant-owners-and-sources":
			facts.OwnersPolicy = true
		case kind == "ValidatingAdmissionPolicyBinding" && name == "kubectl-tenant-guardrails":
			facts.Binding = SummarizeBinding(u)
		case kind == "ValidatingAdmissionPolicyBinding" && name == "kubectl-tenant-owners-and-sources":
			facts.OwnersBinding = SummarizeBinding(u)
		default:
			t.Errorf("bootstrap --lockdown installs %s %s, which check does not judge", kind, name)
		}
	}
	want := []string{"lockdown/kustomize-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=PASS", "owners-policy=PASS", "owners-binding=PASS"}
	if got := results(ClusterRows(facts)); !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
}

// TestOwnersPolicyRows: the owners-and-sources policy's binding must bind
// it, read each tenant namespace's own tenant-policy (a paramRef by name
// without a namespace) and deny.
func TestOwnersPolicyRows(t *testing.T) {
	const name = "kubectl-tenant-owners-and-sources"
	for _, tc := range []struct {
		testName string
		policy   bool
		binding  *BindingSummary
		want     []string
		detail   string // the row that is not PASS holds it
	}{
		{"installed", true, &BindingSummary{PolicyName: name, ValidationActions: []string{"Deny"}, ParamName: "tenant-policy"},
			[]string{"owners-policy=PASS", "owners-binding=PASS"}, "with each tenant namespace's ConfigMap tenant-policy as parameters"},
		{"no policy", false, &BindingSummary{PolicyName: name, ValidationActions: []string{"Deny"}, ParamName: "tenant-policy"},
			[]string{"owners-policy=FAIL", "owners-binding=PASS"}, "no ValidatingAdmissionPolicy kubectl-tenant-owners-and-sources, so a team's owners can change what the platform put in its namespaces"},
		{"no binding", true, nil,
			[]string{"owners-policy=PASS", "owners-binding=FAIL"}, "no ValidatingAdmissionPolicyBinding kubectl-tenant-owners-and-sources, so the policy is not enforced"},
		{"no paramRef", true, &BindingSummary{PolicyName: name, ValidationActions: []string{"Deny"}},
			[]string{"owners-policy=PASS", "owners-binding=FAIL"}, `takes its parameters from ConfigMap "" in namespace "", not from each tenant namespace's ConfigMap tenant-policy`},
		{"paramRef to one namespace", true, &BindingSummary{PolicyName: name, ValidationActions: []string{"Deny"}, ParamName: "tenant-policy", ParamNamespace: "flux-system"},
			[]string{"owners-policy=PASS", "owners-binding=FAIL"}, `from ConfigMap "tenant-policy" in namespace "flux-system"`},
		{"another ConfigMap", true, &BindingSummary{PolicyName: name, ValidationActions: []string{"Deny"}, ParamName: "other"},
			[]string{"owners-policy=PASS", "owners-binding=FAIL"}, `from ConfigMap "other"`},
		{"audit only", true, &BindingSummary{PolicyName: name, ValidationActions: []string{"Audit"}, ParamName: "tenant-policy"},
			[]string{"owners-policy=PASS", "owners-binding=FAIL"}, "has validationActions [Audit], which do not Deny"},
		{"binds the guardrail policy", true, &BindingSummary{PolicyName: "kubectl-tenant-guardrails", ValidationActions: []string{"Deny"}, ParamName: "tenant-policy"},
			[]string{"owners-policy=PASS", "owners-binding=FAIL"}, `binds policy "kubectl-tenant-guardrails", not kubectl-tenant-owners-and-sources`},
	} {
		t.Run(tc.testName, func(t *testing.T) {
			facts := ClusterFacts{Deployments: map[string][]string{"kustomize-controller": render.LockdownArgs("kustomize-controller")},
				Policy: true, Binding: &BindingSummary{PolicyName: "kubectl-tenant-guardrails", ValidationActions: []string{"Deny"}},
				OwnersPolicy: tc.policy, OwnersBinding: tc.binding}
			rows := ClusterRows(facts)[3:]
			if got := results(rows); !slices.Equal(got, tc.want) {
				t.Fatalf("rows = %q, want %q", got, tc.want)
			}
			row := rows[1]
			if rows[0].Result != Pass {
				row = rows[0]
			}
			if !strings.Contains(row.Detail, tc.detail) {
				t.Errorf("%s detail %q does not contain %q", row.Check, row.Detail, tc.detail)
			}
			if row.Result != Pass && !strings.HasSuffix(row.Detail, `; run "kubectl tenant bootstrap --lockdown"`) {
				t.Errorf("%s names no fix: %q", row.Check, row.Detail)
			}
		})
	}
}

func TestTenantRows(t *testing.T) {
	unconfined := &TenantFacts{Namespace: "foo", Name: "sometenant", Kustomization: &tenant.KustomizationSummary{}, RoleRef: &rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}}
	unconfined.Kustomization.Spec.SourceRef.Kind, unconfined.Kustomization.Spec.SourceRef.Name, unconfined.Kustomization.Spec.SourceRef.Namespace = "GitRepository", "default", "flux-system"
	confined := &TenantFacts{Namespace: "bar", Name: "other", Kustomization: &tenant.KustomizationSummary{}, RoleRef: &rbacv1.RoleRef{Kind: "ClusterRole", Name: "admin"},
		Quota: true, LimitRange: true, NetworkPolicy: true}
	confined.Kustomization.Spec.ServiceAccountName = "bar"
	confined.Kustomization.Spec.SourceRef.Kind, confined.Kustomization.Spec.SourceRef.Name = "GitRepository", "default"
	for _, tc := range []struct {
		name  string
		facts *TenantFacts
		want  []string
	}{
		{"unconfined", unconfined, []string{"service-account=FAIL", "source=FAIL", "role=FAIL", "quota=WARN", "limit-range=WARN", "network-policy=WARN",
			"namespaces=PASS", "owners=PASS", "allowed-sources=PASS", "tenant-policy=PASS"}},
		// Confined by its Kustomization's ServiceAccount, but without the
		// tenant-policy that add --confine makes since team tenants.
		{"confined", confined, []string{"service-account=PASS", "source=PASS", "role=PASS", "quota=PASS", "limit-range=PASS", "network-policy=PASS",
			"namespaces=PASS", "owners=PASS", "allowed-sources=WARN", "tenant-policy=WARN"}},
		{"no Kustomization, no RoleBinding", &TenantFacts{Namespace: "baz", Name: "t"}, []string{"kustomization=FAIL", "role=WARN", "quota=WARN", "limit-range=WARN", "network-policy=WARN",
			"namespaces=PASS", "owners=PASS", "allowed-sources=PASS", "tenant-policy=PASS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := TenantRows(tc.facts, "dummy")
			if got := results(rows); !slices.Equal(got, tc.want) {
				t.Errorf("rows = %q, want %q", got, tc.want)
			}
			for _, r := range rows {
				if r.Scope != tc.facts.Namespace {
					t.Errorf("row %s has scope %q, want %q", r.Check, r.Scope, tc.facts.Namespace)
				}
				confine := fmt.Sprintf(`run "kubectl tenant add %s %s --confine`, tc.facts.Namespace, tc.facts.Name)
				team := fmt.Sprintf(`run "kubectl tenant add --tenant-name %s --tenant-namespace %s --confine"`, tc.facts.Name, tc.facts.Namespace)
				if r.Result != Pass && !strings.Contains(r.Detail, confine) && !strings.Contains(r.Detail, team) {
					t.Errorf("%s row %s names no fix: %q", r.Result, r.Check, r.Detail)
				}
			}
		})
	}
	rows := TenantRows(unconfined, "dummy")
	if want := "refers to GitRepository/default in flux-system"; !strings.Contains(rows[1].Detail, want) {
		t.Errorf("source detail %q does not contain %q", rows[1].Detail, want)
	}
	if got := unconfined.serviceAccount(); got != "foo" {
		t.Errorf("an unconfined tenant is probed as %q, want its own ServiceAccount foo", got)
	}
}

func TestProbeRows(t *testing.T) {
	quota := schema.GroupResource{Resource: "resourcequotas"}
	policyDenial := apierrors.NewForbidden(quota, "tenant-quota", errors.New("ValidatingAdmissionPolicy 'kubectl-tenant-guardrails' with binding 'kubectl-tenant-guardrails' denied request: kubectl-tenant guardrail: resourcequotas tenant-quota in tenant namespace foo is managed by the platform"))
	invalidByPolicy := apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "tenant-vars", nil)
	invalidByPolicy.ErrStatus.Message = "ValidatingAdmissionPolicy 'kubectl-tenant-guardrails' denied request"
	impersonation := apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, "foo", errors.New(`User "dev" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "foo"`))
	for _, tc := range []struct {
		name   string
		err    error
		result Result
		detail string
	}{
		{"the dry run would succeed", nil, Fail, "the tenant can delete its quota: FIX"},
		{"denied by the policy", policyDenial, Pass, "denied by the guardrail policy"},
		{"422 from a policy", invalidByPolicy, Pass, "denied by the guardrail policy"},
		{"forbidden by RBAC", apierrors.NewForbidden(quota, "tenant-quota", errors.New(`User "system:serviceaccount:foo:foo" cannot delete resource "resourcequotas"`)), Pass, "forbidden by RBAC"},
		{"caller may not impersonate", impersonation, Warn, "you may not impersonate"},
		{"nothing there", apierrors.NewNotFound(quota, "tenant-quota"), Warn, "not checked: nothing to delete its quota"},
		{"an invalid request is not a denial", apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "tenant-vars", nil), Fail, "not checked"},
		{"server error", apierrors.NewInternalError(errors.New("etcd down")), Fail, "not checked"},
	} {
		t.Run("dry run: "+tc.name, func(t *testing.T) {
			row := dryRunRow("foo", "quota-protected", "delete its quota", tc.err, "FIX")
			if row.Result != tc.result || !strings.Contains(row.Detail, tc.detail) {
				t.Errorf("row = %s %q, want %s containing %q", row.Result, row.Detail, tc.result, tc.detail)
			}
		})
	}
	user := "system:serviceaccount:foo:foo"
	for _, tc := range []struct {
		name    string
		allowed bool
		err     error
		result  Result
		detail  string
	}{
		{"allowed", true, nil, Fail, user + " may create ClusterRoleBindings, so FIX"},
		{"denied", false, nil, Pass, user + " may not create ClusterRoleBindings"},
		{"caller may not review", false, apierrors.NewForbidden(schema.GroupResource{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, "", errors.New("no")), Warn, "you may not create SubjectAccessReviews"},
		{"server error", false, apierrors.NewInternalError(errors.New("boom")), Fail, "not checked"},
	} {
		t.Run("review: "+tc.name, func(t *testing.T) {
			row := reviewRow("foo", "no-cluster-role-bindings", user, "create ClusterRoleBindings", tc.allowed, tc.err, "FIX")
			if row.Result != tc.result || !strings.Contains(row.Detail, tc.detail) {
				t.Errorf("row = %s %q, want %s containing %q", row.Result, row.Detail, tc.result, tc.detail)
			}
		})
	}
}

// TestCheckShowsWhyTheOwnSourceCannotFetch: Flux's reason, and the fix.
func TestCheckShowsWhyTheOwnSourceCannotFetch(t *testing.T) {
	src := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "default", "namespace": "acme", "generation": int64(1)},
		"spec":     map[string]any{"url": "ssh://git@git.example/acme", "secretRef": map[string]any{"name": "default-auth"}},
		"status": map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{
			"type": "Ready", "status": "False", "reason": "GitOperationFailed",
			"message": "failed to checkout and determine revision: unable to clone 'ssh://git@git.example/acme': ssh: handshake failed: knownhosts: key mismatch",
		}}},
	}}
	got := tenant.SourceFailure(src)
	want := "GitRepository default cannot fetch: failed to checkout and determine revision: unable to clone 'ssh://git@git.example/acme': ssh: handshake failed: knownhosts: key mismatch " +
		"(the git server's host key is not the one in known_hosts of Secret acme/default-auth: check the server, then give its key with --known-hosts FILE)"
	if got != want {
		t.Errorf("sourceFailure =\n%s\nwant\n%s", got, want)
	}
	unstructured.RemoveNestedField(src.Object, "status")
	if got := tenant.SourceFailure(src); got != "" {
		t.Errorf("a source Flux has not judged yet: %q, want none", got)
	}
}
