package tenant

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
)

// RequireFlux refuses, in one line, a cluster without Flux's Kustomization
// API, before anything is written for a tenant Flux would never deploy.
func RequireFlux(c *Clients) error {
	served, err := groupVersionServed(c.Discovery, kustomizev1.GroupVersion, "kustomizations")
	if err != nil {
		return fmt.Errorf("checking for Flux on the cluster: %w", err)
	}
	if !served {
		return fmt.Errorf("flux is not installed on this cluster (the API serves no %s Kustomization); run \"kubectl tenant bootstrap\" first", kustomizev1.GroupVersion)
	}
	return nil
}

// groupVersionServed asks the API server, in one request, whether it serves
// the resource in gv; a 404 means the CRD is not installed.
func groupVersionServed(c clientGetter, gv schema.GroupVersion, resource string) (bool, error) {
	list, err := c.ServerResourcesForGroupVersion(gv.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}

// clientGetter is the part of the discovery client groupVersionServed uses.
type clientGetter interface {
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
}
