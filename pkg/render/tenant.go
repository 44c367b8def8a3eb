// Package render turns typed tenant and bootstrap options into Kubernetes
// objects. It is pure: it imports no cobra and no client, and the same options
// always give the same objects, so its output can be committed to git and
// compared byte for byte.
package render

import (
	"fmt"
	"sort"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	// DefaultTenantLabelKey is the demo's label key, kept so that tenants the
	// demo created are found and managed.
	DefaultTenantLabelKey = "flux-multitenant-demo.ringerc.github.com/tenant-name"
	// FluxTenantLabelKey is the label `flux create tenant` puts on its objects.
	FluxTenantLabelKey = "toolkit.fluxcd.io/tenant"
	// NamespaceNameLabelKey is set by the API server on every namespace; the
	// demo's sample manifests carry it, and rendering it keeps the printed
	// YAML equal to what the cluster holds.
	NamespaceNameLabelKey = "kubernetes.io/metadata.name"

	TenantVarsConfigMapName  = "tenant-vars"
	PerTenantSubstVar        = "PER_TENANT_SUBST"
	SubstLiteralVar          = "SUBST_LITERAL"
	DefaultKustomizationName = "dummy"
	DefaultClusterRole       = "cluster-admin"
	DefaultPath              = "./kustomizations/per-tenant"
	DefaultInterval          = 5 * time.Minute
	DefaultSource            = "GitRepository/default.flux-system"
)

// TenantOptions says everything that varies between tenants. Build it with
// DefaultTenantOptions and override what the user set.
type TenantOptions struct {
	// Namespace is the tenant's namespace, a DNS-1123 label.
	Namespace string
	// Name is the tenant's name, stored as a label value.
	Name string
	// LabelKey is the label key whose value is the tenant name.
	LabelKey string
	// Vars are extra post-build substitution variables put in the
	// tenant-vars ConfigMap beside PER_TENANT_SUBST.
	Vars map[string]string
	// ClusterRole is bound in the tenant namespace to the reconciler.
	ClusterRole string
	// KustomizationName names the Flux Kustomization in the namespace.
	KustomizationName string
	// Source is the Flux source the Kustomization builds from.
	Source SourceRef
	// Path is the path inside the source to the per-tenant template.
	Path string
	// Interval is the Kustomization's reconcile interval.
	Interval time.Duration
	// Confinement, when set, locks the tenant in: kustomize-controller
	// impersonates the tenant's ServiceAccount, so the RoleBinding bounds
	// what its manifests may change; the Kustomization builds from the
	// tenant's own source; guardrails are added; and every object is
	// labelled as the plugin's, for the guardrail policy. Nil is the demo's
	// default mode.
	Confinement *Confinement
	// Owners are the team's people, bound to their role in the namespace.
	Owners []Owner
	// AllowedSources are the URL prefixes the tenant's owners and robots
	// may point a source at; nil leaves sources unrestricted, except that
	// a confined tenant then may use its own source's URL only.
	AllowedSources []string
}

// DefaultTenantOptions returns the demo's defaults for everything but the
// namespace and name.
func DefaultTenantOptions() TenantOptions {
	return TenantOptions{
		LabelKey:          DefaultTenantLabelKey,
		ClusterRole:       DefaultClusterRole,
		KustomizationName: DefaultKustomizationName,
		Source:            SourceRef{Kind: "GitRepository", Name: "default", Namespace: "flux-system"},
		Path:              DefaultPath,
		Interval:          DefaultInterval,
	}
}

// Tenant holds the objects of one tenant, typed, in the order they must be
// applied: the namespace first, so the rest has somewhere to live, and the
// Kustomization last, so that Flux never reconciles before its variables and
// its service account exist.
type Tenant struct {
	Namespace      *corev1.Namespace
	ConfigMap      *corev1.ConfigMap
	ServiceAccount *corev1.ServiceAccount
	RoleBinding    *rbacv1.RoleBinding
	Kustomization  *kustomizev1.Kustomization
	// Owners bind the team's people, one RoleBinding a role.
	Owners []*rbacv1.RoleBinding
	// Policy holds the tenant's parameters for OwnersPolicy; nil for a
	// tenant with no owners, no allowed sources and no confinement.
	Policy *corev1.ConfigMap
	// Confined holds a confined tenant's own source and guardrails.
	Confined ConfinedObjects
}

