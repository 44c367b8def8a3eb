package tenant

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// SettingChanges are the settings of one namespace of a tenant that
// differ between old and new, in the fleet file's words and order:
// "vars.TIER: gold -> silver", "owners: (none) -> [...]". Both sides go
// through the fleet file's own form, so a setting is named as the file
// names it, and a default left out on one side and written on the other
// is no change. Credentials are references there, so no secret is shown.
func SettingChanges(old, new render.TenantOptions) []string {
	before, after := settingLeaves(old), settingLeaves(new)
	var out []string
	for _, k := range sortedUnion(before, after) {
		b, inBefore := before[k]
		a, inAfter := after[k]
		switch {
		case !inBefore:
			out = append(out, fmt.Sprintf("%s: (none) -> %s", k, a))
		case !inAfter:
			out = append(out, fmt.Sprintf("%s: %s -> (none)", k, b))
		case a != b:
			out = append(out, fmt.Sprintf("%s: %s -> %s", k, b, a))
		}
	}
	return out
}

// settingLeaves flattens one namespace's settings, as a fleet file would
// write them, into "path: value" pairs: maps by key, lists as one value.
func settingLeaves(o render.TenantOptions) map[string]string {
	spec := render.SpecOf([]render.TenantOptions{o})
	// The namespace and the name are the tenant's identity, not settings.
	spec.Name, spec.Namespaces = "", nil
	data, _ := json.Marshal(spec) // a struct of strings, maps and lists
	var doc map[string]any
	_ = json.Unmarshal(data, &doc)
	out := map[string]string{}
	flattenSetting(out, "", doc)
	return out
}

func flattenSetting(out map[string]string, path string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		if s, isString := v.(string); isString {
			out[path] = s
		} else {
			out[path] = CompactJSON(v)
		}
		return
	}
	for k, child := range m {
		key := k
		if path != "" {
			key = path + "." + k
		}
		flattenSetting(out, key, child)
	}
}

func sortedUnion(a, b map[string]string) []string {
	keys := maps.Clone(a)
	maps.Copy(keys, b)
	return slices.Sorted(maps.Keys(keys))
}
