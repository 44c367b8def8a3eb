package tenant

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IsMember reports whether kubectl tenant made ns one of tenant name's
// namespaces: the namespace's tenant label holds the name, and the
// plugin's field manager wrote that label. Anyone who can label a
// namespace can put a tenant's name on it, but that does not sweep it into
// the tenant: commands that act on every namespace of a tenant by its name
// (delete --tenant-name above all) take only its members.
func IsMember(ns metav1.Object, labelKey, name string) bool {
	if ns.GetLabels()[labelKey] != name {
		return false
	}
	for _, mf := range ns.GetManagedFields() {
		if mf.Manager != FieldManager || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Metadata struct {
				Labels map[string]json.RawMessage `json:"f:labels"`
			} `json:"f:metadata"`
		}
		if json.Unmarshal(mf.FieldsV1.Raw, &fields) != nil {
			continue
		}
		if _, ok := fields.Metadata.Labels["f:"+labelKey]; ok {
			return true
		}
	}
	return false
}

// Removable reads each of namespaces and refuses, before anything is
// deleted, one that does not exist or that is not tenant name's by
// kubectl tenant's hand (see IsMember), so that --remove-namespace never
// deletes a namespace someone only labelled, or another tenant's.
func Removable(ctx context.Context, c *Clients, labelKey, name string, namespaces []string) ([]*metav1.PartialObjectMetadata, error) {
	var out []*metav1.PartialObjectMetadata
	for _, ns := range namespaces {
		obj, err := c.Metadata.Resource(NamespaceGVR).Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("--remove-namespace %s: the namespace does not exist", ns)
		}
		if err != nil {
			return nil, fmt.Errorf("reading namespace %q: %w", ns, err)
		}
		if owner, labelled := obj.Labels[labelKey]; labelled && owner != name {
			return nil, fmt.Errorf("--remove-namespace %s: the namespace belongs to tenant %q, not %q; nothing was changed", ns, owner, name)
		}
		if !IsMember(obj, labelKey, name) {
			return nil, fmt.Errorf("--remove-namespace %s: kubectl tenant did not make the namespace tenant %q's (it has no %s label of its writing); nothing was changed", ns, name, labelKey)
		}
		out = append(out, obj)
	}
	return out, nil
}

// RemoveNamespace deletes a tenant namespace Removable returned, unless it
// was deleted and made again since (its UID is the precondition).
func RemoveNamespace(ctx context.Context, c *Clients, ns *metav1.PartialObjectMetadata, dryRun DryRunStrategy) error {
	uid := ns.UID
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	if dryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if err := c.Metadata.Resource(NamespaceGVR).Delete(ctx, ns.Name, opts); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting namespace %q: %w", ns.Name, err)
	}
	return nil
}
