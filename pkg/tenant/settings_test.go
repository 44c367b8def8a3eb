package tenant

import (
	"context"
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

// TestTenantFileCredentialsAreReferences: a file names where credentials
// are; a literal secret is an unknown field, refused on one line.
func TestTenantFileCredentialsAreReferences(t *testing.T) {
	knownHosts := writeFile(t, "known_hosts", "[git.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHBapO9/r0WhVKyegbc0kj6jNxuq/+wkIeYSgfdtIAIe\n")
	file := `- {namespace: acme, name: acme, gitURL: "ssh://git@git.example:2222/acme", credentials: {knownHostsFile: "` + knownHosts + `"}}
- {namespace: globex, name: globex, gitURL: "ssh://git@git.example:2222/globex", credentials: {knownHostsFile: "` + knownHosts + `"}}
`
	s := settingsFrom(t, "-f", "-", "--confine", "--git-url", "https://git.example/shared")
	tenants, err := s.Tenants(teamBase(t, s), nil, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := s.ResolveCredentials(context.Background(), nil, tenants, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds.GeneratedKeys) != 2 || creds.GeneratedKeys["acme"] == creds.GeneratedKeys["globex"] {
		t.Errorf("generated keys %v, want one of its own for each tenant", creds.GeneratedKeys)
	}
	for _, tenant := range tenants {
		spec := tenant.Confinement.Source.Spec
		if spec["url"] != "ssh://git@git.example:2222/"+tenant.Namespace || spec["secretRef"] == nil || len(tenant.Confinement.Source.Secrets) != 1 {
			t.Errorf("%s: own source %v with %d Secrets", tenant.Namespace, spec, len(tenant.Confinement.Source.Secrets))
		}
	}
	literal := `- {namespace: acme, name: acme, gitURL: "https://git.example/acme", credentials: {username: bot, password: hunter2}}` + "\n"
	s = settingsFrom(t, "-f", "-", "--confine", "--git-url", "https://git.example/shared")
	_, err = s.Tenants(teamBase(t, s), nil, strings.NewReader(literal))
	if err == nil || !strings.Contains(err.Error(), `-f -: tenant acme: credentials: json: unknown field "password"`) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a literal password in the file: %v", err)
	}
}

// TestTenantsOfAFleetDocument: add -f reads a TenantFleet document too,
// and keeps each confined namespace's own source with its references.
func TestTenantsOfAFleetDocument(t *testing.T) {
	s := settingsFrom(t, "-f", "../render/testdata/fleet-example.yaml")
	tenants, err := s.Tenants(teamBase(t, s), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	byNamespace := map[string]render.TenantOptions{}
	for _, o := range tenants {
		byNamespace[o.Namespace] = o
	}
	prod, ok := byNamespace["payments-prod"]
	if !ok || prod.Name != "payments" || prod.Vars["TIER"] != "gold" || prod.Vars["REGION"] != "eu-west-1" || prod.Confinement == nil {
		t.Fatalf("payments-prod = %+v", prod)
	}
	if dev := byNamespace["payments-dev"]; dev.Path != "./kustomizations/dev" || dev.Vars["TIER"] != "standard" {
		t.Errorf("payments-dev path %q TIER %q", dev.Path, dev.Vars["TIER"])
	}
	src := s.sourceOf("payments-prod")
	if src.GitURL != "https://git.example.com/platform/tenants.git" || src.Credentials.Username != "flux" || src.Credentials.PasswordFile != "/run/secrets/git-token" {
		t.Errorf("payments-prod's own source = %+v", src)
	}
	if !render.IsFleetDocument([]byte("# tenants\napiVersion: kubectl-tenant.io/v1alpha1\n")) || render.IsFleetDocument([]byte("# ns,name\nfoo,bar\n")) || render.IsFleetDocument([]byte("- namespace: foo\n")) {
		t.Error("IsFleetDocument tells a fleet from a list or CSV wrongly")
	}
}
