package render

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CatalogueNamespace is the namespace of the tenant Catalogue renders. The
// names of a tenant's objects that contain it are made from the tenant's
// namespace.
const CatalogueNamespace = "catalogue"

// CatalogueSecretName and CatalogueSourceName name the catalogue tenant's
// source and its Secret, whose names a real tenant takes from its shared
// source: readers find those by following the references to them.
const (
	CatalogueSourceName = "catalogue-source"
	CatalogueSecretName = "catalogue-credentials"
)

// Catalogue renders a tenant with every setting that gives it an object
// of its own, in apply order, so that what reads tenants back from the
// cluster (which kinds to list, what each object is named, what to prune)
// follows what render makes rather than a list of its own. A setting that
// adds an object is set here too.
func Catalogue() []*unstructured.Unstructured {
	o := DefaultTenantOptions()
	o.Namespace, o.Name = CatalogueNamespace, CatalogueNamespace
	o.ClusterRole = ConfinedClusterRole
	spec := GitSourceSpec("https://git.example.com/catalogue", DefaultBranch, DefaultTenantSourceInterval, nil)
	spec["secretRef"] = map[string]any{"name": CatalogueSecretName}
	o.Confinement = &Confinement{
		Source: TenantSource{Kind: "GitRepository", Name: CatalogueSourceName, Spec: spec,
			Secrets: []SourceSecret{{Name: CatalogueSecretName, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"username": []byte("catalogue")}}}},
		Quota:         map[string]string{"pods": "1"},
		Limits:        map[string]ContainerDefault{"cpu": {Request: "1", Limit: "1"}},
		NetworkPolicy: NetworkPolicyIsolate,
	}
	o.Interval = time.Minute
	for _, role := range OwnerRoles() {
		o.Owners = append(o.Owners, Owner{Kind: "User", Name: "catalogue-" + role, Role: role})
	}
	o.AllowedSources = []string{"https://git.example.com/"}
	return mustRender(o)
}

// PlainCatalogue renders the catalogue's tenant with no setting beyond
// its name: the objects every tenant has, so that readers can tell an
// object a setting adds from one that is always there.
func PlainCatalogue() []*unstructured.Unstructured {
	o := DefaultTenantOptions()
	o.Namespace, o.Name = CatalogueNamespace, CatalogueNamespace
	return mustRender(o)
}

// mustRender renders a catalogue tenant, which is fixed: one that fails
// to render is a bug in render itself.
func mustRender(o TenantOptions) []*unstructured.Unstructured {
	t, err := RenderTenant(o)
	if err != nil {
		panic("render: the catalogue tenant does not render: " + err.Error())
	}
	objs, err := t.Unstructured()
	if err != nil {
		panic("render: the catalogue tenant does not render: " + err.Error())
	}
	return objs
}
