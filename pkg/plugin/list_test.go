package plugin

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-tenant/kubectl-tenant/internal/golden"
)

// TestEachKustomizationPagesAndSummarizes checks the request list makes
// (all namespaces, by name, limit/continue) and what it reads of each page.
// The real API server is exercised by test/e2e.
func TestEachKustomizationPagesAndSummarizes(t *testing.T) {
	pages := map[string]string{
		"": `{"kind":"KustomizationList","apiVersion":"kustomize.toolkit.fluxcd.io/v1","metadata":{"continue":"page2"},"items":[
			{"metadata":{"name":"dummy","namespace":"a","managedFields":[{"manager":"x"}]},"spec":{"suspend":true,"path":"./x"},
			 "status":{"lastAppliedRevision":"main@sha1:abc","conditions":[{"type":"Reconciling","status":"False","message":"no"},{"type":"Ready","status":"True","message":"Applied revision: main@sha1:abc"}]}}]}`,
		"page2": `{"kind":"KustomizationList","apiVersion":"kustomize.toolkit.fluxcd.io/v1","metadata":{},"items":[
			{"metadata":{"name":"dummy","namespace":"b"},"spec":{}}]}`,
	}
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations" {
			http.NotFound(w, r)
			return
		}
		queries = append(queries, r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(pages[r.URL.Query().Get("continue")]))
	}))
	defer srv.Close()

	got := map[string]kustomizationState{}
	err := tenant.EachKustomization(context.Background(), &rest.Config{Host: srv.URL}, "", "dummy", 1, func(ks *tenant.KustomizationSummary) {
		got[ks.Metadata.Namespace] = kustomizationStateOf(ks)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]kustomizationState{
		"a": {ready: "True", message: "Applied revision: main@sha1:abc", revision: "main@sha1:abc", suspended: "True"},
		"b": {ready: "Unknown", message: "waiting to be reconciled", revision: "-", suspended: "False"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("states = %+v, want %+v", got, want)
	}
	wantQueries := []string{"fieldSelector=metadata.name%3Ddummy&limit=1", "continue=page2&fieldSelector=metadata.name%3Ddummy&limit=1"}
	if !reflect.DeepEqual(queries, wantQueries) {
		t.Errorf("queries = %q, want %q", queries, wantQueries)
	}
}

// TestEachKustomizationWithoutFlux: a cluster without the CRD answers 404,
// which list turns into "Flux is not installed".
func TestEachKustomizationWithoutFlux(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","code":404}`))
	}))
	defer srv.Close()
	err := tenant.EachKustomization(context.Background(), &rest.Config{Host: srv.URL}, "", "dummy", 0, func(*tenant.KustomizationSummary) {
		t.Error("visited an item of a 404")
	})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("err = %v, want NotFound", err)
	}
}

// TestListTableShowsSuspended: a suspended tenant is visible in the
// default table, in flux get ks's SUSPENDED column before READY, which
// for a suspended Kustomization is only the last state Flux wrote; rows
// are grouped by tenant, a multi-line message is one line, and a
// namespace only labelled with a tenant's name is marked.
func TestListTableShowsSuspended(t *testing.T) {
	created := time.Now().Add(-49 * time.Hour)
	rows := []tenantRow{
		{namespace: "foo", tenant: "sometenant", phase: "Active", member: true, created: created},
		{namespace: "held", tenant: "heldtenant", phase: "Active", member: true, created: created},
		{namespace: "new", tenant: "newtenant", phase: "Active", member: true, created: created},
		{namespace: "gone", tenant: "gonetenant", phase: "Terminating", member: true, created: created},
		{namespace: "bar", tenant: "sometenant", phase: "Active", member: true, created: created},
		{namespace: "byhand", tenant: "sometenant", phase: "Active", member: false, created: created},
	}
	states := map[string]kustomizationState{
		"foo":  {ready: "True", message: "Applied revision: main@sha1:abc", revision: "main@sha1:abc", suspended: "False"},
		"held": {ready: "True", message: "Applied revision: main@sha1:abc", revision: "main@sha1:abc", suspended: "True"},
		"gone": {ready: "False", message: "deleting", revision: "-", suspended: "False"},
		"bar":  {ready: "False", message: "kustomize build failed:\n  accumulating resources", revision: "-", suspended: "False"},
	}
	for format, file := range map[string]string{"": "list.txt", "wide": "list-wide.txt"} {
		var out bytes.Buffer
		flags := newTableOutputFlags()
		flags.print.OutputFormat = &format
		o := &ListOptions{outputFlags: flags, IOStreams: genericiooptions.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}, KustomizationName: "dummy"}
		var err error
		if o.output, err = flags.toOutput(tenant.DryRunNone); err != nil {
			t.Fatal(err)
		}
		if err := o.printTable(rows, states, true); err != nil {
			t.Fatal(err)
		}
		golden.Assert(t, file, out.Bytes())
	}
}

