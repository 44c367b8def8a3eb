package plugin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
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
		"a": {ready: "True", message: "Applied revision: main@sha1:abc", revision: "main@sha1:abc", suspended: "true"},
		"b": {ready: "Unknown", message: "waiting to be reconciled", revision: "-", suspended: "false"},
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
