package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// results is "CHECK=RESULT" of each row, for compact comparisons.
func results(rows []checkRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Check + "=" + string(r.Result)
	}
	return out
}

func TestClusterRows(t *testing.T) {
	locked := render.LockdownArgs("kustomize-controller")
	good := &bindingSummary{PolicyName: render.GuardrailPolicyName, ValidationActions: []string{"Deny"}}
	for _, tc := range []struct {
		name  string
		facts clusterFacts
		want  []string
		// detail is a fragment the first row's detail must hold.
		detail string
	}{
		{"Flux not installed", clusterFacts{},
			[]string{"lockdown/kustomize-controller=FAIL", "guardrail-policy=FAIL", "guardrail-binding=FAIL"}, "Flux not installed"},
		{"locked down", clusterFacts{deployments: map[string][]string{"kustomize-controller": append([]string{"--log-level=info"}, locked...)}, policy: true, binding: good},
			[]string{"lockdown/kustomize-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=PASS"}, "runs with"},
		{"default install", clusterFacts{deployments: map[string][]string{"kustomize-controller": {"--watch-all-namespaces=true"}}, policy: true, binding: good},
			[]string{"lockdown/kustomize-controller=FAIL", "guardrail-policy=PASS", "guardrail-binding=PASS"},
			`runs without --no-cross-namespace-refs=true --default-service-account=default --no-remote-bases=true; run "kubectl tenant bootstrap --lockdown"`},
		{"a bare boolean flag counts, a later =false undoes it", clusterFacts{deployments: map[string][]string{
			"kustomize-controller": {"--no-cross-namespace-refs", "--default-service-account=default", "--no-remote-bases=true", "--no-remote-bases=false"}}, policy: true, binding: good},
			[]string{"lockdown/kustomize-controller=FAIL", "guardrail-policy=PASS", "guardrail-binding=PASS"}, "runs without --no-remote-bases=true;"},
		{"no manager container", clusterFacts{deployments: map[string][]string{"kustomize-controller": nil}, policy: true, binding: good},
			[]string{"lockdown/kustomize-controller=FAIL", "guardrail-policy=PASS", "guardrail-binding=PASS"}, "no container named manager"},
		{"other controllers only when installed", clusterFacts{deployments: map[string][]string{
			"kustomize-controller": locked, "helm-controller": {"--no-cross-namespace-refs=true"}, "notification-controller": render.LockdownArgs("notification-controller")}, policy: true, binding: good},
			[]string{"lockdown/kustomize-controller=PASS", "lockdown/helm-controller=FAIL", "lockdown/notification-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=PASS"}, ""},
		{"binding that only warns", clusterFacts{deployments: map[string][]string{"kustomize-controller": locked}, policy: true,
			binding: &bindingSummary{PolicyName: render.GuardrailPolicyName, ValidationActions: []string{"Warn", "Audit"}}},
			[]string{"lockdown/kustomize-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=FAIL"}, ""},
		{"binding of another policy", clusterFacts{deployments: map[string][]string{"kustomize-controller": locked}, policy: true,
			binding: &bindingSummary{PolicyName: "other", ValidationActions: []string{"Deny"}}},
			[]string{"lockdown/kustomize-controller=PASS", "guardrail-policy=PASS", "guardrail-binding=FAIL"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := clusterRows(tc.facts)
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
				if r.Result != checkPass && !strings.Contains(r.Detail, "kubectl tenant bootstrap --lockdown") {
					t.Errorf("%s row %s names no fix: %q", r.Result, r.Check, r.Detail)
				}
			}
		})
	}
}

