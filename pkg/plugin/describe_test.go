package plugin

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/internal/golden"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/posture"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

var describeNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(describeNow.Add(-d)) }

// sampleTeam is tenant sometenant's two namespaces as check reads them:
// foo binds one owner and has no tenant-policy; foo-prod, confined,
// binds two and allows sources from two prefixes.
func sampleTeam() (foo, prod *posture.TenantFacts) {
	alice := render.Owner{Kind: "User", Name: "alice@example.com", Role: "admin"}
	foo = &posture.TenantFacts{Namespace: "foo", Name: "sometenant", RoleRef: &rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}, Member: true, Owners: []render.Owner{alice}}
	foo.Kustomization = &tenant.KustomizationSummary{}
	foo.Kustomization.Spec.SourceRef.Kind, foo.Kustomization.Spec.SourceRef.Name, foo.Kustomization.Spec.SourceRef.Namespace = "GitRepository", "default", "flux-system"
	prod = &posture.TenantFacts{Namespace: "foo-prod", Name: "sometenant", RoleRef: &rbacv1.RoleRef{Kind: "ClusterRole", Name: "admin"}, Member: true,
		Owners: []render.Owner{alice, {Kind: "Group", Name: "payments", Role: "view"}}, Policy: true, AllowedSources: []string{"https://github.com/acme/", "oci://ghcr.io/acme/"}}
	prod.Kustomization = &tenant.KustomizationSummary{}
	prod.Kustomization.Spec.ServiceAccountName = "foo-prod"
	prod.Kustomization.Spec.SourceRef.Kind, prod.Kustomization.Spec.SourceRef.Name = "GitRepository", "foo-prod"
	posture.GroupTeams([]*posture.TenantFacts{prod, foo})
	return foo, prod
}

// sampleDescription is a failing, unconfined tenant as describe reads it.
func sampleDescription() *TenantDescription {
	facts, _ := sampleTeam()
	cluster := posture.ClusterRows(posture.ClusterFacts{Deployments: map[string][]string{"kustomize-controller": {"--watch-all-namespaces=true"}}})
	return &TenantDescription{
		APIVersion: CheckReportAPIVersion, Kind: TenantDescriptionKind,
		Tenant: "sometenant", Namespace: "foo", Phase: "Active", Created: ago(2 * time.Hour), Team: describeTeam(facts),
		Objects: []DescribedObject{
			{Kind: "Namespace", Name: "foo", Present: true, Managed: true, Managers: []string{"kubectl-tenant"}},
			{Kind: "ConfigMap", Name: "tenant-vars", Present: true, Managed: true, Managers: []string{"kubectl-tenant", "kubectl-edit"}},
			{Kind: "ServiceAccount", Name: "foo", Present: true, Managed: true, Managers: []string{"kubectl-tenant"}},
			{Kind: "RoleBinding", Name: "foo-reconciler", Present: true, Managed: true, Managers: []string{"kubectl-tenant"}},
			{Kind: "Kustomization", Name: "dummy", Present: true, Managed: true, Managers: []string{"kubectl-tenant", "kustomize-controller"}},
		},
		Kustomization: &DescribedKustomization{
			Name: "dummy", Interval: "5m", Path: "./does-not-exist", SourceRef: "GitRepository/default.flux-system",
			LastAttemptedRevision: "main@sha1:69e321ac", Inventory: 0,
			Conditions: []DescribedCondition{
				{Type: "Ready", Status: "False", Reason: "ArtifactFailed", Message: "kustomization path not found:\nstat /tmp/kustomization/does-not-exist: no such file or directory", LastTransitionTime: ago(3 * time.Minute)},
				{Type: "Stalled", Status: "True", Reason: "ArtifactFailed", Message: "kustomization path not found", LastTransitionTime: ago(3 * time.Minute)},
			},
		},
		Source: &DescribedSource{Kind: "GitRepository", Name: "default", Namespace: "flux-system", Present: true,
			URL: "http://127.0.0.1:40123/kustomizations.git", Revision: "main@sha1:69e321ac", Ready: "True", Message: "stored artifact for revision 'main@sha1:69e321ac'"},
		Variables: []DescribedVariable{
			{Name: "PER_TENANT_SUBST", Value: `This tenant name is "sometenant"`, From: "ConfigMap/tenant-vars"},
			{Name: "SUBST_LITERAL", Value: "sometenant", From: "Kustomization/dummy"},
		},
		HandEdits:     []tenant.HandEdit{{Object: "ConfigMap tenant-vars", Field: "data.REGION", Manager: "kubectl-edit", Time: "2026-11-27T11:00:00Z", Setting: true}},
		Inexpressible: []string{"RoleBinding foo-reconciler: binds Role custom; add binds a ClusterRole"},
		Confinement:   describeConfinement(facts, "dummy", cluster),
		Events: []DescribedEvent{
			{Type: "Warning", Reason: "ArtifactFailed", Object: "Kustomization/dummy", From: "kustomize-controller", Message: "kustomization path not found", Count: 4, First: ago(3 * time.Minute), Last: ago(30 * time.Second)},
		},
	}
}

