package tenant

import "testing"

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