func TestTenantRows(t *testing.T) {
	unconfined := &tenantFacts{namespace: "foo", name: "sometenant", kustomization: &kustomizationSummary{}, roleRef: &rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}}
	unconfined.kustomization.Spec.SourceRef.Kind, unconfined.kustomization.Spec.SourceRef.Name, unconfined.kustomization.Spec.SourceRef.Namespace = "GitRepository", "default", "flux-system"
	confined := &tenantFacts{namespace: "bar", name: "other", kustomization: &kustomizationSummary{}, roleRef: &rbacv1.RoleRef{Kind: "ClusterRole", Name: "admin"},
		quota: true, limitRange: true, networkPolicy: true}
	confined.kustomization.Spec.ServiceAccountName = "bar"
	confined.kustomization.Spec.SourceRef.Kind, confined.kustomization.Spec.SourceRef.Name = "GitRepository", "default"
	for _, tc := range []struct {
		name  string
		facts *tenantFacts
		want  []string
	}{
		{"unconfined", unconfined, []string{"service-account=FAIL", "source=FAIL", "role=FAIL", "quota=WARN", "limit-range=WARN", "network-policy=WARN"}},
		{"confined", confined, []string{"service-account=PASS", "source=PASS", "role=PASS", "quota=PASS", "limit-range=PASS", "network-policy=PASS"}},
		{"no Kustomization, no RoleBinding", &tenantFacts{namespace: "baz", name: "t"}, []string{"kustomization=FAIL", "role=WARN", "quota=WARN", "limit-range=WARN", "network-policy=WARN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := tenantRows(tc.facts, "dummy")
			if got := results(rows); !slices.Equal(got, tc.want) {
				t.Errorf("rows = %q, want %q", got, tc.want)
			}
			for _, r := range rows {
				if r.Scope != tc.facts.namespace {
					t.Errorf("row %s has scope %q, want %q", r.Check, r.Scope, tc.facts.namespace)
				}
				if r.Result != checkPass && !strings.Contains(r.Detail, fmt.Sprintf(`run "kubectl tenant add %s %s --confine`, tc.facts.namespace, tc.facts.name)) {
					t.Errorf("%s row %s names no fix: %q", r.Result, r.Check, r.Detail)
				}
			}
		})
	}
	rows := tenantRows(unconfined, "dummy")
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
		result checkResult
		detail string
	}{
		{"the dry run would succeed", nil, checkFail, "the tenant can delete its quota: FIX"},
		{"denied by the policy", policyDenial, checkPass, "denied by the guardrail policy"},
		{"422 from a policy", invalidByPolicy, checkPass, "denied by the guardrail policy"},
		{"forbidden by RBAC", apierrors.NewForbidden(quota, "tenant-quota", errors.New(`User "system:serviceaccount:foo:foo" cannot delete resource "resourcequotas"`)), checkPass, "forbidden by RBAC"},
		{"caller may not impersonate", impersonation, checkWarn, "you may not impersonate"},
		{"nothing there", apierrors.NewNotFound(quota, "tenant-quota"), checkWarn, "not checked: nothing to delete its quota"},
		{"an invalid request is not a denial", apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "tenant-vars", nil), checkFail, "not checked"},
		{"server error", apierrors.NewInternalError(errors.New("etcd down")), checkFail, "not checked"},
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
		result  checkResult
		detail  string
	}{
		{"allowed", true, nil, checkFail, user + " may create ClusterRoleBindings, so FIX"},
		{"denied", false, nil, checkPass, user + " may not create ClusterRoleBindings"},
		{"caller may not review", false, apierrors.NewForbidden(schema.GroupResource{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, "", errors.New("no")), checkWarn, "you may not create SubjectAccessReviews"},
		{"server error", false, apierrors.NewInternalError(errors.New("boom")), checkFail, "not checked"},
	} {
		t.Run("review: "+tc.name, func(t *testing.T) {
			row := reviewRow("foo", "no-cluster-role-bindings", user, "create ClusterRoleBindings", tc.allowed, tc.err, "FIX")
			if row.Result != tc.result || !strings.Contains(row.Detail, tc.detail) {
				t.Errorf("row = %s %q, want %s containing %q", row.Result, row.Detail, tc.result, tc.detail)
			}
		})
	}
}

