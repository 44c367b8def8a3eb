package tenant

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// NotAppliedByFlux is why a tenant cannot be handed over yet: a field the
// plugin owns that kustomize-controller does not. Releasing it would let
// the API server remove it, since no other declarer keeps it.
type NotAppliedByFlux struct {
	Object string // "ConfigMap tenant-vars"
	Field  FieldPath
}

func (e *NotAppliedByFlux) Error() string {
	return fmt.Sprintf("Flux has not applied %s %s yet (is the tree exported, committed and reconciled?)", e.Object, e.Field)
}

// PlanHandover lists the tenant's objects whose fields the plugin owns
// through server-side apply, once kustomize-controller owns every one of
// those fields too. Otherwise it returns a *NotAppliedByFlux naming the
// first field Flux does not own, and nothing of the tenant is to be
// released: a half handed-over tenant would be decided partly by git and
// partly by the plugin.
func PlanHandover(t *Tenant) ([]*unstructured.Unstructured, error) {
	var release []*unstructured.Unstructured
	for _, obj := range append(t.Objects.All(), t.Objects.Others...) {
		owners := FieldOwners(obj)
		mine := applyEntries(owners, FieldManager)
		if len(mine) == 0 {
			continue
		}
		if missing := notCovered(mine, applyEntries(owners, FluxApplyManager)); len(missing) > 0 {
			return nil, &NotAppliedByFlux{Object: objectName(obj), Field: missing[0]}
		}
		release = append(release, obj)
	}
	// The namespace last: if a release fails halfway, what is left still
	// reads as the plugin's tenant, and a re-run finishes it.
	slices.SortStableFunc(release, func(a, b *unstructured.Unstructured) int {
		return boolRank(a.GetKind() == "Namespace") - boolRank(b.GetKind() == "Namespace")
	})
	return release, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// applyEntries are the entries manager made with server-side apply: an
// Update entry is not released by an apply, and Flux's Update entries
// (its bookkeeping before the first apply) do not keep a field it no
// longer applies.
func applyEntries(owners []FieldOwner, manager string) []FieldOwner {
	var out []FieldOwner
	for _, o := range owners {
		if o.Manager == manager && o.Operation == metav1.ManagedFieldsOperationApply {
			out = append(out, o)
		}
	}
	return out
}

// notCovered lists the leaf fields some entry of mine owns that no entry
// of theirs owns, sorted. A list the plugin owns whole is one leaf, and
// so is a map it owns whole (an empty one).
func notCovered(mine, theirs []FieldOwner) []FieldPath {
	var out []FieldPath
	for _, m := range mine {
		for _, leaf := range m.Leaves() {
			if !slices.ContainsFunc(theirs, func(o FieldOwner) bool { return o.Owns(leaf) }) &&
				!containsPath(out, leaf) {
				out = append(out, leaf)
			}
		}
	}
	slices.SortFunc(out, func(a, b FieldPath) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Releaser drops the plugin's field ownership of objects.
type Releaser struct {
	Client dynamic.Interface
	DryRun DryRunStrategy
}

// Release server-side applies, as the plugin's field manager, an object
// that holds only obj's identity. The API server then takes every field
// the plugin owned out of its entry, and removes the entry; a field
// another manager still owns stays. It returns what the server holds
// afterwards.
func (r *Releaser) Release(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	identity := ReleaseObject(obj)
	resource, err := (&Applier{Client: r.Client, Mapper: RESTMapper()}).resourceFor(identity)
	if err != nil {
		return nil, fmt.Errorf("releasing %s: %w", Describe(obj), err)
	}
	opts := metav1.ApplyOptions{FieldManager: FieldManager}
	if r.DryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	released, err := resource.Apply(ctx, obj.GetName(), identity, opts)
	if err != nil {
		return nil, fmt.Errorf("releasing %s: %w", Describe(obj), err)
	}
	if leaves := stillOwned(released); len(leaves) > 0 {
		return nil, fmt.Errorf("releasing %s: the API server kept %s's fields %v", Describe(obj), FieldManager, leaves)
	}
	return released, nil
}

// ReleaseObject is the apply that releases obj: its identity, and no
// field at all. It carries the resourceVersion and uid obj was read at, so
// that the API server refuses the release of an object changed since it
// was judged (a conflict) or deleted since: an apply creates what is not
// there, and with the resourceVersion alone it re-creates the object
// empty; a uid that matches no object is a conflict instead.
func ReleaseObject(obj *unstructured.Unstructured) *unstructured.Unstructured {
	meta := map[string]any{"name": obj.GetName(), "resourceVersion": obj.GetResourceVersion(), "uid": string(obj.GetUID())}
	if ns := obj.GetNamespace(); ns != "" {
		meta["namespace"] = ns
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": obj.GetAPIVersion(),
		"kind":       obj.GetKind(),
		"metadata":   meta,
	}}
}

// stillOwned lists the fields the plugin's apply entry of obj still owns.
// A released object is expected to have no such entry; an empty one owns
// nothing and is as good.
func stillOwned(obj *unstructured.Unstructured) []string {
	var out []string
	for _, o := range applyEntries(FieldOwners(obj), FieldManager) {
		for _, p := range o.Leaves() {
			out = append(out, p.String())
		}
	}
	return out
}