// ReconcilerBindingName names the RoleBinding that grants a tenant's
// reconciler its role in namespace ns, as `flux create tenant` names it.
func ReconcilerBindingName(ns string) string { return ns + "-reconciler" }

// ReconcilerUser is the user that `flux create tenant` binds beside the
// tenant's ServiceAccount.
func ReconcilerUser(ns string) string { return "gotk:" + ns + ":reconciler" }

// RenderTenant validates the options and builds the tenant's objects.
func RenderTenant(o TenantOptions) (*Tenant, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ns := o.Namespace
	data := make(map[string]string, len(o.Vars)+1)
	for k, v := range o.Vars {
		data[k] = v
	}
	data[PerTenantSubstVar] = fmt.Sprintf("This tenant name is %q", o.Name)
	t := &Tenant{
		Namespace: &corev1.Namespace{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{
				Name: ns,
				Labels: map[string]string{
					NamespaceNameLabelKey: ns,
					o.LabelKey:            o.Name,
					FluxTenantLabelKey:    ns,
				},
			},
		},
		ConfigMap: &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: TenantVarsConfigMapName, Namespace: ns},
			Data:       data,
		},
		ServiceAccount: &corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: ns, Labels: fluxTenantLabels(ns)},
		},
		RoleBinding:   reconcilerBinding(ns, o.ClusterRole),
		Owners:        ownerBindings(ns, o.Owners),
		Kustomization: tenantKustomization(o),
	}
	if o.Confinement != nil {
		if err := t.confine(o.Confinement, ns); err != nil {
			return nil, err
		}
	}
	if allowed := o.allowedSources(); len(o.Owners) > 0 || allowed != nil {
		protected, err := t.platformObjects()
		if err != nil {
			return nil, err
		}
		t.Policy = tenantPolicy(ns, o.Owners, allowed, protected)
	}
	return t, nil
}

// allowedSources are the URL prefixes the tenant's sources may use: the
// given ones, else a confined tenant's own source's URL, so a locked-down
// tenant is closed by default; nil when sources are not restricted.
func (o TenantOptions) allowedSources() []string {
	if o.AllowedSources != nil || o.Confinement == nil {
		return o.AllowedSources
	}
	if url, _ := o.Confinement.Source.Spec["url"].(string); url != "" {
		return []string{url}
	}
	return []string{}
}

// platformObjects are resource/name of every object the platform puts in
// the tenant's namespace, the policy's own ConfigMap among them: what the
// tenant's owners and robots may not change.
func (t *Tenant) platformObjects() ([]string, error) {
	objs, err := t.Unstructured()
	if err != nil {
		return nil, err
	}
	out := []string{"configmaps/" + TenantPolicyName}
	for _, obj := range objs {
		if obj.GetNamespace() == "" {
			continue // the namespace itself
		}
		plural, _ := meta.UnsafeGuessKindToResource(obj.GroupVersionKind())
		out = appendOnce(out, plural.Resource+"/"+obj.GetName())
	}
	return out, nil
}

// fluxTenantLabels are the labels `flux create tenant` puts on the
// namespace, service account and role binding alike; the tenant-name label
// goes on the namespace only, which is what list and delete select on.
func fluxTenantLabels(ns string) map[string]string {
	return map[string]string{FluxTenantLabelKey: ns}
}

// reconcilerBinding binds role to the tenant's reconciler in ns, as `flux
// create tenant` does.
func reconcilerBinding(ns, role string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: ReconcilerBindingName(ns), Namespace: ns, Labels: fluxTenantLabels(ns)},
		RoleRef: rbacv1.RoleRef{
			APIGroup: rbacv1.GroupName,
			Kind:     "ClusterRole",
			Name:     role,
		},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: ReconcilerUser(ns)},
			{Kind: rbacv1.ServiceAccountKind, Name: ns, Namespace: ns},
		},
	}
}

