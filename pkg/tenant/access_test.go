package tenant

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestResourceRuleAllows(t *testing.T) {
	admin := resourceRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}
	cm := resourceRule{Verbs: []string{"create", "patch"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}
	named := resourceRule{Verbs: []string{"patch"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"tenant-vars"}}
	for _, tc := range []struct {
		rule                        resourceRule
		verb, group, resource, name string
		want                        bool
	}{
		{admin, "create", "rbac.authorization.k8s.io", "rolebindings", "x", true},
		{cm, "create", "", "configmaps", "tenant-vars", true},
		{cm, "delete", "", "configmaps", "tenant-vars", false},
		{cm, "create", "", "secrets", "tenant-vars", false},
		{cm, "create", "apps", "configmaps", "tenant-vars", false},
		{named, "patch", "", "configmaps", "tenant-vars", true},
		{named, "patch", "", "configmaps", "other", false},
	} {
		if got := tc.rule.allows(tc.verb, tc.group, tc.resource, tc.name); got != tc.want {
			t.Errorf("%+v allows(%s %s/%s %s) = %v, want %v", tc.rule, tc.verb, tc.group, tc.resource, tc.name, got, tc.want)
		}
	}
}

func TestSourceResource(t *testing.T) {
	for kind, want := range map[string]string{"GitRepository": "gitrepositories", "OCIRepository": "ocirepositories", "Bucket": "buckets"} {
		if got := SourceResource(kind); got.Resource != want || got.Group != "source.toolkit.fluxcd.io" {
			t.Errorf("SourceResource(%s) = %v, want %s.source.toolkit.fluxcd.io", kind, got, want)
		}
	}
}

// TestKindsFollowRender: the kinds the applier maps and add prunes are
// those render makes, written out here so that a kind render stops making
// (or starts to) is a decision this test records.
func TestKindsFollowRender(t *testing.T) {
	names := func(kinds []schema.GroupVersionKind) []string {
		var out []string
		for _, gvk := range kinds {
			out = append(out, gvk.Kind)
		}
		slices.Sort(out)
		return out
	}
	wantAll := []string{"ConfigMap", "GitRepository", "Kustomization", "LimitRange", "Namespace", "NetworkPolicy", "OCIRepository", "ResourceQuota", "RoleBinding", "Secret", "ServiceAccount"}
	if got := names(tenantKinds()); !slices.Equal(got, wantAll) {
		t.Errorf("tenantKinds = %v, want %v", got, wantAll)
	}
	wantOptional := []string{"ConfigMap", "GitRepository", "LimitRange", "NetworkPolicy", "OCIRepository", "ResourceQuota", "RoleBinding", "Secret"}
	if got := names(optionalKinds()); !slices.Equal(got, wantOptional) {
		t.Errorf("optionalKinds = %v, want %v", got, wantOptional)
	}
}
