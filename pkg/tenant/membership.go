package tenant

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IsMember reports whether kubectl tenant made ns one of tenant name's
// namespaces: the namespace's tenant label holds the name, and a declarer
// applied that label: the plugin's field manager, or kustomize-controller
// applying the plugin's render from git (a fleet handed to Flux). Anyone
// who can label a
// namespace can put a tenant's name on it, but that does not sweep it into
// the tenant: commands that act on every namespace of a tenant by its name
// (delete --tenant-name above all) take only its members.
func IsMember(ns metav1.Object, labelKey, name string) bool {
	return ns.GetLabels()[labelKey] == name && writtenBy(ns, declares, func(fields []byte) bool { return ownsLabel(fields, labelKey) })
}

// writtenBy reports whether owns holds for the field set of any of ns's
// managedFields entries that writer accepts (by manager and operation).
func writtenBy(ns metav1.Object, writer func(string, metav1.ManagedFieldsOperationType) bool, owns func(fields []byte) bool) bool {
	for _, mf := range ns.GetManagedFields() {
		if writer(mf.Manager, mf.Operation) && mf.Subresource == "" && mf.FieldsV1 != nil && owns(mf.FieldsV1.Raw) {
			return true
		}
	}
	return false
}

// ownsLabel reports whether fields, a FieldsV1 set, holds the label
// labelKey.
func ownsLabel(fields []byte, labelKey string) bool {
	var set struct {
		Metadata struct {
			Labels map[string]json.RawMessage `json:"f:labels"`
		} `json:"f:metadata"`
	}
	if json.Unmarshal(fields, &set) != nil {
		return false
	}
	_, ok := set.Metadata.Labels["f:"+labelKey]
	return ok
}

// Members is IsMember for many namespaces, as list asks it of every
// tenant namespace. The plugin writes the same labels on every namespace
// it makes, so their field sets are byte for byte the same: Members
// decodes each distinct set once, where IsMember decodes every
// namespace's, which was most of the CPU list spent on namespaces.
type Members struct {
	labelKey string
	owns     map[string]bool // ownsLabel by FieldsV1 bytes
}

// NewMembers checks membership by the tenant label labelKey.
func NewMembers(labelKey string) *Members {
	return &Members{labelKey: labelKey, owns: map[string]bool{}}
}

// IsMember is IsMember(ns, labelKey, name). It is not safe for concurrent
// use.
func (m *Members) IsMember(ns metav1.Object, name string) bool {
	return ns.GetLabels()[m.labelKey] == name && writtenBy(ns, declares, m.ownsLabel)
}

func (m *Members) ownsLabel(fields []byte) bool {
	// string(fields) in the index does not copy the bytes.
	if owns, seen := m.owns[string(fields)]; seen {
		return owns
	}
	owns := ownsLabel(fields, m.labelKey)
	m.owns[string(fields)] = owns
	return owns
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

// RemoveNamespace deletes a tenant namespace Removable or a plan returned, unless it
// was deleted and made again since (its UID is the precondition).
func RemoveNamespace(ctx context.Context, c *Clients, ns metav1.Object, dryRun DryRunStrategy) error {
	uid := ns.GetUID()
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	if dryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if err := c.Metadata.Resource(NamespaceGVR).Delete(ctx, ns.GetName(), opts); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting namespace %q: %w", ns.GetName(), err)
	}
	return nil
}
