package render

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/runtime"
)

// fleetExportHeader opens an exported fleet file, so that whoever finds
// it in git knows where it came from and what reads it.
const fleetExportHeader = "# Written by kubectl tenant export --format tenants; apply it with kubectl tenant apply -f.\n"

// FleetOf is the fleet file of tenants, one TenantOptions a namespace:
// one entry a tenant name, in the order the names are first seen, each
// written by SpecOf. It has no defaults: a shared value written once per
// tenant is longer but says exactly what each tenant is, and a change to
// one tenant does not move the others.
func FleetOf(tenants []TenantOptions) *Fleet {
	f := &Fleet{APIVersion: FleetAPIVersion, Kind: FleetKind}
	var order []string
	byName := map[string][]TenantOptions{}
	for _, t := range tenants {
		if _, seen := byName[t.Name]; !seen {
			order = append(order, t.Name)
		}
		byName[t.Name] = append(byName[t.Name], t)
	}
	for _, name := range order {
		f.Tenants = append(f.Tenants, SpecOf(byName[name]))
	}
	return f
}

// SpecOf is the fleet file's entry for one tenant, given the options of
// each of its namespaces (all with the same Name): the inverse of
// (*Fleet).TenantOptions with DefaultTenantOptions as the base. What the
// file gives per tenant (everything but vars and path) is taken from the
// first namespace; ExportGaps names what that loses. A value equal to
// what its absence gives is left out, so that the file is short and a
// changed default reaches the tenants that never chose otherwise.
func SpecOf(namespaces []TenantOptions) TenantSpec {
	if len(namespaces) == 0 {
		return TenantSpec{}
	}
	first := namespaces[0]
	def := DefaultTenantOptions()
	spec := TenantSpec{
		Name:           first.Name,
		Vars:           sharedVars(namespaces),
		Path:           commonPath(namespaces),
		Owners:         fleetOwners(first.Owners),
		AllowedSources: allowedSourcesOf(first),
	}
	for _, ns := range namespaces {
		entry := FleetNamespace{Name: ns.Namespace, Path: ns.Path}
		if entry.Path == cmp.Or(spec.Path, DefaultPath) {
			entry.Path = ""
		}
		for k, v := range ns.Vars {
			if shared, ok := spec.Vars[k]; !ok || shared != v {
				entry.Vars = putVar(entry.Vars, k, v)
			}
		}
		spec.Namespaces = append(spec.Namespaces, entry)
	}
	if spec.Path == DefaultPath {
		spec.Path = ""
	}
	if first.Interval != def.Interval {
		spec.Interval = ShortDuration(first.Interval)
	}
	role := DefaultClusterRole
	if first.Confinement != nil {
		role = ConfinedClusterRole
	}
	if first.ClusterRole != role {
		spec.ClusterRole = first.ClusterRole
	}
	if first.KustomizationName != def.KustomizationName {
		spec.KustomizationName = first.KustomizationName
	}
	source := first.Source
	if c := first.Confinement; c != nil {
		spec.Confinement = fleetConfinement(c)
		// The file names the own source after the shared one, and a
		// copied source has the shared one's kind.
		source.Name = c.Source.Name
		if spec.Confinement.GitURL == "" {
			source.Kind = c.Source.Kind
		}
	}
	if source != def.Source {
		spec.Source = source.String()
	}
	return spec
}

// sharedVars are the variables every namespace has with the same value:
// the tenant's, written once.
func sharedVars(namespaces []TenantOptions) map[string]string {
	var shared map[string]string
	for k, v := range namespaces[0].Vars {
		if !slices.ContainsFunc(namespaces[1:], func(o TenantOptions) bool {
			other, ok := o.Vars[k]
			return !ok || other != v
		}) {
			shared = putVar(shared, k, v)
		}
	}
	return shared
}

// commonPath is the path most namespaces have, the first namespace's on
// a tie, so that the fewest namespaces need a path of their own.
func commonPath(namespaces []TenantOptions) string {
	count := map[string]int{}
	best := namespaces[0].Path
	for _, ns := range namespaces {
		count[ns.Path]++
		if count[ns.Path] > count[best] {
			best = ns.Path
		}
	}
	return best
}