// teamCluster holds two team tenants and the namespaces that only look
// like theirs: payments has two members in an order the server does not
// sort them into, and payments-sandbox carries its name by hand;
// aaa-orders belongs to orders, which sorts after payments' namespaces'
// names would; moved was made by kubectl tenant for orders and relabelled
// payments by hand, so kubectl tenant no longer owns its label.
func teamCluster() *fakeCluster {
	moved := tenantNamespace("moved", "payments", tenant.FieldManager)
	moved.ManagedFields[0].FieldsV1 = &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:kubernetes.io/metadata.name":{},"f:toolkit.fluxcd.io/tenant":{}}}}`)}
	moved.ManagedFields = append(moved.ManagedFields, metav1.ManagedFieldsEntry{Manager: "kubectl-label", Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:` + render.DefaultTenantLabelKey + `":{}}}}`)}})
	return &fakeCluster{
		namespaces: []metav1.PartialObjectMetadata{
			tenantNamespace("aaa-orders", "orders", tenant.FieldManager),
			moved,
			tenantNamespace("payments-prod", "payments", tenant.FieldManager),
			tenantNamespace("payments-dev", "payments", tenant.FieldManager),
			tenantNamespace("payments-sandbox", "payments", "kubectl-label"),
			{ObjectMeta: metav1.ObjectMeta{Name: "plain", Labels: map[string]string{"team": "x"}}},
		},
		kustomizations: []map[string]any{
			kustomization("aaa-orders", "True", "Applied revision: main@sha1:abc", false),
			kustomization("payments-prod", "True", "Applied revision: main@sha1:abc", true),
			kustomization("payments-dev", "False", "kustomize build failed", false),
		},
	}
}

// TestListGroupsTeamsAndMarksNotMembers: the table puts a tenant's
// namespaces together, members first, and marks the namespaces that carry
// a tenant's name without kubectl tenant having written it; the error
// stream says what the mark means. The oracle is the fixture's story above.
func TestListGroupsTeamsAndMarksNotMembers(t *testing.T) {
	kubeconfig := teamCluster().start(t)
	out, stderr, err := runTenant(t, "list", "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatalf("list: %v (stderr %q)", err, stderr)
	}
	want := `NAMESPACE          TENANT      STATUS   SUSPENDED   READY   MESSAGE
aaa-orders         orders      Active   False       True    Applied revision: main@sha1:abc
payments-dev       payments    Active   False       False   kustomize build failed
payments-prod      payments    Active   True        True    Applied revision: main@sha1:abc
moved              payments*   Active   -           -       Kustomization dummy not found
payments-sandbox   payments*   Active   -           -       Kustomization dummy not found
`
	if out != want {
		t.Errorf("list printed\n%s\nwant\n%s", out, want)
	}
	if stderr != notMembersNote(2)+"\n" {
		t.Errorf("stderr = %q, want the note for 2 namespaces", stderr)
	}
}

// TestListTenantNameListsMembers: --tenant-name lists every member of the
// tenant, reading only their Kustomizations, and names on the error stream
// the namespaces it left out.
func TestListTenantNameListsMembers(t *testing.T) {
	cluster := teamCluster()
	kubeconfig := cluster.start(t)
	out, stderr, err := runTenant(t, "list", "--kubeconfig", kubeconfig, "--tenant-name", "payments", "--no-headers")
	if err != nil {
		t.Fatalf("list: %v (stderr %q)", err, stderr)
	}
	want := `payments-dev    payments   Active   False   False   kustomize build failed
payments-prod   payments   Active   True    True    Applied revision: main@sha1:abc
`
	if out != want {
		t.Errorf("--tenant-name payments printed\n%s\nwant\n%s", out, want)
	}
	for _, left := range []string{"namespace moved has label", "namespace payments-sandbox has label"} {
		if !strings.Contains(stderr, left) {
			t.Errorf("stderr does not say %q:\n%s", left, stderr)
		}
	}
	requests := cluster.requested()
	slices.Sort(requests)
	wantRequests := []string{
		"/api/v1/namespaces?labelSelector=flux-multitenant-demo.ringerc.github.com%2Ftenant-name%2Cflux-multitenant-demo.ringerc.github.com%2Ftenant-name%3Dpayments",
		"/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/payments-dev/kustomizations?fieldSelector=metadata.name%3Ddummy",
		"/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/payments-prod/kustomizations?fieldSelector=metadata.name%3Ddummy",
	}
	if !slices.Equal(requests, wantRequests) {
		t.Errorf("--tenant-name payments requested\n%s\nwant\n%s", strings.Join(requests, "\n"), strings.Join(wantRequests, "\n"))
	}
}

// TestListNamedNamespacesReadsTheirKustomizations: named namespaces are
// read one by one, and their Kustomizations in them alone; a cluster
// without the Kustomization API says so on each row.
func TestListNamedNamespacesReadsTheirKustomizations(t *testing.T) {
	cluster := teamCluster()
	kubeconfig := cluster.start(t)
	out, _, err := runTenant(t, "list", "--kubeconfig", kubeconfig, "--no-headers", "payments-sandbox", "aaa-orders")
	if err != nil {
		t.Fatal(err)
	}
	want := `aaa-orders         orders      Active   False   True   Applied revision: main@sha1:abc
payments-sandbox   payments*   Active   -       -      Kustomization dummy not found
`
	if out != want {
		t.Errorf("list payments-sandbox aaa-orders printed\n%s\nwant\n%s", out, want)
	}
	for _, r := range cluster.requested() {
		if strings.HasPrefix(r, "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations") {
			t.Errorf("list of two namespaces read every tenant's Kustomization: %s", r)
		}
	}
	cluster.withoutFlux()
	out, _, err = runTenant(t, "list", "--kubeconfig", kubeconfig, "--no-headers", "aaa-orders")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Flux is not installed") {
		t.Errorf("without the Kustomization API, list printed\n%s", out)
	}
}

// TestListOtherOutputsKeepTheServerOrder: -o name prints the selected
// namespaces, as kubectl get does, in the server's order; -l narrows the
// table and keeps the mark.
func TestListOtherOutputsKeepTheServerOrder(t *testing.T) {
	kubeconfig := teamCluster().start(t)
	out, _, err := runTenant(t, "list", "--kubeconfig", kubeconfig, "-o", "name", "--chunk-size", "2")
	if err != nil {
		t.Fatal(err)
	}
	if want := "namespace/aaa-orders\nnamespace/moved\nnamespace/payments-prod\nnamespace/payments-dev\nnamespace/payments-sandbox\n"; out != want {
		t.Errorf("-o name printed %q, want %q", out, want)
	}
	out, _, err = runTenant(t, "list", "--kubeconfig", kubeconfig, "--no-headers", "-l", "kubernetes.io/metadata.name in (payments-sandbox,aaa-orders)")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "aaa-orders ") || !strings.Contains(out, "\npayments-sandbox   payments* ") || strings.Count(out, "\n") != 2 {
		t.Errorf("-l printed\n%s", out)
	}
}

