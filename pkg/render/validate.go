package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ReservedNamespaces are never a tenant's: adding a tenant there would hand
// the cluster's own namespaces to a tenant, and deleting one would break the
// cluster or Flux. Sorted, for messages and docs.
func ReservedNamespaces() []string {
	return []string{"default", FluxNamespace, "kube-node-lease", "kube-public", "kube-system"}
}

// IsReservedNamespace reports whether ns belongs to the cluster or to Flux.
func IsReservedNamespace(ns string) bool { return slices.Contains(ReservedNamespaces(), ns) }

// substitutionVarName is the rule kustomize-controller applies to
// post-build variable names (fluxcd/pkg/kustomize varsubst).
var substitutionVarName = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*$`)

// sourceKinds are the kinds a Flux v1 Kustomization may take as sourceRef.
func sourceKinds() []string {
	return []string{"GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"}
}

// ValidateNamespaceName checks a tenant namespace name.
func ValidateNamespaceName(ns string) error {
	if ns == "" {
		return fmt.Errorf("invalid --tenant-namespace \"\": must not be empty")
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return fmt.Errorf("invalid --tenant-namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	if IsReservedNamespace(ns) {
		return fmt.Errorf("invalid --tenant-namespace %q: the namespace is reserved for the cluster and Flux (reserved: %s)", ns, strings.Join(ReservedNamespaces(), ", "))
	}
	return nil
}

// ValidateTenantName checks a tenant name. It is a label value, which also
// keeps quotes, spaces and "${" out of the shell line the template
// substitutes it into.
func ValidateTenantName(name string) error {
	if name == "" {
		return fmt.Errorf("invalid --tenant-name \"\": must not be empty")
	}
	if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
		return fmt.Errorf("invalid --tenant-name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateLabelKey checks the key of the tenant-name label.
func ValidateLabelKey(key string) error {
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		return fmt.Errorf("invalid --tenant-label %q: %s", key, strings.Join(errs, "; "))
	}
	return nil
}

// Validate checks every option and names the first bad value and its rule.
func (o TenantOptions) Validate() error {
	if err := ValidateNamespaceName(o.Namespace); err != nil {
		return err
	}
	if err := ValidateTenantName(o.Name); err != nil {
		return err
	}
	if err := ValidateLabelKey(o.LabelKey); err != nil {
		return err
	}
	if o.LabelKey == FluxTenantLabelKey || o.LabelKey == NamespaceNameLabelKey {
		return fmt.Errorf("invalid --tenant-label %q: it is set to the namespace name, so it cannot hold the tenant name", o.LabelKey)
	}
	for _, k := range SortedKeys(o.Vars) {
		if err := validateVar(k, o.Vars[k]); err != nil {
			return err
		}
	}
	if err := validateClusterRole(o.ClusterRole); err != nil {
		return err
	}
	if err := validateKustomizationName(o.KustomizationName); err != nil {
		return err
	}
	if err := o.Source.Validate(); err != nil {
		return fmt.Errorf("invalid --source %q: %w", o.Source, err)
	}
	if err := validatePath(o.Path); err != nil {
		return err
	}
	if o.Interval <= 0 {
		return fmt.Errorf("invalid --interval %s: must be greater than zero", o.Interval)
	}
	if err := validateTeam(o.Owners, o.AllowedSources); err != nil {
		return err
	}
	if o.Confinement != nil {
		return o.Confinement.Validate()
	}
	return nil
}

func validateClusterRole(role string) error {
	if role == "" {
		return fmt.Errorf("invalid --cluster-role \"\": must not be empty")
	}
	if errs := validation.IsDNS1123Subdomain(strings.ReplaceAll(role, ":", "-")); len(errs) > 0 {
		return fmt.Errorf("invalid --cluster-role %q: %s", role, strings.Join(errs, "; "))
	}
	return nil
}

func validateKustomizationName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("invalid --kustomization-name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

func validatePath(path string) error {
	if path == "" || checkText(path) != nil || strings.Contains(path, "\t") {
		return fmt.Errorf("invalid --path %q: must be a non-empty path inside the source, printable text only", path)
	}
	return nil
}

func validateVar(key, value string) error {
	if !substitutionVarName.MatchString(key) {
		return fmt.Errorf("invalid --var name %q: must match %s (letters, digits and underscores, not starting with a digit)", key, substitutionVarName)
	}
	if key == PerTenantSubstVar || key == SubstLiteralVar {
		return fmt.Errorf("invalid --var name %q: it is set by kubectl tenant from the tenant name", key)
	}
	// Flux substitutes into the YAML text of the template: a line break could
	// add fields, and "${" would be substituted again.
	if strings.ContainsAny(value, "\n\r\x00") || strings.Contains(value, "${") {
		return fmt.Errorf("invalid --var value for %s: must not contain line breaks, NUL or \"${\"", key)
	}
	if err := checkText(value); err != nil {
		return fmt.Errorf("invalid --var value for %s: %w", key, err)
	}
	return nil
}

// checkText accepts printable UTF-8 text and tabs: what YAML can carry
// (it cannot carry DEL, C1 controls or U+FFFE/U+FFFF at all) and what a
// reviewer of the rendered manifests can see.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	for _, r := range s {
		if (unicode.IsControl(r) && r != '\t') || r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("control character %U is not allowed (printable text and tabs only)", r)
		}
	}
	return nil
}

// ParseVar splits a KEY=VALUE flag value and checks both sides.
func ParseVar(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("invalid --var %q: must be KEY=VALUE", s)
	}
	if err := validateVar(key, value); err != nil {
		return "", "", err
	}
	return key, value, nil
}

// SourceRef names the Flux source a tenant's Kustomization builds from.
type SourceRef struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// In is the reference with the namespace a reference without one means:
// the referring object's own.
func (r SourceRef) In(own string) SourceRef {
	if r.Namespace == "" {
		r.Namespace = own
	}
	return r
}

// ParseSourceRef reads flux's `<kind>/<name>.<namespace>` form, as in
// `flux create kustomization --source`. The namespace may be left out (the
// source is then in the tenant's namespace) and so may the kind
// (GitRepository).
func ParseSourceRef(s string) (SourceRef, error) {
	ref := SourceRef{Kind: "GitRepository"}
	rest := s
	if kind, name, ok := strings.Cut(s, "/"); ok {
		ref.Kind, rest = kind, name
	}
	// A namespace is a DNS label and has no dots, so the last dot splits.
	if i := strings.LastIndex(rest, "."); i >= 0 {
		ref.Name, ref.Namespace = rest[:i], rest[i+1:]
	} else {
		ref.Name = rest
	}
	if err := ref.Validate(); err != nil {
		return SourceRef{}, fmt.Errorf("invalid --source %q: %w", s, err)
	}
	return ref, nil
}

// Validate checks the kind, name and namespace.
func (r SourceRef) Validate() error {
	if !slices.Contains(sourceKinds(), r.Kind) {
		return fmt.Errorf("source kind %q is not one of %s (form: <kind>/<name>.<namespace>)", r.Kind, strings.Join(sourceKinds(), ", "))
	}
	if errs := validation.IsDNS1123Subdomain(r.Name); len(errs) > 0 {
		return fmt.Errorf("source name %q: %s", r.Name, strings.Join(errs, "; "))
	}
	if r.Namespace != "" {
		if errs := validation.IsDNS1123Label(r.Namespace); len(errs) > 0 {
			return fmt.Errorf("source namespace %q: %s", r.Namespace, strings.Join(errs, "; "))
		}
	}
	return nil
}

// String gives the flag form back.
func (r SourceRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Name + "." + r.Namespace
}

// validateTeam checks the owners, each once, and the allowed sources.
func validateTeam(owners []Owner, allowed []string) error {
	seen := map[string]string{}
	for _, o := range owners {
		if err := o.Validate(); err != nil {
			return fmt.Errorf("invalid --owner %q: %w", o.String(), err)
		}
		who := o.Kind + ":" + o.Name
		if role, dup := seen[who]; dup {
			return fmt.Errorf("invalid --owner %q: %s is already an owner with role %s; give each owner once", o.String(), who, role)
		}
		seen[who] = o.Role
	}
	for _, prefix := range allowed {
		if err := ValidateAllowedSource(prefix); err != nil {
			return err
		}
	}
	return nil
}