func fleetOwners(owners []Owner) []FleetOwner {
	var out []FleetOwner
	for _, o := range owners {
		fo := FleetOwner{Kind: o.Kind, Name: o.Name, Role: o.Role}
		if fo.Role == DefaultOwnerRole {
			fo.Role = ""
		}
		out = append(out, fo)
	}
	return out
}

// allowedSourcesOf is the tenant's allow-list as the file writes it. A
// confined tenant's default, its own source's URL alone, is left out so
// that it follows the source, as the read-back leaves it. An empty list
// (restricted to nothing) is kept: it is not the same as no list.
func allowedSourcesOf(o TenantOptions) []string {
	if o.AllowedSources == nil {
		return nil
	}
	if c := o.Confinement; c != nil && len(o.AllowedSources) == 1 {
		if url, _ := c.Source.Spec["url"].(string); url != "" && url == o.AllowedSources[0] {
			return nil
		}
	}
	return slices.Clone(o.AllowedSources)
}

// fleetConfinement writes a confinement. Its own source is a gitURL when
// GitSourceSpec rebuilds its spec exactly, else left out: the file then
// says "copy the shared source", as add --confine without --git-url.
func fleetConfinement(c *Confinement) *FleetConfinement {
	out := &FleetConfinement{NetworkPolicy: c.NetworkPolicy}
	if len(c.Quota) > 0 {
		out.Quota = maps.Clone(c.Quota)
	}
	for _, name := range SortedKeys(c.Limits) {
		if out.LimitRange == nil {
			out.LimitRange = map[string]FleetLimit{}
		}
		out.LimitRange[name] = FleetLimit(c.Limits[name])
	}
	url, branch, interval, ok := ownGitSource(c.Source)
	if !ok {
		return out
	}
	out.GitURL = url
	if branch != DefaultBranch {
		out.Branch = branch
	}
	if interval != DefaultTenantSourceInterval {
		out.SourceInterval = ShortDuration(interval)
	}
	if name := SourceSecretName(c.Source); name != "" {
		// A reference only: the Secret's data never goes into the file.
		out.Credentials = &CredentialRefs{SecretRef: name}
	}
	return out
}

// ownGitSource reads a tenant source's URL, branch and interval when its
// spec, without its secretRef, is what GitSourceSpec builds from them.
func ownGitSource(s TenantSource) (url, branch string, interval time.Duration, ok bool) {
	if s.Kind != "GitRepository" || s.Spec == nil {
		return "", "", 0, false
	}
	spec := runtime.DeepCopyJSON(s.Spec)
	delete(spec, "secretRef")
	url, _ = spec["url"].(string)
	ref, _ := spec["ref"].(map[string]any)
	branch, _ = ref["branch"].(string)
	text, _ := spec["interval"].(string)
	interval, err := time.ParseDuration(text)
	if err != nil || url == "" || branch == "" || interval <= 0 {
		return "", "", 0, false
	}
	return url, branch, interval, reflect.DeepEqual(spec, GitSourceSpec(url, branch, interval, DefaultIgnorePaths()))
}

// SourceSecretName is the Secret a tenant's own source authenticates
// with: the one its spec names, else the first it carries; "" for none.
func SourceSecretName(s TenantSource) string {
	if ref, ok := s.Spec["secretRef"].(map[string]any); ok {
		if name, _ := ref["name"].(string); name != "" {
			return name
		}
	}
	if len(s.Secrets) > 0 {
		return s.Secrets[0].Name
	}
	return ""
}

// YAML is the fleet file: a header comment, then the fields in the
// order of the Go types (apiVersion, kind, tenants; a tenant's name
// first), which reads better than sorted keys. The JSON encoding decides
// what is written, so the file holds exactly what ParseFleet reads.
func (f *Fleet) YAML() ([]byte, error) {
	js, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	// YAML v2 decodes into a MapSlice with every nested map as a MapSlice
	// too, in the JSON's (the struct's) order; JSON is YAML.
	var doc yamlv2.MapSlice
	if err := yamlv2.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	// omitempty does not drop a struct: an empty defaults would be
	// written as "defaults: {}".
	doc = slices.DeleteFunc(doc, func(item yamlv2.MapItem) bool {
		m, ok := item.Value.(yamlv2.MapSlice)
		return item.Key == "defaults" && ok && len(m) == 0
	})
	keepEmptyAllowedSources(doc, f.Tenants)
	out, err := yamlv2.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append([]byte(fleetExportHeader), out...), nil
}

