package tenant

import (
	"context"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// KustomizationSummary is the part of a Kustomization that list's rows
// and check's judgements read. Decoding pages into it rather than into
// unstructured maps skips managedFields, the rest of spec and inventory:
// at ten thousand tenants that was most of list's CPU time, on the
// machine that also runs the API server.
type KustomizationSummary struct {
	Metadata struct {
		Namespace  string `json:"namespace"`
		Generation int64  `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		Suspend            bool             `json:"suspend"`
		ServiceAccountName string           `json:"serviceAccountName"`
		SourceRef          render.SourceRef `json:"sourceRef"`
	} `json:"spec"`
	Status struct {
		ObservedGeneration     int64       `json:"observedGeneration"`
		LastAppliedRevision    string      `json:"lastAppliedRevision"`
		LastHandledReconcileAt string      `json:"lastHandledReconcileAt"`
		Conditions             []Condition `json:"conditions"`
	} `json:"status"`
}

// EachKustomization pages through the Kustomizations named name in
// namespace, or in all namespaces when it is "". A 404 means Flux is not
// installed.
func EachKustomization(ctx context.Context, config *rest.Config, namespace, name string, chunkSize int64, visit func(*KustomizationSummary)) error {
	client, err := RawClient(config)
	if err != nil {
		return err
	}
	return EachItem(ctx, client, ResourcePath(KustomizationGVR, namespace), KustomizationsNamed(name, chunkSize), "Kustomizations", visit)
}

// KustomizationsNamed lists, in chunks, the Kustomizations named name:
// every tenant's has the same name, so one field selector finds them all.
func KustomizationsNamed(name string, chunkSize int64) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), Limit: chunkSize}
}

// RawClient is a REST client with the dynamic client's config (JSON, and
// errors decoded as Status), for EachItem.
func RawClient(config *rest.Config) (rest.Interface, error) {
	return rest.UnversionedRESTClientFor(dynamic.ConfigFor(config))
}

// SourceRefOf reads a Kustomization's spec.sourceRef as written: its
// namespace is empty when the source is in the Kustomization's own.
func SourceRefOf(ks *unstructured.Unstructured) render.SourceRef {
	ref, _, _ := unstructured.NestedStringMap(ks.Object, "spec", "sourceRef")
	return render.SourceRef{Kind: ref["kind"], Name: ref["name"], Namespace: ref["namespace"]}
}
