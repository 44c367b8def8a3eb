package tenant

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// ObjectDiff is one object's two sides, as the diff program sees them;
// nil for a side where the object is absent.
type ObjectDiff struct {
	Name          string // kubectl diff's file name: group.version.Kind.namespace.name
	Live, Desired map[string]any
}

// Diff compares each object of the desired render with its live
// counterpart. An object that looks unchanged here is not sent: applying
// the fields kubectl-tenant already owns, with the values they already
// have, changes nothing. The others are server-side dry-run applied, so
// the diff shows what the API server would make of them.
func Diff(ctx context.Context, a *Applier, t *Tenant, desired []*unstructured.Unstructured) ([]ObjectDiff, error) {
	var out []ObjectDiff
	live := t.Objects.All()
	for _, want := range desired {
		got := FindObject(live, want)
		wantPaths := LeafPaths(want.Object)
		if got == nil {
			out = append(out, ObjectDiff{Name: diffFileName(want), Desired: Project(want.Object, wantPaths)})
			continue
		}
		owners := t.OwnersOf(got)
		paths := slices.Clone(wantPaths)
		var undeclared []FieldPath // hand edits the render does not set
		for _, o := range owners {
			for _, p := range o.Leaves() {
				if IsFluxBookkeeping(p) || containsPath(paths, p) {
					continue
				}
				switch {
				case o.Manager == FieldManager && o.Operation == metav1.ManagedFieldsOperationApply:
					paths = append(paths, p)
				case inSettingArea(got, p) && t.NoteHandEdit(got, p, false):
					paths = append(paths, p)
					undeclared = append(undeclared, p)
				}
			}
		}
		liveView := Project(got.Object, paths)
		// The desired side never holds a hand edit the render does not set.
		shown := slices.DeleteFunc(slices.Clone(paths), func(p FieldPath) bool { return containsPath(undeclared, p) })
		// Locally: the render's fields, and the live fields an apply would
		// leave, those another declarer also owns.
		local := Project(want.Object, wantPaths)
		for _, p := range shown {
			if containsPath(wantPaths, p) {
				continue
			}
			if slices.ContainsFunc(owners, func(o FieldOwner) bool { return o.Manager != FieldManager && o.Owns(p) }) {
				if v, ok := ValueAt(got.Object, p); ok {
					SetAt(local, p, v)
				}
			}
		}
		if EqualDefaulted(liveView, local) {
			continue
		}
		merged, err := a.Apply(ctx, want)
		switch {
		case err != nil && IsImmutableRoleRef(err):
			// add --recreate would delete and create it: the render is the result.
			merged = want
		case err != nil:
			return out, fmt.Errorf("tenant %s: server-side dry run: %w", t.Namespace, err)
		}
		desiredView := Project(merged.Object, shown)
		if EqualJSON(liveView, desiredView) {
			continue
		}
		out = append(out, ObjectDiff{Name: diffFileName(want), Live: liveView, Desired: desiredView})
	}
	out = append(out, handMade(t, desired)...)
	for i := range out {
		hideSecretValues(&out[i])
	}
	return out, nil
}

// hideSecretValues keeps a Secret's values out of the diff: each side
// shows whether a key's value is the same or differs, never the value,
// since a diff goes to terminals, CI logs and reviews.
func hideSecretValues(d *ObjectDiff) {
	if !strings.HasPrefix(d.Name, "v1.Secret.") { // diffFileName's core Secret
		return
	}
	live, _ := d.Live["data"].(map[string]any)
	desired, _ := d.Desired["data"].(map[string]any)
	for key, value := range live {
		if other, ok := desired[key]; ok && other == value {
			live[key], desired[key] = "(hidden)", "(hidden)"
		} else {
			live[key] = "(hidden: the live value)"
		}
	}
	for key := range desired {
		if desired[key] != "(hidden)" {
			desired[key] = "(hidden: a new value)"
		}
	}
}

// handMade are the tenant's objects that stand where a setting puts one
// (an owners' RoleBinding, say) but that the desired render leaves out and
// that no declarer wrote: made by hand, they show as removed, as a
// hand-edited variable does.
func handMade(t *Tenant, desired []*unstructured.Unstructured) []ObjectDiff {
	if !t.declaredAnywhere {
		return nil
	}
	var out []ObjectDiff
	for _, got := range t.Objects.All() {
		owners := t.OwnersOf(got)
		if got == t.Objects.Namespace || FindObject(desired, got) != nil || HasDeclarer(owners) {
			continue
		}
		out = append(out, ObjectDiff{Name: diffFileName(got), Live: Project(got.Object, ownedLeaves(owners))})
	}
	return out
}

// ownedLeaves are the fields the owners own, once each, but Flux's
// bookkeeping labels.
func ownedLeaves(owners []FieldOwner) []FieldPath {
	var paths []FieldPath
	for _, o := range owners {
		for _, p := range o.Leaves() {
			if !IsFluxBookkeeping(p) && !containsPath(paths, p) {
				paths = append(paths, p)
			}
		}
	}
	return paths
}

func containsPath(paths []FieldPath, p FieldPath) bool {
	return slices.ContainsFunc(paths, func(q FieldPath) bool { return slices.Equal(q, p) })
}

// inSettingArea reports whether a field the render does not set still
// belongs to the tenant's settings: a variable in tenant-vars, a limit in
// the quota. A label or annotation someone adds, or a controller's
// finalizer, is theirs, and diff leaves it alone as kubectl diff does.
func inSettingArea(obj *unstructured.Unstructured, p FieldPath) bool {
	switch obj.GetKind() {
	case "ConfigMap":
		return obj.GetName() == render.TenantVarsConfigMapName && p[0] == "data"
	case "ResourceQuota":
		return HasPrefix(p, FieldPath{"spec", "hard"})
	}
	return false
}

// diffFileName names an object's file as kubectl diff does.
func diffFileName(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	parts := []string{gvk.Version, gvk.Kind}
	if gvk.Group != "" {
		parts = append([]string{gvk.Group}, parts...)
	}
	if ns := obj.GetNamespace(); ns != "" {
		parts = append(parts, ns)
	}
	return strings.Join(append(parts, obj.GetName()), ".")
}

// Removed is a tenant that apply --prune would delete, as diff shows it:
// each of its objects with the fields its declarers wrote, on the live
// side only.
func Removed(t *Tenant) []ObjectDiff {
	var out []ObjectDiff
	for _, got := range t.Objects.All() {
		declarers := slices.DeleteFunc(slices.Clone(t.OwnersOf(got)), func(o FieldOwner) bool { return !isDeclarer(o) })
		d := ObjectDiff{Name: diffFileName(got), Live: Project(got.Object, ownedLeaves(declarers))}
		hideSecretValues(&d)
		out = append(out, d)
	}
	return out
}
