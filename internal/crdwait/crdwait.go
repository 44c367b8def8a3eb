// Package crdwait waits until CustomResourceDefinitions are Established, that
// is, until the API server serves their kinds. The plugin's bootstrap, the
// local cluster's tests and anything else that installs CRDs share it. It
// depends on client-go's dynamic client only, so the plugin stays lean.
package crdwait

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// interval is how often a CRD is read; the API server usually establishes a
// new CRD within a few hundred milliseconds.
const interval = 200 * time.Millisecond

// WaitEstablished waits until every named CRD has the condition
// Established=True, giving each up to timeout. A CRD that does not exist yet
// is waited for; any other error ends the wait. The error names the first CRD
// that was not established.
func WaitEstablished(ctx context.Context, client dynamic.Interface, names []string, timeout time.Duration) error {
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
			crd, err := client.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return established(crd), nil
		})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be established: %w", name, err)
		}
	}
	return nil
}

// established reports whether crd has the condition Established=True.
func established(crd *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, cond := range conditions {
		if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
