package tenant

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/client-go/rest"
)

// ks builds a Kustomization summary from JSON, as a list page holds it.
func ks(t *testing.T, doc string) *KustomizationSummary {
	t.Helper()
	var out KustomizationSummary
	if err := json.Unmarshal([]byte(doc), &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestJudge(t *testing.T) {
	const at = "2026-11-27T12:00:00.123456789Z"
	for _, tc := range []struct {
		name, doc, requestedAt string
		want                   Verdict
		message                string
	}{
		{"new, no status yet", `{"metadata":{"generation":1}}`, "", Waiting, "waiting to be reconciled"},
		{"Ready at its generation", `{"metadata":{"generation":2},"status":{"observedGeneration":2,"conditions":[{"type":"Ready","status":"True","message":"Applied revision: main@sha1:1"}]}}`, "", Succeeded, "Applied revision: main@sha1:1"},
		{"Ready, but for an older generation", `{"metadata":{"generation":3},"status":{"observedGeneration":2,"conditions":[{"type":"Ready","status":"True","message":"Applied"}]}}`, "", Waiting, "Applied"},
		{"Ready, but the request is not handled yet", `{"metadata":{"generation":2},"status":{"observedGeneration":2,"lastHandledReconcileAt":"earlier","conditions":[{"type":"Ready","status":"True","message":"Applied"}]}}`, at, Waiting, "Applied"},
		{"Ready with the request handled", `{"metadata":{"generation":2},"status":{"observedGeneration":2,"lastHandledReconcileAt":"` + at + `","conditions":[{"type":"Ready","status":"True","message":"Applied"}]}}`, at, Succeeded, "Applied"},
		{"an old failure before the request is handled", `{"metadata":{"generation":2},"status":{"lastHandledReconcileAt":"earlier","conditions":[{"type":"Ready","status":"False","message":"old failure"},{"type":"Reconciling","status":"True","reason":"ProgressingWithRetry"}]}}`, at, Waiting, "old failure"},
		{"the build failed and Flux retries", `{"metadata":{"generation":1},"status":{"lastHandledReconcileAt":"` + at + `","conditions":[{"type":"Ready","status":"False","reason":"ArtifactFailed","message":"kustomization path not found"},{"type":"Reconciling","status":"True","reason":"ProgressingWithRetry"}]}}`, at, Failed, "kustomization path not found"},
		{"stalled", `{"metadata":{"generation":1},"status":{"conditions":[{"type":"Ready","status":"False","message":"access denied"},{"type":"Stalled","status":"True"}]}}`, "", Failed, "access denied"},
		{"the source has not fetched yet", `{"metadata":{"generation":1},"status":{"lastHandledReconcileAt":"` + at + `","conditions":[{"type":"Ready","status":"False","reason":"ArtifactFailed","message":"Source artifact not found, retrying in 5s"}]}}`, at, Waiting, "Source artifact not found, retrying in 5s"},
		{"in progress", `{"metadata":{"generation":1},"status":{"lastHandledReconcileAt":"` + at + `","conditions":[{"type":"Ready","status":"Unknown","message":"Reconciliation in progress"},{"type":"Reconciling","status":"True","reason":"Progressing"}]}}`, at, Waiting, "Reconciliation in progress"},
		{"suspended", `{"metadata":{"namespace":"foo","generation":1},"spec":{"suspend":true},"status":{"lastHandledReconcileAt":"` + at + `"}}`, at, Failed, `the Kustomization is suspended; run "kubectl tenant resume foo"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, message := Judge(ks(t, tc.doc), tc.requestedAt)
			if got != tc.want || message != tc.message {
				t.Errorf("judge = %v %q, want %v %q", got, message, tc.want, tc.message)
			}
		})
	}
}

// fakeKustomizations serves Kustomization lists that change with each
// round, and records the paths asked for.
type fakeKustomizations struct {
	mu     sync.Mutex
	rounds [][]string // per round, the items' JSON
	round  int
	paths  []string
}

func (f *fakeKustomizations) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.URL.Path+"?"+r.URL.RawQuery)
	items := f.rounds[min(f.round, len(f.rounds)-1)]
	if r.URL.Path == "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations" {
		f.round++
	} else {
		// A per-namespace list: only that namespace's item.
		ns := strings.Split(r.URL.Path, "/")[5]
		var mine []string
		for _, item := range items {
			if strings.Contains(item, `"namespace":"`+ns+`"`) {
				mine = append(mine, item)
			}
		}
		items = mine
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"kind":"KustomizationList","apiVersion":"kustomize.toolkit.fluxcd.io/v1","metadata":{},"items":[%s]}`, strings.Join(items, ","))
}

func item(ns, handled, ready, reason, message string) string {
	return fmt.Sprintf(`{"metadata":{"name":"dummy","namespace":%q,"generation":1},"status":{"observedGeneration":1,"lastHandledReconcileAt":%q,"conditions":[{"type":"Ready","status":%q,"message":%q},{"type":"Reconciling","status":"True","reason":%q}]}}`,
		ns, handled, ready, message, reason)
}

func TestReadyWait(t *testing.T) {
	const at = "now"
	// Twelve tenants: more than fewNamespaces, so each round is one list
	// across namespaces.
	requests := map[string]string{}
	var before, after []string
	for i := range 12 {
		ns := fmt.Sprintf("t%02d", i)
		requests[ns] = at
		before = append(before, item(ns, "earlier", "True", "", "old"))
		switch i {
		case 0:
			after = append(after, item(ns, at, "False", "ProgressingWithRetry", "kustomization path not found: stat ./does-not-exist"))
		case 1:
			// never handled: reported at the timeout
			after = append(after, item(ns, "earlier", "Unknown", "Progressing", "Reconciliation in progress"))
		case 2:
			// t02 has no Kustomization
		default:
			after = append(after, item(ns, at, "True", "", "Applied revision: main@sha1:2"))
		}
	}
	fake := &fakeKustomizations{rounds: [][]string{before, after}}
	// The requests go to the handler in this goroutine, with no network, so
	// that the wait runs in a synctest bubble: its clock is fake and moves
	// only while the wait sleeps, and the 300 ms timeout is 300 ms of the
	// bubble's time however slow the machine is.
	client, err := RawClient(&rest.Config{Host: "http://kustomizations.test", Transport: handlerTransport{fake}})
	if err != nil {
		t.Fatal(err)
	}
	w := &ReadyWait{Client: client, Name: "dummy", ChunkSize: 500, Timeout: 300 * time.Millisecond, Interval: 50 * time.Millisecond}
	var failures []Failure
	synctest.Test(t, func(*testing.T) {
		failures, err = w.Wait(context.Background(), requests)
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(failures, func(a, b Failure) int { return strings.Compare(a.Namespace, b.Namespace) })
	var out bytes.Buffer
	for _, f := range failures {
		fmt.Fprintf(&out, "%s: %s\n", f.Namespace, f.Message)
	}
	want := "t00: kustomization path not found: stat ./does-not-exist\n" +
		"t01: not Ready after 300ms: Reconciliation in progress\n" +
		"t02: not Ready after 300ms: Kustomization dummy not found\n"
	if out.String() != want {
		t.Errorf("failures:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, p := range fake.paths {
		if p != "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations?fieldSelector=metadata.name%3Ddummy&limit=500" {
			if !strings.HasPrefix(p, "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/") {
				t.Errorf("unexpected request %s", p)
			}
		}
	}
	// Once three tenants were left, each round listed their namespaces.
	if last := fake.paths[len(fake.paths)-1]; !strings.Contains(last, "/namespaces/t0") {
		t.Errorf("the last round asked for %s, want a per-namespace list", last)
	}
}

// handlerTransport serves requests with a handler, in the caller's
// goroutine and with no network.
type handlerTransport struct{ h http.Handler }

func (rt handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	rt.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

func TestTenantsFailedError(t *testing.T) {
	err := &FailedError{Failed: 2, Total: 5, What: "not Ready"}
	if got, want := err.Error(), "2 of 5 tenants not Ready (the lines above say why)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
