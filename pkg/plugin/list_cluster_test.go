package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// fakeCluster answers the requests list makes, as the API server does:
// namespaces as metadata (protobuf when asked, as client-go's metadata
// client asks) or whole (JSON), filtered by label selector, and
// Kustomizations as JSON, filtered by name, all paged by limit and
// continue. Pages are encoded once, so that a benchmark measures the
// client. requests records each request's path and query.
type fakeCluster struct {
	namespaces     []metav1.PartialObjectMetadata
	kustomizations []map[string]any

	mu       sync.Mutex
	pages    map[string][]byte
	requests []string
}

func (f *fakeCluster) start(t testing.TB) (kubeconfig string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	// kubeconfigFor's, for benchmarks too.
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: %q}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n", srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

func (f *fakeCluster) serve(w http.ResponseWriter, r *http.Request) {
	contentType := "application/json"
	if strings.HasPrefix(r.Header.Get("Accept"), "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata") && r.URL.Path == "/api/v1/namespaces" {
		contentType = "application/vnd.kubernetes.protobuf"
	}
	body, err := f.page(r, contentType)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":"NotFound","code":404}`, err.Error())
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Write(body)
}

// page records r and answers it, from the pages encoded before if it can.
func (f *fakeCluster) page(r *http.Request, contentType string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.URL.Path+"?"+r.URL.RawQuery)
	key := r.URL.String() + "|" + r.Header.Get("Accept")
	if body, ok := f.pages[key]; ok {
		return body, nil
	}
	body, err := f.answer(r, contentType)
	if err != nil {
		return nil, err
	}
	if f.pages == nil {
		f.pages = map[string][]byte{}
	}
	f.pages[key] = body
	return body, nil
}

// withoutFlux makes the cluster forget the Kustomization API.
func (f *fakeCluster) withoutFlux() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kustomizations, f.pages = nil, nil
}

// answer encodes the object or page r asks for.
func (f *fakeCluster) answer(r *http.Request, contentType string) ([]byte, error) {
	query := r.URL.Query()
	start, _ := strconv.Atoi(query.Get("continue"))
	limit, _ := strconv.Atoi(query.Get("limit"))
	metadataOnly := strings.Contains(r.Header.Get("Accept"), "as=PartialObjectMetadata")
	switch path := r.URL.Path; {
	case path == "/api/v1/namespaces":
		selector, err := labels.Parse(query.Get("labelSelector"))
		if err != nil {
			return nil, err
		}
		var items []metav1.PartialObjectMetadata
		for _, ns := range f.namespaces {
			if selector.Matches(labels.Set(ns.Labels)) {
				items = append(items, ns)
			}
		}
		items, next := page(items, start, limit)
		if contentType != "application/json" {
			return encodeProtobuf(&metav1.PartialObjectMetadataList{ListMeta: metav1.ListMeta{Continue: next}, Items: items})
		}
		return json.Marshal(map[string]any{"kind": listKind(metadataOnly, "NamespaceList"), "apiVersion": listAPIVersion(metadataOnly),
			"metadata": map[string]any{"continue": next}, "items": namespaceObjects(items, metadataOnly)})
	case strings.HasPrefix(path, "/api/v1/namespaces/"):
		name := strings.TrimPrefix(path, "/api/v1/namespaces/")
		for _, ns := range f.namespaces {
			if ns.Name == name {
				return json.Marshal(namespaceObjects([]metav1.PartialObjectMetadata{ns}, metadataOnly)[0])
			}
		}
		return nil, fmt.Errorf("namespaces %q not found", name)
	case strings.HasPrefix(path, "/apis/kustomize.toolkit.fluxcd.io/v1/") && strings.HasSuffix(path, "/kustomizations"):
		if f.kustomizations == nil {
			return nil, fmt.Errorf("the server could not find the requested resource")
		}
		var items []map[string]any
		for _, ks := range f.kustomizations {
			metadata := ks["metadata"].(map[string]any)
			inScope := path == tenant.ResourcePath(tenant.KustomizationGVR, "") || path == tenant.ResourcePath(tenant.KustomizationGVR, metadata["namespace"].(string))
			if inScope && "metadata.name="+metadata["name"].(string) == query.Get("fieldSelector") {
				items = append(items, ks)
			}
		}
		items, next := page(items, start, limit)
		return json.Marshal(map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "items": items, "kind": "KustomizationList", "metadata": map[string]any{"continue": next}})
	}
	return nil, fmt.Errorf("the server could not find the requested resource")
}

