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

	"github.com/kubectl-tenant/kubectl-tenant/pkg/posture"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

func TestCheckErrorAndReport(t *testing.T) {
	rows := []posture.Row{
		{Scope: "cluster", Check: "guardrail-policy", Result: posture.Pass, Detail: "ok"},
		{Scope: "foo", Check: "role", Result: posture.Fail, Detail: "cluster-admin"},
		{Scope: "foo", Check: "quota", Result: posture.Warn, Detail: "none"},
		{Scope: "bar", Check: "role", Result: posture.Pass, Detail: "admin"},
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

// fakeCheckServer answers check's requests for two namespaces of tenant t,
// on a cluster locked down: foo, confined (its quota delete is denied by
// the guardrail policy, its tenant-vars patch by RBAC), with an owner and
// a tenant-policy, and bar, unconfined (bound cluster-admin, no quota, and
// its tenant-vars patch would succeed), without foo's owner or
// tenant-policy. It fails the test on any write that
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
	// kubectl tenant wrote the tenant label of both: they are tenant t's
	// members, which --tenant-name t selects.
	member := func(name string) string {
		return fmt.Sprintf(`{"metadata":{"name":%q,"labels":{%s},"managedFields":[{"manager":%q,"operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:%s":{}}}}}]}}`,
			name, tenantLabel, tenant.FieldManager, render.DefaultTenantLabelKey)
	}
	get := map[string]string{
		"/api/v1/namespaces": metaList(member("foo"), member("bar")),
		"/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations": `{"kind":"KustomizationList","metadata":{},"items":[
			{"metadata":{"name":"dummy","namespace":"foo"},"spec":{"serviceAccountName":"foo","sourceRef":{"kind":"GitRepository","name":"default"}}},
			{"metadata":{"name":"dummy","namespace":"bar"},"spec":{"sourceRef":{"kind":"GitRepository","name":"default","namespace":"flux-system"}}}]}`,
		"/apis/rbac.authorization.k8s.io/v1/rolebindings": `{"kind":"RoleBindingList","metadata":{},"items":[
			{"metadata":{"name":"foo-reconciler","namespace":"foo"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"admin"}},
			{"metadata":{"name":"bar-reconciler","namespace":"bar"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}},
			{"metadata":{"name":"other","namespace":"bar"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}},
			{"metadata":{"name":"tenant-owners-edit","namespace":"foo"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},
			 "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"payments"}]}]}`,
		// What the tenant model reads besides: each tenant's ServiceAccount
		// and tenant-vars, and foo's own source.
		"/api/v1/serviceaccounts": `{"kind":"ServiceAccountList","apiVersion":"v1","metadata":{},"items":[
			{"metadata":{"name":"foo","namespace":"foo","labels":{"` + render.FluxTenantLabelKey + `":"foo"}}},
			{"metadata":{"name":"bar","namespace":"bar","labels":{"` + render.FluxTenantLabelKey + `":"bar"}}}]}`,
		"/api/v1/configmaps": `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[
			{"metadata":{"name":"tenant-vars","namespace":"foo"}},{"metadata":{"name":"tenant-vars","namespace":"bar"}},
			{"metadata":{"name":"tenant-policy","namespace":"foo"},"data":{"groups":"payments","allowedSources":"https://git.example.com/foo/","protected":"configmaps/tenant-policy"}}]}`,
		"/apis/source.toolkit.fluxcd.io/v1/gitrepositories": `{"kind":"GitRepositoryList","apiVersion":"source.toolkit.fluxcd.io/v1","metadata":{},"items":[
			{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository","metadata":{"name":"default","namespace":"foo","labels":{"` + render.ManagedByLabelKey + `":"` + render.ManagedByValue + `"}}}]}`,
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
		"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/" + render.OwnersPolicyName: `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"` + render.OwnersPolicyName + `"}}`,
		"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/" + render.OwnersPolicyName: `{"kind":"ValidatingAdmissionPolicyBinding","apiVersion":"admissionregistration.k8s.io/v1",
			"metadata":{"name":"` + render.OwnersPolicyName + `"},"spec":{"policyName":"` + render.OwnersPolicyName + `","validationActions":["Deny"],
			"paramRef":{"name":"tenant-policy","parameterNotFoundAction":"Allow"}}}`,
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
	if !IsCheckFailed(err) || !strings.HasPrefix(err.Error(), "check: 7 of 33 checks failed") {
		t.Fatalf("err = %v, want 7 of 33 checks failed; stdout:\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got []string
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		got = append(got, f[0]+" "+f[1]+" "+f[2])
	}
	want := []string{
		"cluster lockdown/kustomize-controller PASS", "cluster guardrail-policy PASS", "cluster guardrail-binding PASS", "cluster owners-policy PASS", "cluster owners-binding PASS",
		"foo service-account PASS", "foo source PASS", "foo role PASS", "foo quota PASS", "foo limit-range PASS", "foo network-policy PASS",
		"foo namespaces PASS", "foo owners PASS", "foo allowed-sources PASS", "foo tenant-policy PASS",
		"foo no-cluster-role-bindings PASS", "foo no-writes-elsewhere PASS", "foo quota-protected PASS", "foo tenant-vars-protected PASS",
		"bar service-account FAIL", "bar source FAIL", "bar role FAIL", "bar quota WARN", "bar limit-range WARN", "bar network-policy WARN",
		"bar namespaces PASS", "bar owners FAIL", "bar allowed-sources PASS", "bar tenant-policy FAIL",
		"bar no-cluster-role-bindings PASS", "bar no-writes-elsewhere FAIL", "bar quota-protected WARN", "bar tenant-vars-protected FAIL",
	}
	if !strings.HasPrefix(lines[0], "SCOPE") || !slices.Equal(got, want) {
		t.Errorf("table rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "may create ConfigMaps in namespace foo") {
		t.Errorf("bar's cross-tenant probe does not name foo:\n%s", out)
	}
	for _, want := range []string{
		"tenant t: 2 namespaces selected (bar, foo)",
		"owners Group:payments=edit",
		"sources may fetch only from URLs under https://git.example.com/foo/",
		`lacks 1 owner Group:payments=edit (in foo), bound in other namespaces of tenant t; run "kubectl tenant add --tenant-name t --tenant-namespace bar --owner Group:payments=edit --allow-source https://git.example.com/foo/" with the tenant's other flags`,
		"no ConfigMap tenant-policy, which namespace foo of tenant t has",
		"ValidatingAdmissionPolicyBinding kubectl-tenant-owners-and-sources denies what the policy refuses, with each tenant namespace's ConfigMap tenant-policy as parameters",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table does not say %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "33 checks: 22 PASS, 4 WARN, 7 FAIL") {
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
	if report.APIVersion != "kubectl-tenant.io/v1alpha1" || report.Kind != "CheckReport" || len(report.Cluster) != 5 ||
		len(report.Tenants) != 1 || report.Tenants[0].Namespace != "foo" || len(report.Tenants[0].Checks) != 14 ||
		report.Summary["total"] != 19 || report.Summary["pass"] != 19 {
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

// TestCheckAndDescribeAgree: describe shows, for each tenant, the rows
// check prints before its probes (which describe does not make), and the
// cluster's rows, read from the same cluster.
func TestCheckAndDescribeAgree(t *testing.T) {
	kubeconfig, _ := fakeCheckServer(t)
	out, _, err := runTenant(t, "check", "-o", "json", "--kubeconfig", kubeconfig)
	if !IsCheckFailed(err) {
		t.Fatalf("check: %v", err)
	}
	var report struct {
		Cluster []map[string]string
		Tenants []struct {
			Namespace string
			Checks    []map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatal(err)
	}
	probes := []string{"no-cluster-role-bindings", "no-writes-elsewhere", "quota-protected", "tenant-vars-protected"}
	want := map[string][]string{}
	for _, tenant := range report.Tenants {
		for _, row := range tenant.Checks {
			if !slices.Contains(probes, row["check"]) {
				want[tenant.Namespace] = append(want[tenant.Namespace], tenant.Namespace+" "+row["check"]+" "+row["result"]+" "+row["detail"])
			}
		}
		for _, row := range report.Cluster {
			want[tenant.Namespace] = append(want[tenant.Namespace], "cluster "+row["check"]+" "+row["result"]+" "+row["detail"])
		}
	}
	out, _, err = runTenant(t, "describe", "--all", "-o", "json", "--events", "0", "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	var list struct{ Items []TenantDescription }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != len(want) || len(want) != 2 {
		t.Fatalf("describe described %d tenants, check checked %d; want 2 each", len(list.Items), len(want))
	}
	for _, d := range list.Items {
		var got []string
		for _, c := range d.Confinement.Checks {
			got = append(got, c.Scope+" "+c.Check+" "+c.Result+" "+c.Detail)
		}
		if !slices.Equal(got, want[d.Namespace]) {
			t.Errorf("%s: describe's checks\n%s\nwant check's\n%s", d.Namespace, strings.Join(got, "\n"), strings.Join(want[d.Namespace], "\n"))
		}
	}
}
