package tenant

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// tenantKinds are the kinds a tenant is made of, confined or not: what
// render makes, and every kind a confined tenant's own source may be.
func tenantKinds() []schema.GroupVersionKind {
	var kinds []schema.GroupVersionKind
	for _, obj := range catalogueObjects() {
		if gvk := obj.GroupVersionKind(); !slices.Contains(kinds, gvk) {
			kinds = append(kinds, gvk)
		}
	}
	for _, kind := range render.TenantSourceKinds() {
		if gvk := SourceGroupVersion.WithKind(kind); !slices.Contains(kinds, gvk) {
			kinds = append(kinds, gvk)
		}
	}
	return kinds
}

// optionalKinds are the kinds of the objects a setting adds to a tenant
// (confinement, owners, allowed sources): those the catalogue holds that
// a tenant rendered with no setting does not, and that re-running add
// without the setting takes away again.
func optionalKinds() []schema.GroupVersionKind {
	plain := plainCatalogueTenant()
	var out []schema.GroupVersionKind
	for _, gvk := range tenantKinds() {
		optional := slices.ContainsFunc(catalogueObjects(), func(obj *unstructured.Unstructured) bool {
			return obj.GroupVersionKind() == gvk && FindObject(plain, obj) == nil
		})
		if optional || slices.Contains(render.TenantSourceKinds(), gvk.Kind) {
			out = append(out, gvk)
		}
	}
	return out
}

// RESTMapper knows the kinds a tenant is made of, so that adding a
// tenant needs no API discovery at all.
func RESTMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range tenantKinds() {
		scope := meta.RESTScopeNamespace
		if gvk.Kind == "Namespace" {
			scope = meta.RESTScopeRoot
		}
		m.Add(gvk, scope)
	}
	return m
}

// Applier server-side applies objects one at a time, in the order given.
type Applier struct {
	Client         dynamic.Interface
	Mapper         meta.RESTMapper
	DryRun         DryRunStrategy
	ForceConflicts bool
}

func (a *Applier) resourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := a.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.Client.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return a.Client.Resource(mapping.Resource), nil
}

// Apply sends obj as a server-side apply patch and returns what the server
// holds (or, with --dry-run=server, would hold) afterwards.
func (a *Applier) Apply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	resource, err := a.resourceFor(obj)
	if err != nil {
		return nil, fmt.Errorf("applying %s: %w", Describe(obj), err)
	}
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: a.ForceConflicts}
	if a.DryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	applied, err := resource.Apply(ctx, obj.GetName(), obj, opts)
	if err != nil {
		return nil, applyError(obj, err)
	}
	return applied, nil
}

// Recreate deletes obj's live counterpart and applies obj again, for fields
// the API server will not change in place, such as a RoleBinding's roleRef.
func (a *Applier) Recreate(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	resource, err := a.resourceFor(obj)
	if err != nil {
		return nil, err
	}
	if a.DryRun == DryRunServer {
		// A dry-run delete leaves the old object, so the apply would fail
		// again; show what would be created instead.
		return obj, nil
	}
	live, err := resource.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("recreating %s: %w", Describe(obj), err)
	}
	uid := live.GetUID()
	if err := resource.Delete(ctx, obj.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("recreating %s: %w", Describe(obj), err)
	}
	return a.Apply(ctx, obj)
}

// IsImmutableRoleRef reports the API server's refusal to change a binding's
// roleRef.
func IsImmutableRoleRef(err error) bool {
	return apierrors.IsInvalid(err) && strings.Contains(err.Error(), "roleRef")
}

func applyError(obj *unstructured.Unstructured, err error) error {
	switch {
	case apierrors.IsConflict(err):
		return fmt.Errorf("applying %s: %w (another field manager owns these fields; re-run with --force-conflicts to take them over)", Describe(obj), err)
	case apierrors.IsForbidden(err) && !strings.Contains(err.Error(), "quota"):
		return fmt.Errorf("applying %s: %w (your credentials lack this permission; ask a cluster admin or use --context/--kubeconfig for one that has it)", Describe(obj), err)
	default:
		return fmt.Errorf("applying %s: %w", Describe(obj), err)
	}
}

// Describe names an object the way kubectl's messages do: Kind namespace/name.
func Describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
}
