package render

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// ManagedByLabelKey, with ManagedByValue, marks every object the plugin
	// writes for a confined tenant: the guardrail policy protects exactly
	// these from the tenant, and check and describe find them by it.
	ManagedByLabelKey = "app.kubernetes.io/managed-by"
	ManagedByValue    = "kubectl-tenant"

	// ConfinedClusterRole is a confined tenant's default role: Kubernetes'
	// admin, into which Flux's install aggregates flux-edit, so the tenant
	// manages its own Flux objects but not its quota or limits.
	ConfinedClusterRole = "admin"

	QuotaName         = "tenant-quota"
	LimitRangeName    = "tenant-limits"
	NetworkPolicyName = "tenant-isolation"

	// NetworkPolicyIsolate admits traffic from the tenant's own namespace
	// and from Flux, and lets pods reach only their namespace and DNS.
	NetworkPolicyIsolate = "isolate"

	// DefaultTenantSourceInterval is how often a confined tenant's own
	// source fetches the template. Every tenant has one, so source-
	// controller's fetches grow with the number of tenants; ten minutes
	// keeps a thousand tenants under two fetches a second (see
	// bench/RESULTS.md), and `flux reconcile source` brings a change sooner.
	DefaultTenantSourceInterval = 10 * time.Minute
)

// TenantSource is a confined tenant's own copy, in its namespace, of the
// source that holds the template, so that its Kustomization refers to
// nothing outside the namespace (kustomize-controller's
// --no-cross-namespace-refs).
type TenantSource struct {
	// Kind is GitRepository or OCIRepository.
	Kind string
	// Name is the source's name in the tenant's namespace.
	Name string
	// Spec is the source's spec as JSON values: built by GitSourceSpec, or
	// copied from the shared source on the cluster.
	Spec map[string]any
	// Secrets are the shared source's credentials, copied into the
	// tenant's namespace when the user asked for it; the tenant can then
	// read them.
	Secrets []SourceSecret
}

// SourceSecret is a copy of a source's Secret.
type SourceSecret struct {
	Name string
	Type corev1.SecretType
	Data map[string][]byte
}

// TenantSourceKinds are the kinds a tenant's own source may be.
func TenantSourceKinds() []string { return []string{"GitRepository", "OCIRepository"} }

// GitSourceSpec is the spec of a GitRepository that follows branch of url,
// as bootstrap makes the shared one.
func GitSourceSpec(url, branch string, interval time.Duration, ignorePaths []string) map[string]any {
	spec := map[string]any{
		"url":      url,
		"interval": ShortDuration(interval),
		"ref":      map[string]any{"branch": branch},
	}
	if len(ignorePaths) > 0 {
		spec["ignore"] = strings.Join(ignorePaths, "\n")
	}
	return spec
}

// ContainerDefault is a LimitRange's default request and limit of one
// resource for containers that set none.
type ContainerDefault struct {
	Request string
	Limit   string
}

// Confinement says how a confined tenant is locked in: its own source, a
// least-privilege role, and guardrails it cannot remove.
type Confinement struct {
	Source TenantSource
	// Quota is the ResourceQuota's spec.hard; none when empty.
	Quota map[string]string
	// Limits are container defaults by resource name; no LimitRange when
	// empty.
	Limits map[string]ContainerDefault
	// NetworkPolicy is "" (none) or NetworkPolicyIsolate.
	NetworkPolicy string
}

// Validate checks the confinement and names the first bad value.
func (c *Confinement) Validate() error {
	s := c.Source
	if !slices.Contains(TenantSourceKinds(), s.Kind) {
		return fmt.Errorf("invalid tenant source kind %q: a confined tenant's source must be one of %s", s.Kind, strings.Join(TenantSourceKinds(), ", "))
	}
	if errs := validation.IsDNS1123Subdomain(s.Name); len(errs) > 0 {
		return fmt.Errorf("invalid tenant source name %q: %s", s.Name, strings.Join(errs, "; "))
	}
	if url, _ := s.Spec["url"].(string); s.Spec != nil && url == "" {
		return fmt.Errorf("invalid tenant source: its spec has no url (give --git-url, or a --source that has one)")
	}
	for _, secret := range s.Secrets {
		if errs := validation.IsDNS1123Subdomain(secret.Name); len(errs) > 0 {
			return fmt.Errorf("invalid source secret name %q: %s", secret.Name, strings.Join(errs, "; "))
		}
	}
	for _, key := range SortedKeys(c.Quota) {
		if err := validateQuota(key, c.Quota[key]); err != nil {
			return err
		}
	}
	for _, name := range SortedKeys(c.Limits) {
		if err := validateLimit(name, c.Limits[name]); err != nil {
			return err
		}
	}
	if c.NetworkPolicy != "" && c.NetworkPolicy != NetworkPolicyIsolate {
		return fmt.Errorf("invalid --network-policy %q: must be %s (or left out for none)", c.NetworkPolicy, NetworkPolicyIsolate)
	}
	return nil
}