// tenantKustomization deploys the per-tenant template into the tenant's
// namespace, with its variables substituted.
func tenantKustomization(o TenantOptions) *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: o.KustomizationName, Namespace: o.Namespace},
		Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: o.Interval},
			Path:     o.Path,
			Prune:    true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{
				Kind:      o.Source.Kind,
				Name:      o.Source.Name,
				Namespace: o.Source.Namespace,
			},
			TargetNamespace: o.Namespace,
			PostBuild: &kustomizev1.PostBuild{
				Substitute: map[string]string{SubstLiteralVar: o.Name},
				SubstituteFrom: []kustomizev1.SubstituteReference{
					{Kind: "ConfigMap", Name: TenantVarsConfigMapName},
				},
			},
		},
	}
}

// confine locks the tenant in: its own source and guardrails, the
// Kustomization applying as its ServiceAccount from that source, and every
// object labelled as the plugin's, for the guardrail policy.
func (t *Tenant) confine(c *Confinement, ns string) error {
	if c.Source.Spec == nil {
		return fmt.Errorf("the confined tenant %s has no source spec: give --git-url, or copy the shared source from the cluster", ns)
	}
	t.Confined = renderConfinement(c, ns)
	t.Kustomization.Spec.ServiceAccountName = t.ServiceAccount.Name
	t.Kustomization.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: c.Source.Kind, Name: c.Source.Name}
	for _, om := range []*metav1.ObjectMeta{&t.Namespace.ObjectMeta, &t.ConfigMap.ObjectMeta, &t.ServiceAccount.ObjectMeta, &t.RoleBinding.ObjectMeta, &t.Kustomization.ObjectMeta} {
		if om.Labels == nil {
			om.Labels = map[string]string{}
		}
		om.Labels[ManagedByLabelKey] = ManagedByValue
	}
	return nil
}

// Unstructured returns the tenant's objects in apply order, cleaned for
// server-side apply and for git.
//
// The maps are built by hand from the typed objects rather than through
// runtime.DefaultUnstructuredConverter: its reflection cache costs a fresh
// process 1.5-4 ms on the first call, a fifth of `add --dry-run -o yaml`.
// TestUnstructuredMatchesConverter keeps the two equal.
func (t *Tenant) Unstructured() ([]*unstructured.Unstructured, error) {
	if t.Namespace == nil || t.ConfigMap == nil || t.ServiceAccount == nil || t.RoleBinding == nil || t.Kustomization == nil {
		return nil, fmt.Errorf("tenant is incomplete: render it with RenderTenant")
	}
	configMap := configMapMap(t.ConfigMap)
	roleBinding := roleBindingMap(t.RoleBinding)
	kustomization := kustomizationMap(t.Kustomization)

	// The Secret before the source that reads it, the guardrails before
	// the Kustomization that deploys workloads under them.
	c := t.Confined
	objs := []*unstructured.Unstructured{{Object: object(t.Namespace.TypeMeta, t.Namespace.ObjectMeta)}}
	var typed []any
	for _, secret := range c.SourceSecrets {
		typed = append(typed, secret)
	}
	objs, err := appendConverted(objs, typed...)
	if err != nil {
		return nil, err
	}
	objs = append(objs,
		&unstructured.Unstructured{Object: configMap},
	)
	if t.Policy != nil {
		// Before the owners' bindings, so that the owners are never bound
		// without their limits.
		objs = append(objs, &unstructured.Unstructured{Object: configMapMap(t.Policy)})
	}
	objs = append(objs,
		&unstructured.Unstructured{Object: object(t.ServiceAccount.TypeMeta, t.ServiceAccount.ObjectMeta)},
		&unstructured.Unstructured{Object: roleBinding},
	)
	for _, rb := range t.Owners {
		objs = append(objs, &unstructured.Unstructured{Object: roleBindingMap(rb)})
	}
	typed = typed[:0]
	if c.Quota != nil {
		typed = append(typed, c.Quota)
	}
	if c.LimitRange != nil {
		typed = append(typed, c.LimitRange)
	}
	if c.NetworkPolicy != nil {
		typed = append(typed, c.NetworkPolicy)
	}
	if objs, err = appendConverted(objs, typed...); err != nil {
		return nil, err
	}
	if c.Source != nil {
		objs = append(objs, c.Source.DeepCopy())
	}
	return append(objs, &unstructured.Unstructured{Object: kustomization}), nil
}