// page is items[start:start+limit] and the continue token of the rest.
func page[T any](items []T, start, limit int) ([]T, string) {
	items = items[min(start, len(items)):]
	if limit <= 0 || limit >= len(items) {
		return items, ""
	}
	return items[:limit], strconv.Itoa(start + limit)
}

func listKind(metadataOnly bool, kind string) string {
	if metadataOnly {
		return "PartialObjectMetadataList"
	}
	return kind
}

func listAPIVersion(metadataOnly bool) string {
	if metadataOnly {
		return "meta.k8s.io/v1"
	}
	return "v1"
}

// namespaceObjects are the namespaces as the server writes them in JSON:
// metadata only, or whole Namespaces (spec and status included).
func namespaceObjects(items []metav1.PartialObjectMetadata, metadataOnly bool) []any {
	out := make([]any, len(items))
	for i, ns := range items {
		if metadataOnly {
			ns.TypeMeta = metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}
			out[i] = ns
			continue
		}
		phase := "Active"
		if ns.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		out[i] = map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": ns.ObjectMeta,
			"spec": map[string]any{"finalizers": []string{"kubernetes"}}, "status": map[string]any{"phase": phase}}
	}
	return out
}

// encodeProtobuf writes a list as the API server does: the protobuf
// envelope with its meta.k8s.io type.
func encodeProtobuf(list *metav1.PartialObjectMetadataList) ([]byte, error) {
	scheme := runtime.NewScheme()
	metav1.AddMetaToScheme(scheme)
	list.TypeMeta = metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"}
	var buf bytes.Buffer
	err := protobuf.NewSerializer(scheme, scheme).Encode(list, &buf)
	return buf.Bytes(), err
}

// requested returns the requests made so far, and forgets them.
func (f *fakeCluster) requested() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.requests
	f.requests = nil
	return out
}

// clusterCreated is when every fake namespace was made.
var clusterCreated = metav1.NewTime(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))

// tenantNamespace is a namespace whose labels writer wrote, as the API
// server records it: writer "kubectl-tenant" is add's server-side apply;
// any other is an update by hand (kubectl label, kubectl create -f), which
// the server records under that manager.
func tenantNamespace(name, tenantName, writer string) metav1.PartialObjectMetadata {
	key := render.DefaultTenantLabelKey
	operation := metav1.ManagedFieldsOperationUpdate
	if writer == tenant.FieldManager {
		operation = metav1.ManagedFieldsOperationApply
	}
	fields := fmt.Sprintf(`{"f:metadata":{"f:labels":{"f:%s":{},"f:kubernetes.io/metadata.name":{},"f:toolkit.fluxcd.io/tenant":{}}}}`, key)
	return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: name, CreationTimestamp: clusterCreated,
		Labels: map[string]string{key: tenantName, "kubernetes.io/metadata.name": name, "toolkit.fluxcd.io/tenant": name},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: writer, Operation: operation, APIVersion: "v1", Time: &clusterCreated,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}},
	}}
}

// kustomization is a tenant's Kustomization as kustomize-controller leaves
// it: Ready with ready's status and message, for the generation it saw.
func kustomization(namespace, ready, message string, suspend bool) map[string]any {
	return map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": render.DefaultKustomizationName, "namespace": namespace, "generation": 2,
			"managedFields": []any{map[string]any{"manager": "kubectl-tenant", "operation": "Apply", "fieldsType": "FieldsV1",
				"fieldsV1": map[string]any{"f:spec": map[string]any{"f:interval": map[string]any{}, "f:path": map[string]any{}}}}}},
		"spec": map[string]any{"interval": "5m", "path": "./kustomizations/per-tenant", "prune": true, "suspend": suspend,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "default", "namespace": "flux-system"}},
		"status": map[string]any{"observedGeneration": 2, "lastAppliedRevision": "main@sha1:abc",
			"conditions": []any{map[string]any{"type": "Ready", "status": ready, "reason": "ReconciliationSucceeded", "message": message,
				"lastTransitionTime": "2026-11-27T12:00:00Z", "observedGeneration": 2}}},
	}
}