func TestCheckErrorAndReport(t *testing.T) {
	rows := []checkRow{
		{Scope: "cluster", Check: "guardrail-policy", Result: checkPass, Detail: "ok"},
		{Scope: "foo", Check: "role", Result: checkFail, Detail: "cluster-admin"},
		{Scope: "foo", Check: "quota", Result: checkWarn, Detail: "none"},
		{Scope: "bar", Check: "role", Result: checkPass, Detail: "admin"},
	}
	err := checkError(rows)
	if err == nil || err.Error() != "check: 1 of 4 checks failed (the FAIL rows say what to run)" || !IsCheckFailed(err) {
		t.Errorf("checkError = %v", err)
	}
	if IsCheckFailed(errors.New("check: 1 of 4 checks failed")) {
		t.Error("IsCheckFailed believes any error with the same text")
	}
	if err := checkError(rows[2:]); err != nil {
		t.Errorf("WARN alone is an error: %v", err)
	}

	data, err := json.Marshal(checkReport(rows).Object)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"kubectl-tenant.io/v1alpha1","cluster":[{"check":"guardrail-policy","detail":"ok","result":"PASS"}],"kind":"CheckReport",` +
		`"summary":{"fail":1,"pass":2,"total":4,"warn":1},"tenants":[{"checks":[{"check":"role","detail":"cluster-admin","result":"FAIL"},` +
		`{"check":"quota","detail":"none","result":"WARN"}],"namespace":"foo"},{"checks":[{"check":"role","detail":"admin","result":"PASS"}],"namespace":"bar"}]}`
	if string(data) != want {
		t.Errorf("report =\n%s\nwant\n%s", data, want)
	}
}

// fakeCheckServer answers check's requests for two tenants: foo, confined
// (its quota delete is denied by the guardrail policy, its tenant-vars
// patch by RBAC) and bar, unconfined (bound cluster-admin, no quota, and
// its tenant-vars patch would succeed). It fails the test on any write that
// is not a dry run, and records the identity each write was made as.
func fakeCheckServer(t *testing.T) (kubeconfig string, writes func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	metaList := func(items ...string) string {
		return `{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`
	}
	item := func(ns, name string, labels string) string {
		return fmt.Sprintf(`{"metadata":{"name":%q,"namespace":%q,"labels":{%s}}}`, name, ns, labels)
	}
	tenantLabel := fmt.Sprintf(`%q:"t"`, render.DefaultTenantLabelKey)
	get := map[string]string{
		"/api/v1/namespaces": metaList(item("", "foo", tenantLabel), item("", "bar", tenantLabel)),
		"/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations": `{"kind":"KustomizationList","metadata":{},"items":[
			{"metadata":{"name":"dummy","namespace":"foo"},"spec":{"serviceAccountName":"foo","sourceRef":{"kind":"GitRepository","name":"default"}}},
			{"metadata":{"name":"dummy","namespace":"bar"},"spec":{"sourceRef":{"kind":"GitRepository","name":"default","namespace":"flux-system"}}}]}`,
		"/apis/rbac.authorization.k8s.io/v1/rolebindings": `{"kind":"RoleBindingList","metadata":{},"items":[
			{"metadata":{"name":"foo-reconciler","namespace":"foo"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"admin"}},
			{"metadata":{"name":"bar-reconciler","namespace":"bar"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}},
			{"metadata":{"name":"other","namespace":"bar"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}]}`,
		"/api/v1/resourcequotas":                     metaList(item("foo", render.QuotaName, "")),
		"/api/v1/limitranges":                        metaList(item("foo", render.LimitRangeName, "")),
		"/apis/networking.k8s.io/v1/networkpolicies": metaList(item("foo", render.NetworkPolicyName, "")),
		"/apis/apps/v1/namespaces/flux-system/deployments": `{"kind":"DeploymentList","apiVersion":"apps/v1","metadata":{},"items":[
			{"metadata":{"name":"kustomize-controller","namespace":"flux-system"},"spec":{"selector":{},"template":{"spec":{"containers":[{"name":"manager","args":
			["--watch-all-namespaces=true","--no-cross-namespace-refs=true","--default-service-account=default","--no-remote-bases=true"]}]}}}},
			{"metadata":{"name":"source-controller","namespace":"flux-system"},"spec":{"selector":{},"template":{"spec":{"containers":[{"name":"manager"}]}}}}]}`,
		"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/" + render.GuardrailPolicyName: `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"` + render.GuardrailPolicyName + `"}}`,
		"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/" + render.GuardrailPolicyName: `{"kind":"ValidatingAdmissionPolicyBinding","apiVersion":"admissionregistration.k8s.io/v1",
			"metadata":{"name":"` + render.GuardrailPolicyName + `"},"spec":{"policyName":"` + render.GuardrailPolicyName + `","validationActions":["Deny"]}}`,
	}
	status := func(w http.ResponseWriter, code int, reason, message string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":%q,"code":%d}`, message, reason, code)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			path := r.URL.Path
			if path == "/api/v1/namespaces/foo" {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"foo","labels":{`+tenantLabel+`}}}`)
				return
			}
			// A check of foo alone lists in foo only: the same answers,
			// with the other tenant's items ignored by check.
			if scoped := strings.Replace(path, "/namespaces/foo/", "/", 1); scoped != path {
				mu.Lock()
				seen = append(seen, "GET "+path)
				mu.Unlock()
				path = scoped
			}
			body, ok := get[path]
			if !ok {
				status(w, http.StatusNotFound, "NotFound", r.URL.Path+" not found")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		case http.MethodPost:
			if r.URL.Path != "/apis/authorization.k8s.io/v1/subjectaccessreviews" || r.Header.Get("Impersonate-User") != "" {
				t.Errorf("unexpected create %s as %q", r.URL.Path, r.Header.Get("Impersonate-User"))
			}
			var review struct {
				Spec struct {
					User               string            `json:"user"`
					ResourceAttributes map[string]string `json:"resourceAttributes"`
				} `json:"spec"`
			}
			_ = json.NewDecoder(r.Body).Decode(&review)
			// bar's ServiceAccount may write ConfigMaps anywhere.
			allowed := review.Spec.User == "system:serviceaccount:bar:bar" && review.Spec.ResourceAttributes["resource"] == "configmaps"
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"kind":"SubjectAccessReview","apiVersion":"authorization.k8s.io/v1","status":{"allowed":%t}}`, allowed)
		default:
			// A delete carries its options in the body, a patch in the query.
			body, _ := io.ReadAll(r.Body)
			dryRun := r.URL.Query().Get("dryRun") == "All"
			if r.Method == http.MethodDelete {
				var opts struct{ DryRun []string }
				dryRun = json.Unmarshal(body, &opts) == nil && slices.Equal(opts.DryRun, []string{"All"})
			}
			if !dryRun {
				t.Errorf("%s %s is not a dry run (body %s)", r.Method, r.URL, body)
			}
			as := r.Header.Get("Impersonate-User")
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s %s as %s groups %s", r.Method, r.URL.Path, as, strings.Join(r.Header.Values("Impersonate-Group"), ",")))
			mu.Unlock()
			switch {
			case r.Method == http.MethodDelete && as == "system:serviceaccount:foo:foo":
				status(w, http.StatusForbidden, "Forbidden", `resourcequotas "tenant-quota" is forbidden: ValidatingAdmissionPolicy 'kubectl-tenant-guardrails' with binding 'kubectl-tenant-guardrails' denied request: kubectl-tenant guardrail`)
			case r.Method == http.MethodPatch && as == "system:serviceaccount:foo:foo":
				status(w, http.StatusForbidden, "Forbidden", `configmaps "tenant-vars" is forbidden: User "system:serviceaccount:foo:foo" cannot patch resource "configmaps"`)
			case r.Method == http.MethodPatch:
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"tenant-vars","namespace":"bar"}}`)
			default:
				status(w, http.StatusInternalServerError, "InternalError", "unexpected")
			}
		}
	}))
	t.Cleanup(srv.Close)
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n", srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(seen)
		slices.Sort(out)
		return out
	}
}

// TestCheckCommand runs check against fakeCheckServer: the table comes
// first, then the one-line error that makes main exit 1; and the writes
// are dry runs made as each tenant's ServiceAccount.
func TestCheckCommand(t *testing.T) {
	kubeconfig, writes := fakeCheckServer(t)
	out, stderr, err := runTenant(t, "check", "--kubeconfig", kubeconfig)
	if !IsCheckFailed(err) || !strings.HasPrefix(err.Error(), "check: 5 of 23 checks failed") {
		t.Fatalf("err = %v, want 5 of 23 checks failed; stdout:\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got []string
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		got = append(got, f[0]+" "+f[1]+" "+f[2])
	}
	want := []string{
		"cluster lockdown/kustomize-controller PASS", "cluster guardrail-policy PASS", "cluster guardrail-binding PASS",
		"foo service-account PASS", "foo source PASS", "foo role PASS", "foo quota PASS", "foo limit-range PASS", "foo network-policy PASS",
		"foo no-cluster-role-bindings PASS", "foo no-writes-elsewhere PASS", "foo quota-protected PASS", "foo tenant-vars-protected PASS",
		"bar service-account FAIL", "bar source FAIL", "bar role FAIL", "bar quota WARN", "bar limit-range WARN", "bar network-policy WARN",
		"bar no-cluster-role-bindings PASS", "bar no-writes-elsewhere FAIL", "bar quota-protected WARN", "bar tenant-vars-protected FAIL",
	}
	if !strings.HasPrefix(lines[0], "SCOPE") || !slices.Equal(got, want) {
		t.Errorf("table rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "may create ConfigMaps in namespace foo") {
		t.Errorf("bar's cross-tenant probe does not name foo:\n%s", out)
	}
	if !strings.Contains(stderr, "23 checks: 14 PASS, 4 WARN, 5 FAIL") {
		t.Errorf("stderr = %q, want the summary", stderr)
	}
	wantWrites := []string{
		"DELETE /api/v1/namespaces/foo/resourcequotas/tenant-quota as system:serviceaccount:foo:foo groups system:serviceaccounts,system:serviceaccounts:foo,system:authenticated",
		"PATCH /api/v1/namespaces/bar/configmaps/tenant-vars as system:serviceaccount:bar:bar groups system:serviceaccounts,system:serviceaccounts:bar,system:authenticated",
		"PATCH /api/v1/namespaces/foo/configmaps/tenant-vars as system:serviceaccount:foo:foo groups system:serviceaccounts,system:serviceaccounts:foo,system:authenticated",
	}
	if got := writes(); !slices.Equal(got, wantWrites) {
		t.Errorf("writes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantWrites, "\n"))
	}

	out, stderr, err = runTenant(t, "check", "foo", "-o", "json", "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatalf("check foo: %v", err)
	}
	if stderr != "" {
		t.Errorf("-o json wrote to stderr: %q", stderr)
	}
	var report struct {
		APIVersion, Kind string
		Summary          map[string]int
		Cluster          []map[string]string
		Tenants          []struct {
			Namespace string
			Checks    []map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("-o json is not one JSON object: %v\n%s", err, out)
	}
	if report.APIVersion != "kubectl-tenant.io/v1alpha1" || report.Kind != "CheckReport" || len(report.Cluster) != 3 ||
		len(report.Tenants) != 1 || report.Tenants[0].Namespace != "foo" || len(report.Tenants[0].Checks) != 10 ||
		report.Summary["total"] != 13 || report.Summary["pass"] != 13 {
		t.Errorf("report = %+v", report)
	}
	out, _, err = runTenant(t, "check", "foo", "-o", "yaml", "--kubeconfig", kubeconfig)
	if err != nil || !strings.HasPrefix(out, "apiVersion: kubectl-tenant.io/v1alpha1\n") || !strings.Contains(out, "kind: CheckReport\n") {
		t.Errorf("-o yaml: %v\n%s", err, out)
	}
	scoped := strings.Join(writes(), "\n")
	for _, want := range []string{"GET /api/v1/namespaces/foo/resourcequotas", "GET /apis/kustomize.toolkit.fluxcd.io/v1/namespaces/foo/kustomizations", "GET /apis/rbac.authorization.k8s.io/v1/namespaces/foo/rolebindings"} {
		if !strings.Contains(scoped, want) {
			t.Errorf("a check of one tenant made no %s:\n%s", want, scoped)
		}
	}
}
