package tenantbench

import (
	"reflect"
	"testing"
	"time"
)

func TestCountPatterns(t *testing.T) {
	log := []byte(`I1203 09:00:00.000000 1 round_trippers.go:632] "Response" verb="GET" url="https://127.0.0.1:1/api/v1/namespaces/t-0001/events?fieldSelector=involvedObject.kind%3DKustomization%2CinvolvedObject.name%3Dks&limit=500" status="200 OK" milliseconds=3
I1203 09:00:00.000000 1 round_trippers.go:632] "Response" verb="GET" url="https://127.0.0.1:1/api/v1/namespaces/t-0002/events?fieldSelector=involvedObject.kind%3DKustomization%2CinvolvedObject.name%3Dks&limit=500" status="200 OK" milliseconds=3
I1203 09:00:00.000000 1 round_trippers.go:632] "Response" verb="GET" url="https://127.0.0.1:1/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system" status="200 OK" milliseconds=1
I1203 09:00:00.000000 1 round_trippers.go:632] "Response" verb="GET" url="https://127.0.0.1:1/api/v1/namespaces?labelSelector=toolkit.fluxcd.io%2Ftenant&limit=500" status="200 OK" milliseconds=1
I1203 09:00:00.000000 1 round_trippers.go:632] "Response" verb="GET" url="https://127.0.0.1:1/api/v1/namespaces/t-0001" status="200 OK" milliseconds=1
I1203 09:00:00.000000 1 round_trippers.go:632] "Response" verb="GET" url="https://127.0.0.1:1/apis/kustomize.toolkit.fluxcd.io/v1" status="200 OK" milliseconds=1
I1203 09:00:00.000000 1 round_trippers.go:560] POST https://127.0.0.1:1/apis/authorization.k8s.io/v1/selfsubjectrulesreviews 201 Created in 2 milliseconds
`)
	got := CountPatterns(log)
	want := []PatternCount{
		{"GET /api/v1/namespaces/{ns}/events?fieldSelector(involvedObject.kind,involvedObject.name)&limit", 2},
		{"GET /api/v1/namespaces/{ns}", 1},
		{"GET /api/v1/namespaces?labelSelector(toolkit.fluxcd.io/tenant)&limit", 1},
		{"GET /apis/kustomize.toolkit.fluxcd.io/v1", 1},
		{"GET /apis/source.toolkit.fluxcd.io/v1/namespaces/{ns}/gitrepositories/{name}", 1},
		{"POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews", 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CountPatterns:\n got %v\nwant %v", got, want)
	}
}

func TestNamespaces(t *testing.T) {
	check := []byte(`{"apiVersion":"kubectl-tenant.io/v1alpha1","kind":"CheckReport","summary":{},"cluster":[],"tenants":[{"namespace":"b","checks":[]},{"namespace":"a","checks":[]}]}
stderr after it`)
	if got, err := CheckedNamespaces(check); err != nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("CheckedNamespaces = %v, %v", got, err)
	}
	list := []byte(`{"apiVersion":"v1","kind":"List","metadata":{},"items":[{"kind":"TenantDescription","namespace":"b"},{"kind":"TenantDescription","namespace":"a"}]}`)
	if got, err := DescribedNamespaces(list); err != nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("DescribedNamespaces(List) = %v, %v", got, err)
	}
	one := []byte(`{"kind":"TenantDescription","namespace":"a"}`)
	if got, err := DescribedNamespaces(one); err != nil || !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("DescribedNamespaces(one) = %v, %v", got, err)
	}
	if _, err := DescribedNamespaces([]byte(`{"kind":"Status"}`)); err == nil {
		t.Error("DescribedNamespaces(Status): no error")
	}
}

func TestThrottled(t *testing.T) {
	log := []byte(`I1203 09:00:00.000000 1 request.go:752] "Waited before sending request" delay="179.1ms" reason="client-side throttling, not priority and fairness" verb="GET" URL="https://x/api"
I1203 09:00:00.000000 1 request.go:752] "Waited before sending request" delay="20.9ms" reason="client-side throttling, not priority and fairness" verb="GET" URL="https://x/api"
`)
	if n, d := Throttled(log); n != 2 || d != 200*time.Millisecond {
		t.Errorf("Throttled = %d, %s; want 2, 200ms", n, d)
	}
}