// keepEmptyAllowedSources writes allowedSources: [] for a tenant whose
// sources are restricted to none, which omitempty would drop and so turn
// into "unrestricted".
func keepEmptyAllowedSources(doc yamlv2.MapSlice, tenants []TenantSpec) {
	for i := range doc {
		if doc[i].Key != "tenants" {
			continue
		}
		list, _ := doc[i].Value.([]any)
		for j, item := range list {
			entry, ok := item.(yamlv2.MapSlice)
			if !ok || j >= len(tenants) || tenants[j].AllowedSources == nil || len(tenants[j].AllowedSources) > 0 {
				continue
			}
			list[j] = inFieldOrder(append(entry, yamlv2.MapItem{Key: "allowedSources", Value: []any{}}))
		}
	}
}

// inFieldOrder sorts a tenant's keys into TenantSpec's field order.
func inFieldOrder(entry yamlv2.MapSlice) yamlv2.MapSlice {
	t := reflect.TypeOf(TenantSpec{})
	index := map[string]int{}
	for name, f := range jsonFields(t) {
		index[name] = f.Index[0]
	}
	slices.SortStableFunc(entry, func(a, b yamlv2.MapItem) int {
		ka, _ := a.Key.(string)
		kb, _ := b.Key.(string)
		return index[ka] - index[kb]
	})
	return entry
}

// ExportGaps names what SpecOf cannot write of namespaces, one line
// each: a per-tenant setting in which a namespace differs from the first
// (the file gives a tenant one value, the first namespace's), a source
// reference the file's form cannot write, and an own source that the file
// can only say "copy the shared source" of.
func ExportGaps(namespaces []TenantOptions) []string {
	if len(namespaces) == 0 {
		return nil
	}
	var gaps []string
	tenant := perTenantFields(SpecOf(namespaces))
	for _, ns := range namespaces {
		one := perTenantFields(SpecOf([]TenantOptions{ns}))
		tv, ov := reflect.ValueOf(tenant), reflect.ValueOf(one)
		for i := range tv.NumField() {
			if !reflect.DeepEqual(tv.Field(i).Interface(), ov.Field(i).Interface()) {
				name, _, _ := strings.Cut(tv.Type().Field(i).Tag.Get("json"), ",")
				gaps = append(gaps, fmt.Sprintf("namespace %s: setting %s differs from namespace %s's, and a fleet file gives a tenant one value: %s's is written", ns.Namespace, name, namespaces[0].Namespace, namespaces[0].Namespace))
			}
		}
		if ref, err := ParseSourceRef(ns.Source.String()); ns.Confinement == nil && (err != nil || ref != ns.Source) {
			gaps = append(gaps, fmt.Sprintf("namespace %s: its source %s has a dotted name and no namespace, which a fleet file's <kind>/<name>.<namespace> reads as name and namespace", ns.Namespace, ns.Source))
		}
		if c := ns.Confinement; c != nil && c.Source.Spec != nil {
			if _, _, _, ok := ownGitSource(c.Source); !ok {
				gaps = append(gaps, fmt.Sprintf("namespace %s: its own source is not one that gitURL, branch and sourceInterval describe, so the file says to copy the shared source %s: apply copies it%s", ns.Namespace, c.Source.Name, copyHint(c.Source)))
			}
		}
	}
	return gaps
}

// copyHint is what apply needs to copy the source as it is: its
// interval, and its Secrets.
func copyHint(s TenantSource) string {
	hint := ""
	if interval, _ := s.Spec["interval"].(string); interval != "" {
		hint = " with --source-interval " + interval
	}
	if SourceSecretName(s) != "" {
		hint += " and --copy-source-secret"
	}
	return hint
}

// perTenantFields is spec without what the file gives per namespace.
func perTenantFields(spec TenantSpec) TenantSpec {
	spec.Name, spec.Namespaces, spec.Vars, spec.Path = "", nil, nil, ""
	return spec
}

func putVar(vars map[string]string, key, value string) map[string]string {
	if vars == nil {
		vars = map[string]string{}
	}
	vars[key] = value
	return vars
}
