package tenant

import (
	"context"
	"fmt"
	"io"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// Adder writes rendered tenants to the cluster: it refuses what must not be
// taken over before the first write, applies each tenant's objects in
// order, converts a tenant that is confined or unconfined by this run, and
// takes back a namespace it created when a later object fails.
type Adder struct {
	*Applier
	// Adopt takes over an existing namespace that belongs to no tenant.
	Adopt bool
	// Unconfine allows loosening a confined tenant.
	Unconfine bool
	// RecreateRoleBindings deletes and re-creates a RoleBinding whose roleRef
	// differs.
	RecreateRoleBindings bool
	// Timeout bounds the waits for a converted tenant's own source and for
	// a new quota to be counted.
	Timeout time.Duration
	// Warnings get what the user should know but that fails nothing.
	Warnings io.Writer
	// NotChecked, when set, is told of each namespace whose objects a
	// server dry run could not check, instead of a warning each: a plan of
	// a thousand new tenants says it once.
	NotChecked func(namespace string)
}

// ExistingNamespaces reads the tenants' namespaces that exist: one GET for
// one tenant, one paged LIST for a file of them. Only metadata is read, as
// protobuf, and only the file's namespaces are kept: a cluster of ten
// thousand namespaces would otherwise be held in memory as full objects.
func ExistingNamespaces(ctx context.Context, c *Clients, tenants []render.TenantOptions) (map[string]metav1.Object, error) {
	found := map[string]metav1.Object{}
	if len(tenants) == 1 {
		name := tenants[0].Namespace
		ns, err := c.Metadata.Resource(NamespaceGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return found, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading namespace %q: %w", name, err)
		}
		found[name] = ns
		return found, nil
	}
	wanted := make(map[string]bool, len(tenants))
	for _, t := range tenants {
		wanted[t.Namespace] = true
	}
	err := c.EachNamespace(ctx, metav1.ListOptions{Limit: DefaultChunkSize}, func(ns *metav1.PartialObjectMetadata) {
		if wanted[ns.Name] {
			found[ns.Name] = ns
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	return found, nil
}

// CheckNamespace refuses a namespace that is another tenant's, or
// anybody's without Adopt, and one that is being deleted. ns is nil when
// the namespace does not exist.
func (a *Adder) CheckNamespace(t render.TenantOptions, ns metav1.Object) error {
	if ns == nil {
		return nil
	}
	owner, labelled := ns.GetLabels()[t.LabelKey]
	switch {
	case labelled && owner != t.Name:
		return fmt.Errorf("namespace %q belongs to tenant %q (label %s), not %q; refusing to take it over", t.Namespace, owner, t.LabelKey, t.Name)
	case !labelled && !a.Adopt:
		return fmt.Errorf("namespace %q already exists and is not a tenant namespace (no %s label); pass --adopt to make it tenant %q's", t.Namespace, t.LabelKey, t.Name)
	}
	if IsConfined(ns) && t.Confinement == nil && !a.Unconfine {
		return fmt.Errorf("tenant %q in namespace %q is confined; adding it without --confine would loosen it: pass --confine to keep it confined, or --unconfine to loosen it on purpose", t.Name, t.Namespace)
	}
	if !IsConfined(ns) && a.Unconfine {
		return fmt.Errorf("--unconfine: tenant %q in namespace %q is not confined", t.Name, t.Namespace)
	}
	if ns.GetDeletionTimestamp() != nil {
		return fmt.Errorf("namespace %q is being deleted; wait until it is gone and add the tenant again", t.Namespace)
	}
	return nil
}

// CheckPermissions reviews the caller's rules once per existing tenant
// namespace, and once for all new ones (which hold no RoleBindings yet, so
// the same cluster-wide rules apply to each).
func (a *Adder) CheckPermissions(ctx context.Context, tenants []render.TenantOptions, existing map[string]metav1.Object, objects [][]*unstructured.Unstructured) error {
	checkedNew := false
	for i, t := range tenants {
		isNew := existing[t.Namespace] == nil
		if isNew && checkedNew {
			continue
		}
		checkedNew = checkedNew || isNew
		missing, err := a.MissingPermission(ctx, t.Namespace, objects[i])
		if err != nil {
			return err
		}
		if missing != "" {
			return fmt.Errorf("missing permission: you cannot %s; adding a tenant needs create and patch on %s, so nothing was applied", missing, RequiredPermissions(objects[i]))
		}
	}
	return nil
}

// ApplyTenant applies one tenant's objects in order and returns what the
// server holds of each. live is the tenant's namespace as it was, or nil.
//
// A tenant that is confined or unconfined by this run is converted in the
// same pass: its RoleBinding is re-created when its role changes, and a
// newly confined tenant's Kustomization switches to the tenant's own source
// only once that source is Ready, so the tenant keeps being reconciled.
func (a *Adder) ApplyTenant(ctx context.Context, t render.TenantOptions, objs []*unstructured.Unstructured, live metav1.Object) ([]*unstructured.Unstructured, error) {
	namespaceExists := live != nil
	converting := namespaceExists && IsConfined(live) != (t.Confinement != nil)
	var created *unstructured.Unstructured // the namespace, if this run made it
	var applied []*unstructured.Unstructured
	for i, obj := range objs {
		if i > 0 && !namespaceExists && a.DryRun == DryRunServer {
			// The server cannot check objects in a namespace that a dry run
			// did not create; show the rest as rendered.
			if a.NotChecked != nil {
				a.NotChecked(obj.GetNamespace())
			} else {
				fmt.Fprintf(a.Warnings, "Warning: namespace %q does not exist yet, so the server did not check the objects inside it\n", obj.GetNamespace())
			}
			return append(applied, objs[i:]...), nil
		}
		if converting && t.Confinement != nil && a.DryRun == DryRunNone && obj.GetKind() == kustomizev1.KustomizationKind {
			if err := WaitSourceReady(ctx, a.Applier, t, a.Timeout); err != nil {
				return applied, err
			}
		}
		result, err := a.applyOne(ctx, obj, converting)
		if err != nil {
			return applied, a.rollBack(ctx, created, err)
		}
		if i == 0 && !namespaceExists && a.DryRun == DryRunNone {
			created = result
		}
		applied = append(applied, result)
	}
	return applied, nil
}

// applyOne applies obj, re-creating a RoleBinding whose roleRef changes
// when asked to, or when a conversion changes the role.
func (a *Adder) applyOne(ctx context.Context, obj *unstructured.Unstructured, converting bool) (*unstructured.Unstructured, error) {
	result, err := ApplyCounted(ctx, a.Applier, obj, a.Timeout)
	if err != nil && (a.RecreateRoleBindings || converting) && IsImmutableRoleRef(err) {
		result, err = a.Recreate(ctx, obj)
	}
	if err != nil && IsImmutableRoleRef(err) {
		err = fmt.Errorf("%w (roleRef cannot change; re-run with --recreate to delete and re-create the RoleBinding)", err)
	}
	return result, err
}

// rollBack deletes a namespace this run created when a later object failed,
// so a failed add leaves nothing behind; the UID precondition keeps it from
// deleting a namespace someone else re-created meanwhile.
func (a *Adder) rollBack(ctx context.Context, created *unstructured.Unstructured, cause error) error {
	if created == nil {
		return cause
	}
	uid := created.GetUID()
	err := a.Client.Resource(NamespaceGVR).Delete(context.WithoutCancel(ctx), created.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%w; deleting namespace %q that this run created also failed: %v", cause, created.GetName(), err)
	}
	return fmt.Errorf("%w; namespace %q, which this run created, was deleted again", cause, created.GetName())
}