func validateQuota(key, value string) error {
	// Object counts are written count/<resource>.<group>.
	if errs := validation.IsQualifiedName(strings.TrimPrefix(key, "count/")); len(errs) > 0 {
		return fmt.Errorf("invalid --quota %s=%s: %q is not a resource name (for example pods, requests.cpu or count/kustomizations.kustomize.toolkit.fluxcd.io)", key, value, key)
	}
	if _, err := resource.ParseQuantity(value); err != nil {
		return fmt.Errorf("invalid --quota %s=%s: %q is not a quantity (for example 10, 500m or 2Gi)", key, value, value)
	}
	return nil
}

func validateLimit(name string, d ContainerDefault) error {
	if errs := validation.IsQualifiedName(name); len(errs) > 0 {
		return fmt.Errorf("invalid --limit-range %s: %q is not a resource name (for example cpu or memory)", name, name)
	}
	request, err := resource.ParseQuantity(d.Request)
	if err != nil {
		return fmt.Errorf("invalid --limit-range %s=%s: %q is not a quantity (form: RESOURCE=REQUEST[/LIMIT], for example cpu=100m/500m)", name, d.Request, d.Request)
	}
	if d.Limit == "" {
		return nil
	}
	limit, err := resource.ParseQuantity(d.Limit)
	if err != nil {
		return fmt.Errorf("invalid --limit-range %s=%s/%s: %q is not a quantity (form: RESOURCE=REQUEST[/LIMIT], for example cpu=100m/500m)", name, d.Request, d.Limit, d.Limit)
	}
	if request.Cmp(limit) > 0 {
		return fmt.Errorf("invalid --limit-range %s=%s/%s: the request is above the limit", name, d.Request, d.Limit)
	}
	return nil
}

// ParseQuota reads a --quota KEY=VALUE flag value.
func ParseQuota(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("invalid --quota %q: must be RESOURCE=QUANTITY, for example pods=20", s)
	}
	return key, value, validateQuota(key, value)
}

// ParseLimit reads a --limit-range RESOURCE=REQUEST[/LIMIT] flag value.
func ParseLimit(s string) (name string, d ContainerDefault, err error) {
	name, quantities, ok := strings.Cut(s, "=")
	if !ok {
		return "", d, fmt.Errorf("invalid --limit-range %q: must be RESOURCE=REQUEST[/LIMIT], for example cpu=100m/500m", s)
	}
	d.Request, d.Limit, _ = strings.Cut(quantities, "/")
	return name, d, validateLimit(name, d)
}

// ConfinedObjects are what confinement adds to a tenant, each in the
// tenant's namespace; nil for what was not asked for.
type ConfinedObjects struct {
	Source        *unstructured.Unstructured
	SourceSecrets []*corev1.Secret
	Quota         *corev1.ResourceQuota
	LimitRange    *corev1.LimitRange
	NetworkPolicy *networkingv1.NetworkPolicy
}

func renderConfinement(c *Confinement, ns string) ConfinedObjects {
	var out ConfinedObjects
	managed := func() map[string]string { return map[string]string{ManagedByLabelKey: ManagedByValue} }
	s := c.Source
	out.Source = &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1",
		"kind":       s.Kind,
		"metadata": map[string]any{
			"name":      s.Name,
			"namespace": ns,
			"labels":    stringMap(managed()),
		},
		"spec": runtime.DeepCopyJSON(s.Spec),
	}}
	for _, secret := range s.Secrets {
		out.SourceSecrets = append(out.SourceSecrets, &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: secret.Name, Namespace: ns, Labels: managed()},
			Type:       secret.Type,
			Data:       secret.Data,
		})
	}
	if len(c.Quota) > 0 {
		hard := corev1.ResourceList{}
		for k, v := range c.Quota {
			hard[corev1.ResourceName(k)] = resource.MustParse(v)
		}
		out.Quota = &corev1.ResourceQuota{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
			ObjectMeta: metav1.ObjectMeta{Name: QuotaName, Namespace: ns, Labels: managed()},
			Spec:       corev1.ResourceQuotaSpec{Hard: hard},
		}
	}
	if len(c.Limits) > 0 {
		item := corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, DefaultRequest: corev1.ResourceList{}}
		for name, d := range c.Limits {
			item.DefaultRequest[corev1.ResourceName(name)] = resource.MustParse(d.Request)
			if d.Limit != "" {
				if item.Default == nil {
					item.Default = corev1.ResourceList{}
				}
				item.Default[corev1.ResourceName(name)] = resource.MustParse(d.Limit)
			}
		}
		out.LimitRange = &corev1.LimitRange{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
			ObjectMeta: metav1.ObjectMeta{Name: LimitRangeName, Namespace: ns, Labels: managed()},
			Spec:       corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{item}},
		}
	}
	if c.NetworkPolicy == NetworkPolicyIsolate {
		out.NetworkPolicy = isolationPolicy(ns, managed())
	}
	return out
}

// isolationPolicy admits traffic from pods of the same namespace and from
// Flux's namespace, and lets pods reach only their own namespace and DNS.
func isolationPolicy(ns string, labels map[string]string) *networkingv1.NetworkPolicy {
	sameNamespace := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}}
	flux := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{NamespaceNameLabelKey: FluxNamespace},
	}}
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dnsPort := intstr.FromInt32(53)
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: NetworkPolicyName, Namespace: ns, Labels: labels},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{sameNamespace, flux}}},
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{sameNamespace}},
				{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dnsPort}, {Protocol: &tcp, Port: &dnsPort}}},
			},
		},
	}
}
