// Package fluxinstall produces Flux's install manifests with Flux's own
// generator (manifestgen/install), as `flux install` does: from a local
// copy of a release's manifests, or downloaded from the release on GitHub.
// It holds the file and network access that pkg/render must not have.
package fluxinstall

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/install"
)

// Generate returns the install manifests for opts as one multi-document
// YAML stream. With dir empty they are downloaded from Flux's release.
func Generate(opts install.Options, dir string) ([]byte, error) {
	// manifestgen builds in the directory it is given and writes generated
	// kustomize files there, so a local bundle is copied first, as the flux
	// CLI does with its embedded manifests.
	base := ""
	if dir != "" {
		tmp, err := os.MkdirTemp("", "kubectl-tenant-flux-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if err := copyYAMLFiles(dir, tmp); err != nil {
			return nil, err
		}
		base = tmp
	}
	manifest, err := install.Generate(opts, base)
	if err != nil {
		return nil, fmt.Errorf("generating Flux %s install manifests: %w", opts.Version, err)
	}
	return []byte(manifest.Content), nil
}

// CheckDir reports, in one line, why dir cannot serve as the local copy of
// Flux's manifests for components.
func CheckDir(dir string, components []string) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("invalid --manifests %q: not a directory of Flux install manifests", dir)
	}
	for _, c := range components {
		if _, err := os.Stat(filepath.Join(dir, c+".yaml")); err != nil {
			return fmt.Errorf("invalid --manifests %q: it has no %s.yaml for component %s", dir, c, c)
		}
	}
	return nil
}

func copyYAMLFiles(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