// kustomizationMap is the Kustomization as apply sends it and git holds
// it: only the fields render sets.
func kustomizationMap(ks *kustomizev1.Kustomization) map[string]any {
	spec := map[string]any{
		// metav1.Duration prints 5m as "5m0s"; people, the demo and flux's
		// docs write "5m", and the printed YAML is meant to be committed.
		"interval": ShortDuration(ks.Spec.Interval.Duration),
		"prune":    ks.Spec.Prune,
		"sourceRef": withoutEmpty(map[string]any{
			"kind":      ks.Spec.SourceRef.Kind,
			"name":      ks.Spec.SourceRef.Name,
			"namespace": ks.Spec.SourceRef.Namespace,
		}),
	}
	setIfNotEmpty(spec, "path", ks.Spec.Path)
	setIfNotEmpty(spec, "targetNamespace", ks.Spec.TargetNamespace)
	setIfNotEmpty(spec, "serviceAccountName", ks.Spec.ServiceAccountName)
	if pb := ks.Spec.PostBuild; pb != nil {
		postBuild := map[string]any{}
		if len(pb.Substitute) > 0 {
			postBuild["substitute"] = stringMap(pb.Substitute)
		}
		if len(pb.SubstituteFrom) > 0 {
			from := make([]any, 0, len(pb.SubstituteFrom))
			for _, ref := range pb.SubstituteFrom {
				m := map[string]any{"kind": ref.Kind, "name": ref.Name}
				if ref.Optional {
					m["optional"] = true
				}
				from = append(from, m)
			}
			postBuild["substituteFrom"] = from
		}
		spec["postBuild"] = postBuild
	}
	kustomization := object(ks.TypeMeta, ks.ObjectMeta)
	kustomization["spec"] = spec
	return kustomization
}

// configMapMap is the ConfigMap as apply sends it.
func configMapMap(cm *corev1.ConfigMap) map[string]any {
	m := object(cm.TypeMeta, cm.ObjectMeta)
	if len(cm.Data) > 0 {
		m["data"] = stringMap(cm.Data)
	}
	return m
}

// roleBindingMap is the RoleBinding as apply sends it.
func roleBindingMap(rb *rbacv1.RoleBinding) map[string]any {
	subjects := make([]any, 0, len(rb.Subjects))
	for _, s := range rb.Subjects {
		subjects = append(subjects, withoutEmpty(map[string]any{
			"apiGroup":  s.APIGroup,
			"kind":      s.Kind,
			"name":      s.Name,
			"namespace": s.Namespace,
		}))
	}
	roleBinding := object(rb.TypeMeta, rb.ObjectMeta)
	roleBinding["roleRef"] = map[string]any{"apiGroup": rb.RoleRef.APIGroup, "kind": rb.RoleRef.Kind, "name": rb.RoleRef.Name}
	roleBinding["subjects"] = subjects
	return roleBinding
}

// appendConverted appends typed objects converted for apply. Only a
// confined tenant's few extra objects go through the reflection converter.
func appendConverted(objs []*unstructured.Unstructured, typed ...any) ([]*unstructured.Unstructured, error) {
	for _, obj := range typed {
		u, err := ToUnstructured(obj)
		if err != nil {
			return nil, err
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// object starts an object's map with what RenderTenant sets of its
// metadata: name, namespace and labels.
func object(tm metav1.TypeMeta, om metav1.ObjectMeta) map[string]any {
	meta := map[string]any{"name": om.Name}
	setIfNotEmpty(meta, "namespace", om.Namespace)
	if len(om.Labels) > 0 {
		meta["labels"] = stringMap(om.Labels)
	}
	return map[string]any{"apiVersion": tm.APIVersion, "kind": tm.Kind, "metadata": meta}
}

func stringMap(in map[string]string) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func setIfNotEmpty(m map[string]any, key, value string) {
	if value != "" {
		m[key] = value
	}
}

// withoutEmpty drops empty strings, as omitempty does.
func withoutEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// ShortDuration formats d as Go does, without the zero minutes and seconds
// units that time.Duration.String keeps: 5m0s becomes 5m, 1h0m0s becomes 1h.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// SortedKeys returns the keys of m in order; used wherever a map's order
// would otherwise leak into output or error messages.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