func TestPrintDescriptionGolden(t *testing.T) {
	var out bytes.Buffer
	if err := printDescription(&out, sampleDescription(), describeNow); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "describe-failing.txt", out.Bytes())

	// A tenant without its Kustomization still describes: no source, no
	// conditions, and the Kustomization row says it is absent.
	bare := sampleDescription()
	bare.Kustomization, bare.Source, bare.Events, bare.Variables, bare.HandEdits, bare.Inexpressible = nil, nil, nil, nil, nil, nil
	bare.Objects[4] = DescribedObject{Kind: "Kustomization", Name: "dummy"}
	alone := &posture.TenantFacts{Namespace: "foo", Name: "sometenant", Quota: true}
	bare.Team, bare.Confinement = describeTeam(alone), describeConfinement(alone, "dummy", nil)
	out.Reset()
	if err := printDescription(&out, bare, describeNow); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "describe-no-kustomization.txt", out.Bytes())

	// The team's other namespace: its owners, and the prefixes its sources
	// may fetch from.
	_, prod := sampleTeam()
	member := sampleDescription()
	member.Namespace, member.Team = "foo-prod", describeTeam(prod)
	member.Confinement = describeConfinement(prod, "dummy", nil)
	out.Reset()
	if err := printDescription(&out, member, describeNow); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "describe-team-member.txt", out.Bytes())
}

// TestDescribeTeam: describe --tenant-name shows every namespace of the
// tenant, and each namespace's own owners and allowed sources, as check
// reads them from fakeCheckServer.
func TestDescribeTeam(t *testing.T) {
	kubeconfig, _ := fakeCheckServer(t)
	out, _, err := runTenant(t, "describe", "--tenant-name", "t", "-o", "json", "--events", "0", "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	var list struct{ Items []TenantDescription }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	want := map[string]DescribedTeam{
		"foo": {Namespaces: []string{"bar", "foo"}, Owners: []render.Owner{{Kind: "Group", Name: "payments", Role: "edit"}}, AllowedSources: []string{"https://git.example.com/foo/"}},
		"bar": {Namespaces: []string{"bar", "foo"}, Owners: []render.Owner{}, AllowedSources: []string{}, AnySource: true},
	}
	if len(list.Items) != 2 {
		t.Fatalf("described %d namespaces, want foo and bar", len(list.Items))
	}
	for _, d := range list.Items {
		got, _ := json.Marshal(d.Team)
		wanted, _ := json.Marshal(want[d.Namespace])
		if !bytes.Equal(got, wanted) {
			t.Errorf("%s: team %s, want %s", d.Namespace, got, wanted)
		}
	}
	out, _, err = runTenant(t, "describe", "--tenant-name", "t", "--events", "0", "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	for _, want := range []string{"Tenant Namespaces:  bar, foo\n", "Allowed Sources:    https://git.example.com/foo/\n", "Allowed Sources:    any\n", "  Group  payments  edit\n", "Owners:             <none>\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe's text does not say %q:\n%s", want, out)
		}
	}
}

// TestDescribePrintsTheSameFacts: -o json is the struct the text is
// rendered from, one object for one tenant and a List for several.
func TestDescribePrintsTheSameFacts(t *testing.T) {
	for _, tc := range []struct {
		format string
		n      int
	}{{"json", 1}, {"json", 2}, {"yaml", 1}} {
		var out bytes.Buffer
		o := &DescribeOptions{outputFlags: &outputFlags{print: newTableOutputFlags().print}, IOStreams: genericiooptions.IOStreams{Out: &out}}
		o.outputFlags.print.OutputFormat = &tc.format
		var err error
		if o.output, err = o.outputFlags.toOutput(tenant.DryRunNone); err != nil {
			t.Fatal(err)
		}
		descriptions := slices.Repeat([]*TenantDescription{sampleDescription()}, tc.n)
		if err := o.print(descriptions, describeNow); err != nil {
			t.Fatal(err)
		}
		if tc.format == "yaml" {
			if !strings.HasPrefix(out.String(), "apiVersion: kubectl-tenant.io/v1alpha1\n") || !strings.Contains(out.String(), "kind: TenantDescription\n") {
				t.Errorf("-o yaml:\n%s", out.String())
			}
			continue
		}
		var got TenantDescription
		if tc.n > 1 {
			var list struct {
				Kind  string
				Items []TenantDescription
			}
			if err := json.Unmarshal(out.Bytes(), &list); err != nil || list.Kind != "List" || len(list.Items) != tc.n {
				t.Fatalf("-o json of %d tenants: %v\n%s", tc.n, err, out.String())
			}
			got = list.Items[0]
		} else if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("-o json: %v\n%s", err, out.String())
		}
		want := sampleDescription()
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("-o json does not carry the described facts:\n%s", diff.Diff(string(wantJSON), string(gotJSON)))
		}
	}
}

