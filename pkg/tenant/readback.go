package tenant

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// readBack is what settling a tenant builds: its settings as they run
// now (live) and as its declarers last set them (declared).
type readBack struct {
	t              *Tenant
	live, declared *render.TenantOptions
}

// edited reports whether the field at path of obj holds a setting someone
// changed by hand, and notes it.
func (b readBack) edited(obj *unstructured.Unstructured, path ...string) bool {
	return b.t.NoteHandEdit(obj, path, true)
}

// readBackRules read each of Settings' settings back from a tenant's live
// objects: one rule per setting (or group of settings on one object), in
// the order their objects are applied.
func readBackRules() []func(readBack) {
	return []func(readBack){readVars, readRole, readKustomization, readConfinement, readOwners, readAllowedSources}
}

// settle reads the settings out of a tenant's objects, notes which of
// them were changed by hand, and what no flag expresses.
func (r *Reader) settle(t *Tenant) {
	t.declaredAnywhere = slices.ContainsFunc(t.Objects.All(), func(obj *unstructured.Unstructured) bool {
		return HasDeclarer(t.OwnersOf(obj))
	})
	t.Name = t.Objects.Namespace.GetLabels()[r.LabelKey]
	live := render.DefaultTenantOptions()
	live.Namespace, live.LabelKey, live.Name = t.Namespace, r.LabelKey, t.Name
	if r.KustomizationName != "" {
		live.KustomizationName = r.KustomizationName
	}
	serviceAccount, _, _ := unstructured.NestedString(objectOrEmpty(t.Objects.Kustomization()), "spec", "serviceAccountName")
	if IsConfined(t.Objects.Namespace) || serviceAccount != "" {
		live.ClusterRole = render.ConfinedClusterRole
		live.Confinement = &render.Confinement{}
	}
	declared := live
	for _, rule := range readBackRules() {
		rule(readBack{t: t, live: &live, declared: &declared})
	}
	t.Settings, t.Declared = live, declared
	t.noteDrift()
}

