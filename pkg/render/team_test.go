package render

import (
	"strings"
	"testing"
)

func TestParseOwner(t *testing.T) {
	for in, want := range map[string]Owner{
		"User:alice@example.com=admin": {Kind: "User", Name: "alice@example.com", Role: "admin"},
		"Group:payments":               {Kind: "Group", Name: "payments", Role: "edit"},
		"Group:oidc:payments=view":     {Kind: "Group", Name: "oidc:payments", Role: "view"},
		"ServiceAccount:ci:deployer":   {Kind: "ServiceAccount", Name: "ci:deployer", Role: "edit"},
	} {
		got, err := ParseOwner(in)
		if err != nil || got != want {
			t.Errorf("ParseOwner(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"alice":                     `invalid --owner "alice": must be KIND:NAME[=ROLE] with KIND one of User, Group, ServiceAccount`,
		"user:alice":                `invalid --owner "user:alice": must be KIND:NAME[=ROLE]`,
		"User:alice=superuser":      `invalid --owner "User:alice=superuser": role "superuser" is not one of admin, edit, view`,
		"User:":                     `invalid --owner "User:": User name "" must be non-empty`,
		"User:=admin":               `invalid --owner "User:=admin": User name "" must be non-empty`,
		"ServiceAccount:deployer":   `invalid --owner "ServiceAccount:deployer": a ServiceAccount owner is NAMESPACE:NAME, not "deployer"`,
		"ServiceAccount:Bad_NS:dep": `a ServiceAccount owner is NAMESPACE:NAME`,
	} {
		_, err := ParseOwner(in)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseOwner(%q) = %v, want one line containing %q", in, err, want)
		}
	}
}

func TestValidateRefusesTeamInput(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*TenantOptions)
		want string
	}{
		"empty prefix":  {func(o *TenantOptions) { o.AllowedSources = []string{""} }, `invalid --allow-source "": must be a URL prefix`},
		"spaced prefix": {func(o *TenantOptions) { o.AllowedSources = []string{"https://x/ y"} }, `invalid --allow-source "https://x/ y"`},
		"owner twice": {func(o *TenantOptions) {
			o.Owners = append(o.Owners, Owner{Kind: "Group", Name: "payments", Role: "view"})
		}, "Group:payments is already an owner with role edit"},
		"unknown role":    {func(o *TenantOptions) { o.Owners[0].Role = "cluster-admin" }, `role "cluster-admin" is not one of admin, edit, view`},
		"newline in name": {func(o *TenantOptions) { o.Owners[0].Name = "alice\nbob" }, "must be non-empty printable text"},
	} {
		o := teamOptions()
		tc.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want %q", name, err, tc.want)
		}
	}
}

// TestTenantPolicyNamesEveryPlatformObject: the policy's protected list
// is every object the render puts in the namespace, written out here.
func TestTenantPolicyNamesEveryPlatformObject(t *testing.T) {
	o := guardedOptions()
	o.Owners = teamOptions().Owners
	tenant, err := RenderTenant(o)
	if err != nil {
		t.Fatal(err)
	}
	want := "configmaps/tenant-policy\nsecrets/git-credentials\nconfigmaps/tenant-vars\nserviceaccounts/foo\nrolebindings/foo-reconciler\n" +
		"rolebindings/tenant-owners-admin\nrolebindings/tenant-owners-edit\nresourcequotas/tenant-quota\nlimitranges/tenant-limits\n" +
		"networkpolicies/tenant-isolation\ngitrepositories/default\nkustomizations/dummy"
	if got := tenant.Policy.Data[PolicyProtectedKey]; got != want {
		t.Errorf("protected =\n%s\nwant\n%s", got, want)
	}
	if got := tenant.Policy.Data[PolicyUsersKey]; got != "alice@example.com\nsystem:serviceaccount:ci:deployer" {
		t.Errorf("users = %q", got)
	}
	if got := tenant.Policy.Data[PolicyAllowedSourcesKey]; got != "https://example.com/platform/tenants.git" {
		t.Errorf("a confined tenant's default allowed sources = %q, want its own source's URL", got)
	}
}

// TestPlainTenantHasNoPolicy: the demo's tenant renders as it always did.
func TestPlainTenantHasNoPolicy(t *testing.T) {
	tenant, err := RenderTenant(sampleOptions())
	if err != nil {
		t.Fatal(err)
	}
	if tenant.Policy != nil || len(tenant.Owners) != 0 {
		t.Errorf("a tenant without owners or allowed sources got a policy %v or owners %v", tenant.Policy, tenant.Owners)
	}
}