func TestLastEventsOrdersAndTruncates(t *testing.T) {
	ev := func(reason string, first, last time.Duration) DescribedEvent {
		return DescribedEvent{Reason: reason, First: ago(first), Last: ago(last)}
	}
	events := []DescribedEvent{
		ev("newest", 10*time.Minute, time.Second), // old, but seen again last
		ev("oldest", 20*time.Minute, 20*time.Minute),
		ev("middle", 5*time.Minute, 5*time.Minute),
		ev("tie-later-first", 3*time.Minute, 2*time.Minute),
		ev("tie-earlier-first", 4*time.Minute, 2*time.Minute),
	}
	reasons := func(events []DescribedEvent) []string {
		var out []string
		for _, e := range events {
			out = append(out, e.Reason)
		}
		return out
	}
	if got, want := reasons(lastEvents(events, 10)), []string{"oldest", "middle", "tie-earlier-first", "tie-later-first", "newest"}; !slices.Equal(got, want) {
		t.Errorf("lastEvents(10) = %v, want %v", got, want)
	}
	if got, want := reasons(lastEvents(events, 2)), []string{"tie-later-first", "newest"}; !slices.Equal(got, want) {
		t.Errorf("lastEvents(2) = %v, want the newest two, newest last: %v", got, want)
	}
	if got := lastEvents(events, 0); len(got) != 0 {
		t.Errorf("lastEvents(0) = %v", got)
	}
	if events[0].Reason != "newest" {
		t.Errorf("lastEvents reordered its argument")
	}
}

func TestDescribeEventReadsBothEventAPIs(t *testing.T) {
	core := unstructuredEvent(t, map[string]any{
		"involvedObject": map[string]any{"kind": "Kustomization", "name": "dummy"},
		"type":           "Warning", "reason": "BuildFailed", "message": "  oops\n",
		"count": int64(3), "firstTimestamp": "2026-11-27T11:50:00Z", "lastTimestamp": "2026-11-27T11:59:00Z",
		"source": map[string]any{"component": "kustomize-controller"},
	})
	got := describeEvent(core)
	if got.Object != "Kustomization/dummy" || got.From != "kustomize-controller" || got.Message != "oops" || got.Count != 3 ||
		!got.First.Equal(&metav1.Time{Time: describeNow.Add(-10 * time.Minute)}) || !got.Last.Equal(&metav1.Time{Time: describeNow.Add(-time.Minute)}) {
		t.Errorf("core/v1 event: %+v", got)
	}
	series := unstructuredEvent(t, map[string]any{
		"involvedObject":     map[string]any{"kind": "Namespace", "name": "foo"},
		"type":               "Normal",
		"reason":             "Seen",
		"eventTime":          "2026-11-27T11:40:00.000000Z",
		"series":             map[string]any{"count": int64(7), "lastObservedTime": "2026-11-27T11:58:00.000000Z"},
		"reportingComponent": "someone",
	})
	got = describeEvent(series)
	if got.From != "someone" || got.Count != 7 || !got.First.Equal(&metav1.Time{Time: describeNow.Add(-20 * time.Minute)}) ||
		!got.Last.Equal(&metav1.Time{Time: describeNow.Add(-2 * time.Minute)}) {
		t.Errorf("events.k8s.io event: %+v", got)
	}
}

func TestDescribeObjectManagers(t *testing.T) {
	obj := &unstructured.Unstructured{}
	spec := &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:path":{}}}`)}
	obj.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: "kustomize-controller", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: spec},
		{Manager: "kustomize-controller", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", FieldsV1: spec},
		{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: spec},
	})
	if got := describeObject("Kustomization", "dummy", obj, tenant.FieldOwners); !got.Present || got.Managed || !slices.Equal(got.Managers, []string{"kustomize-controller", "kubectl-edit"}) {
		t.Errorf("finalizer and edit writes: %+v, want present, not managed", got)
	}
	obj.SetManagedFields(append(obj.GetManagedFields(), metav1.ManagedFieldsEntry{Manager: "kustomize-controller", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: spec}))
	if got := describeObject("Kustomization", "dummy", obj, tenant.FieldOwners); !got.Managed {
		t.Errorf("applied by Flux from git: %+v, want managed", got)
	}
	obj.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: tenant.FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsV1: spec}})
	if got := describeObject("Kustomization", "dummy", obj, tenant.FieldOwners); !got.Managed {
		t.Errorf("applied by kubectl-tenant: %+v, want managed", got)
	}
	if got := describeObject("ResourceQuota", render.QuotaName, nil, tenant.FieldOwners); got.Present || got.Managed {
		t.Errorf("absent: %+v", got)
	}
}

func unstructuredEvent(t *testing.T, content map[string]any) *corev1.Event {
	t.Helper()
	var e corev1.Event
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(content, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

func TestConfinedSummary(t *testing.T) {
	d := sampleDescription()
	for _, tc := range []struct {
		confined, lockedDown bool
		want                 string
	}{
		{true, true, "Yes"},
		{true, false, "Yes, but the cluster is not locked down (see Confinement)"},
		{false, true, "No (5 of 10 tenant checks FAIL; see Confinement)"},
	} {
		d.Confinement.Confined, d.Confinement.ClusterLockedDown = tc.confined, tc.lockedDown
		if got := confinedSummary(d); got != tc.want {
			t.Errorf("confined %v, locked down %v: %q, want %q", tc.confined, tc.lockedDown, got, tc.want)
		}
	}
}
