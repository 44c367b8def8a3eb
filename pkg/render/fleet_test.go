package render

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestFleetExample reads the documented example and compares it with the
// options written out by hand: the defaults under each tenant, maps
// merged, lists replaced, one TenantOptions a namespace.
func TestFleetExample(t *testing.T) {
	data, err := os.ReadFile("testdata/fleet-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFleet("fleet-example.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.TenantOptions(DefaultTenantOptions())
	if err != nil {
		t.Fatal(err)
	}
	paymentsSource := TenantSource{Kind: "GitRepository", Name: "default", Spec: map[string]any{
		"url": "https://git.example.com/platform/tenants.git", "interval": "5m",
		"ref": map[string]any{"branch": "release"}, "ignore": "ctrl.py\nREADME.md",
	}}
	paymentsConfinement := &Confinement{
		Source: paymentsSource,
		Quota:  map[string]string{"pods": "20", "requests.cpu": "4"},
		Limits: map[string]ContainerDefault{"cpu": {Request: "100m", Limit: "500m"}},
	}
	payments := TenantOptions{
		Name:              "payments",
		LabelKey:          DefaultTenantLabelKey,
		ClusterRole:       "admin",
		KustomizationName: "dummy",
		Source:            SourceRef{Kind: "GitRepository", Name: "default", Namespace: "flux-system"},
		Path:              "./kustomizations/per-tenant",
		Interval:          10 * time.Minute,
		Confinement:       paymentsConfinement,
		Owners: []Owner{
			{Kind: "Group", Name: "payments", Role: "admin"},
			{Kind: "ServiceAccount", Name: "ci:deployer", Role: "edit"},
		},
		AllowedSources: []string{"https://github.com/acme/payments/"},
	}
	prod := payments
	prod.Namespace = "payments-prod"
	prod.Vars = map[string]string{"REGION": "eu-west-1", "TIER": "gold", "TEAM": "payments"}
	dev := payments
	dev.Namespace = "payments-dev"
	dev.Vars = map[string]string{"REGION": "eu-west-1", "TIER": "standard", "TEAM": "payments"}
	dev.Path = "./kustomizations/dev"
	search := TenantOptions{
		Namespace:         "search",
		Name:              "search",
		LabelKey:          DefaultTenantLabelKey,
		Vars:              map[string]string{"REGION": "eu-west-1", "TIER": "standard"},
		ClusterRole:       "edit",
		KustomizationName: "search-tenant",
		Source:            SourceRef{Kind: "GitRepository", Name: "templates", Namespace: "flux-system"},
		Path:              "./kustomizations/search",
		Interval:          10 * time.Minute,
		Owners:            []Owner{{Kind: "Group", Name: "platform", Role: "view"}},
		Confinement: &Confinement{
			Source: TenantSource{Kind: "GitRepository", Name: "templates", Spec: map[string]any{
				"url": "ssh://git@git.example.com/platform/search.git", "interval": "10m",
				"ref": map[string]any{"branch": "main"}, "ignore": "ctrl.py\nREADME.md",
			}},
			Quota:         map[string]string{"pods": "20"},
			Limits:        map[string]ContainerDefault{"cpu": {Request: "100m", Limit: "500m"}},
			NetworkPolicy: "isolate",
		},
	}
	want := []TenantOptions{prod, dev, search}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options differ:\n got %#v\nwant %#v", got, want)
	}
	wantRefs := map[string]CredentialRefs{
		"payments-prod": {Username: "flux", PasswordFile: "/run/secrets/git-token"},
		"payments-dev":  {Username: "flux", PasswordFile: "/run/secrets/git-token"},
		"search":        {SecretRef: "search-git"},
	}
	if refs := f.SourceCredentials(); !reflect.DeepEqual(refs, wantRefs) {
		t.Errorf("credentials differ:\n got %#v\nwant %#v", refs, wantRefs)
	}
	for _, o := range got {
		if _, err := RenderTenant(o); err != nil {
			t.Errorf("%s does not render: %v", o.Namespace, err)
		}
	}
}

const fleetHead = "apiVersion: kubectl-tenant.io/v1alpha1\nkind: TenantFleet\n"

