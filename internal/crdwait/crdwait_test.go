package crdwait

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func crd(name, established string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": name},
	}}
	if established != "" {
		obj.Object["status"] = map[string]any{"conditions": []any{
			map[string]any{"type": "NamesAccepted", "status": "True"},
			map[string]any{"type": "Established", "status": established},
		}}
	}
	return obj
}

func fakeClient(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{crdGVR: "CustomResourceDefinitionList"}, objs...)
}

func TestWaitEstablishedReturnsOnceEveryCRDIsEstablished(t *testing.T) {
	client := fakeClient(crd("a.example.com", "True"), crd("b.example.com", "True"))
	if err := WaitEstablished(t.Context(), client, []string{"a.example.com", "b.example.com"}, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestWaitEstablishedWaitsForMissingAndUnestablishedCRDs(t *testing.T) {
	client := fakeClient()
	// The first reads find nothing, then a CRD that is not Established, then one
	// that is Established: the wait goes on through both.
	var gets atomic.Int32
	client.PrependReactor("get", "customresourcedefinitions", func(k8stesting.Action) (bool, runtime.Object, error) {
		switch n := gets.Add(1); {
		case n <= 2:
			return true, nil, apierrors.NewNotFound(crdGVR.GroupResource(), "a.example.com")
		case n <= 3:
			return true, crd("a.example.com", "False"), nil
		default:
			return true, crd("a.example.com", "True"), nil
		}
	})
	if err := WaitEstablished(t.Context(), client, []string{"a.example.com"}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := gets.Load(); n != 4 {
		t.Errorf("read the CRD %d times, want 4", n)
	}
}

func TestWaitEstablishedTimesOutNamingTheCRD(t *testing.T) {
	client := fakeClient(crd("a.example.com", "True"), crd("b.example.com", "False"))
	err := WaitEstablished(t.Context(), client, []string{"a.example.com", "b.example.com"}, 500*time.Millisecond)
	if err == nil {
		t.Fatal("no error for a CRD that is never established")
	}
	if want := "waiting for CRD b.example.com to be established: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not wrap context.DeadlineExceeded", err)
	}
}

func TestWaitEstablishedStopsAtOtherErrors(t *testing.T) {
	client := fakeClient()
	forbidden := apierrors.NewForbidden(crdGVR.GroupResource(), "a.example.com", errors.New("no"))
	client.PrependReactor("get", "customresourcedefinitions", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	start := time.Now()
	err := WaitEstablished(t.Context(), client, []string{"a.example.com"}, time.Minute)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("error %v, want the Forbidden from the API server", err)
	}
	if !strings.Contains(err.Error(), "waiting for CRD a.example.com to be established") {
		t.Errorf("error %q does not name the CRD", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("an unrecoverable error took %s to be reported", d)
	}
}

func TestWaitEstablishedHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := WaitEstablished(ctx, fakeClient(), []string{"a.example.com"}, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
