package plugin

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
// for a suspended Kustomization is only the last state Flux wrote.
func TestListTableShowsSuspended(t *testing.T) {
	created := time.Now().Add(-49 * time.Hour)
	rows := []tenantRow{
		{namespace: "foo", tenant: "sometenant", phase: "Active", created: created},
		{namespace: "held", tenant: "heldtenant", phase: "Active", created: created},
		{namespace: "new", tenant: "newtenant", phase: "Active", created: created},
		{namespace: "gone", tenant: "gonetenant", phase: "Terminating", created: created},
	}
	states := map[string]kustomizationState{
		"foo":  {ready: "True", message: "Applied revision: main@sha1:abc", revision: "main@sha1:abc", suspended: "False"},
		"held": {ready: "True", message: "Applied revision: main@sha1:abc", revision: "main@sha1:abc", suspended: "True"},
		"gone": {ready: "False", message: "deleting", revision: "-", suspended: "False"},
	}
	for format, file := range map[string]string{"": "list.txt", "wide": "list-wide.txt"} {
		var out bytes.Buffer
		flags := newTableOutputFlags()
		flags.print.OutputFormat = &format
		o := &ListOptions{outputFlags: flags, IOStreams: genericiooptions.IOStreams{Out: &out}, KustomizationName: "dummy"}
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