// TestFleetRefusesBadFiles checks that each bad file gets its one line,
// naming the file, the tenant and the field.
func TestFleetRefusesBadFiles(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"unknown version", "apiVersion: kubectl-tenant.io/v9\nkind: TenantFleet\ntenants: [{name: a, namespaces: [{name: a}]}]\n",
			"f.yaml: apiVersion: kubectl-tenant.io/v9 TenantFleet is not a version this kubectl-tenant knows: want apiVersion kubectl-tenant.io/v1alpha1, kind TenantFleet"},
		{"unknown kind", "apiVersion: kubectl-tenant.io/v1alpha1\nkind: Fleet\ntenants: []\n",
			"f.yaml: apiVersion: kubectl-tenant.io/v1alpha1 Fleet is not a version this kubectl-tenant knows: want apiVersion kubectl-tenant.io/v1alpha1, kind TenantFleet"},
		{"no version", "tenants: []\n",
			`f.yaml: apiVersion: "" "" is not a version this kubectl-tenant knows: want apiVersion kubectl-tenant.io/v1alpha1, kind TenantFleet`},
		{"unknown top field", fleetHead + "tenant: []\n",
			"f.yaml: tenant: unknown field (a fleet file has apiVersion, kind, defaults and tenants)"},
		{"unknown tenant field", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: a}]\n  varz: {A: b}\n",
			"f.yaml: tenant a: varz: unknown field"},
		{"unknown field of a nameless tenant", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: a}]\n- namespaces: [{name: b}]\n  pat: x\n",
			"f.yaml: tenant 2: pat: unknown field"},
		{"unknown nested field", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: a, pth: x}]\n",
			"f.yaml: tenant a: namespaces[0].pth: unknown field"},
		{"literal password", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: a}]\n  confinement:\n    gitURL: https://x.example/r.git\n    credentials: {username: u, password: hunter2}\n",
			"f.yaml: tenant a: confinement.credentials.password: unknown field: credentials are references (passwordFile, passwordEnv, bearerTokenFile, bearerTokenEnv, privateKeyFile, githubAppPrivateKeyFile, secretRef), never the secret itself"},
		{"literal token in defaults", fleetHead + "defaults:\n  confinement:\n    credentials: {token: abc}\ntenants: [{name: a, namespaces: [{name: a}]}]\n",
			"f.yaml: defaults: confinement.credentials.token: unknown field: credentials are references (passwordFile, passwordEnv, bearerTokenFile, bearerTokenEnv, privateKeyFile, githubAppPrivateKeyFile, secretRef), never the secret itself"},
		{"literal private key", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: a}]\n  confinement:\n    credentials: {privateKey: abc}\n",
			"f.yaml: tenant a: confinement.credentials.privateKey: unknown field: credentials are references (passwordFile, passwordEnv, bearerTokenFile, bearerTokenEnv, privateKeyFile, githubAppPrivateKeyFile, secretRef), never the secret itself"},
		{"duplicate namespace", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: x}, {name: x}]\n",
			"f.yaml: tenant a: namespaces[1]: namespace \"x\" is listed twice"},
		{"namespace under two tenants", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: x}]\n- name: b\n  namespaces: [{name: z}, {name: x}]\n",
			"f.yaml: tenant b: namespaces[1]: namespace \"x\" is already tenant a's"},
		{"duplicate tenant", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: x}]\n- name: a\n  namespaces: [{name: z}]\n",
			"f.yaml: tenant a: name: tenant a is listed twice (first as tenant 1)"},
		{"duplicate key", fleetHead + "tenants:\n- name: a\n  name: b\n  namespaces: [{name: x}]\n",
			`f.yaml: not YAML: yaml: unmarshal errors: line 5: key "name" already set in map`},
		{"wrong type", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: x}]\n  owners: {kind: User}\n",
			"f.yaml: tenant a: owners: want a list, not a map"},
		{"unquoted boolean name", fleetHead + "tenants:\n- name: a\n  namespaces: [{name: y}]\n",
			"f.yaml: tenant a: namespaces[0].name: want a string, not a boolean: quote it"},
		{"no namespaces", fleetHead + "tenants:\n- name: a\n",
			"f.yaml: tenant a: namespaces: a tenant needs one or more namespaces"},
		{"no tenant name", fleetHead + "tenants:\n- namespaces: [{name: x}]\n",
			"f.yaml: tenant 1: name: every tenant needs a name"},
		{"tenants not a list", fleetHead + "tenants: {a: {namespaces: [{name: a}]}}\n",
			"f.yaml: tenants: want a list, not a map"},
		{"numeric version", "apiVersion: 1\nkind: TenantFleet\n",
			`f.yaml: apiVersion: "" TenantFleet is not a version this kubectl-tenant knows: want apiVersion kubectl-tenant.io/v1alpha1, kind TenantFleet`},
		{"empty file", "",
			"f.yaml: not a map: a fleet file has apiVersion, kind, defaults and tenants"},
		{"namespaces in defaults", fleetHead + "defaults: {namespaces: [{name: a}]}\ntenants: [{name: a, namespaces: [{name: b}]}]\n",
			"f.yaml: defaults: namespaces: defaults are shared by every tenant: give name and namespaces under tenants"},
		{"no tenants", fleetHead,
			"f.yaml: tenants: the fleet lists no tenants"},
		{"name in defaults", fleetHead + "defaults: {name: a}\ntenants: [{name: a, namespaces: [{name: a}]}]\n",
			"f.yaml: defaults: name: defaults are shared by every tenant: give name and namespaces under tenants"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFleet("f.yaml", []byte(tc.file))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestFleetRefusesBadValues checks the values, which the existing
// validators judge, with the file, tenant and field in front.
func TestFleetRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ name, tenant, want string }{
		{"bad namespace", "namespaces: [{name: Bad_NS}]",
			`f.yaml: tenant a: namespaces[0].name: invalid --tenant-namespace "Bad_NS"`},
		{"reserved var", "namespaces: [{name: x}]\n  vars: {PER_TENANT_SUBST: x}",
			`f.yaml: tenant a: vars.PER_TENANT_SUBST: invalid --var name "PER_TENANT_SUBST": it is set by kubectl tenant from the tenant name`},
		{"namespace var", "namespaces: [{name: x, vars: {A: \"${B}\"}}]",
			`f.yaml: tenant a: namespaces[0].vars.A: invalid --var value for A: must not contain line breaks, NUL or "${"`},
		{"owner role", "namespaces: [{name: x}]\n  owners: [{kind: User, name: bob, role: root}]",
			`f.yaml: tenant a: owners[0]: invalid --owner "User:bob=root": role "root" is not one of admin, edit, view`},
		{"owner twice", "namespaces: [{name: x}]\n  owners: [{kind: User, name: bob}, {kind: User, name: bob, role: view}]",
			`f.yaml: tenant a: owners[1]: invalid --owner "User:bob=view": User:bob is already an owner with role edit; give each owner once`},
		{"allowed source", "namespaces: [{name: x}]\n  allowedSources: [\" \"]",
			`f.yaml: tenant a: allowedSources[0]: invalid --allow-source " ": must be a URL prefix such as https://github.com/acme/ (an empty prefix would allow every URL)`},
		{"interval", "namespaces: [{name: x}]\n  interval: soon",
			`f.yaml: tenant a: interval: "soon" is not a duration such as 5m or 1h30m`},
		{"cluster role", "namespaces: [{name: x}]\n  clusterRole: Bad_Role",
			`f.yaml: tenant a: clusterRole: invalid --cluster-role "Bad_Role"`},
		{"quota", "namespaces: [{name: x}]\n  confinement: {quota: {pods: lots}}",
			`f.yaml: tenant a: confinement.quota.pods: invalid --quota pods=lots: "lots" is not a quantity (for example 10, 500m or 2Gi)`},
		{"network policy", "namespaces: [{name: x}]\n  confinement: {networkPolicy: open}",
			`f.yaml: tenant a: confinement.networkPolicy: "open" is not isolate or none`},
		{"credentials without source", "namespaces: [{name: x}]\n  confinement: {credentials: {secretRef: s}}",
			`f.yaml: tenant a: confinement.credentials: is for the tenant's own source: give gitURL too`},
		{"password in URL", "namespaces: [{name: x}]\n  confinement: {gitURL: \"https://u:p@x.example/r.git\"}",
			`f.yaml: tenant a: confinement.gitURL: the git URL https://u:REDACTED@x.example/r.git carries credentials: give --username and --password-file instead, so they are stored in a Secret`},
		{"namespace path", "namespaces: [{name: x, path: \"\\t\"}]",
			`f.yaml: tenant a: namespaces[0].path: invalid --path "\t": must be a non-empty path inside the source, printable text only`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFleet("f.yaml", []byte(fleetHead+"tenants:\n- name: a\n  "+tc.tenant+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.TenantOptions(DefaultTenantOptions())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || got != nil {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// FuzzParseFleet: whatever the file, a refusal is one line that starts
// with the file's name, and a fleet that is accepted expands without
// panicking.
func FuzzParseFleet(f *testing.F) {
	example, err := os.ReadFile("testdata/fleet-example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(fleetHead + "tenants:\n- name: \"a\\nb\"\n  namespaces: [{name: \"x\\ny\"}, {name: \"x\\ny\"}]\n"))
	f.Add([]byte(fleetHead + "tenants:\n- name: a\n  namespaces: [{name: x}]\n  vars: {\"A\\nB\": c}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fleet, err := ParseFleet("f.yaml", data)
		if err == nil {
			_, err = fleet.TenantOptions(DefaultTenantOptions())
		}
		if err == nil {
			return
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "f.yaml: ") || strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("not one line naming the file: %q", msg)
		}
	})
}