// readVars reads the variables of tenant-vars; a hand-edited one is live,
// not declared.
func readVars(b readBack) {
	cm := b.t.Objects.ConfigMap()
	if cm == nil {
		return
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	for _, k := range render.SortedKeys(data) {
		if k == render.PerTenantSubstVar {
			continue
		}
		b.live.Vars = setVar(b.live.Vars, k, data[k])
		if !b.edited(cm, "data", k) {
			b.declared.Vars = setVar(b.declared.Vars, k, data[k])
		}
	}
}

// readRole reads the ClusterRole the reconciler's RoleBinding grants.
func readRole(b readBack) {
	rb := b.t.Objects.RoleBinding()
	if rb == nil {
		return
	}
	kind, _, _ := unstructured.NestedString(rb.Object, "roleRef", "kind")
	name, _, _ := unstructured.NestedString(rb.Object, "roleRef", "name")
	if kind != "ClusterRole" || name == "" {
		b.t.Inexpressible = append(b.t.Inexpressible, fmt.Sprintf("RoleBinding %s: binds %s %s; add binds a ClusterRole", rb.GetName(), kind, name))
		return
	}
	b.live.ClusterRole = name
	if !b.edited(rb, "roleRef") {
		b.declared.ClusterRole = name
	}
}

// readKustomization reads the Kustomization's name, path, interval and,
// for an unconfined tenant, its source.
func readKustomization(b readBack) {
	ks := b.t.Objects.Kustomization()
	if ks == nil {
		return
	}
	b.live.KustomizationName, b.declared.KustomizationName = ks.GetName(), ks.GetName()
	if path, ok, _ := unstructured.NestedString(ks.Object, "spec", "path"); ok {
		b.live.Path = path
		if !b.edited(ks, "spec", "path") {
			b.declared.Path = path
		}
	}
	if s, ok, _ := unstructured.NestedString(ks.Object, "spec", "interval"); ok {
		interval, err := time.ParseDuration(s)
		if err != nil {
			b.t.Inexpressible = append(b.t.Inexpressible, fmt.Sprintf("Kustomization %s: spec.interval %q is not a duration", ks.GetName(), s))
		} else {
			b.live.Interval = interval
			if !b.edited(ks, "spec", "interval") {
				b.declared.Interval = interval
			}
		}
	}
	if b.live.Confinement != nil {
		return // a confined tenant builds from its own source
	}
	src := SourceRefOf(ks)
	if src.Validate() != nil {
		b.t.Inexpressible = append(b.t.Inexpressible, fmt.Sprintf("Kustomization %s: its source %s/%s is not one add can name", ks.GetName(), src.Kind, src.Name))
		return
	}
	b.live.Source = src
	if !b.edited(ks, "spec", "sourceRef") {
		b.declared.Source = src
	}
}

// readConfinement reads a confined tenant's own source and guardrails.
func readConfinement(b readBack) {
	if b.live.Confinement == nil {
		return
	}
	live, declared := &render.Confinement{}, &render.Confinement{}
	b.t.readOwnSource(live, declared)
	b.t.readQuota(live, declared)
	b.t.readLimits(live, declared)
	if b.t.Objects.NetworkPolicy() != nil {
		live.NetworkPolicy = render.NetworkPolicyIsolate
		declared.NetworkPolicy = render.NetworkPolicyIsolate
	}
	b.live.Confinement, b.declared.Confinement = live, declared
}

// readOwners reads the team's people from the owners' RoleBindings, one a
// role; the subjects someone added by hand are live, not declared.
func readOwners(b readBack) {
	for _, role := range render.OwnerRoles() {
		rb := b.t.Objects.Get("RoleBinding", render.OwnerBindingName(role))
		if rb == nil {
			continue
		}
		if name, _, _ := unstructured.NestedString(rb.Object, "roleRef", "name"); name != role {
			b.t.addInexpressible(fmt.Sprintf("RoleBinding %s: binds %s; add binds the owners of role %s by this name", rb.GetName(), name, role))
			continue
		}
		var binding rbacv1.RoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(rb.Object, &binding); err != nil {
			b.t.addInexpressible(fmt.Sprintf("RoleBinding %s: %v", rb.GetName(), err))
			continue
		}
		edited := b.edited(rb, "subjects")
		for _, subject := range binding.Subjects {
			owner := render.OwnerOf(subject, role)
			b.live.Owners = append(b.live.Owners, owner)
			if !edited {
				b.declared.Owners = append(b.declared.Owners, owner)
			}
		}
	}
}

// readAllowedSources reads the URL prefixes of the tenant's policy; a
// confined tenant's default (its own source alone) is left unsaid, so
// that it follows the source.
func readAllowedSources(b readBack) {
	cm := b.t.Objects.Get("ConfigMap", render.TenantPolicyName)
	if cm == nil {
		return
	}
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	lines, restricted := data[render.PolicyAllowedSourcesKey]
	if !restricted {
		return
	}
	allowed := render.PolicyLines(lines)
	if allowed == nil {
		allowed = []string{}
	}
	if c := b.live.Confinement; c != nil && len(allowed) == 1 && c.Source.Spec != nil && c.Source.Spec["url"] == allowed[0] {
		return
	}
	b.live.AllowedSources = allowed
	if !b.edited(cm, "data", render.PolicyAllowedSourcesKey) {
		b.declared.AllowedSources = allowed
	}
}

// readOwnSource reads a confined tenant's own source: the fields its
// declarers own (those nobody owns are the CRD's defaults, which add never
// set), and the Secrets it reads.
func (t *Tenant) readOwnSource(live, declared *render.Confinement) {
	src := t.Objects.Source()
	if src == nil {
		return
	}
	spec, _, _ := unstructured.NestedMap(src.Object, "spec")
	owners := t.OwnersOf(src)
	var all, decl []FieldPath
	for _, p := range LeafPaths(map[string]any{"spec": spec}) {
		if !HasDeclarer(owners) {
			all, decl = append(all, p), append(decl, p)
			continue
		}
		if slices.ContainsFunc(owners, func(o FieldOwner) bool { return o.Owns(p) }) {
			all = append(all, p)
			if !t.NoteHandEdit(src, p, true) {
				decl = append(decl, p)
			}
		}
	}
	live.Source = render.TenantSource{Kind: src.GetKind(), Name: src.GetName()}
	declared.Source = live.Source
	live.Source.Spec, _ = Project(src.Object, all)["spec"].(map[string]any)
	declared.Source.Spec, _ = Project(src.Object, decl)["spec"].(map[string]any)
	for _, name := range SecretNames(spec) {
		if secret := t.Objects.Get("Secret", name); secret != nil {
			s := readSecret(secret)
			live.Source.Secrets = append(live.Source.Secrets, s)
			declared.Source.Secrets = append(declared.Source.Secrets, s)
		}
	}
}

// readQuota reads the ResourceQuota's hard limits, one setting each.
func (t *Tenant) readQuota(live, declared *render.Confinement) {
	q := t.Objects.Quota()
	if q == nil {
		return
	}
	hard, _, _ := unstructured.NestedStringMap(q.Object, "spec", "hard")
	for _, k := range render.SortedKeys(hard) {
		live.Quota = setVar(live.Quota, k, hard[k])
		if !t.NoteHandEdit(q, FieldPath{"spec", "hard", k}, true) {
			declared.Quota = setVar(declared.Quota, k, hard[k])
		}
	}
}

// readLimits reads the LimitRange's container defaults; its limits are
// one list, so a hand edit anywhere in it takes all of them out of the
// declared settings.
func (t *Tenant) readLimits(live, declared *render.Confinement) {
	lr := t.Objects.LimitRange()
	if lr == nil {
		return
	}
	limits, _, _ := unstructured.NestedSlice(lr.Object, "spec", "limits")
	edited := t.NoteHandEdit(lr, FieldPath{"spec", "limits"}, true)
	for _, item := range limits {
		m, _ := item.(map[string]any)
		if m["type"] != string(corev1.LimitTypeContainer) {
			continue
		}
		requests, _, _ := unstructured.NestedStringMap(m, "defaultRequest")
		limit, _, _ := unstructured.NestedStringMap(m, "default")
		for _, name := range render.SortedKeys(requests) {
			if live.Limits == nil {
				live.Limits = map[string]render.ContainerDefault{}
			}
			live.Limits[name] = render.ContainerDefault{Request: requests[name], Limit: limit[name]}
		}
	}
	if !edited {
		declared.Limits = maps.Clone(live.Limits)
	}
}

func readSecret(obj *unstructured.Unstructured) render.SourceSecret {
	s := render.SourceSecret{Name: obj.GetName(), Data: map[string][]byte{}}
	kind, _, _ := unstructured.NestedString(obj.Object, "type")
	s.Type = corev1.SecretType(kind)
	data, _, _ := unstructured.NestedStringMap(obj.Object, "data")
	for k, v := range data {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			s.Data[k] = b
		}
	}
	return s
}

func objectOrEmpty(obj *unstructured.Unstructured) map[string]any {
	if obj == nil {
		return nil
	}
	return obj.Object
}

func setVar(vars map[string]string, key, value string) map[string]string {
	if vars == nil {
		vars = map[string]string{}
	}
	vars[key] = value
	return vars
}
