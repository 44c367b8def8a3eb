package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FieldPath is a path of map keys into an object. The tenant's lists
// (subjects, substituteFrom, a policy's rules) are atomic, so a list is a
// leaf and a path never goes into one.
type FieldPath []string

func (p FieldPath) String() string { return strings.Join(p, ".") }

// LeafPaths lists the leaf fields of an object: values that are not maps,
// and empty maps. The identity (apiVersion, kind, metadata.name and
// metadata.namespace) and what the server owns (status, the rest of
// metadata) are left out: they are not settings.
func LeafPaths(obj map[string]any) []FieldPath {
	var out []FieldPath
	var walk func(prefix FieldPath, m map[string]any)
	walk = func(prefix FieldPath, m map[string]any) {
		for _, k := range sortedKeys(m) {
			path := append(slices.Clone(prefix), k)
			if child, ok := m[k].(map[string]any); ok && len(child) > 0 {
				walk(path, child)
				continue
			}
			out = append(out, path)
		}
	}
	for _, k := range sortedKeys(obj) {
		switch k {
		case "apiVersion", "kind", "status":
		case "metadata":
			meta, _ := obj[k].(map[string]any)
			for _, mk := range []string{"labels", "annotations"} {
				if m, ok := meta[mk].(map[string]any); ok {
					walk(FieldPath{"metadata", mk}, m)
				}
			}
		default:
			if m, ok := obj[k].(map[string]any); ok && len(m) > 0 {
				walk(FieldPath{k}, m)
			} else {
				out = append(out, FieldPath{k})
			}
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ValueAt returns the value at path, and whether it is there.
func ValueAt(obj map[string]any, path FieldPath) (any, bool) {
	var cur any = obj
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// SetAt sets the value at path, making the maps on the way.
func SetAt(obj map[string]any, path FieldPath, value any) {
	m := obj
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = value
}

// deleteAt removes the value at path and the maps it leaves empty.
func deleteAt(obj map[string]any, path FieldPath) {
	if len(path) == 0 {
		return
	}
	parent, ok := ValueAt(obj, path[:len(path)-1])
	m, isMap := parent.(map[string]any)
	if !ok || !isMap {
		return
	}
	delete(m, path[len(path)-1])
	if len(m) == 0 && len(path) > 1 {
		deleteAt(obj, path[:len(path)-1])
	}
}

// Project copies the fields at paths out of obj, keeping its identity,
// so that two projections of one object on the same paths compare field
// for field.
func Project(obj map[string]any, paths []FieldPath) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"apiVersion", "kind"} {
		if v, ok := obj[k]; ok {
			out[k] = v
		}
	}
	for _, k := range []string{"name", "namespace"} {
		if v, ok := ValueAt(obj, FieldPath{"metadata", k}); ok {
			SetAt(out, FieldPath{"metadata", k}, v)
		}
	}
	for _, p := range paths {
		if v, ok := ValueAt(obj, p); ok {
			SetAt(out, p, v)
		}
	}
	return out
}

// FieldOwner is one field manager's entry in an object's managedFields,
// parsed once.
type FieldOwner struct {
	Manager   string
	Operation metav1.ManagedFieldsOperationType
	Time      *metav1.Time
	fields    map[string]any
}

// FieldOwners parses obj's managedFields. Entries of subresources (status)
// are left out: no setting lives there.
func FieldOwners(obj *unstructured.Unstructured) []FieldOwner {
	var out []FieldOwner
	for _, mf := range obj.GetManagedFields() {
		if mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal(mf.FieldsV1.Raw, &fields); err != nil {
			continue
		}
		out = append(out, FieldOwner{Manager: mf.Manager, Operation: mf.Operation, Time: mf.Time, fields: fields})
	}
	return out
}

// Owns reports whether the entry owns the field at path or a part of it.
func (o FieldOwner) Owns(path FieldPath) bool {
	node := o.fields
	for _, k := range path {
		next, ok := node["f:"+k].(map[string]any)
		if !ok {
			return false
		}
		node = next
	}
	return true
}

// Leaves lists the fields the entry owns, as paths: a list, or a map the
// entry owns whole, is one leaf.
func (o FieldOwner) Leaves() []FieldPath {
	var out []FieldPath
	var walk func(prefix FieldPath, node map[string]any)
	walk = func(prefix FieldPath, node map[string]any) {
		for _, k := range sortedKeys(node) {
			name, ok := strings.CutPrefix(k, "f:")
			if !ok {
				continue
			}
			path := append(slices.Clone(prefix), name)
			child, _ := node[k].(map[string]any)
			if hasFieldKeys(child) {
				walk(path, child)
			} else {
				out = append(out, path)
			}
		}
	}
	walk(nil, o.fields)
	// metadata.name and namespace are identity, not settings.
	return slices.DeleteFunc(out, func(p FieldPath) bool {
		return len(p) == 2 && p[0] == "metadata" && (p[1] == "name" || p[1] == "namespace")
	})
}

func hasFieldKeys(node map[string]any) bool {
	for k := range node {
		if strings.HasPrefix(k, "f:") {
			return true
		}
	}
	return false
}

// declarers are the field managers that declare a tenant: the plugin's
// own, and kustomize-controller's once a tenant lives in git. A field only
// some other manager owns was changed by hand (kubectl edit, patch,
// label), and the cluster keeps no record of the value it replaced.
func isDeclarer(o FieldOwner) bool { return declares(o.Manager, o.Operation) }

// declares reports whether a managedFields entry of manager and operation
// is a declarer's: see isDeclarer.
func declares(manager string, operation metav1.ManagedFieldsOperationType) bool {
	return operation == metav1.ManagedFieldsOperationApply && (manager == FieldManager || manager == FluxApplyManager)
}

// FluxApplyManager is the field manager kustomize-controller applies with.
const FluxApplyManager = "kustomize-controller"

// declared reports whether any declarer owns the field at path.
func declared(owners []FieldOwner, path FieldPath) bool {
	return slices.ContainsFunc(owners, func(o FieldOwner) bool { return isDeclarer(o) && o.Owns(path) })
}

// handEditor returns the manager that owns the field at path when no
// declarer does, or "".
func handEditor(owners []FieldOwner, path FieldPath) (FieldOwner, bool) {
	if declared(owners, path) {
		return FieldOwner{}, false
	}
	for _, o := range owners {
		if o.Owns(path) {
			return o, true
		}
	}
	return FieldOwner{}, false
}

// HasDeclarer reports whether a declarer applied the object at all; an
// object no declarer wrote (made by the demo's recipe, or by hand) has no
// declared state to hold it to.
func HasDeclarer(owners []FieldOwner) bool {
	return slices.ContainsFunc(owners, isDeclarer)
}

// IsFluxBookkeeping reports whether the field is one of the labels
// kustomize-controller puts on what it applies to know its own objects:
// they say which Kustomization applied a tenant from git, not how the
// tenant is set.
func IsFluxBookkeeping(p FieldPath) bool {
	return len(p) == 3 && p[0] == "metadata" && (p[1] == "labels" || p[1] == "annotations") &&
		strings.HasPrefix(p[2], "kustomize.toolkit.fluxcd.io/")
}

// EqualJSON compares two values as JSON: the live object's numbers are
// int64 and a render's may be other types.
func EqualJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func CompactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// EqualDefaulted compares a live value with a rendered one, allowing the
// live one fields the render leaves out when they hold their zero value:
// the API server writes a CRD's defaults (a Kustomization's
// substituteFrom[].optional: false) into lists the render sets whole.
func EqualDefaulted(live, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range l {
			if wv, ok := w[k]; ok {
				if !EqualDefaulted(v, wv) {
					return false
				}
			} else if !isZero(v) {
				return false
			}
		}
		for k := range w {
			if _, ok := l[k]; !ok {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return false
		}
		for i := range w {
			if !EqualDefaulted(l[i], w[i]) {
				return false
			}
		}
		return true
	}
	return EqualJSON(live, want)
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case int64:
		return v == 0
	case float64:
		return v == 0
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}
