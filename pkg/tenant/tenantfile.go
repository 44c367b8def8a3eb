package tenant

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// tenantFile is one file of -f and what it holds.
type tenantFile struct {
	name string
	data []byte
}

// fileTenants reads the tenants of -f: a file, every tenant file of a
// directory, or stdin. A tenant, and a namespace, is in one file only:
// two files that both list it would make which one wins depend on the
// order of the files.
func (s *Settings) fileTenants(base render.TenantOptions, stdin io.Reader) ([]render.TenantOptions, error) {
	files, err := readTenantFiles(s.Filename, stdin)
	if err != nil {
		return nil, err
	}
	s.fileSources = map[string]ownSource{}
	var all []render.TenantOptions
	tenantFiles := map[string]string{}    // tenant name -> file
	namespaceFiles := map[string]string{} // namespace -> file
	for _, f := range files {
		tenants, err := s.tenantsIn(base, f.name, f.data)
		if err != nil {
			return nil, err
		}
		names := map[string]bool{}
		for _, t := range tenants {
			if other, seen := tenantFiles[t.Name]; seen && !names[t.Name] {
				return nil, fmt.Errorf("%s: tenant %s: name: the tenant is also in %s; a tenant belongs in one file", f.name, t.Name, other)
			}
			if other, seen := namespaceFiles[t.Namespace]; seen {
				return nil, fmt.Errorf("%s: tenant %s: namespaces: namespace %q is also in %s", f.name, t.Name, t.Namespace, other)
			}
			names[t.Name] = true
			tenantFiles[t.Name], namespaceFiles[t.Namespace] = f.name, f.name
		}
		all = append(all, tenants...)
	}
	return all, nil
}

// tenantFileExtensions are the files of a directory that -f reads.
func tenantFileExtensions() []string { return []string{".yaml", ".yml", ".json", ".csv"} }

// readTenantFiles reads name: stdin for "-", each tenant file of a
// directory in name order, or the one file.
func readTenantFiles(name string, stdin io.Reader) ([]tenantFile, error) {
	if name == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading -f -: %w", err)
		}
		return []tenantFile{{name: "-", data: data}}, nil
	}
	info, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("reading -f %s: %w", name, err)
	}
	if !info.IsDir() {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading -f %s: %w", name, err)
		}
		return []tenantFile{{name: name, data: data}}, nil
	}
	entries, err := os.ReadDir(name)
	if err != nil {
		return nil, fmt.Errorf("reading -f %s: %w", name, err)
	}
	var files []tenantFile
	for _, e := range entries {
		if e.IsDir() || !slices.Contains(tenantFileExtensions(), strings.ToLower(filepath.Ext(e.Name()))) {
			continue
		}
		path := filepath.Join(name, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading -f %s: %w", path, err)
		}
		files = append(files, tenantFile{name: path, data: data})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("-f %s: the directory holds no tenant file (%s)", name, strings.Join(tenantFileExtensions(), ", "))
	}
	return files, nil
}

// ResolveSources gives every confined tenant that has no source of its own
// a copy of its shared source, as add --confine does without --git-url:
// the flags' confinement and each of a fleet file's. Each shared source is
// read once however many tenants copy it.
func (s *Settings) ResolveSources(ctx context.Context, c *Clients, tenants []render.TenantOptions) error {
	copies := map[render.SourceRef]*render.Confinement{}
	for i := range tenants {
		conf := tenants[i].Confinement
		if conf == nil || conf.Source.Spec != nil {
			continue
		}
		shared := tenants[i].Source
		if done := copies[shared]; done != nil {
			conf.Source.Spec = runtime.DeepCopyJSON(done.Source.Spec)
			conf.Source.Secrets = slices.Clone(done.Source.Secrets)
			continue
		}
		if err := s.ResolveSource(ctx, c, shared, conf); err != nil {
			return err
		}
		copies[shared] = conf
	}
	return nil
}
