package plugin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	"k8s.io/cli-runtime/pkg/genericiooptions"
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
