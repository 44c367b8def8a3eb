package render

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// DefaultOwnerRole is an owner's role when --owner names none. edit
	// lets the team run its workloads and its own Flux objects (Flux's
	// flux-edit aggregates into it) but not read or write RBAC, so who is
	// in the team stays what the platform declared: admin would let an
	// owner bind anyone.
	DefaultOwnerRole = "edit"

	// TenantPolicyName names the ConfigMap in each of a tenant's namespaces
	// that holds the tenant's parameters for the owners-and-sources policy:
	// its owners, the URL prefixes its sources may use, and the objects the
	// platform put there.
	TenantPolicyName = "tenant-policy"

	ownerBindingPrefix = "tenant-owners-"
)

// OwnerRoles are the roles an owner may be given: Kubernetes' user-facing
// ClusterRoles, into which Flux's install aggregates its own.
func OwnerRoles() []string { return []string{"admin", "edit", "view"} }

// OwnerKinds are the subjects an owner may be.
func OwnerKinds() []string {
	return []string{rbacv1.UserKind, rbacv1.GroupKind, rbacv1.ServiceAccountKind}
}

// Owner is one of the team's people (or robots), bound to Role in every
// namespace of the tenant.
type Owner struct {
	// Kind is User, Group or ServiceAccount.
	Kind string `json:"kind"`
	// Name is the user or group name; a ServiceAccount's is NAMESPACE:NAME,
	// as kubectl create rolebinding --serviceaccount writes it.
	Name string `json:"name"`
	// Role is one of OwnerRoles.
	Role string `json:"role"`
}

// String gives the flag form back: KIND:NAME=ROLE.
func (o Owner) String() string { return o.Kind + ":" + o.Name + "=" + o.Role }

// Username is the name the API server gives the owner's requests: a
// ServiceAccount's is system:serviceaccount:NS:NAME. Groups have none.
func (o Owner) Username() string {
	if o.Kind == rbacv1.ServiceAccountKind {
		return "system:serviceaccount:" + o.Name
	}
	return o.Name
}

// subject is the owner as a RoleBinding subject.
func (o Owner) subject() rbacv1.Subject {
	if o.Kind == rbacv1.ServiceAccountKind {
		ns, name, _ := strings.Cut(o.Name, ":")
		return rbacv1.Subject{Kind: o.Kind, Name: name, Namespace: ns}
	}
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: o.Kind, Name: o.Name}
}

// OwnerOf reads a RoleBinding subject back as an owner of role.
func OwnerOf(s rbacv1.Subject, role string) Owner {
	if s.Kind == rbacv1.ServiceAccountKind {
		return Owner{Kind: s.Kind, Name: s.Namespace + ":" + s.Name, Role: role}
	}
	return Owner{Kind: s.Kind, Name: s.Name, Role: role}
}

// ParseOwner reads a --owner KIND:NAME[=ROLE] flag value.
func ParseOwner(s string) (Owner, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || !slices.Contains(OwnerKinds(), kind) {
		return Owner{}, fmt.Errorf("invalid --owner %q: must be KIND:NAME[=ROLE] with KIND one of %s, for example User:alice@example.com=admin or Group:payments", s, strings.Join(OwnerKinds(), ", "))
	}
	o := Owner{Kind: kind, Name: rest, Role: DefaultOwnerRole}
	if i := strings.LastIndex(rest, "="); i >= 0 {
		o.Name, o.Role = rest[:i], rest[i+1:]
	}
	if err := o.Validate(); err != nil {
		return Owner{}, fmt.Errorf("invalid --owner %q: %w", s, err)
	}
	return o, nil
}

