package tenant

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// resourceRule is one rule of a SelfSubjectRulesReview.
type resourceRule struct {
	Verbs, APIGroups, Resources, ResourceNames []string
}

func (r resourceRule) allows(verb, group, resource, name string) bool {
	has := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	return has(r.Verbs, verb) && has(r.APIGroups, group) && has(r.Resources, resource) &&
		(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name))
}

// MissingPermission asks the API server, in one request, what the caller
// may do in namespace, so that a missing permission is reported before the
// first write instead of leaving half a tenant behind. It returns the first
// verb and resource the caller lacks for objs, or "" when the rules allow
// everything or the authorizer cannot list rules (a webhook, say), in which
// case the apply itself is the check.
func (a *Applier) MissingPermission(ctx context.Context, namespace string, objs []*unstructured.Unstructured) (string, error) {
	review := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SelfSubjectRulesReview",
		"spec":       map[string]any{"namespace": namespace},
	}}
	result, err := a.Client.Resource(selfSubjectRulesReviewGVR).Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("checking your permissions in namespace %q: %w", namespace, err)
	}
	if incomplete, _, _ := unstructured.NestedBool(result.Object, "status", "incomplete"); incomplete {
		return "", nil
	}
	raw, _, _ := unstructured.NestedSlice(result.Object, "status", "resourceRules")
	rules := make([]resourceRule, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		var rule resourceRule
		rule.Verbs, _, _ = unstructured.NestedStringSlice(m, "verbs")
		rule.APIGroups, _, _ = unstructured.NestedStringSlice(m, "apiGroups")
		rule.Resources, _, _ = unstructured.NestedStringSlice(m, "resources")
		rule.ResourceNames, _, _ = unstructured.NestedStringSlice(m, "resourceNames")
		rules = append(rules, rule)
	}
	for _, obj := range objs {
		mapping, err := a.Mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
		if err != nil {
			return "", err
		}
		gvr := mapping.Resource
		// A server-side apply creates what is missing and patches the rest.
		for _, verb := range []string{"create", "patch"} {
			allowed := slices.ContainsFunc(rules, func(r resourceRule) bool {
				return r.allows(verb, gvr.Group, gvr.Resource, obj.GetName())
			})
			if !allowed {
				resource := gvr.Resource
				if gvr.Group != "" {
					resource += "." + gvr.Group
				}
				where := fmt.Sprintf(" in namespace %q", namespace)
				if obj.GetNamespace() == "" {
					where = " (cluster-scoped)"
				}
				return fmt.Sprintf("%s %s%s", verb, resource, where), nil
			}
		}
	}
	return "", nil
}

// RequiredPermissions names what adding objs needs, for error messages:
// their resources, each once.
func RequiredPermissions(objs []*unstructured.Unstructured) string {
	var resources []string
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		// The same guess the RESTMapper makes from a kind.
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		resource := plural.Resource
		if gvk.Group != "" {
			resource += "." + gvk.Group
		}
		if !slices.Contains(resources, resource) {
			resources = append(resources, resource)
		}
	}
	return strings.Join(resources, ", ")
}
