package plugin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// TestExportTree: a re-run writes only the files whose bytes change,
// removes only the files export listed for tenants that are gone, and a
// kustomization.yaml export did not write is refused.
func TestExportTree(t *testing.T) {
	dir := t.TempDir()
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &ExportOptions{IOStreams: streams, Selection: tenant.NewSelection(false), To: dir}
	o.Selection.All = true
	write := func(files map[string][]byte) string {
		t.Helper()
		out.Reset()
		owned, err := readExportList(filepath.Join(dir, kustomizationFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.writeTree(context.Background(), nil, files, owned); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	foreign := filepath.Join(dir, "notes.md")
	if err := os.WriteFile(foreign, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := write(map[string][]byte{"b.yaml": []byte("b\n"), "a.yaml": []byte("a\n")})
	if !strings.Contains(got, "2 files written, 0 unchanged, 0 removed") {
		t.Errorf("first export:\n%s", got)
	}
	list, err := os.ReadFile(filepath.Join(dir, kustomizationFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := exportHeader + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- a.yaml\n- b.yaml\n"; string(list) != want {
		t.Errorf("kustomization.yaml:\n%s\nwant:\n%s", list, want)
	}
	// writeIfChanged writes a new file and renames it over the old one, so
	// a rewrite is a different file (inode) whatever the clock's resolution.
	stat := func(name string) os.FileInfo {
		t.Helper()
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	before := stat("a.yaml")
	got = write(map[string][]byte{"a.yaml": []byte("a\n")})
	if !strings.Contains(got, "0 files written, 1 unchanged, 1 removed") || !strings.Contains(got, "b.yaml removed") {
		t.Errorf("re-run with b gone:\n%s", got)
	}
	after := stat("a.yaml")
	if !os.SameFile(before, after) {
		t.Error("an unchanged file was rewritten")
	}
	if _, err := os.Stat(filepath.Join(dir, "b.yaml")); !os.IsNotExist(err) {
		t.Errorf("b.yaml is still there: %v", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a file export did not write was removed: %v", err)
	}
	// The oracle above can fail: a file whose bytes change is a new file.
	write(map[string][]byte{"a.yaml": []byte("A\n")})
	if os.SameFile(after, stat("a.yaml")) {
		t.Fatal("a rewritten file is still the same file: SameFile cannot tell a rewrite")
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, kustomizationFile), []byte("resources: [app.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readExportList(filepath.Join(other, kustomizationFile)); err == nil || !strings.Contains(err.Error(), "was not written by kubectl tenant export") {
		t.Errorf("a foreign kustomization.yaml: err = %v", err)
	}
}

// exportFleetTenants are tenants as the reader gives them: a team of two
// namespaces whose prod has a hand-edited variable, and a confined tenant
// whose own source reads a Secret.
func exportFleetTenants() []*tenant.Tenant {
	team := func(ns string, vars map[string]string) render.TenantOptions {
		o := render.DefaultTenantOptions()
		o.Namespace, o.Name, o.Vars = ns, "payments", vars
		o.Owners = []render.Owner{{Kind: "Group", Name: "payments", Role: "admin"}}
		return o
	}
	prod := &tenant.Tenant{Namespace: "payments-prod", Name: "payments", Settings: team("payments-prod", map[string]string{"TEAM": "payments", "TIER": "gold"}),
		HandEdits: []tenant.HandEdit{{Object: "ConfigMap tenant-vars", Field: "data.TIER", Manager: "kubectl-edit", Setting: true}}}
	dev := &tenant.Tenant{Namespace: "payments-dev", Name: "payments", Settings: team("payments-dev", map[string]string{"TEAM": "payments"})}
	confined := render.DefaultTenantOptions()
	confined.Namespace, confined.Name, confined.ClusterRole = "search", "search", render.ConfinedClusterRole
	spec := render.GitSourceSpec("https://git.example.com/search.git", "release", render.DefaultTenantSourceInterval, render.DefaultIgnorePaths())
	spec["secretRef"] = map[string]any{"name": "default-auth"}
	confined.Confinement = &render.Confinement{
		Source: render.TenantSource{Kind: "GitRepository", Name: "default", Spec: spec,
			Secrets: []render.SourceSecret{{Name: "default-auth", Data: map[string][]byte{"password": []byte("hunter2")}}}},
		Quota: map[string]string{"pods": "20"}, NetworkPolicy: render.NetworkPolicyIsolate,
	}
	search := &tenant.Tenant{Namespace: "search", Name: "search", Settings: confined}
	return []*tenant.Tenant{dev, prod, search}
}

// TestExportFleet: --format tenants writes a file that apply's reading
// (Settings.Tenants, then ResolveCredentials) turns back into tenants that
// render as the live ones, a hand edit is warned, and the Secret is named,
// never printed.
func TestExportFleet(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := &ExportOptions{IOStreams: streams, Selection: tenant.NewSelection(false), Format: exportTenants}
	live := exportFleetTenants()
	if err := o.writeFleet(live); err != nil {
		t.Fatal(err)
	}
	if _, err := render.ParseFleet("stdout", out.Bytes()); err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, out)
	}
	for _, want := range []string{
		"warning: tenant payments-prod: a hand-edited setting, exported as it is live: ConfigMap tenant-vars: data.TIER was set by kubectl-edit\n",
		"warning: tenant search: the file references Secret default-auth of its own source, which is not in the file",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out.String()+errOut.String(), "hunter2") {
		t.Errorf("the Secret's data was printed:\n%s\n%s", out, errOut)
	}

	// Read back as apply reads a file: its tenants over the flags' defaults.
	path := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := tenant.NewSettings()
	s.Filename = path
	base, err := s.Options(render.DefaultTenantOptions())
	if err != nil {
		t.Fatal(err)
	}
	back, err := s.Tenants(base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResolveCredentials(context.Background(), nil, back, nil); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(live) {
		t.Fatalf("%d namespaces read back, want %d", len(back), len(live))
	}
	for i, lt := range live {
		want := lt.Settings
		if want.Confinement != nil {
			// The Secret stays on the cluster: the file names it only.
			c := *want.Confinement
			c.Source.Secrets = nil
			want.Confinement = &c
		}
		if g, w := renderTenantYAML(t, back[i]), renderTenantYAML(t, want); g != w {
			t.Errorf("%s renders differently after the round trip:\n%s", lt.Namespace, diff.Diff(strings.Split(w, "\n"), strings.Split(g, "\n")))
		}
	}
}

func renderTenantYAML(t *testing.T, o render.TenantOptions) string {
	t.Helper()
	rendered, err := render.RenderTenant(o)
	if err != nil {
		t.Fatalf("%s: %v", o.Namespace, err)
	}
	objs, err := rendered.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	data, err := render.EncodeYAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestExportFleetFile: --to names a file, written only when its bytes
// change; a directory, -o json and an unknown format are refused.
func TestExportFleetFile(t *testing.T) {
	dir := t.TempDir()
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	path := filepath.Join(dir, "clusters", "tenants.yaml")
	o := &ExportOptions{IOStreams: streams, Selection: tenant.NewSelection(false), Format: exportTenants, To: path}
	for _, want := range []string{"written", "unchanged"} {
		out.Reset()
		if err := o.writeFleet(exportFleetTenants()); err != nil {
			t.Fatal(err)
		}
		if got := "2 tenants (3 namespaces) exported to " + path + ": " + want + "\n"; out.String() != got {
			t.Errorf("got %q, want %q", out.String(), got)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--all", "--format", "tenants", "--to", dir}, "--to " + dir + " is a directory: --format tenants writes one file, give its path (for example " + filepath.Join(dir, "tenants.yaml") + ")"},
		{[]string{"--all", "--format", "tenants", "-o", "json"}, "-o json does not apply to --format tenants, which writes one YAML document: leave -o out"},
		{[]string{"--all", "--format", "csv"}, `invalid --format "csv": must be manifests or tenants`},
	} {
		_, _, err := runTenant(t, append([]string{"export"}, tc.args...)...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("export %s: err = %v, want %s", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestExportFleetCommand runs export --format tenants against
// fakeCheckServer: the tenants it reads become one file that parses, and
// what the file cannot hold of them (their namespaces differ in settings
// a fleet file gives per tenant) is warned on stderr.
func TestExportFleetCommand(t *testing.T) {
	kubeconfig, _ := fakeCheckServer(t)
	out, errOut, err := runTenant(t, "export", "--all", "--format", "tenants", "-o", "yaml", "--kubeconfig", kubeconfig)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, errOut)
	}
	fleet, err := render.ParseFleet("stdout", []byte(out))
	if err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, out)
	}
	if len(fleet.Tenants) != 1 || fleet.Tenants[0].Name != "t" || len(fleet.Tenants[0].Namespaces) != 2 {
		t.Errorf("want tenant t with foo and bar:\n%s", out)
	}
	want := "warning: tenant t: namespace bar: setting clusterRole differs from namespace foo's, and a fleet file gives a tenant one value: foo's is written\n"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr does not say %q:\n%s", want, errOut)
	}
}
