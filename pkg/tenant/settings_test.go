package tenant

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// settingsFrom parses args as add's setting flags.
func settingsFrom(t *testing.T, args ...string) *Settings {
	t.Helper()
	s := NewSettings()
	fs := pflag.NewFlagSet("add", pflag.ContinueOnError)
	s.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return s
}

func teamBase(t *testing.T, s *Settings) render.TenantOptions {
	t.Helper()
	base := render.DefaultTenantOptions()
	base.Name = "payments"
	base, err := s.Options(base)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

func TestTenantsOfATeam(t *testing.T) {
	s := settingsFrom(t, "--var", "STAGE=dev", "--namespace-var", "payments-prod:STAGE=prod",
		"--namespace-path", "payments-prod=./prod", "--owner", "User:alice=admin", "--allow-source", "https://github.com/acme/")
	tenants, err := s.Tenants(teamBase(t, s), []string{"payments-dev", "payments-prod"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		ns, path, stage string
		owners          []render.Owner
		allowed         []string
	}
	var got []view
	for _, o := range tenants {
		got = append(got, view{o.Namespace, o.Path, o.Vars["STAGE"], o.Owners, o.AllowedSources})
	}
	alice := []render.Owner{{Kind: "User", Name: "alice", Role: "admin"}}
	acme := []string{"https://github.com/acme/"}
	want := []view{
		{"payments-dev", render.DefaultPath, "dev", alice, acme},
		{"payments-prod", "./prod", "prod", alice, acme},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tenants = %+v\nwant %+v", got, want)
	}
	if tenants[0].Vars["STAGE"] != "dev" {
		t.Error("one namespace's variable leaked into another's map")
	}
}

func TestTenantsRefusesANamespaceNotTheTeams(t *testing.T) {
	for _, args := range [][]string{
		{"--namespace-var", "elsewhere:STAGE=x"},
		{"--namespace-path", "elsewhere=./x"},
	} {
		s := settingsFrom(t, args...)
		_, err := s.Tenants(teamBase(t, s), []string{"payments-dev"}, nil)
		if err == nil || !strings.Contains(err.Error(), `"elsewhere" is not one of the tenant's namespaces`) {
			t.Errorf("%v: err = %v", args, err)
		}
	}
}

func TestTenantsOfATeamFile(t *testing.T) {
	file := `- name: payments
  namespaces:
  - payments-dev
  - name: payments-prod
    path: ./prod
    vars: {STAGE: prod}
  owners: ["Group:payments=edit"]
  allowedSources: ["https://github.com/acme/"]
- namespace: orders
  name: orders
`
	s := settingsFrom(t, "-f", "-", "--owner", "User:platform=view")
	tenants, err := s.Tenants(teamBase(t, s), nil, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(tenants) != 3 {
		t.Fatalf("got %d tenant namespaces, want 3", len(tenants))
	}
	group := []render.Owner{{Kind: "Group", Name: "payments", Role: "edit"}}
	flagOwner := []render.Owner{{Kind: "User", Name: "platform", Role: "view"}}
	for i, want := range []struct {
		ns, name, path, stage string
		owners                []render.Owner
	}{
		{"payments-dev", "payments", render.DefaultPath, "", group},
		{"payments-prod", "payments", "./prod", "prod", group},
		{"orders", "orders", render.DefaultPath, "", flagOwner},
	} {
		got := tenants[i]
		if got.Namespace != want.ns || got.Name != want.name || got.Path != want.path || got.Vars["STAGE"] != want.stage || !reflect.DeepEqual(got.Owners, want.owners) {
			t.Errorf("tenant %d = %s/%s path %s STAGE %q owners %v; want %+v", i, got.Namespace, got.Name, got.Path, got.Vars["STAGE"], got.Owners, want)
		}
	}
}