// Validate checks the owner's kind, name and role.
func (o Owner) Validate() error {
	if !slices.Contains(OwnerKinds(), o.Kind) {
		return fmt.Errorf("owner kind %q is not one of %s", o.Kind, strings.Join(OwnerKinds(), ", "))
	}
	if !slices.Contains(OwnerRoles(), o.Role) {
		return fmt.Errorf("role %q is not one of %s", o.Role, strings.Join(OwnerRoles(), ", "))
	}
	if o.Kind == rbacv1.ServiceAccountKind {
		ns, name, ok := strings.Cut(o.Name, ":")
		if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
			return fmt.Errorf("a ServiceAccount owner is NAMESPACE:NAME, not %q", o.Name)
		}
		return nil
	}
	if o.Name == "" || strings.TrimSpace(o.Name) != o.Name || strings.ContainsAny(o.Name, "\n\r") || checkText(o.Name) != nil {
		return fmt.Errorf("%s name %q must be non-empty printable text without surrounding spaces", o.Kind, o.Name)
	}
	return nil
}

// ValidateAllowedSource checks one --allow-source URL prefix.
func ValidateAllowedSource(prefix string) error {
	if strings.TrimSpace(prefix) == "" {
		return fmt.Errorf("invalid --allow-source %q: must be a URL prefix such as https://github.com/acme/ (an empty prefix would allow every URL)", prefix)
	}
	if strings.ContainsAny(prefix, " \t\n\r") || checkText(prefix) != nil {
		return fmt.Errorf("invalid --allow-source %q: a URL prefix has no spaces or control characters", prefix)
	}
	return nil
}

// OwnerBindingName names the RoleBinding of the owners given role.
func OwnerBindingName(role string) string { return ownerBindingPrefix + role }

// IsOwnerBindingName reports whether name is one of OwnerBindingName's.
func IsOwnerBindingName(name string) (role string, ok bool) {
	role, ok = strings.CutPrefix(name, ownerBindingPrefix)
	return role, ok && slices.Contains(OwnerRoles(), role)
}

// ownerBindings binds each role's owners in ns, one RoleBinding a role,
// in the order of OwnerRoles, subjects in the order given.
func ownerBindings(ns string, owners []Owner) []*rbacv1.RoleBinding {
	var out []*rbacv1.RoleBinding
	for _, role := range OwnerRoles() {
		var subjects []rbacv1.Subject
		for _, o := range owners {
			if o.Role == role {
				subjects = append(subjects, o.subject())
			}
		}
		if len(subjects) == 0 {
			continue
		}
		labels := fluxTenantLabels(ns)
		labels[ManagedByLabelKey] = ManagedByValue
		out = append(out, &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: OwnerBindingName(role), Namespace: ns, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   subjects,
		})
	}
	return out
}

// The keys of the tenant policy ConfigMap, each a list of lines.
const (
	PolicyUsersKey          = "users"
	PolicyGroupsKey         = "groups"
	PolicyAllowedSourcesKey = "allowedSources"
	PolicyProtectedKey      = "protected"
)

// tenantPolicy is the parameter object of the owners-and-sources policy
// in ns: the owners' user and group names, the allowed source URL
// prefixes (no key when sources are not restricted), and protected, the
// resource/name of every object the platform puts in the namespace, which
// neither the owners nor the tenant's robots may change.
func tenantPolicy(ns string, owners []Owner, allowed []string, protected []string) *corev1.ConfigMap {
	var users, groups []string
	for _, o := range owners {
		if o.Kind == rbacv1.GroupKind {
			groups = appendOnce(groups, o.Name)
		} else {
			users = appendOnce(users, o.Username())
		}
	}
	data := map[string]string{PolicyProtectedKey: strings.Join(protected, "\n")}
	if len(users) > 0 {
		data[PolicyUsersKey] = strings.Join(users, "\n")
	}
	if len(groups) > 0 {
		data[PolicyGroupsKey] = strings.Join(groups, "\n")
	}
	if allowed != nil {
		data[PolicyAllowedSourcesKey] = strings.Join(allowed, "\n")
	}
	labels := fluxTenantLabels(ns)
	labels[ManagedByLabelKey] = ManagedByValue
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: TenantPolicyName, Namespace: ns, Labels: labels},
		Data:       data,
	}
}

// PolicyLines splits one of the tenant policy's lists.
func PolicyLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