// BenchmarkList10000 runs `list` over ten thousand one-namespace tenants
// served by fakeCluster from pages encoded once, so what it measures is
// list's own CPU and allocations: the decoding, the membership checks and
// the table. bench/run.sh measures it against a real API server.
func BenchmarkList10000(b *testing.B) {
	f := &fakeCluster{}
	for i := range 10000 {
		ns := fmt.Sprintf("fill-%05d", i)
		f.namespaces = append(f.namespaces, tenantNamespace(ns, fmt.Sprintf("fill-tenant-%05d", i), tenant.FieldManager))
		f.kustomizations = append(f.kustomizations, kustomization(ns, "True", "Applied revision: main@sha1:abc", false))
	}
	kubeconfig := f.start(b)
	list := func() {
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		cmd := NewCmdTenant(streams, BuildInfo{Version: "bench"})
		cmd.SetArgs([]string{"list", "--kubeconfig", kubeconfig})
		if err := cmd.Execute(); err != nil {
			b.Fatal(err)
		}
		if n := bytes.Count(out.Bytes(), []byte("\n")); n != 10001 {
			b.Fatalf("list printed %d lines, want 10001", n)
		}
	}
	list() // the fake server encodes its pages
	b.ReportAllocs()
	// CPU time, not only wall time: on a busy machine (or the two CPUs
	// that also run the API server) it is the steadier measure.
	cpuBefore := processCPU(b)
	for b.Loop() {
		list()
	}
	b.ReportMetric(float64((processCPU(b)-cpuBefore).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// processCPU is the user and system CPU time this process has used, the
// fake server's share included (small: its pages are encoded once).
func processCPU(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// TestListReadsEachListInOneRequest: by default list asks for each list
// whole (no limit), which the API server answers from its cache; with
// --chunk-size it pages, as before, and prints the same table.
func TestListReadsEachListInOneRequest(t *testing.T) {
	cluster := teamCluster()
	kubeconfig := cluster.start(t)
	whole, _, err := runTenant(t, "list", "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	requests := cluster.requested()
	slices.Sort(requests)
	want := []string{
		"/api/v1/namespaces?labelSelector=flux-multitenant-demo.ringerc.github.com%2Ftenant-name",
		"/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations?fieldSelector=metadata.name%3Ddummy",
	}
	if !slices.Equal(requests, want) {
		t.Errorf("list requested\n%s\nwant\n%s", strings.Join(requests, "\n"), strings.Join(want, "\n"))
	}
	paged, _, err := runTenant(t, "list", "--kubeconfig", kubeconfig, "--chunk-size", "2")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cluster.requested()); n != 3+2 {
		t.Errorf("--chunk-size 2 made %d requests, want 3 pages of 5 namespaces and 2 of 3 Kustomizations", n)
	}
	if paged != whole {
		t.Errorf("--chunk-size 2 printed\n%s\nwhole, list printed\n%s", paged, whole)
	}
}
